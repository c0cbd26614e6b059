/*
 * launcher/image/bundle.c (what --container names), and, until they have their own test
 * files, common/fsutil.c (private directories, removal, files) and launcher/spec/litter.c
 * (mount points created in the user's rootfs).
 *
 * These run as root in CI and as a normal user on a workstation: ownership checks are
 * only exercised where both give the same answer.
 */
#include "image_fixture.h"

#include "common/fsutil.h"
#include "launcher/image/bundle.h"
#include "launcher/spec/litter.h"

static void assert_mode(const char *path, mode_t mode)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		fail_msg("%s: %s", path, strerror(errno));
	if ((st.st_mode & 07777) != mode)
		fail_msg("%s has mode %04o, expected %04o", path, st.st_mode & 07777, mode);
}

/* ---- oci_bundle_open -------------------------------------------------------------------- */

/* Opens path, which must succeed; the bundle to oci_bundle_free(). */
static struct oci_bundle *bundle_open_ok(const char *path, bool ignore, const char *image_cache)
{
	cleanup_error oci_error_t err = NULL;
	struct oci_bundle *b = NULL;

	assert_ok(oci_bundle_open(path, ignore, image_cache, 0, &b, &err), err);
	assert_non_null(b);
	return b;
}

/* Opens path as a root filesystem, without config.json: its path and rootfs. */
static void check_rootfs_only(const char *path, bool ignore, const char *want_path,
			      const char *want_rootfs)
{
	struct oci_bundle *b = bundle_open_ok(path, ignore, "/nonexistent-image-cache");

	assert_string_equal(b->path, want_path);
	assert_string_equal(b->rootfs, want_rootfs);
	assert_null(b->config);
	assert_false(b->is_image);
	assert_null(b->squashfs);
	oci_bundle_free(b);
}

static void bundle_open_error(const char *path, bool ignore, const char *sub1, const char *sub2)
{
	cleanup_error oci_error_t err = NULL;
	struct oci_bundle *b = NULL;

	if (oci_bundle_open(path, ignore, "/nonexistent-image-cache", 0, &b, &err) == 0) {
		oci_bundle_free(b);
		fail_msg("%s opened without error", path);
	}
	assert_null(b);
	assert_error_has(err, sub1);
	if (sub2 != NULL)
		assert_error_has(err, sub2);
}

static void bundle_nonexistent(void **state)
{
	cleanup_free char *path = dir_fixture_at(*state, "no/such/bundle");

	bundle_open_error(path, false, path, "No such file or directory");
}

static void bundle_regular_file(void **state)
{
	cleanup_free char *path = dir_fixture_at(*state, "image.sif");

	write_text(path, NULL, "not a directory");
	bundle_open_error(path, false, path,
			  "is neither a directory (bundle or root filesystem), an OCI image layout "
			  "nor a squashfs file");
}

static void bundle_rootfs_missing(void **state)
{
	struct dir_fixture *f = *state;
	cleanup_free char *path = dir_fixture_at(f, "bundle");

	make_dir(f->dir, "bundle", 0755);
	write_text(path, "config.json", "{\"root\": {\"path\": \"missing\"}}");
	bundle_open_error(path, false, "has no rootfs", "'missing'");
	/* without root.path, the rootfs is <bundle>/rootfs, which is missing too */
	write_text(path, "config.json", "{\"ociVersion\": \"1.0.2\"}");
	bundle_open_error(path, false, "has no rootfs", "'rootfs'");
}

static void bundle_empty_dir(void **state)
{
	struct dir_fixture *f = *state;
	cleanup_free char *path = dir_fixture_at(f, "empty");

	make_dir(f->dir, "empty", 0755);
	bundle_open_error(path, false, path, "neither a bundle");
	/* IgnoreFileConfigJson does not make it one */
	bundle_open_error(path, true, path, "neither a bundle");
}

