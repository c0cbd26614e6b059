#include "launcher/image/cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fsutil.h"
#include "common/stop.h"
#include "common/xalloc.h"
#include "launcher/image/layout.h"
#include "launcher/image/unpack.h"

/*
 * An image's lock file, next to its entry (suffix ".lock": held shared while in use or
 * being unpacked, exclusive to remove it; ".unpack": held exclusive by the one task that
 * unpacks it).
 */
static int open_lock_file(const char *entry, const char *suffix)
{
	cleanup_free char *lock = xasprintf("%s%s", entry, suffix);

	return open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
}

static int open_lock(const char *entry)
{
	return open_lock_file(entry, ".lock");
}

/* One line per unpack, for the curious and for the tests (an image is unpacked once). */
static void log_unpack(const char *cache_dir, const struct layout_image *img,
		       const struct unpack_stats *st)
{
	cleanup_free char *path = path_join(cache_dir, "unpack.log");
	cleanup_fclose FILE *f = fopen(path, "ae");

	if (f != NULL)
		fprintf(f,
			"%ld %s %s layers=%zu entries=%zu devices_skipped=%zu setid_dropped=%zu\n",
			(long)time(NULL), img->manifest_digest, img->layout, img->nlayers,
			st->entries, st->devices_skipped, st->setid_dropped);
}

/* What a killed unpack of this image left (we hold its unpack lock: nobody else unpacks it). */
static void remove_stale_unpacks(const char *cache_dir, const char *hex)
{
	cleanup_free char *prefix = xasprintf(".unpacking-%s-", hex);
	cleanup_dir DIR *d = opendir(cache_dir);
	struct dirent *e;

	while (d != NULL && (e = readdir(d)) != NULL) {
		cleanup_free char *path = NULL;
		cleanup_error oci_error_t err = NULL;

		if (strncmp(e->d_name, prefix, strlen(prefix)) != 0)
			continue;
		path = path_join(cache_dir, e->d_name);
		fs_remove_tree(path, &err);
	}
}

static unsigned long long tree_bytes;

static int add_bytes(const char *fpath, const struct stat *sb, int typeflag, struct FTW *ftw)
{
	(void)fpath;
	(void)typeflag;
	(void)ftw;
	tree_bytes += (unsigned long long)sb->st_blocks * 512ULL;
	return 0;
}

static unsigned long long bytes_of(const char *path)
{
	tree_bytes = 0;
	nftw(path, add_bytes, 16, FTW_PHYS);
	return tree_bytes;
}

static double mib(unsigned long long bytes)
{
	return (double)bytes / (1024.0 * 1024.0);
}

/* The image a leftover ".unpacking-<hex>-<pid>" or ".removing-<hex>-<pid>" was of, or NULL. */
static char *leftover_of(const char *name)
{
	static const char *const prefixes[] = {".unpacking-", ".removing-"};

	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		size_t n = strlen(prefixes[i]);

		if (strncmp(name, prefixes[i], n) == 0 && strlen(name + n) > 65 &&
		    strspn(name + n, "0123456789abcdef") == 64 && name[n + 64] == '-')
			return xstrndup(name + n, 64);
	}
	return NULL;
}

/*
 * Removes what killed unpacks and prunes left, of every image whose lock is free (an
 * unpack or a prune under way holds it); tells each on out (or NULL).
 */
static void remove_leftovers(const char *cache_dir, FILE *out)
{
	cleanup_dir DIR *d = opendir(cache_dir);
	struct dirent *e;

	while (d != NULL && (e = readdir(d)) != NULL) {
		cleanup_free char *hex = leftover_of(e->d_name), *entry = NULL, *path = NULL;
		cleanup_close int lock_fd = -1;
		cleanup_error oci_error_t err = NULL;
		unsigned long long bytes;

		if (hex == NULL)
			continue;
		entry = path_join(cache_dir, hex);
		lock_fd = open_lock(entry);
		if (lock_fd < 0 || flock(lock_fd, LOCK_EX | LOCK_NB) < 0)
			continue; /* under way */
		path = path_join(cache_dir, e->d_name);
		bytes = out != NULL ? bytes_of(path) : 0;
		if (fs_remove_tree(path, &err) == 0 && out != NULL)
			fprintf(out, "removed %s, left by a killed unpack or prune (%.1f MiB)\n",
				e->d_name, mib(bytes));
	}
}

/* Where an image came from, for `spank-oci cache list`. */
static int write_source(const char *tmp, const char *ref, oci_error_t *err)
{
	cleanup_free char *path = path_join(tmp, "source"), *line = xasprintf("%s\n", ref);

	return fs_write_file(path, line, strlen(line), err);
}

