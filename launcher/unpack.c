#include "unpack.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../conf/cleanup.h"
#include "fsutil.h"

#define WHITEOUT ".wh."
#define OPAQUE ".wh..wh..opq"

/* A layer entry's name made relative ("./a/b" -> "a/b"); NULL for "..", absolute names. */
static char *clean_name(const char *name)
{
	cleanup_free char *copy = NULL;
	char *out, *save = NULL;
	size_t len = 0;

	if (name == NULL || name[0] == '/')
		return NULL;
	copy = strdup(name);
	out = calloc(1, strlen(name) + 1);
	if (copy == NULL || out == NULL) {
		free(out);
		return NULL;
	}
	for (char *part = strtok_r(copy, "/", &save); part; part = strtok_r(NULL, "/", &save)) {
		if (strcmp(part, ".") == 0)
			continue;
		if (strcmp(part, "..") == 0) {
			free(out);
			return NULL;
		}
		len += (size_t)sprintf(out + len, "%s%s", len ? "/" : "", part);
	}
	return out;
}

/* Opens dir (relative to the root) without following any symlink. */
static int open_dir_beneath(int root, const char *dir)
{
	struct open_how how = {.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC,
			       .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
					  RESOLVE_NO_MAGICLINKS};

	return (int)syscall(SYS_openat2, root, *dir ? dir : ".", &how, sizeof(how));
}

static void remove_at(int dirfd, const char *name)
{
	char path[64];
	cleanup_free char *victim = NULL;
	cleanup_error oci_error_t err = NULL;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", dirfd);
	if (asprintf(&victim, "%s/%s", path, name) >= 0)
		fs_remove_tree(victim, &err);
}

