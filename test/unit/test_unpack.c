/*
 * launcher/image/unpack.c: image layers applied to a root filesystem. Each test builds its
 * layers with libarchive's writer, applies them to <tmp>/rootfs and looks at the file
 * system; <tmp>/outside, next to the rootfs, must stay empty whatever a layer holds.
 */
#include "image_fixture.h"

#include <dirent.h>
#include <regex.h>

#include "launcher/image/unpack.h"

struct fixture {
	char *dir, *rootfs, *outside;
	int nlayers;
};

static int setup(void **state)
{
	struct fixture *f = dir_fixture_new(struct fixture);

	f->rootfs = xasprintf("%s/rootfs", f->dir);
	f->outside = xasprintf("%s/outside", f->dir);
	make_dir(f->dir, "rootfs", 0755);
	make_dir(f->dir, "outside", 0755);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	free(f->rootfs);
	free(f->outside);
	dir_fixture_free(f);
	return 0;
}

/* Writes a layer blob (a pax tar, maybe compressed) into the fixture's directory. */
static char *make_layer(struct fixture *f, enum layer_filter filter,
			const struct layer_entry *entries)
{
	char *path = xasprintf("%s/layer%d.tar", f->dir, ++f->nlayers);

	write_layer(path, filter, entries);
	return path;
}

/* Applies a layer, without digest; the error (if any) is left in *err. */
static int apply(struct fixture *f, const char *path, struct unpack_stats *stats, oci_error_t *err)
{
	struct unpack_source src = {.path = path, .digest = NULL, .size = -1};

	return unpack_layer(f->rootfs, &src, NULL, stats, err);
}

/* Builds a layer and applies it, failing the test on an error. */
static void apply_ok(struct fixture *f, enum layer_filter filter, const struct layer_entry *entries,
		     struct unpack_stats *stats)
{
	cleanup_error oci_error_t err = NULL;
	cleanup_free char *path = make_layer(f, filter, entries);
	struct unpack_stats ignored = {0};

	assert_ok(apply(f, path, stats ? stats : &ignored, &err), err);
}

/* Builds a layer that must be refused; nothing may appear outside the rootfs. */
static void apply_refused(struct fixture *f, const struct layer_entry *entries, const char *sub)
{
	cleanup_error oci_error_t err = NULL;
	cleanup_free char *path = make_layer(f, PLAIN, entries);
	cleanup_free char *cwd_before = getcwd(NULL, 0), *cwd_after = NULL;
	struct unpack_stats stats = {0};

	assert_int_equal(apply(f, path, &stats, &err), -1);
	assert_error_has(err, "refused");
	assert_error_has(err, sub);
	/* unpack_layer works from inside the rootfs: it must come back */
	cwd_after = getcwd(NULL, 0);
	assert_non_null(cwd_before);
	assert_non_null(cwd_after);
	assert_string_equal(cwd_before, cwd_after);
}

/* Builds a layer and applies it: true, or false with an error that says it was refused. */
static bool apply_unless_refused(struct fixture *f, const struct layer_entry *entries)
{
	cleanup_error oci_error_t err = NULL;
	cleanup_free char *path = make_layer(f, PLAIN, entries);
	struct unpack_stats stats = {0};

	if (apply(f, path, &stats, &err) == 0)
		return true;
	assert_error_has(err, "refused");
	return false;
}

static char *at(struct fixture *f, const char *rel)
{
	return xasprintf("%s/%s", f->rootfs, rel);
}

static void assert_file(struct fixture *f, const char *rel, const char *text)
{
	cleanup_free char *path = at(f, rel), *got = read_text(path);

	if (got == NULL)
		fail_msg("%s: %s", path, strerror(errno));
	assert_string_equal(got, text);
}

static void assert_absent(struct fixture *f, const char *rel)
{
	cleanup_free char *path = at(f, rel);

	if (path_exists(path))
		fail_msg("%s exists", path);
}

