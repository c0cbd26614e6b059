/*
 * launcher/root/mountpoints.c: the mount points made in the container's upper layer before
 * the overlay is mounted (root_make_mount_points): a directory for every destination of
 * config.json's mounts (an empty file for a bind of a file) and for process.cwd, resolved
 * inside the image (the lower layer) as the container sees it; nothing is ever made in the
 * image or outside the upper layer.
 */
#include "unit.h"

#include <dirent.h>
#include <jansson.h>
#include <libgen.h>

#include "launcher/root/root.h"

struct fixture {
	char *dir;
	char *root;    /* dir/rootfs: the image (the overlay's lower layer) */
	char *upper;   /* dir/upper: where the mount points are made */
	char *file;    /* dir/source-file: a bind source that is a file */
	char *outside; /* a name that must appear nowhere outside the root */
};

static int setup(void **state)
{
	struct fixture *f = dir_fixture_new(struct fixture);

	f->root = xasprintf("%s/rootfs", f->dir);
	make_dir(f->dir, "rootfs", 0755);
	f->upper = xasprintf("%s/upper", f->dir);
	make_dir(f->dir, "upper", 0755);
	make_dir(f->root, "etc", 0755);
	make_dir(f->root, "real", 0755);
	write_text(f->root, "etc/os-release", "ID=unit\n");
	f->file = xasprintf("%s/source-file", f->dir);
	write_text(f->file, NULL, "source\n");
	f->outside = xasprintf("spank-oci-unit-outside-%d", (int)getpid());
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	const char *tops[] = {"/", "/tmp/"};

	for (size_t i = 0; i < sizeof(tops) / sizeof(tops[0]); i++) {
		cleanup_free char *p = xasprintf("%s%s", tops[i], f->outside);

		rm_tree(p); /* only there when a test failed */
	}
	free(f->root);
	free(f->upper);
	free(f->file);
	free(f->outside);
	dir_fixture_free(f);
	return 0;
}

/* rel (absolute in the container) where the mount points land: in the upper layer. */
static char *point(const struct fixture *f, const char *rel)
{
	return xasprintf("%s%s", f->upper, rel);
}

/* rel in the image. */
static char *in_image(const struct fixture *f, const char *rel)
{
	return xasprintf("%s%s", f->root, rel);
}

/* The image has nothing it did not have (only etc/, real/ and what a test put there). */
static void assert_image_untouched(const struct fixture *f, const char *const *extra)
{
	cleanup_dir DIR *d = opendir(f->root);
	struct dirent *e;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		bool known = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
			     strcmp(e->d_name, "etc") == 0 || strcmp(e->d_name, "real") == 0;

		for (size_t i = 0; extra != NULL && extra[i] != NULL && !known; i++)
			known = strcmp(e->d_name, extra[i]) == 0;
		if (!known)
			fail_msg("%s/%s was made in the image", f->root, e->d_name);
	}
}

static bool point_is_dir(const struct fixture *f, const char *rel)
{
	cleanup_free char *p = point(f, rel);

	return path_is_dir(p);
}

static bool point_exists(const struct fixture *f, const char *rel)
{
	cleanup_free char *p = point(f, rel);

	return path_exists(p);
}

/* Fails if f->outside (or name below it) exists anywhere a resolution on the node would
 * have put it: /, /tmp, the fixture's directory, next to it. */
static void assert_nothing_outside(const struct fixture *f)
{
	cleanup_free char *copy = xstrdup(f->dir);
	const char *tops[] = {"", "/tmp", f->dir, dirname(copy)};

	for (size_t i = 0; i < sizeof(tops) / sizeof(tops[0]); i++) {
		cleanup_free char *p = xasprintf("%s/%s", tops[i], f->outside);

		if (path_exists(p))
			fail_msg("%s was created outside the root", p);
	}
}

/* A bind mount of source at dest, as spec.c writes it. */
static json_t *bind(const char *dest, const char *source)
{
	return json_pack("{s:s,s:s,s:s,s:[s,s]}", "destination", dest, "type", "bind", "source",
			 source, "options", "rbind", "rw");
}

static json_t *tmpfs(const char *dest)
{
	return json_pack("{s:s,s:s,s:s}", "destination", dest, "type", "tmpfs", "source", "tmpfs");
}

