#include "launcher/image/unpack.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fsutil.h"
#include "common/stop.h"
#include "common/xalloc.h"
#include "launcher/image/digest.h"

#define WHITEOUT ".wh."
#define OPAQUE ".wh..wh..opq"
#define MB 1000000ULL

static double seconds_since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t->tv_sec) + (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

void unpack_progress_init(struct unpack_progress *p, const char *image, unsigned long long total,
			  FILE *out)
{
	*p = (struct unpack_progress){.image = image, .total = total, .out = out};
	clock_gettime(CLOCK_MONOTONIC, &p->start);
}

static void progress_line(struct unpack_progress *p, const char *tail)
{
	unsigned long long pct = p->total ? p->done * 100 / p->total : 100;
	int decimals = p->total < 10 * MB; /* "0.4/1.2 MB", but "120/266 MB" */

	fprintf(p->out, "spank-oci: unpacking %s: %llu%% (%.*f/%.*f MB)%s\n", p->image,
		pct > 100 ? 100 : pct, decimals, (double)p->done / MB, decimals,
		(double)p->total / MB, tail);
	fflush(p->out);
}

static void progress_add(struct unpack_progress *p, size_t n)
{
	if (p == NULL)
		return;
	p->done += n;
	if (p->out == NULL || seconds_since(&p->start) < 1.0 ||
	    (p->shown && seconds_since(&p->last) < 1.0))
		return;
	progress_line(p, "");
	p->shown = true;
	clock_gettime(CLOCK_MONOTONIC, &p->last);
}

void unpack_progress_end(struct unpack_progress *p)
{
	char tail[64];

	if (p == NULL || !p->shown)
		return;
	p->done = p->total;
	snprintf(tail, sizeof(tail), ", done in %.1f s", seconds_since(&p->start));
	progress_line(p, tail);
}

/* A layer entry's name made relative ("./a/b" -> "a/b"); NULL for "..", absolute names. */
static char *clean_name(const char *name)
{
	cleanup_free char *copy = NULL;
	char *out, *save = NULL;
	size_t len = 0;

	if (name == NULL || name[0] == '/')
		return NULL;
	copy = xstrdup(name);
	out = xcalloc(1, strlen(name) + 1);
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

/*
 * The names this layer has put in place (and their parents): a whiteout or an opaque
 * marker removes what the layers below it left, never what its own layer brought.
 */
struct layer_names {
	void *tree; /* tsearch tree of char * */
};

static int compare_names(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* name in dir, both relative to the root ("" is the root itself). */
static char *name_in(const char *dir, const char *name)
{
	return *dir ? path_join(dir, name) : xstrdup(name);
}

/* 0, or -1 if the tree cannot grow (out of memory). */
static int names_add(struct layer_names *n, const char *clean)
{
	cleanup_free char *copy = xstrdup(clean);
	char *slash;

	do {
		char *dup;

		if (tfind(copy, &n->tree, compare_names) != NULL)
			break; /* so are its parents */
		dup = xstrdup(copy);
		if (tsearch(dup, &n->tree, compare_names) == NULL) {
			free(dup);
			return -1;
		}
		slash = strrchr(copy, '/');
		if (slash != NULL)
			*slash = '\0';
	} while (slash != NULL);
	return 0;
}

static bool names_has(struct layer_names *n, const char *dir, const char *base)
{
	cleanup_free char *full = name_in(dir, base);

	return tfind(full, &n->tree, compare_names) != NULL;
}

static void names_release(struct layer_names *n)
{
	tdestroy(n->tree, free);
	n->tree = NULL;
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
	cleanup_free char *victim = xasprintf("/proc/self/fd/%d/%s", dirfd, name);
	cleanup_error oci_error_t err = NULL;

	fs_remove_tree(victim, &err);
}

/*
 * Removes what lower layers left in dir (open as dirfd): every name but those this layer
 * brought, and inside the directories it brought, the same again (whatever the order of
 * the entries and the marker in the tar, the result is the same).
 */
static void remove_lower(int dirfd, const char *dir, struct layer_names *names)
{
	cleanup_close int fd = dup(dirfd);
	cleanup_dir DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;

	if (d == NULL)
		return;
	steal_fd(&fd); /* d owns it now */
	while ((e = readdir(d)) != NULL) {
		cleanup_close int subfd = -1;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (!names_has(names, dir, e->d_name)) {
			remove_at(dirfd, e->d_name);
			continue;
		}
		subfd = open_dir_beneath(dirfd, e->d_name); /* fails for files and symlinks */
		if (subfd >= 0) {
			cleanup_free char *sub = name_in(dir, e->d_name);
			remove_lower(subfd, sub, names);
		}
	}
}

/* A whiteout removes one name of lower layers; an opaque marker, a directory's content. */
static int apply_whiteout(int root, const char *name, struct layer_names *names, oci_error_t *err)
{
	cleanup_free char *dir = xstrdup(name), *full = NULL;
	char *slash = strrchr(dir, '/');
	const char *base = slash ? slash + 1 : dir;
	cleanup_close int dirfd = -1, subfd = -1;

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
		remove_lower(dirfd, dir, names);
		return 0;
	}
	base += strlen(WHITEOUT);
	if (*base == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0 || strchr(base, '/'))
		return oci_error_make(err, 0, "invalid whiteout %s", name);
	if (!names_has(names, dir, base)) {
		remove_at(dirfd, base);
		return 0;
	}
	/* the layer brought this name (a directory): only what was below it goes */
	subfd = open_dir_beneath(dirfd, base);
	if (subfd >= 0) {
		full = name_in(dir, base);
		remove_lower(subfd, full, names);
	}
	return 0;
}

static bool is_whiteout(const char *clean)
{
	const char *slash = strrchr(clean, '/');

	return strncmp(slash ? slash + 1 : clean, WHITEOUT, strlen(WHITEOUT)) == 0;
}

/* The blob as libarchive reads it: every byte also goes to the digest and the progress. */
struct layer_reader {
	int fd;
	long long size; /* declared: at most one byte more is read (-1: no size) */
	bool too_long;
	struct digest digest;
	struct unpack_progress *progress;
	char buf[1 << 16];
};

/*
 * One read of the blob, hashed and counted: bytes read, 0 at its end, -1 with errno. A
 * blob longer than its declared size fails as soon as one byte too many is read (a
 * symlink to /dev/zero is never read to its end). EINTR: a stop was requested
 * (common/stop.h); a blob that never ends stops there too.
 */
static ssize_t read_chunk(struct layer_reader *r)
{
	size_t want = sizeof(r->buf);
	ssize_t n = -1;

	if (r->size >= 0) {
		unsigned long long left = (unsigned long long)r->size + 1 - r->digest.bytes;
		if (left < want)
			want = (size_t)left;
	}
	errno = EINTR;
	while (!stop_requested() && (n = read(r->fd, r->buf, want)) < 0 && errno == EINTR)
		continue;
	if (n >= 0) {
		digest_update(&r->digest, r->buf, (size_t)n);
		progress_add(r->progress, (size_t)n);
	}
	if (r->size >= 0 && r->digest.bytes > (unsigned long long)r->size) {
		r->too_long = true;
		errno = EFBIG;
		return -1;
	}
	return n;
}

static la_ssize_t read_blob(struct archive *a, void *data, const void **buf)
{
	struct layer_reader *r = data;
	ssize_t n = read_chunk(r);

	if (n < 0) {
		archive_set_error(a, errno, "read error");
		return -1;
	}
	*buf = r->buf;
	return n;
}

/* What libarchive left unread (a tar's padding) counts for the digest too. */
static int read_rest(struct layer_reader *r, oci_error_t *err)
{
	ssize_t n;

	while ((n = read_chunk(r)) > 0)
		continue;
	return n < 0 ? oci_error_make(err, errno, "read error") : 0;
}

/* An entry made safe to write: relative, no device, no setid bit, owned by us. */
static int prepare_entry(struct archive_entry *e, const char *clean, const char *layer,
			 struct unpack_stats *stats, bool *skip, oci_error_t *err)
{
	mode_t type = archive_entry_filetype(e), perm = archive_entry_perm(e);
	const char *hardlink = archive_entry_hardlink(e);

	*skip = false;
	if (type == AE_IFCHR || type == AE_IFBLK) {
		stats->devices_skipped++;
		*skip = true; /* a rootless container cannot make device nodes */
		return 0;
	}
	if (hardlink != NULL) {
		cleanup_free char *target = clean_name(hardlink);
		if (target == NULL || *target == '\0')
			return oci_error_make(err, 0,
					      "layer %s: hard link '%s' to '%s' leaves the root: "
					      "refused",
					      layer, clean, hardlink);
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
	return 0;
}

/* Past its limits an image is refused: a decompression bomb stops there. */
static int check_limits(const struct unpack_source *layer, const struct unpack_stats *stats,
			oci_error_t *err)
{
	const struct unpack_limits *l = layer->limits;

	if (l == NULL)
		return 0;
	if (l->max_bytes > 0 && stats->bytes > l->max_bytes)
		return oci_error_make(err, EFBIG,
				      "layer %s: the image unpacks to more than %llu bytes "
				      "(ImageUnpackMaxSize): refused",
				      layer->path, l->max_bytes);
	if (l->max_entries > 0 && stats->headers > l->max_entries)
		return oci_error_make(err, EFBIG,
				      "layer %s: the image has more than %llu entries "
				      "(ImageUnpackMaxEntries): refused",
				      layer->path, l->max_entries);
	return 0;
}

static int copy_data(struct archive *a, struct archive *w, const struct unpack_source *layer,
		     struct unpack_stats *stats, oci_error_t *err)
{
	const void *buf;
	size_t size;
	la_int64_t offset;
	int r;

	while ((r = archive_read_data_block(a, &buf, &size, &offset)) == ARCHIVE_OK) {
		stats->bytes += size;
		if (check_limits(layer, stats, err) < 0)
			return -1;
		if (archive_write_data_block(w, buf, size, offset) != ARCHIVE_OK)
			return ARCHIVE_FAILED;
	}
	return r == ARCHIVE_EOF ? ARCHIVE_OK : r;
}

static int extract(int root, struct archive *a, struct archive *w,
		   const struct unpack_source *source, struct unpack_stats *stats, oci_error_t *err)
{
	const char *layer = source->path;
	struct layer_names names = {0};
	struct archive_entry *e;
	int rc = 0, r;

	while (rc == 0 && (r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		cleanup_free char *clean = clean_name(archive_entry_pathname(e));
		bool skip;

		if (clean == NULL) {
			rc = oci_error_make(err, 0, "layer %s: entry '%s' leaves the root: refused",
					    layer, archive_entry_pathname(e));
			break;
		}
		stats->headers++;
		if (check_limits(source, stats, err) < 0) {
			rc = -1;
			break;
		}
		if (*clean == '\0')
			continue; /* the root itself */
		if (is_whiteout(clean)) {
			rc = apply_whiteout(root, clean, &names, err);
			continue;
		}
		if (prepare_entry(e, clean, layer, stats, &skip, err) < 0) {
			rc = -1;
			break;
		}
		if (skip)
			continue;
		r = archive_write_header(w, e);
		if (r == ARCHIVE_OK && archive_entry_size(e) > 0 &&
		    archive_entry_hardlink(e) == NULL)
			r = copy_data(a, w, source, stats, err);
		if (r == -1)
			rc = -1; /* past a limit (-1 is none of libarchive's codes) */
		else if (r == ARCHIVE_OK)
			r = archive_write_finish_entry(w);
		if (rc == 0 && r != ARCHIVE_OK && r != ARCHIVE_WARN)
			rc = oci_error_make(err, 0, "layer %s: %s: refused: %s", layer, clean,
					    archive_error_string(w) ? archive_error_string(w)
								    : archive_error_string(a));
		else if (rc == 0 && names_add(&names, clean) < 0)
			rc = oci_error_make(err, ENOMEM, "layer %s", layer);
		stats->entries++;
	}
	if (rc == 0 && r != ARCHIVE_EOF)
		rc = oci_error_make(err, 0, "layer %s: %s", layer, archive_error_string(a));
	names_release(&names);
	return rc;
}

static int unpack_stream(int root, const struct unpack_source *layer, struct layer_reader *r,
			 struct unpack_stats *stats, oci_error_t *err)
{
	struct archive *a = archive_read_new(), *w = archive_write_disk_new();
	int rc = -1;

	if (a == NULL || w == NULL) {
		oci_error_make(err, ENOMEM, "layer %s", layer->path);
		goto out;
	}
	archive_read_support_filter_all(a);
	archive_read_support_format_tar(a);
	archive_write_disk_set_options(
		w, ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_UNLINK |
			   ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NODOTDOT |
			   ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS);
	if (archive_read_open(a, r, NULL, read_blob, NULL) != ARCHIVE_OK) {
		oci_error_make(err, 0, "layer %s: %s", layer->path, archive_error_string(a));
		goto out;
	}
	if (extract(root, a, w, layer, stats, err) < 0 || read_rest(r, err) < 0)
		goto out;
	rc = 0;
out:
	if (rc < 0 && r->too_long) {
		/* whatever noticed it (libarchive or the digest), this is what went wrong */
		oci_error_release(err);
		oci_error_make(err, 0,
			       "layer %s: longer than its declared size of %lld bytes: refused",
			       layer->path, layer->size);
	}
	archive_read_free(a);
	archive_write_free(w);
	return rc;
}

int unpack_layer(const char *rootfs, const struct unpack_source *layer,
		 struct unpack_progress *progress, struct unpack_stats *stats, oci_error_t *err)
{
	cleanup_close int root = open(rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cleanup_close int cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	cleanup_free struct layer_reader *r = xcalloc(1, sizeof(*r));
	int rc;

	if (root < 0)
		return oci_error_make(err, errno, "%s", rootfs);
	r->fd = open(layer->path, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0)
		return oci_error_make(err, errno, "layer %s", layer->path);
	r->progress = progress;
	r->size = layer->size;
	if (digest_init(&r->digest, err) < 0) {
		close(r->fd);
		return -1;
	}
	/* libarchive writes relative names: below the root, with the secure flags */
	if (fchdir(root) < 0) {
		rc = oci_error_make(err, errno, "%s", rootfs);
	} else {
		rc = unpack_stream(root, layer, r, stats, err);
		if (cwd >= 0 && fchdir(cwd) < 0 && rc == 0)
			rc = oci_error_make(err, errno, "returning to the working directory");
	}
	if (rc == 0 && layer->digest != NULL)
		rc = digest_check(&r->digest, layer->path, layer->digest, layer->size, err);
	digest_release(&r->digest);
	close(r->fd);
	return rc;
}