/* A whiteout removes one name of lower layers; an opaque marker, a directory's content. */
static int apply_whiteout(int root, const char *name, oci_error_t *err)
{
	cleanup_free char *dir = strdup(name);
	char *slash = strrchr(dir, '/');
	const char *base = slash ? slash + 1 : dir;
	cleanup_close int dirfd = -1;

	if (slash)
		*slash = '\0';
	else
		dir[0] = '\0';
	dirfd = open_dir_beneath(root, dir);
	if (dirfd < 0)
		return errno == ENOENT
			       ? 0
			       : oci_error_make(err, errno, "whiteout %s: its directory", name);
	if (strcmp(base, OPAQUE) == 0) {
		DIR *d = fdopendir(dup(dirfd));
		struct dirent *e;

		while (d != NULL && (e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
				remove_at(dirfd, e->d_name);
		}
		if (d != NULL)
			closedir(d);
		return 0;
	}
	base += strlen(WHITEOUT);
	if (*base == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0 || strchr(base, '/'))
		return oci_error_make(err, 0, "invalid whiteout %s", name);
	remove_at(dirfd, base);
	return 0;
}

static int open_layer(struct archive **a, const char *layer, oci_error_t *err)
{
	*a = archive_read_new();
	if (*a == NULL)
		return oci_error_make(err, ENOMEM, "layer %s", layer);
	archive_read_support_filter_all(*a);
	archive_read_support_format_tar(*a);
	if (archive_read_open_filename(*a, layer, 1 << 16) != ARCHIVE_OK) {
		oci_error_make(err, 0, "layer %s: %s", layer, archive_error_string(*a));
		archive_read_free(*a);
		*a = NULL;
		return -1;
	}
	return 0;
}

static bool is_whiteout(const char *clean)
{
	const char *slash = strrchr(clean, '/');

	return strncmp(slash ? slash + 1 : clean, WHITEOUT, strlen(WHITEOUT)) == 0;
}

/* First pass: whiteouts of this layer apply to the layers below it. */
static int whiteout_pass(int root, const char *layer, oci_error_t *err)
{
	struct archive *a = NULL;
	struct archive_entry *e;
	int rc = 0, r;

	if (open_layer(&a, layer, err) < 0)
		return -1;
	while (rc == 0 && (r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		cleanup_free char *clean = clean_name(archive_entry_pathname(e));

		if (clean == NULL)
			rc = oci_error_make(err, 0, "layer %s: entry '%s' leaves the root: refused",
					    layer, archive_entry_pathname(e));
		else if (is_whiteout(clean))
			rc = apply_whiteout(root, clean, err);
	}
	if (rc == 0 && r != ARCHIVE_EOF)
		rc = oci_error_make(err, 0, "layer %s: %s", layer, archive_error_string(a));
	archive_read_free(a);
	return rc;
}

static int extract_pass(const char *layer, struct unpack_stats *stats, oci_error_t *err)
{
	struct archive *a = NULL, *w = archive_write_disk_new();
	struct archive_entry *e;
	int rc = 0, r;

	if (w == NULL || open_layer(&a, layer, err) < 0) {
		archive_write_free(w);
		return -1;
	}
	archive_write_disk_set_options(
		w, ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_UNLINK |
			   ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NODOTDOT |
			   ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS);
	while (rc == 0 && (r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		cleanup_free char *clean = clean_name(archive_entry_pathname(e));
		mode_t type = archive_entry_filetype(e), perm = archive_entry_perm(e);
		const char *hardlink = archive_entry_hardlink(e);

		if (clean == NULL || *clean == '\0' || is_whiteout(clean))
			continue; /* the root itself; whiteouts were applied */
		if (type == AE_IFCHR || type == AE_IFBLK) {
			stats->devices_skipped++;
			continue; /* a rootless container cannot make device nodes */
		}
		if (hardlink != NULL) {
			cleanup_free char *target = clean_name(hardlink);
			if (target == NULL || *target == '\0') {
				rc = oci_error_make(
					err, 0,
					"layer %s: hard link '%s' to '%s' leaves the root: "
					"refused",
					layer, clean, hardlink);
				break;
			}
			archive_entry_set_hardlink(e, target);
		}
		if (type != AE_IFDIR && (perm & (S_ISUID | S_ISGID))) {
			stats->setid_dropped++;
			perm &= ~(mode_t)(S_ISUID | S_ISGID);
		}
		if (type == AE_IFDIR)
			perm |= S_IRWXU; /* the owner must be able to fill and remove it */
		archive_entry_set_perm(e, perm);
		archive_entry_set_pathname(e, clean);
		archive_entry_set_uid(e, getuid());
		archive_entry_set_gid(e, getgid());
		r = archive_write_header(w, e);
		if (r == ARCHIVE_OK && archive_entry_size(e) > 0 && hardlink == NULL) {
			const void *buf;
			size_t size;
			la_int64_t offset;

			while ((r = archive_read_data_block(a, &buf, &size, &offset)) == ARCHIVE_OK)
				if (archive_write_data_block(w, buf, size, offset) != ARCHIVE_OK)
					break;
			r = r == ARCHIVE_EOF ? ARCHIVE_OK : r;
		}
		if (r == ARCHIVE_OK)
			r = archive_write_finish_entry(w);
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
			rc = oci_error_make(err, 0, "layer %s: %s: refused: %s", layer, clean,
					    archive_error_string(w) ? archive_error_string(w)
								    : archive_error_string(a));
		stats->entries++;
	}
	if (rc == 0 && r != ARCHIVE_EOF)
		rc = oci_error_make(err, 0, "layer %s: %s", layer, archive_error_string(a));
	archive_read_free(a);
	archive_write_free(w);
	return rc;
}

int unpack_layer(const char *rootfs, const char *layer, struct unpack_stats *stats,
		 oci_error_t *err)
{
	cleanup_close int root = open(rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cleanup_close int cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	int rc;

	if (root < 0)
		return oci_error_make(err, errno, "%s", rootfs);
	if (whiteout_pass(root, layer, err) < 0)
		return -1;
	/* libarchive writes relative names: below the root, with the secure flags */
	if (fchdir(root) < 0)
		return oci_error_make(err, errno, "%s", rootfs);
	rc = extract_pass(layer, stats, err);
	if (cwd >= 0 && fchdir(cwd) < 0 && rc == 0)
		rc = oci_error_make(err, errno, "returning to the working directory");
	return rc;
}