/* A spec with cwd (or NULL) and the mounts given (a NULL-terminated list, stolen). */
static json_t *spec_of(const char *cwd, ...)
{
	json_t *spec = json_pack("{s:{},s:[]}", "process", "mounts");
	json_t *mounts = json_object_get(spec, "mounts");
	va_list ap;

	if (cwd != NULL)
		json_object_set_new(json_object_get(spec, "process"), "cwd", json_string(cwd));
	va_start(ap, cwd);
	for (json_t *m; (m = va_arg(ap, json_t *)) != NULL;)
		json_array_append_new(mounts, m);
	va_end(ap);
	return spec;
}

/* root_make_mount_points on f's root; returns its result, err set on failure. */
static int make_points(const struct fixture *f, json_t *spec, oci_error_t *err)
{
	int rc = root_make_mount_points(f->root, f->upper, spec, err);

	json_decref(spec);
	return rc;
}

static void mount_points_made_for_mounts_and_cwd(void **state)
{
	struct fixture *f = *state;
	cleanup_error oci_error_t err = NULL;
	struct stat st;

	assert_ok(make_points(f,
			      spec_of("/results/sub", bind("/data", f->dir), tmpfs("/a/b/c"),
				      bind("/home/ocitest", f->dir), NULL),
			      &err),
		  err);
	assert_true(point_is_dir(f, "/data"));
	assert_true(point_is_dir(f, "/a/b/c"));
	assert_true(point_is_dir(f, "/home/ocitest"));
	assert_true(point_is_dir(f, "/results/sub"));
	assert_image_untouched(f, NULL);
	/* directories the container's user can enter, whatever it is */
	{
		cleanup_free char *p = point(f, "/data");

		assert_int_equal(stat(p, &st), 0);
		assert_int_equal(st.st_mode & 0555, 0555);
	}
}

