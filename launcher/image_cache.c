#include "image_cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../conf/cleanup.h"
#include "fsutil.h"
#include "image.h"
#include "unpack.h"

/* One line per unpack, for the curious and for the tests (an image is unpacked once). */
static void log_unpack(const char *cache_dir, const struct image_ref *img,
		       const struct unpack_stats *st)
{
	cleanup_free char *path = NULL;
	cleanup_fclose FILE *f = NULL;

	if (asprintf(&path, "%s/unpack.log", cache_dir) < 0)
		return;
	f = fopen(path, "ae");
	if (f != NULL)
		fprintf(f,
			"%ld %s %s layers=%zu entries=%zu devices_skipped=%zu setid_dropped=%zu\n",
			(long)time(NULL), img->manifest_digest, img->layout, img->nlayers,
			st->entries, st->devices_skipped, st->setid_dropped);
}

/* What a killed unpack of this image left (we hold its lock: nobody is unpacking it). */
static void remove_stale_unpacks(const char *cache_dir, const char *hex)
{
	cleanup_free char *prefix = NULL;
	DIR *d = opendir(cache_dir);
	struct dirent *e;

	if (asprintf(&prefix, ".unpacking-%s-", hex) < 0)
		prefix = NULL;
	while (prefix != NULL && d != NULL && (e = readdir(d)) != NULL) {
		cleanup_free char *path = NULL;
		cleanup_error oci_error_t err = NULL;

		if (strncmp(e->d_name, prefix, strlen(prefix)) == 0 &&
		    asprintf(&path, "%s/%s", cache_dir, e->d_name) >= 0)
			fs_remove_tree(path, &err);
	}
	if (d != NULL)
		closedir(d);
}

static int unpack_into(const char *tmp, const struct image_ref *img, struct unpack_stats *st,
		       oci_error_t *err)
{
	cleanup_free char *rootfs = NULL;

	if (asprintf(&rootfs, "%s/rootfs", tmp) < 0)
		return oci_error_make(err, ENOMEM, "unpacking");
	if (mkdir(tmp, 0700) < 0 || mkdir(rootfs, 0755) < 0)
		return oci_error_make(err, errno, "cannot create %s", rootfs);
	for (size_t i = 0; i < img->nlayers; i++) {
		if (unpack_layer(rootfs, img->layers[i].path, st, err) < 0)
			return oci_error_wrap(err, "unpacking %s", img->layout);
	}
	return 0;
}

int image_cache_get(const char *cache_dir, const char *ref, char **rootfs, json_t **config,
		    oci_error_t *err)
{
	struct image_ref img;
	cleanup_free char *entry = NULL, *lock = NULL, *tmp = NULL, *root = NULL;
	cleanup_close int lock_fd = -1;
	struct unpack_stats st = {0};
	struct stat sb;
	int rc = -1;

	if (image_resolve(ref, &img, err) < 0)
		return -1;
	if (fs_mkdir_private(cache_dir, err) < 0)
		goto out;
	if (asprintf(&entry, "%s/%s", cache_dir, img.manifest_digest + 7) < 0 ||
	    asprintf(&lock, "%s/%s.lock", cache_dir, img.manifest_digest + 7) < 0 ||
	    asprintf(&root, "%s/rootfs", entry) < 0) {
		oci_error_make(err, ENOMEM, "image cache");
		goto out;
	}
	lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (lock_fd < 0 || flock(lock_fd, LOCK_EX) < 0) {
		oci_error_make(err, errno, "cannot lock %s", lock);
		goto out;
	}
	if (lstat(entry, &sb) < 0) {
		if (asprintf(&tmp, "%s/.unpacking-%s-%d", cache_dir, img.manifest_digest + 7,
			     (int)getpid()) < 0) {
			oci_error_make(err, ENOMEM, "image cache");
			goto out;
		}
		remove_stale_unpacks(cache_dir, img.manifest_digest + 7);
		if (unpack_into(tmp, &img, &st, err) < 0) {
			cleanup_error oci_error_t rerr = NULL;
			fs_remove_tree(tmp, &rerr);
			goto out;
		}
		if (rename(tmp, entry) < 0) {
			oci_error_make(err, errno, "cannot move %s into place", tmp);
			goto out;
		}
		log_unpack(cache_dir, &img, &st);
	} else if (!S_ISDIR(sb.st_mode) || sb.st_uid != geteuid()) {
		oci_error_make(err, 0, "%s is not a cached image of yours", entry);
		goto out;
	}
	utimensat(AT_FDCWD, entry, NULL, AT_SYMLINK_NOFOLLOW); /* last use, for pruning */
	*rootfs = steal_pointer(&root);
	*config = json_incref(img.config);
	rc = 0;
out:
	image_ref_release(&img);
	return rc;
}