static void bundle_invalid_json(void **state)
{
	struct dir_fixture *f = *state;
	cleanup_free char *path = dir_fixture_at(f, "bundle");
	cleanup_free char *config = dir_fixture_at(f, "bundle/config.json");
	cleanup_free char *where = xasprintf("%s:3: invalid JSON", config);

	make_dir(f->dir, "bundle", 0755);
	make_dir(f->dir, "bundle/rootfs", 0755);
	write_text(config, NULL, "{\n  \"root\": {\"path\": \"rootfs\"},\n  \"process\": ,\n}\n");
	bundle_open_error(path, false, where, NULL);
	write_text(config, NULL, "[\"an array\"]\n");
	bundle_open_error(path, false, config, "not a JSON object");
}

static void bundle_ignore_config_json(void **state)
{
	struct dir_fixture *f = *state;
	cleanup_free char *path = dir_fixture_at(f, "bundle");
	cleanup_free char *rootfs = dir_fixture_at(f, "bundle/rootfs");

	make_dir(f->dir, "bundle", 0755);
	make_dir(f->dir, "bundle/rootfs", 0755);
	make_dir(f->dir, "elsewhere", 0755);
	write_text(path, "config.json", "{\"root\": {\"path\": \"../elsewhere\"}, broken");
	/* read, the config is an error */
	bundle_open_error(path, false, "invalid JSON", NULL);
	/* ignored, rootfs/ is the root filesystem */
	check_rootfs_only(path, true, path, rootfs);
}

static void bundle_with_config(void **state)
{
	struct dir_fixture *f = *state;
	cleanup_error oci_error_t err = NULL;
	cleanup_free char *path = dir_fixture_at(f, "bundle");
	cleanup_free char *link = dir_fixture_at(f, "link");
	cleanup_free char *elsewhere = dir_fixture_at(f, "elsewhere");
	cleanup_free char *rootfs = dir_fixture_at(f, "bundle/rootfs"), *text = NULL;
	struct oci_bundle *b = NULL;

	make_dir(f->dir, "bundle", 0755);
	make_dir(f->dir, "bundle/rootfs", 0755);
	make_dir(f->dir, "elsewhere", 0755);
	write_text(path, "config.json", "{\"root\": {\"path\": \"rootfs\"}, \"hostname\": \"h\"}");
	assert_int_equal(symlink(path, link), 0);
	/* opened through a symlink: the resolved, absolute paths */
	assert_ok(oci_bundle_open(link, false, "/nonexistent-image-cache", 0, &b, &err), err);
	assert_string_equal(b->path, path);
	assert_string_equal(b->rootfs, rootfs);
	assert_string_equal(json_string_value(json_object_get(b->config, "hostname")), "h");
	oci_bundle_free(b);
	b = NULL;

	/* an absolute root.path is taken as it is */
	text = xasprintf("{\"root\": {\"path\": \"%s\"}}", elsewhere);
	write_text(path, "config.json", text);
	assert_ok(oci_bundle_open(path, false, "/nonexistent-image-cache", 0, &b, &err), err);
	assert_string_equal(b->rootfs, elsewhere);
	oci_bundle_free(b);
}

static void bundle_bare_rootfs(void **state)
{
	struct dir_fixture *f = *state;
	cleanup_free char *path = dir_fixture_at(f, "image");

	make_dir(f->dir, "image", 0755);
	make_dir(f->dir, "image/usr", 0755);
	check_rootfs_only(path, false, path, path);
}

static void bundle_squashfs_file(void **state)
{
	struct dir_fixture *f = *state;
	cleanup_free char *path = dir_fixture_at(f, "image.sqfs");
	cleanup_free char *link = dir_fixture_at(f, "link.sqfs");
	struct oci_bundle *b;

	write_text(path, NULL, "hsqs and the rest of a superblock");
	assert_int_equal(symlink(path, link), 0);
	/* only recognised: the launcher mounts it per step and sets rootfs then */
	b = bundle_open_ok(link, false, "/nonexistent-image-cache");
	assert_string_equal(b->path, path);
	assert_string_equal(b->squashfs, path);
	assert_true(b->readonly);
	assert_null(b->rootfs);
	assert_null(b->config);
	oci_bundle_free(b);
}