static void mount_points_file_for_a_bind_of_a_file(void **state)
{
	struct fixture *f = *state;
	cleanup_error oci_error_t err = NULL;
	cleanup_free char *hosts = point(f, "/etc/hosts2");
	cleanup_free char *deep = point(f, "/new/dir/file");
	struct stat st;

	assert_ok(make_points(f,
			      spec_of(NULL, bind("/etc/hosts2", f->file),
				      bind("/new/dir/file", f->file), NULL),
			      &err),
		  err);
	assert_int_equal(lstat(hosts, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_size, 0);
	assert_int_equal(lstat(deep, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_true(point_is_dir(f, "/new/dir"));
	/* the source is not touched */
	{
		cleanup_free char *text = read_text(f->file);

		assert_string_equal(text, "source\n");
	}
}

static void mount_points_keep_what_exists(void **state)
{
	struct fixture *f = *state;
	cleanup_error oci_error_t err = NULL;
	cleanup_free char *release = in_image(f, "/etc/os-release");
	cleanup_free char *kept = in_image(f, "/real/kept");
	cleanup_free char *text = NULL;

	write_text(f->root, "real/kept", "kept\n");
	assert_ok(make_points(f,
			      spec_of("/etc", bind("/etc/os-release", f->file),
				      bind("/real", f->dir), bind("/", f->dir), NULL),
			      &err),
		  err);
	text = read_text(release);
	assert_string_equal(text, "ID=unit\n");
	free(text);
	text = read_text(kept);
	assert_string_equal(text, "kept\n");
	/* what exists in the image needs no mount point in the upper layer */
	assert_false(point_exists(f, "/etc/os-release"));
	assert_false(point_exists(f, "/real"));
}

static void mount_points_skip_relative_paths(void **state)
{
	struct fixture *f = *state;
	cleanup_error oci_error_t err = NULL;
	cleanup_free char *in_dir = xasprintf("%s/relative", f->dir);

	assert_ok(make_points(f, spec_of("relative", tmpfs("relative/x"), NULL), &err), err);
	assert_false(point_exists(f, "/relative"));
	assert_false(path_exists(in_dir));
}

/* A symlink in the root resolves inside it, as the container will see it. */
static void mount_points_follow_symlinks_inside_the_root(void **state)
{
	struct fixture *f = *state;
	cleanup_error oci_error_t err = NULL;
	cleanup_free char *link = in_image(f, "/link");
	cleanup_free char *rel = in_image(f, "/etc/rel");
	cleanup_free char *fixture_real = xasprintf("%s/real", f->dir);

	/* /link -> /etc/../../real: /real of the root (on the node: <dir>/real, or /real) */
	assert_int_equal(symlink("/etc/../../real", link), 0);
	assert_int_equal(symlink("../real", rel), 0);
	assert_ok(make_points(f,
			      spec_of("/etc/rel/cwd", bind("/link/data", f->dir),
				      tmpfs("/link/t/u"), NULL),
			      &err),
		  err);
	assert_true(point_is_dir(f, "/real/data"));
	assert_true(point_is_dir(f, "/real/t/u"));
	assert_true(point_is_dir(f, "/real/cwd"));
	assert_false(path_exists(fixture_real));
	assert_false(path_exists("/real/data"));
	/* the symlinks stay symlinks, and are not shadowed by directories in the upper layer */
	assert_false(path_is_dir(link));
	assert_false(path_is_dir(rel));
	assert_false(point_exists(f, "/link"));
	assert_false(point_exists(f, "/etc/rel"));
	{
		const char *const extra[] = {"link", NULL};

		assert_image_untouched(f, extra);
	}
}

static void mount_points_never_outside_the_root(void **state)
{
	struct fixture *f = *state;
	cleanup_error oci_error_t err = NULL;
	cleanup_free char *up = xasprintf("/etc/../../%s", f->outside);
	cleanup_free char *dotdot = xasprintf("/../../%s/x", f->outside);
	cleanup_free char *host_tmp = xasprintf("/tmp/%s", f->outside);
	cleanup_free char *beside = xasprintf("%s/../%s", f->dir, f->outside);
	cleanup_free char *through_abs = xasprintf("/abs/%s", f->outside);
	cleanup_free char *l1 = in_image(f, "/up"), *l2 = in_image(f, "/tmplink"),
			  *l3 = in_image(f, "/beside"), *l4 = in_image(f, "/etc/hostfile"),
			  *l5 = in_image(f, "/abs");

	/* to names that do not exist in the root: each would land outside on the node */
	assert_int_equal(symlink(up, l1), 0);
	assert_int_equal(symlink(host_tmp, l2), 0);
	assert_int_equal(symlink(beside, l3), 0);
	assert_int_equal(symlink(host_tmp, l4), 0);
	/* the fixture's directory, an absolute path on the node: not in the root */
	assert_int_equal(symlink(f->dir, l5), 0);
	make_points(f, spec_of("/up/cwd", bind("/up/data", f->dir), NULL), &err);
	assert_nothing_outside(f);
	oci_error_release(&err);
	make_points(f, spec_of(NULL, tmpfs("/tmplink/deeper/x"), NULL), &err);
	assert_nothing_outside(f);
	oci_error_release(&err);
	make_points(f, spec_of(NULL, bind("/beside/y", f->dir), NULL), &err);
	assert_nothing_outside(f);
	oci_error_release(&err);
	make_points(f, spec_of(through_abs, tmpfs(through_abs), NULL), &err);
	assert_nothing_outside(f);
	oci_error_release(&err);
	/* a dangling symlink as the mount point of a file: not written through */
	make_points(f, spec_of(NULL, bind("/etc/hostfile", f->file), NULL), &err);
	assert_nothing_outside(f);
	assert_false(path_is_dir(l4));
	oci_error_release(&err);
	/* .. above the root stays at the root */
	assert_ok(make_points(f, spec_of(NULL, tmpfs(dotdot), NULL), &err), err);
	assert_nothing_outside(f);
	{
		cleanup_free char *in_root = xasprintf("/%s/x", f->outside);

		assert_true(point_is_dir(f, in_root));
	}
}

static void mount_points_missing_root_is_an_error(void **state)
{
	struct fixture *f = *state;
	cleanup_error oci_error_t err = NULL;
	cleanup_free char *missing = xasprintf("%s/no-such-root", f->dir);
	json_t *spec = spec_of("/x", NULL);

	assert_int_equal(root_make_mount_points(missing, f->upper, spec, &err), -1);
	assert_error_has(err, missing);
	json_decref(spec);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(mount_points_made_for_mounts_and_cwd),
		T(mount_points_file_for_a_bind_of_a_file),
		T(mount_points_keep_what_exists),
		T(mount_points_skip_relative_paths),
		T(mount_points_follow_symlinks_inside_the_root),
		T(mount_points_never_outside_the_root),
		T(mount_points_missing_root_is_an_error),
	};

	return cmocka_run_group_tests_name("root", tests, NULL, NULL);
}