/* Unpacks the layers, telling progress on stderr (the task's) if it takes a while. */
static int unpack_into(const char *tmp, const char *ref, const struct layout_image *img,
		       const struct cache_limits *limits, struct unpack_stats *st, oci_error_t *err)
{
	cleanup_free char *rootfs = path_join(tmp, "rootfs");
	struct unpack_progress progress;

	if (mkdir(tmp, 0700) < 0 || mkdir(rootfs, 0755) < 0)
		return oci_error_make(err, errno, "cannot create %s", rootfs);
	unpack_progress_init(&progress, ref, img->layers_size, stderr);
	for (size_t i = 0; i < img->nlayers; i++) {
		struct unpack_source src = {.path = img->layers[i].path,
					    .digest = img->layers[i].digest,
					    .size = img->layers[i].size,
					    .limits = limits ? &limits->unpack : NULL};
		if (unpack_layer(rootfs, &src, &progress, st, err) < 0 || stop_requested()) {
			cleanup_free char *what = xasprintf("unpacking %s", ref);
			if (!stop_requested())
				return oci_error_wrap(err, "%s", what);
			oci_error_release(err); /* whatever the stop made the layer say */
			return stop_error(err, what);
		}
	}
	unpack_progress_end(&progress);
	return 0;
}

/* Unpacks img as entry (we hold its lock), through a temporary directory. */
static int add_entry(const char *cache_dir, const char *entry, const char *ref,
		     const struct layout_image *img, const struct cache_limits *limits,
		     oci_error_t *err)
{
	const char *hex = img->manifest_digest + 7;
	cleanup_free char *tmp = xasprintf("%s/.unpacking-%s-%d", cache_dir, hex, (int)getpid());
	struct unpack_stats st = {0};

	remove_stale_unpacks(cache_dir, hex);
	remove_leftovers(cache_dir, NULL); /* of other images */
	if (unpack_into(tmp, ref, img, limits, &st, err) < 0 || write_source(tmp, ref, err) < 0) {
		cleanup_error oci_error_t rerr = NULL;
		fs_remove_tree(tmp, &rerr);
		return -1;
	}
	if (rename(tmp, entry) < 0)
		return oci_error_make(err, errno, "cannot move %s into place", tmp);
	log_unpack(cache_dir, img, &st);
	if (limits != NULL && limits->max_bytes > 0) {
		cleanup_error oci_error_t perr = NULL; /* pruning is best effort */
		cache_prune(cache_dir, limits->max_bytes, false, NULL, &perr);
	}
	return 0;
}

/*
 * Takes the entry's lock (lock_fd, or -1 if it could not be opened), waiting as long as
 * another task unpacks the image, unless a stop is requested.
 */
static int lock_entry(int lock_fd, int op, const char *entry, const char *suffix, const char *ref,
		      oci_error_t *err)
{
	cleanup_free char *what = NULL;

	if (lock_fd >= 0 && stop_flock(lock_fd, op) == 0)
		return 0;
	if (lock_fd < 0 || !stop_requested())
		return oci_error_make(err, errno, "cannot lock %s%s", entry, suffix);
	what = xasprintf("waiting for the unpack of %s", ref);
	return stop_error(err, what);
}

/*
 * The entry of img, unpacked if it is not there yet; gives its lock, held shared. The
 * shared lock is taken first and kept: it is what "in use" means, and no prune removes
 * the entry under it. One task unpacks, under the image's unpack lock; the others wait
 * for that lock and look again. An unpack never waits for the tasks that use the image:
 * those may be waiting for this task (the ranks of an MPI step wait for each other), and
 * a task that upgraded its lock to exclusive would wait for them for ever.
 */
static int get_entry(const char *cache_dir, const char *entry, const char *ref,
		     const struct layout_image *img, const struct cache_limits *limits,
		     oci_error_t *err)
{
	cleanup_close int lock_fd = open_lock(entry), unpack_fd = -1;
	struct stat sb;

	if (lock_entry(lock_fd, LOCK_SH, entry, ".lock", ref, err) < 0)
		return -1;
	if (lstat(entry, &sb) < 0) {
		unpack_fd = open_lock_file(entry, ".unpack");
		if (lock_entry(unpack_fd, LOCK_EX, entry, ".unpack", ref, err) < 0)
			return -1;
		if (lstat(entry, &sb) < 0 && add_entry(cache_dir, entry, ref, img, limits, err) < 0)
			return -1;
		if (lstat(entry, &sb) < 0)
			return oci_error_make(err, errno, "%s", entry);
	}
	if (!S_ISDIR(sb.st_mode) || sb.st_uid != geteuid())
		return oci_error_make(err, 0, "%s is not a cached image of yours", entry);
	utimensat(AT_FDCWD, entry, NULL, AT_SYMLINK_NOFOLLOW); /* last use, for pruning */
	return steal_fd(&lock_fd);
}

struct cache_limits cache_limits_of(const struct oci_conf *conf)
{
	return (struct cache_limits){.max_bytes = conf->image_cache_size,
				     .unpack = {.max_bytes = conf->image_unpack_max_size,
						.max_entries = conf->image_unpack_max_entries}};
}