/* An image layout: unpacked in the cache, its Env, WorkingDir and Entrypoint taken. */
static void bundle_image_layout(void **state)
{
	struct dir_fixture *f = *state;
	static const char config[] = "{\"config\": {\"Env\": [\"A=1\"], \"WorkingDir\": \"/srv\", "
				     "\"Entrypoint\": [\"/bin/app\", \"-v\"]}}";
	static const struct layer_entry files[] = {D("bin"), F("bin/app", "#!/bin/sh\n"), {0}};
	cleanup_free char *layout = make_layout(f->dir, "layout");
	cleanup_free char *layer = put_layer(layout, GZIP, files);
	cleanup_free char *digest = put_image(layout, config, layer, "v1");
	cleanup_free char *ref = xasprintf("%s:v1", layout), *cache = dir_fixture_at(f, "cache");
	cleanup_free char *rootfs = xasprintf("%s/%s/rootfs", cache, digest + strlen("sha256:"));
	cleanup_free char *app = xasprintf("%s/bin/app", rootfs), *text = NULL;
	struct oci_bundle *b = bundle_open_ok(ref, false, cache);
	json_t *env = json_object_get(json_object_get(b->config, "process"), "env");

	assert_true(b->is_image);
	assert_string_equal(b->path, ref);
	assert_string_equal(b->rootfs, rootfs);
	assert_true(b->image_lock_fd >= 0);
	assert_int_equal(json_array_size(env), 1);
	assert_string_equal(json_string_value(json_array_get(env, 0)), "A=1");
	assert_string_equal(b->workdir, "/srv");
	assert_int_equal(json_array_size(b->entrypoint), 2);
	assert_string_equal(json_string_value(json_array_get(b->entrypoint, 0)), "/bin/app");
	text = read_text(app);
	assert_string_equal(text, "#!/bin/sh\n");
	oci_bundle_free(b);
}

/* An image without Env, WorkingDir or Entrypoint: an empty env, nothing else. */
static void bundle_image_layout_bare_config(void **state)
{
	struct dir_fixture *f = *state;
	static const struct layer_entry files[] = {F("file", "x"), {0}};
	cleanup_free char *layout = make_layout(f->dir, "layout");
	cleanup_free char *layer = put_layer(layout, PLAIN, files);
	cleanup_free char *digest = put_image(layout, "{\"config\": {}}", layer, NULL);
	cleanup_free char *cache = dir_fixture_at(f, "cache");
	struct oci_bundle *b = bundle_open_ok(layout, false, cache);
	json_t *env = json_object_get(json_object_get(b->config, "process"), "env");

	assert_true(b->is_image);
	assert_true(json_is_array(env));
	assert_int_equal(json_array_size(env), 0);
	assert_null(b->workdir);
	assert_null(b->entrypoint);
	oci_bundle_free(b);
}

/* ---- fs_mkdir_private ------------------------------------------------------------------- */

static void mkdir_private_nested(void **state)
{
	struct dir_fixture *f = *state;
	cleanup_error oci_error_t err = NULL;
	cleanup_free char *a = dir_fixture_at(f, "a"), *b = dir_fixture_at(f, "a/b"),
			  *c = dir_fixture_at(f, "a/b/c");
	struct stat st;
	mode_t old = umask(0);

	assert_ok(fs_mkdir_private(c, &err), err);
	umask(old);
	assert_true(path_is_dir(c));
	assert_mode(a, 0700);
	assert_mode(b, 0700);
	assert_mode(c, 0700);
	assert_int_equal(stat(c, &st), 0);
	assert_int_equal(st.st_uid, geteuid());
	/* again: the directory is there and ours */
	assert_ok(fs_mkdir_private(c, &err), err);
	/* a trailing slash and doubled slashes name the same directory */
	{
		cleanup_free char *odd = xasprintf("%s//a///b/c/", f->dir);
		assert_ok(fs_mkdir_private(odd, &err), err);
	}
}

