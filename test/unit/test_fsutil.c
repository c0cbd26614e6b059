/*
 * common/fsutil.c: private directories, their removal, private files.
 *
 * These run as root in CI and as a normal user on a workstation: ownership checks are
 * only exercised where both give the same answer.
 */
#include "unit.h"

#include <sys/stat.h>

#include "common/fsutil.h"

static void assert_mode(const char *path, mode_t mode)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		fail_msg("%s: %s", path, strerror(errno));
	if ((st.st_mode & 07777) != mode)
		fail_msg("%s has mode %04o, expected %04o", path, st.st_mode & 07777, mode);
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
	/* the error names the symlink, the component refused, not the whole path */
	assert_error_has(err, link);
	assert_false(strstr(oci_error_text(err), path) != NULL);
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
	assert_error_has(err2, "is a symlink not owned by root: refusing to follow it");
}

static void mkdir_private_symlink_components(void **state)
{
	check_mkdir_private_symlink_components(*state);
}

/*
 * A directory another user made where ours was to be (squatting: /dev/shm/spank-oci-<uid>
 * made by someone else) is refused, and the error names that directory, not the whole
 * path: the one to remove is plain to see. (Only root can give a directory away.)
 */
static void mkdir_private_names_squatted_component(void **state)
{
	struct dir_fixture *f = *state;
	cleanup_error oci_error_t err = NULL;
	cleanup_free char *squat = dir_fixture_at(f, "spank-oci-1000"),
			  *path = dir_fixture_at(f, "spank-oci-1000/42.0"), *want = NULL;

	if (geteuid() != 0)
		skip();
	make_dir(f->dir, "spank-oci-1000", 0700);
	assert_int_equal(chown(squat, 65534, 65534), 0);
	assert_int_equal(fs_mkdir_private(path, &err), -1);
	want = xasprintf("%s belongs to uid 65534, not to you: refusing to use it", squat);
	assert_string_equal(oci_error_text(err), want);
	assert_false(path_exists(path));
}

/* A component that cannot be made is named as far as it goes, not as the whole path. */
static void mkdir_private_names_component_it_cannot_create(void **state)
{
	struct dir_fixture *f = *state;
	cleanup_error oci_error_t err = NULL;
	cleanup_free char *file = dir_fixture_at(f, "file"),
			  *path = dir_fixture_at(f, "file/spool/42.0"), *want = NULL;

	write_text(file, NULL, "x");
	assert_int_equal(fs_mkdir_private(path, &err), -1);
	want = xasprintf("%s: Not a directory", file);
	assert_string_equal(oci_error_text(err), want);
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

#define T(name) cmocka_unit_test_setup_teardown(name, dir_fixture_setup, dir_fixture_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(mkdir_private_nested),
		T(mkdir_private_refuses_open_final_dir),
		T(mkdir_private_refuses_writable_parent),
		T(mkdir_private_accepts_sticky_parent),
		T(mkdir_private_refuses_foreign_symlink),
		T(mkdir_private_symlink_components),
		T(mkdir_private_names_squatted_component),
		T(mkdir_private_names_component_it_cannot_create),
		T(mkdir_private_relative_path),
		T(remove_tree_nested),
		T(remove_tree_does_not_follow_symlinks),
		T(write_file_creates_private_file),
		T(write_file_replaces_existing),
	};

	return cmocka_run_group_tests_name("fsutil", tests, NULL, NULL);
}