int cache_get(const char *cache_dir, const char *ref, const struct cache_limits *limits,
	      char **rootfs, json_t **config, int *in_use_fd, oci_error_t *err)
{
	struct layout_image img;
	cleanup_free char *entry = NULL;
	int fd = -1;

	if (layout_resolve(ref, &img, err) < 0)
		return -1;
	if (fs_mkdir_private(cache_dir, err) == 0) {
		entry = path_join(cache_dir, img.manifest_digest + 7);
		fd = get_entry(cache_dir, entry, ref, &img, limits, err);
	}
	if (fd >= 0) {
		*in_use_fd = fd;
		*rootfs = path_join(entry, "rootfs");
		*config = json_incref(img.config);
	}
	layout_image_release(&img);
	return fd >= 0 ? 0 : -1;
}

struct cached_image {
	char name[65];
	unsigned long long bytes;
	struct timespec used;
	int lock_fd; /* holds LOCK_EX when not in use, else -1 */
};

static bool is_entry_name(const char *name)
{
	return strlen(name) == 64 && strspn(name, "0123456789abcdef") == 64;
}

static int older_first(const void *a, const void *b)
{
	const struct cached_image *x = a, *y = b;

	if (x->used.tv_sec != y->used.tv_sec)
		return x->used.tv_sec < y->used.tv_sec ? -1 : 1;
	return (x->used.tv_nsec > y->used.tv_nsec) - (x->used.tv_nsec < y->used.tv_nsec);
}

/* The cached images, least recently used first, each tried for an exclusive lock. */
static int scan_cache(const char *cache_dir, struct cached_image **out, size_t *n, oci_error_t *err)
{
	cleanup_dir DIR *d = opendir(cache_dir);
	struct dirent *e;
	struct cached_image *list = NULL;

	*n = 0;
	*out = NULL;
	if (d == NULL)
		return errno == ENOENT ? 0 : oci_error_make(err, errno, "%s", cache_dir);
	while ((e = readdir(d)) != NULL) {
		cleanup_free char *path = NULL;
		struct cached_image *img;
		struct stat sb;

		if (!is_entry_name(e->d_name))
			continue;
		path = path_join(cache_dir, e->d_name);
		if (lstat(path, &sb) < 0 || !S_ISDIR(sb.st_mode))
			continue;
		list = xrealloc(list, (*n + 1) * sizeof(*list));
		img = &list[(*n)++];
		memcpy(img->name, e->d_name, sizeof(img->name) - 1); /* 64 hex digits */
		img->name[sizeof(img->name) - 1] = '\0';
		img->used = sb.st_mtim;
		img->bytes = bytes_of(path);
		img->lock_fd = open_lock(path);
		if (img->lock_fd >= 0 && flock(img->lock_fd, LOCK_EX | LOCK_NB) < 0) {
			close(img->lock_fd);
			img->lock_fd = -1;
		}
	}
	if (*n > 1)
		qsort(list, *n, sizeof(*list), older_first);
	*out = list;
	return 0;
}

static void release_scan(struct cached_image *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (list[i].lock_fd >= 0)
			close(list[i].lock_fd);
	free(list);
}

int cache_list(const char *cache_dir, FILE *out, oci_error_t *err)
{
	struct cached_image *list;
	size_t n;

	if (scan_cache(cache_dir, &list, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		cleanup_free char *path = xasprintf("%s/%s/source", cache_dir, list[i].name);
		cleanup_fclose FILE *f = fopen(path, "re");
		char used[32] = "?", source[4096] = "";
		struct tm tm;

		if (localtime_r(&list[i].used.tv_sec, &tm) != NULL)
			strftime(used, sizeof(used), "%Y-%m-%dT%H:%M:%S", &tm);
		if (f != NULL && fgets(source, sizeof(source), f) != NULL)
			source[strcspn(source, "\n")] = '\0';
		fprintf(out, "sha256:%s %10.1f MiB  last used %s  %-6s  %s\n", list[i].name,
			mib(list[i].bytes), used, list[i].lock_fd < 0 ? "in-use" : "idle", source);
	}
	release_scan(list, n);
	return 0;
}

int cache_prune(const char *cache_dir, unsigned long long max_bytes, bool all, FILE *out,
		oci_error_t *err)
{
	struct cached_image *list;
	unsigned long long total = 0;
	size_t n;

	remove_leftovers(cache_dir, out); /* first: scan_cache takes the locks of idle images */
	if (scan_cache(cache_dir, &list, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		total += list[i].bytes;
	for (size_t i = 0; i < n && (all || total > max_bytes); i++) {
		cleanup_free char *path = NULL, *doomed = NULL;
		cleanup_error oci_error_t rerr = NULL;

		if (list[i].lock_fd < 0)
			continue; /* in use */
		path = path_join(cache_dir, list[i].name);
		doomed = xasprintf("%s/.removing-%s-%d", cache_dir, list[i].name, (int)getpid());
		/* out of sight first: nobody may find half an image */
		if (rename(path, doomed) < 0)
			continue;
		fs_remove_tree(doomed, &rerr);
		total -= list[i].bytes;
		if (out != NULL)
			fprintf(out, "removed sha256:%s (%.1f MiB)\n", list[i].name,
				mib(list[i].bytes));
	}
	release_scan(list, n);
	return 0;
}