static void mkdir_private_refuses_open_final_dir(void **state)
{
	struct dir_fixture *f = *state;
	cleanup_error oci_error_t err = NULL;
	cleanup_free char *path = dir_fixture_at(f, "shared");

	make_dir(f->dir, "shared", 0755);
	assert_int_equal(fs_mkdir_private(path, &err), -1);
	assert_error_has(err, path);
	assert_error_has(err, "must be a directory of yours with mode 0700");
}

static void mkdir_private_refuses_writable_parent(void **state)
{
	struct dir_fixture *f = *state;
	static const mode_t modes[] = {0770, 0777, 0702};

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		cleanup_error oci_error_t err = NULL;
		cleanup_free char *name = xasprintf("open%zu", i);
		cleanup_free char *child = xasprintf("%s/%s/spool/step", f->dir, name);
		cleanup_free char *spool = xasprintf("%s/%s/spool", f->dir, name);

		make_dir(f->dir, name, modes[i]);
		if (fs_mkdir_private(child, &err) == 0)
			fail_msg("accepted a parent with mode %04o", modes[i]);
		assert_error_has(err, "is writable by others and not sticky");
		/* it stopped there: nothing was created under the open directory */
		assert_false(path_exists(spool));
	}
}

static void mkdir_private_accepts_sticky_parent(void **state)
{
	struct dir_fixture *f = *state;
	cleanup_error oci_error_t err = NULL;
	cleanup_free char *path = dir_fixture_at(f, "tmp/spank-oci-1000/42.0");

	make_dir(f->dir, "tmp", 01777);
	assert_ok(fs_mkdir_private(path, &err), err);
	assert_true(path_is_dir(path));
	assert_mode(path, 0700);
}

static void mkdir_private_refuses_foreign_symlink(void **state)
{
	struct dir_fixture *f = *state;
	cleanup_error oci_error_t err = NULL;
	cleanup_free char *real = dir_fixture_at(f, "real"), *link = dir_fixture_at(f, "link");
	cleanup_free char *path = dir_fixture_at(f, "link/spool"),
			  *target = dir_fixture_at(f, "real/spool");

	make_dir(f->dir, "real", 0700);
	assert_int_equal(symlink(real, link), 0);
	/* as root, give the symlink to nobody: never root's own, whoever runs the test */
	if (geteuid() == 0)
		assert_int_equal(lchown(link, 65534, 65534), 0);
	assert_int_equal(fs_mkdir_private(path, &err), -1);
	assert_error_has(err, path);
	assert_false(path_exists(target));
}

/*
 * Root's own symlink components (like /var/run -> /run) are followed; anybody else's are
 * refused with a message saying so. (Regression: openat(O_NOFOLLOW | O_DIRECTORY) fails
 * with ENOTDIR on a symlink, not ELOOP.)
 */
static void check_mkdir_private_symlink_components(struct dir_fixture *f)
{
	cleanup_error oci_error_t err = NULL, err2 = NULL;
	cleanup_free char *real = dir_fixture_at(f, "real"), *link = dir_fixture_at(f, "link"),
			  *foreign = dir_fixture_at(f, "foreign");
	cleanup_free char *path = dir_fixture_at(f, "link/spool"),
			  *target = dir_fixture_at(f, "real/spool");
	cleanup_free char *foreign_path = dir_fixture_at(f, "foreign/spool");

	/* only root can make a symlink that root owns */
	if (geteuid() != 0)
		return;
	make_dir(f->dir, "real", 0700);
	assert_int_equal(symlink(real, link), 0);
	assert_int_equal(symlink(real, foreign), 0);
	assert_int_equal(lchown(foreign, 65534, 65534), 0);
	/* root's own symlink is followed */
	assert_ok(fs_mkdir_private(path, &err), err);
	assert_true(path_is_dir(target));
	assert_mode(target, 0700);
	/* anybody else's is refused, saying why */
	assert_int_equal(fs_mkdir_private(foreign_path, &err2), -1);
	assert_error_has(err2, "a component is a symlink not owned by root");
}