static void assert_mode(struct fixture *f, const char *rel, mode_t type, mode_t mode)
{
	cleanup_free char *path = at(f, rel);
	struct stat st;

	if (lstat(path, &st) < 0)
		fail_msg("%s: %s", path, strerror(errno));
	if ((st.st_mode & S_IFMT) != type)
		fail_msg("%s has type %o, expected %o", path, st.st_mode & S_IFMT, type);
	if ((st.st_mode & 07777) != mode)
		fail_msg("%s has mode %04o, expected %04o", path, st.st_mode & 07777, mode);
}

static size_t count_entries(const char *dir)
{
	cleanup_dir DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	return n;
}

static void assert_matches(const char *text, const char *pattern)
{
	regex_t re;
	int rc;

	assert_int_equal(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
	rc = regexec(&re, text, 0, NULL, 0);
	regfree(&re);
	if (rc != 0)
		fail_msg("'%s' does not match '%s'", text, pattern);
}

static void assert_outside_empty(struct fixture *f)
{
	if (count_entries(f->outside) != 0)
		fail_msg("something was written in %s", f->outside);
}

/* ---- what a layer holds ----------------------------------------------------------------- */

static void unpack_files_dirs_links(void **state)
{
	struct fixture *f = *state;
	const struct layer_entry layer[] = {
		DM("./etc/", 0750),
		FM("./etc/motd", "hello\n", 0640),
		FM("bin/tool", "#!/bin/sh\n", 0755), /* its directory comes implicitly */
		L("etc/motd.link", "motd"),
		L("etc/abs.link", "/etc/motd"),
		H("etc/motd.hard", "./etc/motd"),
		DM("empty", 0700),
		{0},
	};
	struct unpack_stats stats = {0};
	cleanup_free char *motd = at(f, "etc/motd"), *hard = at(f, "etc/motd.hard");
	cleanup_free char *link = at(f, "etc/motd.link"), *abs = at(f, "etc/abs.link");
	char target[PATH_MAX];
	struct stat a, b;
	ssize_t n;

	apply_ok(f, PLAIN, layer, &stats);
	assert_int_equal(stats.entries, 7);
	assert_int_equal(stats.devices_skipped, 0);
	assert_int_equal(stats.setid_dropped, 0);
	assert_mode(f, "etc", S_IFDIR, 0750);
	assert_mode(f, "etc/motd", S_IFREG, 0640);
	assert_file(f, "etc/motd", "hello\n");
	assert_mode(f, "bin/tool", S_IFREG, 0755);
	assert_file(f, "bin/tool", "#!/bin/sh\n");
	assert_mode(f, "empty", S_IFDIR, 0700);
	/* symlinks are kept as they are, absolute ones too (they resolve in the container) */
	n = readlink(link, target, sizeof(target) - 1);
	assert_int_equal(n, 4);
	assert_memory_equal(target, "motd", 4);
	n = readlink(abs, target, sizeof(target) - 1);
	assert_int_equal(n, 9);
	assert_memory_equal(target, "/etc/motd", 9);
	/* a hard link is the same file */
	assert_int_equal(lstat(motd, &a), 0);
	assert_int_equal(lstat(hard, &b), 0);
	assert_int_equal(a.st_ino, b.st_ino);
	assert_int_equal(a.st_nlink, 2);
	/* the mtime comes from the layer */
	assert_int_equal(a.st_mtime, 1700000000);
}

static void unpack_upper_layer_replaces(void **state)
{
	struct fixture *f = *state;
	const struct layer_entry lower[] = {
		F("a", "lower a"), L("b", "a"), D("c"), F("c/x", "lower x"), {0},
	};
	const struct layer_entry upper[] = {
		F("a", "upper a"),
		F("b", "upper b"), /* a file where a symlink was: the link goes */
		F("c/y", "upper y"),
		{0},
	};

	apply_ok(f, PLAIN, lower, NULL);
	apply_ok(f, PLAIN, upper, NULL);
	assert_file(f, "a", "upper a");
	assert_mode(f, "b", S_IFREG, 0644);
	assert_file(f, "b", "upper b");
	assert_file(f, "c/x", "lower x");
	assert_file(f, "c/y", "upper y");
}

/* ---- whiteouts and opaque directories --------------------------------------------------- */

static const struct layer_entry lower_tree[] = {
	F("a", "a"),
	F("b", "b"),
	D("d"),
	F("d/old1", "old1"),
	F("d/old2", "old2"),
	D("d/sub"),
	F("d/sub/oldsub", "oldsub"),
	D("e"),
	F("e/x", "x"),
	F("e/y", "y"),
	{0},
};

static void whiteout_removes_lower(void **state)
{
	struct fixture *f = *state;
	const struct layer_entry upper[] = {
		F(".wh.a", ""),
		F("d/.wh.old1", ""),
		F(".wh.e", ""), /* a whole directory */
		F(".wh.nonexistent", ""),
		F("nodir/.wh.x", ""), /* in a directory that does not exist */
		{0},
	};

	apply_ok(f, PLAIN, lower_tree, NULL);
	apply_ok(f, PLAIN, upper, NULL);
	assert_absent(f, "a");
	assert_file(f, "b", "b");
	assert_absent(f, "d/old1");
	assert_file(f, "d/old2", "old2");
	assert_file(f, "d/sub/oldsub", "oldsub");
	assert_absent(f, "e");
	/* whiteout files are markers, never unpacked themselves */
	assert_absent(f, ".wh.a");
	assert_absent(f, "d/.wh.old1");
	assert_absent(f, ".wh.nonexistent");
	assert_absent(f, "nodir");
}

static void whiteout_spares_same_layer(void **state)
{
	struct fixture *f = *state;
	const struct layer_entry upper[] = {
		F("a", "new a"),       F(".wh.a", ""),
		F("new", "new"),       F(".wh.new", ""),
		F("e/z", "z"), /* the layer brings e (implicitly): only the lower e/ goes */
		F(".wh.e", ""),	       F(".wh.d", ""), /* and brings d again after its whiteout */
		F("d/sub/new", "new"), {0},
	};

	apply_ok(f, PLAIN, lower_tree, NULL);
	apply_ok(f, PLAIN, upper, NULL);
	assert_file(f, "a", "new a");
	assert_file(f, "new", "new");
	assert_file(f, "e/z", "z");
	assert_absent(f, "e/x");
	assert_absent(f, "e/y");
	assert_file(f, "d/sub/new", "new");
	assert_absent(f, "d/old1");
	assert_absent(f, "d/sub/oldsub");
	assert_file(f, "b", "b");
}

/* After an opaque d/: nothing of the lower layer's d, the rest untouched. */
static void check_opaque(struct fixture *f, const struct layer_entry *upper)
{
	apply_ok(f, PLAIN, lower_tree, NULL);
	apply_ok(f, PLAIN, upper, NULL);
	assert_absent(f, "d/old1");
	assert_absent(f, "d/sub/oldsub");
	assert_absent(f, "d/.wh..wh..opq");
	assert_mode(f, "d", S_IFDIR, 0755);
	assert_file(f, "a", "a");
	assert_file(f, "e/x", "x");
}

/* The same, of a layer that brings d/sub/x and not d/old2. */
static void check_opaque_sub(struct fixture *f, const struct layer_entry *upper)
{
	check_opaque(f, upper);
	assert_absent(f, "d/old2");
	assert_file(f, "d/sub/x", "x");
}

static void opaque_keeps_own_children(void **state)
{
	struct fixture *f = *state;
	const struct layer_entry upper[] = {
		D("d"),
		F("d/before", "before"),
		F("d/old2", "new old2"), /* a name of the lower layer, brought again */
		F("d/.wh..wh..opq", ""),
		F("d/after", "after"),
		{0},
	};

	check_opaque(f, upper);
	assert_file(f, "d/before", "before");
	assert_file(f, "d/old2", "new old2");
	assert_file(f, "d/after", "after");
	assert_absent(f, "d/sub");
}

static void opaque_marker_first(void **state)
{
	struct fixture *f = *state;
	const struct layer_entry upper[] = {
		F("d/.wh..wh..opq", ""),
		F("d/after", "after"),
		F("d/sub/x", "x"),
		{0},
	};

	check_opaque_sub(f, upper);
	assert_file(f, "d/after", "after");
}

static void opaque_implicit_parent(void **state)
{
	struct fixture *f = *state;
	/* no entry for d/sub: the layer brings it with d/sub/x */
	const struct layer_entry upper[] = {
		F("d/sub/x", "x"),
		F("d/.wh..wh..opq", ""),
		{0},
	};

	check_opaque_sub(f, upper);
}

static void opaque_own_subdir_hides_lower_content(void **state)
{
	struct fixture *f = *state;
	/* the same layer, its marker before or after the entries: the same tree */
	const struct layer_entry marker_last[] = {
		D("d/sub"),
		F("d/sub/x", "x"),
		F("d/.wh..wh..opq", ""),
		{0},
	};

	check_opaque_sub(f, marker_last);
	assert_mode(f, "d/sub", S_IFDIR, 0755);
}

/* ---- layers that try to leave the root -------------------------------------------------- */

static void refuses_dotdot(void **state)
{
	struct fixture *f = *state;
	const struct layer_entry layer[] = {
		F("ok", "ok"),
		F("../outside/evil", "evil"),
		{0},
	};
	const struct layer_entry nested[] = {
		F("a/../../outside/evil", "evil"),
		{0},
	};

	apply_refused(f, layer, "../outside/evil");
	apply_refused(f, nested, "a/../../outside/evil");
	assert_outside_empty(f);
}

static void refuses_absolute(void **state)
{
	struct fixture *f = *state;
	cleanup_free char *evil = xasprintf("%s/evil", f->outside);
	const struct layer_entry layer[] = {
		F(evil, "evil"),
		{0},
	};

	apply_refused(f, layer, evil);
	assert_outside_empty(f);
	assert_int_equal(count_entries(f->rootfs), 0);
}

static void check_hardlink_refused(struct fixture *f, const char *target)
{
	cleanup_free char *secret = xasprintf("%s/secret", f->dir);
	const struct layer_entry layer[] = {
		H("stolen", target),
		{0},
	};
	struct stat st;

	write_text(secret, NULL, "secret");
	apply_refused(f, layer, "hard link");
	assert_absent(f, "stolen");
	assert_int_equal(lstat(secret, &st), 0);
	assert_int_equal(st.st_nlink, 1);
	assert_outside_empty(f);
}

static void refuses_hardlink_dotdot(void **state)
{
	check_hardlink_refused(*state, "../secret");
}

static void refuses_hardlink_absolute(void **state)
{
	struct fixture *f = *state;
	cleanup_free char *secret = xasprintf("%s/secret", f->dir);

	check_hardlink_refused(f, secret);
}

static void no_writes_through_symlinks(void **state)
{
	struct fixture *f = *state;
	cleanup_free char *victim_dir = xasprintf("%s/victims", f->dir);
	cleanup_free char *victim = xasprintf("%s/victims/victim", f->dir);
	cleanup_free char *planted = at(f, "planted"), *relative_dir = at(f, "relative/dir");
	const struct layer_entry lower[] = {
		L("planted", f->outside),
		L("relative", "../outside"),
		L("victims", victim_dir),
		{0},
	};
	const struct layer_entry write_abs[] = {
		F("planted/file", "evil"),
		{0},
	};
	const struct layer_entry write_rel[] = {
		D("relative/dir"),
		{0},
	};
	const struct layer_entry whiteouts[] = {
		F("victims/.wh.victim", ""),
		F("victims/.wh..wh..opq", ""),
		{0},
	};
	cleanup_error oci_error_t err = NULL;
	cleanup_free char *path = NULL;
	struct unpack_stats stats = {0};

	make_dir(f->dir, "victims", 0755);
	write_text(victim, NULL, "keep me");
	apply_ok(f, PLAIN, lower, NULL);
	/* libarchive replaces the symlink with a directory of the rootfs (or refuses) */
	if (apply_unless_refused(f, write_abs)) {
		assert_true(path_is_dir(planted));
		assert_file(f, "planted/file", "evil");
	}
	if (apply_unless_refused(f, write_rel))
		assert_true(path_is_dir(relative_dir));
	assert_outside_empty(f);
	/* whiteouts do not remove anything through a symlink either (error or not) */
	path = make_layer(f, PLAIN, whiteouts);
	apply(f, path, &stats, &err);
	assert_true(path_exists(victim));
	assert_int_equal(count_entries(victim_dir), 1);
}

/* ---- what a rootless unpack leaves out -------------------------------------------------- */

static void drops_setid_bits(void **state)
{
	struct fixture *f = *state;
	const struct layer_entry layer[] = {
		FM("suid", "x", 04755),	  FM("sgid", "x", 02755), FM("both", "x", 06711),
		FM("sticky", "x", 01644), FM("plain", "x", 0755), {0},
	};
	struct unpack_stats stats = {0};

	apply_ok(f, PLAIN, layer, &stats);
	assert_int_equal(stats.setid_dropped, 3);
	assert_int_equal(stats.entries, 5);
	assert_mode(f, "suid", S_IFREG, 0755);
	assert_mode(f, "sgid", S_IFREG, 0755);
	assert_mode(f, "both", S_IFREG, 0711);
	assert_mode(f, "sticky", S_IFREG, 01644);
	assert_mode(f, "plain", S_IFREG, 0755);
}

static void skips_devices(void **state)
{
	struct fixture *f = *state;
	const struct layer_entry layer[] = {
		D("dev"), DEV('c', "dev/null"), DEV('b', "dev/sda"), F("dev/.keep", ""), {0},
	};
	struct unpack_stats stats = {0};

	apply_ok(f, PLAIN, layer, &stats);
	assert_int_equal(stats.devices_skipped, 2);
	assert_int_equal(stats.entries, 2);
	assert_absent(f, "dev/null");
	assert_absent(f, "dev/sda");
	assert_mode(f, "dev/.keep", S_IFREG, 0644);
}

/* ---- compression ------------------------------------------------------------------------ */

/* A compressed layer (its blob starts with magic) is unpacked like a plain one. */
static void check_compressed(struct fixture *f, enum layer_filter filter, const char *magic)
{
	const struct layer_entry layer[] = {
		D("usr"),
		F("usr/readme", "compressed\n"),
		L("readme", "usr/readme"),
		{0},
	};
	cleanup_free char *path = make_layer(f, filter, layer);
	cleanup_free char *head = read_text(path);

	/* the blob really is compressed: not a tar that starts with its first name */
	assert_non_null(head);
	assert_memory_equal(head, magic, strlen(magic));
	assert_int_not_equal(strncmp(head, "./PaxHeaders", 12), 0);
	assert_null(strstr(head, "compressed\n"));
	apply_ok(f, filter, layer, NULL);
	assert_file(f, "usr/readme", "compressed\n");
	assert_file(f, "readme", "compressed\n");
}

static void unpack_gzip(void **state)
{
	check_compressed(*state, GZIP, "\x1f\x8b");
}

static void unpack_zstd(void **state)
{
	check_compressed(*state, ZSTD, "\x28\xb5\x2f\xfd");
}

/* ---- digests ---------------------------------------------------------------------------- */

static const struct layer_entry small_layer[] = {
	F("hello", "hello\n"),
	{0},
};

/* The blob at path as a manifest names it: with its digest (to free()) and size. */
static struct unpack_source source_of(const char *path, char **digest)
{
	struct unpack_source src = {.path = path};

	*digest = sha256_of_file(path, &src.size);
	src.digest = *digest;
	return src;
}

/* Applies a layer with its digest and size; the error (if any) is left in *err. */
static int apply_source(struct fixture *f, const struct unpack_source *src,
			struct unpack_progress *progress, oci_error_t *err)
{
	struct unpack_stats stats = {0};

	return unpack_layer(f->rootfs, src, progress, &stats, err);
}

static void digest_verified(void **state)
{
	struct fixture *f = *state;
	cleanup_error oci_error_t err = NULL;
	cleanup_free char *path = make_layer(f, GZIP, small_layer), *digest = NULL;
	struct unpack_source src = source_of(path, &digest);

	assert_ok(apply_source(f, &src, NULL, &err), err);
	assert_file(f, "hello", "hello\n");
	/* any size */
	src.size = -1;
	assert_ok(apply_source(f, &src, NULL, &err), err);
}

static void digest_covers_trailing_bytes(void **state)
{
	struct fixture *f = *state;
	cleanup_error oci_error_t err = NULL;
	cleanup_free char *path = make_layer(f, PLAIN, small_layer), *digest = NULL;
	cleanup_free char *zeros = xcalloc(1, 200000);
	struct unpack_source src;
	FILE *blob;

	/* zeros after the end of the archive, beyond what libarchive reads: part of the blob */
	blob = fopen(path, "ab");
	assert_non_null(blob);
	assert_int_equal(fwrite(zeros, 1, 200000, blob), 200000);
	assert_int_equal(fclose(blob), 0);
	src = source_of(path, &digest);
	assert_ok(apply_source(f, &src, NULL, &err), err);
	assert_file(f, "hello", "hello\n");
}

static void digest_mismatch(void **state)
{
	struct fixture *f = *state;
	cleanup_error oci_error_t err = NULL;
	cleanup_free char *path = make_layer(f, PLAIN, small_layer), *digest = NULL;
	struct unpack_source src = source_of(path, &digest);

	/* the last hex digit changed */
	digest[strlen(digest) - 1] = digest[strlen(digest) - 1] == '0' ? '1' : '0';
	assert_int_equal(apply_source(f, &src, NULL, &err), -1);
	assert_error_has(err, "digest mismatch");
	assert_error_has(err, digest);
	assert_error_has(err, path);
}

static void size_mismatch(void **state)
{
	struct fixture *f = *state;
	cleanup_error oci_error_t err = NULL;
	cleanup_free char *path = make_layer(f, PLAIN, small_layer), *digest = NULL;
	struct unpack_source src = source_of(path, &digest);

	src.size += 1;
	assert_int_equal(apply_source(f, &src, NULL, &err), -1);
	assert_error_has(err, "size mismatch");
}

static void missing_blob(void **state)
{
	struct fixture *f = *state;
	cleanup_error oci_error_t err = NULL;
	cleanup_free char *path = xasprintf("%s/no-such-layer", f->dir);
	struct unpack_stats stats = {0};

	assert_int_equal(apply(f, path, &stats, &err), -1);
	assert_error_has(err, path);
	assert_error_has(err, "No such file or directory");
}

static void not_a_tar(void **state)
{
	struct fixture *f = *state;
	cleanup_error oci_error_t err = NULL;
	cleanup_free char *path = xasprintf("%s/garbage", f->dir);
	struct unpack_stats stats = {0};

	write_text(path, NULL, "this is not a tar archive, not even a compressed one\n");
	assert_int_equal(apply(f, path, &stats, &err), -1);
	assert_error_has(err, path);
	assert_int_equal(count_entries(f->rootfs), 0);
}

/* ---- bounded reads and limits ------------------------------------------------------------- */

/* A blob longer than its manifest says is refused as soon as one byte too many is read. */
static void blob_longer_than_declared(void **state)
{
	struct fixture *f = *state;
	cleanup_error oci_error_t err = NULL;
	cleanup_free char *path = make_layer(f, PLAIN, small_layer), *digest = NULL;
	cleanup_free char *zeros = xcalloc(1, 200000);
	struct unpack_source src = source_of(path, &digest);
	long long declared = src.size;
	FILE *blob;

	/* the digest of the whole blob, but the size it had before 200000 more bytes */
	blob = fopen(path, "ab");
	assert_non_null(blob);
	assert_int_equal(fwrite(zeros, 1, 200000, blob), 200000);
	assert_int_equal(fclose(blob), 0);
	free(digest);
	src = source_of(path, &digest);
	src.size = declared;
	assert_int_equal(apply_source(f, &src, NULL, &err), -1);
	assert_error_has(err, path);
	assert_error_has(err, "longer than its declared size");
}

struct endless {
	struct fixture *f;
	const char *path;
};

static int unpack_endless(void *arg, char *msg, size_t len)
{
	struct endless *e = arg;
	cleanup_error oci_error_t err = NULL;
	struct unpack_stats stats = {0};
	struct unpack_source src = {.path = e->path, .digest = "sha256:" ZEROS64, .size = 1 << 20};

	if (unpack_layer(e->f->rootfs, &src, NULL, &stats, &err) == 0) {
		snprintf(msg, len, "an endless blob was unpacked");
		return 1;
	}
	if (strstr(oci_error_text(err), "longer than its declared size") == NULL) {
		snprintf(msg, len, "unexpected error: %s", oci_error_text(err));
		return 1;
	}
	return 0;
}

/* A layer blob that is a symlink to /dev/zero fails at once (it once unpacked forever). */
static void endless_blob_fails_fast(void **state)
{
	struct fixture *f = *state;
	cleanup_free char *path = xasprintf("%s/zero-layer", f->dir);
	struct endless e = {.f = f, .path = path};

	assert_int_equal(symlink("/dev/zero", path), 0);
	/* the child is killed (SIGALRM) and the test fails if it is still reading after 5 s */
	check_in_child(unpack_endless, &e, 5000);
}

/* A layer with a file of len zero bytes, as a blob in the fixture's directory. */
static char *big_file_layer(struct fixture *f, const char *name, size_t len)
{
	cleanup_free char *zeros = xcalloc(1, len);
	const struct layer_entry entries[] = {
		{.type = 'f', .name = name, .data = zeros, .len = len}, {0}};

	return make_layer(f, GZIP, entries);
}

/* ImageUnpackMaxSize: all the layers of an image together, a decompression bomb stopped. */
static void unpack_max_size(void **state)
{
	struct fixture *f = *state;
	cleanup_error oci_error_t err = NULL;
	cleanup_free char *one = big_file_layer(f, "one", 60000);
	cleanup_free char *two = big_file_layer(f, "two", 60000);
	cleanup_free char *bomb = big_file_layer(f, "bomb", 4 << 20);
	struct unpack_limits limits = {.max_bytes = 100000};
	struct unpack_source src = {.path = one, .size = -1, .limits = &limits};
	struct unpack_stats stats = {0};

	assert_ok(unpack_layer(f->rootfs, &src, NULL, &stats, &err), err);
	assert_int_equal(stats.bytes, 60000);
	src.path = two;
	assert_int_equal(unpack_layer(f->rootfs, &src, NULL, &stats, &err), -1);
	assert_error_has(err, "more than 100000 bytes (ImageUnpackMaxSize): refused");
	assert_error_has(err, two);
	oci_error_release(&err);
	/* a few KiB of gzip that would be 4 MiB: stopped well before its end */
	stats = (struct unpack_stats){0};
	src.path = bomb;
	assert_int_equal(unpack_layer(f->rootfs, &src, NULL, &stats, &err), -1);
	assert_error_has(err, "(ImageUnpackMaxSize): refused");
	assert_true(stats.bytes < 1 << 20);
	/* 0: no limit */
	oci_error_release(&err);
	limits.max_bytes = 0;
	stats = (struct unpack_stats){0};
	assert_ok(unpack_layer(f->rootfs, &src, NULL, &stats, &err), err);
}

/* ImageUnpackMaxEntries: every entry counts, written or not. */
static void unpack_max_entries(void **state)
{
	struct fixture *f = *state;
	cleanup_error oci_error_t err = NULL;
	static const struct layer_entry five[] = {D("d"),	  F("d/a", "a"), F("d/b", "b"),
						  F(".wh.x", ""), F("d/c", "c"), {0}};
	cleanup_free char *path = make_layer(f, PLAIN, five);
	struct unpack_limits limits = {.max_entries = 4};
	struct unpack_source src = {.path = path, .size = -1, .limits = &limits};
	struct unpack_stats stats = {0};

	assert_int_equal(unpack_layer(f->rootfs, &src, NULL, &stats, &err), -1);
	assert_error_has(err, "more than 4 entries (ImageUnpackMaxEntries): refused");
	oci_error_release(&err);
	limits.max_entries = 5;
	stats = (struct unpack_stats){0};
	assert_ok(unpack_layer(f->rootfs, &src, NULL, &stats, &err), err);
	assert_int_equal(stats.headers, 5);
}

/* ---- progress --------------------------------------------------------------------------- */

static void progress_quick_is_silent(void **state)
{
	struct fixture *f = *state;
	cleanup_error oci_error_t err = NULL;
	cleanup_free char *path = make_layer(f, GZIP, small_layer), *digest = NULL, *out = NULL;
	struct unpack_source src = source_of(path, &digest);
	struct unpack_progress p;
	size_t len = 0;
	FILE *mem = open_memstream(&out, &len);

	assert_non_null(mem);
	unpack_progress_init(&p, "quick", (unsigned long long)src.size, mem);
	assert_ok(apply_source(f, &src, &p, &err), err);
	assert_int_equal(p.done, (unsigned long long)src.size);
	unpack_progress_end(&p);
	assert_int_equal(fclose(mem), 0);
	assert_int_equal(len, 0);
}

static void progress_slow_is_shown(void **state)
{
	struct fixture *f = *state;
	cleanup_error oci_error_t err = NULL;
	cleanup_free char *data = xcalloc(1, 300000), *out = NULL, *path = NULL;
	struct layer_entry layer[] = {{.type = 'f', .name = "big", .len = 300000}, {0}};
	struct unpack_stats stats = {0};
	struct unpack_source src = {.size = -1};
	struct unpack_progress p;
	size_t len = 0;
	FILE *mem = open_memstream(&out, &len);
	cleanup_free char *big = NULL, *got = NULL;
	char *nl, *last;
	double secs;
	struct stat st;
	uint32_t x = 1;

	assert_non_null(mem);
	for (size_t i = 0; i < 300000; i++) {
		x = x * 1103515245 + 12345;
		data[i] = (char)(x >> 16);
	}
	layer[0].data = data;
	path = make_layer(f, PLAIN, layer);
	src.path = path;
	assert_int_equal(stat(path, &st), 0);
	unpack_progress_init(&p, "docker://big", (unsigned long long)st.st_size, mem);
	p.start.tv_sec -= 2; /* as if it had started two seconds ago */
	assert_ok(unpack_layer(f->rootfs, &src, &p, &stats, &err), err);
	unpack_progress_end(&p);
	assert_int_equal(fclose(mem), 0);

	/* one line when the first bytes are read (then at most one a second), and the last */
	assert_non_null(out);
	nl = strchr(out, '\n');
	assert_non_null(nl);
	*nl = '\0';
	assert_matches(
		out, "^spank-oci: unpacking docker://big: [1-9][0-9]?% \\(0\\.[0-9]/0\\.3 MB\\)$");
	last = nl + 1;
	nl = strchr(last, '\n');
	assert_non_null(nl);
	*nl = '\0';
	assert_string_equal(nl + 1, ""); /* no third line */
	assert_matches(last, "^spank-oci: unpacking docker://big: 100% \\(0\\.3/0\\.3 MB\\), done "
			     "in [0-9]+\\.[0-9] s$");
	assert_int_equal(sscanf(strstr(last, "done in "), "done in %lf s", &secs), 1);
	assert_true(secs >= 2.0);
	/* and the file is whole */
	big = at(f, "big");
	got = read_text(big);
	assert_non_null(got);
	assert_int_equal(stat(big, &st), 0);
	assert_int_equal(st.st_size, 300000);
	assert_memory_equal(got, data, 300000);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(unpack_files_dirs_links),
		T(unpack_upper_layer_replaces),
		T(whiteout_removes_lower),
		T(whiteout_spares_same_layer),
		T(opaque_keeps_own_children),
		T(opaque_marker_first),
		T(opaque_implicit_parent),
		T(opaque_own_subdir_hides_lower_content),
		T(refuses_dotdot),
		T(refuses_absolute),
		T(refuses_hardlink_dotdot),
		T(refuses_hardlink_absolute),
		T(no_writes_through_symlinks),
		T(drops_setid_bits),
		T(skips_devices),
		T(unpack_gzip),
		T(unpack_zstd),
		T(digest_verified),
		T(digest_covers_trailing_bytes),
		T(digest_mismatch),
		T(size_mismatch),
		T(missing_blob),
		T(not_a_tar),
		T(blob_longer_than_declared),
		T(endless_blob_fails_fast),
		T(unpack_max_size),
		T(unpack_max_entries),
		T(progress_quick_is_silent),
		T(progress_slow_is_shown),
	};

	return cmocka_run_group_tests_name("unpack", tests, NULL, NULL);
}
