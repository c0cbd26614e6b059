/*
 * launcher/spec/litter.c: the mount points a runtime creates in the user's rootfs, noted
 * before the container runs and removed after it.
 */
#include "unit.h"

#include <sys/stat.h>

#include "launcher/spec/litter.h"

/* ---- litter ----------------------------------------------------------------------------- */

static char *make_rootfs(struct dir_fixture *f)
{
	make_dir(f->dir, "rootfs", 0755);
	make_dir(f->dir, "rootfs/a", 0755);
	return dir_fixture_at(f, "rootfs");
}

/* Notes dest in a list of its own: what the runtime may create for it. */
static const struct litter *note(const char *rootfs, const char *dest, struct litter_list *list)
{
	cleanup_error oci_error_t err = NULL;

	*list = (struct litter_list){0};
	assert_ok(litter_list_note(list, rootfs, dest, &err), err);
	assert_int_equal(list->n, 1);
	return &list->v[0];
}

static void litter_notes_first_missing_component(void **state)
{
	struct dir_fixture *f = *state;
	cleanup_free char *rootfs = make_rootfs(f);
	struct litter_list list;
	const struct litter *l;

	l = note(rootfs, "/a/b/c", &list);
	assert_non_null(l->name);
	assert_string_equal(l->parent, "/a");
	assert_string_equal(l->name, "b");
	litter_list_release(&list);
	assert_null(list.v);
	assert_int_equal(list.n, 0);

	l = note(rootfs, "/x/y", &list);
	assert_string_equal(l->parent, "/");
	assert_string_equal(l->name, "x");
	litter_list_release(&list);

	l = note(rootfs, "/a/file", &list);
	assert_string_equal(l->parent, "/a");
	assert_string_equal(l->name, "file");
	litter_list_release(&list);
}

static void litter_notes_nothing_when_all_exists(void **state)
{
	struct dir_fixture *f = *state;
	cleanup_free char *rootfs = make_rootfs(f);
	struct litter_list list;
	const struct litter *l;

	make_dir(f->dir, "rootfs/a/b", 0755);
	make_dir(f->dir, "rootfs/a/b/c", 0755);
	l = note(rootfs, "/a/b/c", &list);
	assert_null(l->name);
	assert_null(l->parent);
	litter_list_release(&list);
	l = note(rootfs, "/a", &list);
	assert_null(l->name);
	litter_list_release(&list);
}

static void litter_remove_removes_only_what_was_created(void **state)
{
	struct dir_fixture *f = *state;
	cleanup_free char *rootfs = make_rootfs(f);
	cleanup_free char *keep = dir_fixture_at(f, "rootfs/a/keep"),
			  *b = dir_fixture_at(f, "rootfs/a/b");
	cleanup_free char *a = dir_fixture_at(f, "rootfs/a");
	struct litter_list list;

	write_text(keep, NULL, "the user's");
	note(rootfs, "/a/b/c", &list);
	/* what the runtime does for a bind mount onto /a/b/c */
	make_dir(f->dir, "rootfs/a/b", 0755);
	make_dir(f->dir, "rootfs/a/b/c", 0755);
	write_text(f->dir, "rootfs/a/b/c/inside", "x");
	litter_list_remove(&list, rootfs);
	assert_false(path_exists(b));
	assert_true(path_is_dir(a));
	assert_true(path_exists(keep));
	litter_list_release(&list);

	/* nothing noted, nothing removed */
	note(rootfs, "/a", &list);
	litter_list_remove(&list, rootfs);
	assert_true(path_exists(keep));
	litter_list_release(&list);
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
	struct litter_list list;
	const struct litter *l;

	/* /l -> /inner: inside the rootfs; on the host there is no /spank-oci-unit-inner */
	make_dir(f->dir, "rootfs/spank-oci-unit-inner", 0755);
	assert_false(path_exists("/spank-oci-unit-inner"));
	assert_int_equal(symlink("/spank-oci-unit-inner", link), 0);
	l = note(rootfs, "/l/b/c", &list);
	assert_string_equal(l->parent, "/l");
	assert_string_equal(l->name, "b");
	/* the runtime creates /l/b/c, that is <rootfs>/spank-oci-unit-inner/b/c */
	make_dir(f->dir, "rootfs/spank-oci-unit-inner/b", 0755);
	make_dir(f->dir, "rootfs/spank-oci-unit-inner/b/c", 0755);
	litter_list_remove(&list, rootfs);
	litter_list_release(&list);
	assert_false(path_exists(created));
	assert_true(path_is_dir(inner));
	assert_true(path_exists(link));

	/* /h -> <host dir>, which exists on the host but not in the rootfs */
	make_dir(f->dir, "host", 0755);
	write_text(hostfile, NULL, "host file");
	assert_int_equal(symlink(host, hostlink), 0);
	l = note(rootfs, "/h/x", &list);
	/* resolved on the host, everything would exist and nothing would be noted */
	assert_non_null(l->name);
	litter_list_release(&list);
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
	struct litter_list list;

	/* like /var/run -> /run in an image without /run */
	assert_int_equal(symlink("/run", link), 0);
	note(rootfs, "/a/run/slurm-oci", &list);
	/* the runtime follows the symlink in the rootfs: <rootfs>/run/slurm-oci */
	make_dir(f->dir, "rootfs/run", 0755);
	make_dir(f->dir, "rootfs/run/slurm-oci", 0755);
	litter_list_remove(&list, rootfs);
	litter_list_release(&list);
	/* the user's symlink was there before: it must stay */
	assert_true(path_exists(link));
	/* what the runtime created is gone */
	assert_false(path_exists(created));
}

static void litter_remove_keeps_existing_dangling_symlink(void **state)
{
	check_litter_remove_keeps_existing_dangling_symlink(*state);
}

/* Two mount points in one list: both removed, the user's directory between them kept. */
static void litter_list_removes_every_noted_place(void **state)
{
	struct dir_fixture *f = *state;
	cleanup_free char *rootfs = make_rootfs(f);
	cleanup_free char *m1 = dir_fixture_at(f, "rootfs/m1"), *a = dir_fixture_at(f, "rootfs/a"),
			  *m2 = dir_fixture_at(f, "rootfs/a/m2");
	cleanup_error oci_error_t err = NULL;
	struct litter_list list = {0};

	assert_ok(litter_list_note(&list, rootfs, "/m1/x", &err), err);
	assert_ok(litter_list_note(&list, rootfs, "/a/m2", &err), err);
	assert_int_equal(list.n, 2);
	make_dir(f->dir, "rootfs/m1", 0755);
	make_dir(f->dir, "rootfs/m1/x", 0755);
	make_dir(f->dir, "rootfs/a/m2", 0755);
	litter_list_remove(&list, rootfs);
	litter_list_release(&list);
	assert_false(path_exists(m1));
	assert_false(path_exists(m2));
	assert_true(path_is_dir(a));
}

#define T(name) cmocka_unit_test_setup_teardown(name, dir_fixture_setup, dir_fixture_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(litter_notes_first_missing_component),
		T(litter_notes_nothing_when_all_exists),
		T(litter_remove_removes_only_what_was_created),
		T(litter_resolves_symlinks_in_rootfs),
		T(litter_remove_keeps_existing_dangling_symlink),
		T(litter_list_removes_every_noted_place),
	};

	return cmocka_run_group_tests_name("litter", tests, NULL, NULL);
}