static void mkdir_private_symlink_components(void **state)
{
	check_mkdir_private_symlink_components(*state);
}

static void mkdir_private_relative_path(void **state)
{
	cleanup_error oci_error_t err = NULL;

	(void)state;
	assert_int_equal(fs_mkdir_private("relative/dir", &err), -1);
	assert_error_has(err, "is not an absolute path");
}

/* ---- fs_remove_tree --------------------------------------------------------------------- */

static void remove_tree_nested(void **state)
{
	struct dir_fixture *f = *state;
	cleanup_error oci_error_t err = NULL;
	cleanup_free char *tree = dir_fixture_at(f, "tree"),
			  *sibling = dir_fixture_at(f, "sibling");

	make_dir(f->dir, "tree", 0700);
	make_dir(f->dir, "tree/a", 0700);
	make_dir(f->dir, "tree/a/b", 0700);
	make_dir(f->dir, "tree/a/b/c", 0500);
	make_dir(f->dir, "tree/empty", 0700);
	write_text(tree, "a/b/file", "x");
	write_text(tree, "top", "y");
	write_text(sibling, NULL, "stays");
	assert_ok(fs_remove_tree(tree, &err), err);
	assert_false(path_exists(tree));
	assert_true(path_exists(sibling));
	/* a missing tree is already removed */
	assert_ok(fs_remove_tree(tree, &err), err);
	/* a single file */
	assert_ok(fs_remove_tree(sibling, &err), err);
	assert_false(path_exists(sibling));
}

static void remove_tree_does_not_follow_symlinks(void **state)
{
	struct dir_fixture *f = *state;
	cleanup_error oci_error_t err = NULL;
	cleanup_free char *tree = dir_fixture_at(f, "tree"),
			  *outside = dir_fixture_at(f, "outside");
	cleanup_free char *precious = dir_fixture_at(f, "outside/precious");
	cleanup_free char *link = dir_fixture_at(f, "tree/link"),
			  *toplink = dir_fixture_at(f, "toplink");
	cleanup_free char *filelink = dir_fixture_at(f, "tree/filelink");

	make_dir(f->dir, "tree", 0700);
	make_dir(f->dir, "outside", 0700);
	write_text(precious, NULL, "keep me");
	assert_int_equal(symlink(outside, link), 0);
	assert_int_equal(symlink(precious, filelink), 0);
	assert_ok(fs_remove_tree(tree, &err), err);
	assert_false(path_exists(tree));
	assert_true(path_is_dir(outside));
	assert_true(path_exists(precious));

	/* the path itself a symlink to a directory: the link goes, the directory stays */
	assert_int_equal(symlink(outside, toplink), 0);
	assert_ok(fs_remove_tree(toplink, &err), err);
	assert_false(path_exists(toplink));
	assert_true(path_exists(precious));
}

/* ---- fs_write_file ---------------------------------------------------------------------- */

static void write_file_creates_private_file(void **state)
{
	struct dir_fixture *f = *state;
	cleanup_error oci_error_t err = NULL;
	cleanup_free char *path = dir_fixture_at(f, "config.json"), *got = NULL;
	mode_t old = umask(0);
	int rc = fs_write_file(path, "{\"a\": 1}\0tail", 13, &err);

	umask(old);
	assert_ok(rc, err);
	assert_mode(path, 0600);
	got = read_text(path);
	assert_non_null(got);
	assert_memory_equal(got, "{\"a\": 1}\0tail", 13);
}

static void write_file_replaces_existing(void **state)
{
	struct dir_fixture *f = *state;
	cleanup_error oci_error_t err = NULL;
	cleanup_free char *path = dir_fixture_at(f, "environment"), *got = NULL;
	cleanup_free char *target = dir_fixture_at(f, "target"), *kept = NULL;

	write_text(path, NULL, "a much longer old content\n");
	assert_int_equal(chmod(path, 0644), 0);
	assert_ok(fs_write_file(path, "new\n", 4, &err), err);
	assert_mode(path, 0600);
	got = read_text(path);
	assert_string_equal(got, "new\n");

	/* a symlink in its place is replaced, not written through */
	write_text(target, NULL, "target content");
	assert_int_equal(unlink(path), 0);
	assert_int_equal(symlink(target, path), 0);
	assert_ok(fs_write_file(path, "mine", 4, &err), err);
	assert_mode(path, 0600);
	kept = read_text(target);
	assert_string_equal(kept, "target content");
}

