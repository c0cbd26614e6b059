/*
 * launcher/userdirs.c: the users' own directories under root-owned parents, made by
 * slurmstepd as root. Making them needs root (chown): those tests skip otherwise.
 */
#include "unit.h"

#include <sys/stat.h>

#include "launcher/userdirs.h"

#define USER_UID 65534
#define USER_GID 65534

static void assert_dir(const char *path, uid_t uid, mode_t mode)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		fail_msg("%s: %s", path, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		fail_msg("%s is not a directory", path);
	if (st.st_uid != uid || (st.st_mode & 07777) != mode)
		fail_msg("%s is uid %u's with mode %04o, expected uid %u's with %04o", path,
			 (unsigned)st.st_uid, st.st_mode & 07777, (unsigned)uid, mode);
}

static void need_root(void)
{
	if (geteuid() != 0)
		skip();
}

static void pattern_in(void **state)
{
	(void)state;
	assert_true(userdirs_pattern_in("/run/spank-oci/%U/%j.%s", "/run/spank-oci"));
	assert_true(userdirs_pattern_in("/run/spank-oci/%U", "/run/spank-oci"));
	assert_true(userdirs_pattern_in(SPANK_OCI_DEFAULT_CONTAINER_PATH, SPANK_OCI_RUN_DIR));
	assert_true(userdirs_pattern_in(SPANK_OCI_DEFAULT_IMAGE_CACHE, SPANK_OCI_CACHE_DIR));
	/* another user's name, another parent, or no per-user directory at all */
	assert_false(userdirs_pattern_in("/run/spank-oci/%u/%j.%s", "/run/spank-oci"));
	assert_false(userdirs_pattern_in("/run/spank-oci/%Ux", "/run/spank-oci"));
	assert_false(userdirs_pattern_in("/run/spank-ocix/%U", "/run/spank-oci"));
	assert_false(userdirs_pattern_in("/dev/shm/spank-oci-%U/%j.%s", "/run/spank-oci"));
	assert_false(userdirs_pattern_in("/run/spank-oci/%j.%s", "/run/spank-oci"));
	assert_false(userdirs_pattern_in(NULL, "/run/spank-oci"));
}

static void makes_parent_and_user_dir(void **state)
{
	struct dir_fixture *f = *state;
	cleanup_error oci_error_t err = NULL;
	cleanup_free char *parent = dir_fixture_at(f, "run/spank-oci"),
			  *mine = dir_fixture_at(f, "run/spank-oci/65534");
	mode_t old;

	need_root();
	make_dir(f->dir, "run", 0755);
	old = umask(0077);
	assert_ok(userdirs_make(parent, USER_UID, USER_GID, &err), err);
	umask(old);
	assert_dir(parent, 0, 0755);
	assert_dir(mine, USER_UID, 0700);
	/* again, at the next step: there and right, nothing to do */
	assert_ok(userdirs_make(parent, USER_UID, USER_GID, &err), err);
	assert_dir(mine, USER_UID, 0700);
}

/* A directory root left half-made (root's: killed between mkdir and chown) is finished. */
static void finishes_half_made_user_dir(void **state)
{
	struct dir_fixture *f = *state;
	cleanup_error oci_error_t err = NULL;
	cleanup_free char *parent = dir_fixture_at(f, "p"), *mine = dir_fixture_at(f, "p/65534");

	need_root();
	make_dir(f->dir, "p", 0755);
	make_dir(f->dir, "p/65534", 0755);
	assert_ok(userdirs_make(parent, USER_UID, USER_GID, &err), err);
	assert_dir(mine, USER_UID, 0700);
}

/* Whatever is wrong is named: the directory at fault, not a path below it. */
static void refuses_parent_not_roots(void **state)
{
	struct dir_fixture *f = *state;
	cleanup_error oci_error_t err = NULL, err2 = NULL;
	cleanup_free char *parent = dir_fixture_at(f, "p"), *open = dir_fixture_at(f, "open"),
			  *under = dir_fixture_at(f, "open/spank-oci"),
			  *would = dir_fixture_at(f, "p/1000");

	need_root();
	make_dir(f->dir, "p", 0755);
	assert_int_equal(chown(parent, USER_UID, USER_GID), 0);
	assert_int_equal(userdirs_make(parent, 1000, 1000, &err), -1);
	assert_error_has(err, parent);
	assert_error_has(err, "must be a directory of root's that nobody else may write to "
			      "(it is uid 65534's, mode 0755)");
	assert_false(path_exists(would));
	/* a parent of it that others may write to (and not sticky: anyone could swap it) */
	make_dir(f->dir, "open", 0777);
	assert_int_equal(userdirs_make(under, 1000, 1000, &err2), -1);
	assert_error_has(err2, open);
	assert_false(path_exists(under));
}

static void refuses_user_dir_not_the_users(void **state)
{
	struct dir_fixture *f = *state;
	cleanup_error oci_error_t err = NULL, err2 = NULL;
	cleanup_free char *parent = dir_fixture_at(f, "p"), *theirs = dir_fixture_at(f, "p/1000"),
			  *target = dir_fixture_at(f, "target"),
			  *link = dir_fixture_at(f, "p/65534");
	cleanup_free char *want =
		xasprintf("%s must be a directory of uid 1000's (it is uid 1001's)", theirs);

	need_root();
	make_dir(f->dir, "p", 0755);
	make_dir(f->dir, "p/1000", 0700);
	assert_int_equal(chown(theirs, 1001, 1001), 0);
	assert_int_equal(userdirs_make(parent, 1000, 1000, &err), -1);
	assert_error_has(err, want);
	assert_dir(theirs, 1001, 0700);
	/* a symlink in its place is neither followed nor given away */
	make_dir(f->dir, "target", 0700);
	assert_int_equal(symlink(target, link), 0);
	assert_int_equal(userdirs_make(parent, USER_UID, USER_GID, &err2), -1);
	assert_error_has(err2, link);
	assert_dir(target, 0, 0700);
}

/* Outside Slurm: the per-user directory a pattern needs and nobody has made yet. */
static void missing_user_dir(void **state)
{
	struct dir_fixture *f = *state;
	cleanup_free char *parent = dir_fixture_at(f, "p");
	cleanup_free char *pattern = xasprintf("%s/%%U/%%j.%%s", parent);
	cleanup_free char *missing = NULL, *want = xasprintf("%s/4242", parent);

	missing = userdirs_missing(pattern, parent, 4242);
	assert_non_null(missing);
	assert_string_equal(missing, want);
	make_dir(f->dir, "p", 0755);
	make_dir(f->dir, "p/4242", 0700);
	assert_null(userdirs_missing(pattern, parent, 4242));
	assert_null(userdirs_missing("/elsewhere/%U", parent, 4242));
}

#define T(name) cmocka_unit_test_setup_teardown(name, dir_fixture_setup, dir_fixture_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(pattern_in),	   T(makes_parent_and_user_dir),
		T(finishes_half_made_user_dir),	   T(refuses_parent_not_roots),
		T(refuses_user_dir_not_the_users), T(missing_user_dir),
	};

	return cmocka_run_group_tests_name("userdirs", tests, NULL, NULL);
}