/* ---- litter ----------------------------------------------------------------------------- */

static char *make_rootfs(struct dir_fixture *f)
{
	make_dir(f->dir, "rootfs", 0755);
	make_dir(f->dir, "rootfs/a", 0755);
	return dir_fixture_at(f, "rootfs");
}

static void note(const char *rootfs, const char *dest, struct litter *l)
{
	cleanup_error oci_error_t err = NULL;

	assert_ok(litter_note(rootfs, dest, l, &err), err);
}

static void litter_notes_first_missing_component(void **state)
{
	struct dir_fixture *f = *state;
	cleanup_free char *rootfs = make_rootfs(f);
	struct litter l;

	note(rootfs, "/a/b/c", &l);
	assert_non_null(l.name);
	assert_string_equal(l.parent, "/a");
	assert_string_equal(l.name, "b");
	litter_release(&l);
	assert_null(l.name);
	assert_null(l.parent);

	note(rootfs, "/x/y", &l);
	assert_string_equal(l.parent, "/");
	assert_string_equal(l.name, "x");
	litter_release(&l);

	note(rootfs, "/a/file", &l);
	assert_string_equal(l.parent, "/a");
	assert_string_equal(l.name, "file");
	litter_release(&l);
}

static void litter_notes_nothing_when_all_exists(void **state)
{
	struct dir_fixture *f = *state;
	cleanup_free char *rootfs = make_rootfs(f);
	struct litter l;

	make_dir(f->dir, "rootfs/a/b", 0755);
	make_dir(f->dir, "rootfs/a/b/c", 0755);
	note(rootfs, "/a/b/c", &l);
	assert_null(l.name);
	assert_null(l.parent);
	litter_release(&l);
	note(rootfs, "/a", &l);
	assert_null(l.name);
	litter_release(&l);
}

static void litter_remove_removes_only_what_was_created(void **state)
{
	struct dir_fixture *f = *state;
	cleanup_free char *rootfs = make_rootfs(f);
	cleanup_free char *keep = dir_fixture_at(f, "rootfs/a/keep"),
			  *b = dir_fixture_at(f, "rootfs/a/b");
	cleanup_free char *a = dir_fixture_at(f, "rootfs/a");
	struct litter l;

	write_text(keep, NULL, "the user's");
	note(rootfs, "/a/b/c", &l);
	/* what the runtime does for a bind mount onto /a/b/c */
	make_dir(f->dir, "rootfs/a/b", 0755);
	make_dir(f->dir, "rootfs/a/b/c", 0755);
	write_text(f->dir, "rootfs/a/b/c/inside", "x");
	litter_remove(rootfs, &l);
	assert_false(path_exists(b));
	assert_true(path_is_dir(a));
	assert_true(path_exists(keep));
	litter_release(&l);

	/* nothing noted, nothing removed */
	note(rootfs, "/a", &l);
	litter_remove(rootfs, &l);
	assert_true(path_exists(keep));
	litter_release(&l);
}

static void litter_resolves_symlinks_in_rootfs(void **state)
{
	struct dir_fixture *f = *state;
	cleanup_free char *rootfs = make_rootfs(f);
	cleanup_free char *link = dir_fixture_at(f, "rootfs/l"),
			  *inner = dir_fixture_at(f, "rootfs/spank-oci-unit-inner");
	cleanup_free char *created = dir_fixture_at(f, "rootfs/spank-oci-unit-inner/b"),
			  *host = dir_fixture_at(f, "host");
	cleanup_free char *hostlink = dir_fixture_at(f, "rootfs/h"),
			  *hostfile = dir_fixture_at(f, "host/x");
	struct litter l;

	/* /l -> /inner: inside the rootfs; on the host there is no /spank-oci-unit-inner */
	make_dir(f->dir, "rootfs/spank-oci-unit-inner", 0755);
	assert_false(path_exists("/spank-oci-unit-inner"));
	assert_int_equal(symlink("/spank-oci-unit-inner", link), 0);
	note(rootfs, "/l/b/c", &l);
	assert_string_equal(l.parent, "/l");
	assert_string_equal(l.name, "b");
	/* the runtime creates /l/b/c, that is <rootfs>/spank-oci-unit-inner/b/c */
	make_dir(f->dir, "rootfs/spank-oci-unit-inner/b", 0755);
	make_dir(f->dir, "rootfs/spank-oci-unit-inner/b/c", 0755);
	litter_remove(rootfs, &l);
	litter_release(&l);
	assert_false(path_exists(created));
	assert_true(path_is_dir(inner));
	assert_true(path_exists(link));

	/* /h -> <host dir>, which exists on the host but not in the rootfs */
	make_dir(f->dir, "host", 0755);
	write_text(hostfile, NULL, "host file");
	assert_int_equal(symlink(host, hostlink), 0);
	note(rootfs, "/h/x", &l);
	/* resolved on the host, everything would exist and nothing would be noted */
	assert_non_null(l.name);
	litter_release(&l);
	assert_true(path_exists(hostfile));
}

/*
 * A dangling symlink in the rootfs is the user's: litter_remove keeps it and removes what
 * the runtime created at its target. (Regression: it was noted as missing and deleted.)
 */
static void check_litter_remove_keeps_existing_dangling_symlink(struct dir_fixture *f)
{
	cleanup_free char *rootfs = make_rootfs(f);
	cleanup_free char *link = dir_fixture_at(f, "rootfs/a/run"),
			  *created = dir_fixture_at(f, "rootfs/run");
	struct litter l;

	/* like /var/run -> /run in an image without /run */
	assert_int_equal(symlink("/run", link), 0);
	note(rootfs, "/a/run/slurm-oci", &l);
	/* the runtime follows the symlink in the rootfs: <rootfs>/run/slurm-oci */
	make_dir(f->dir, "rootfs/run", 0755);
	make_dir(f->dir, "rootfs/run/slurm-oci", 0755);
	litter_remove(rootfs, &l);
	litter_release(&l);
	/* the user's symlink was there before: it must stay */
	assert_true(path_exists(link));
	/* what the runtime created is gone */
	assert_false(path_exists(created));
}

static void litter_remove_keeps_existing_dangling_symlink(void **state)
{
	check_litter_remove_keeps_existing_dangling_symlink(*state);
}

#define T(name) cmocka_unit_test_setup_teardown(name, dir_fixture_setup, dir_fixture_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(bundle_nonexistent),
		T(bundle_regular_file),
		T(bundle_rootfs_missing),
		T(bundle_empty_dir),
		T(bundle_invalid_json),
		T(bundle_ignore_config_json),
		T(bundle_with_config),
		T(bundle_bare_rootfs),
		T(bundle_squashfs_file),
		T(bundle_image_layout),
		T(bundle_image_layout_bare_config),
		T(mkdir_private_nested),
		T(mkdir_private_refuses_open_final_dir),
		T(mkdir_private_refuses_writable_parent),
		T(mkdir_private_accepts_sticky_parent),
		T(mkdir_private_refuses_foreign_symlink),
		T(mkdir_private_symlink_components),
		T(mkdir_private_relative_path),
		T(remove_tree_nested),
		T(remove_tree_does_not_follow_symlinks),
		T(write_file_creates_private_file),
		T(write_file_replaces_existing),
		T(litter_notes_first_missing_component),
		T(litter_notes_nothing_when_all_exists),
		T(litter_remove_removes_only_what_was_created),
		T(litter_resolves_symlinks_in_rootfs),
		T(litter_remove_keeps_existing_dangling_symlink),
	};

	return cmocka_run_group_tests_name("bundle", tests, NULL, NULL);
}
