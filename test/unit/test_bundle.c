/*
 * launcher/image/bundle.c: what --container names.
 *
 * These run as root in CI and as a normal user on a workstation: ownership checks are
 * only exercised where both give the same answer.
 */
#include "image_fixture.h"

#include "launcher/image/bundle.h"

/* ---- bundle_open -------------------------------------------------------------------- */

/* Opens path, which must succeed; the bundle to bundle_free(). */
static struct oci_bundle *bundle_open_ok(const char *path, bool ignore, const char *image_cache)
{
	cleanup_error oci_error_t err = NULL;
	struct oci_bundle *b = NULL;

	assert_ok(bundle_open(path, ignore, image_cache, 0, &b, &err), err);
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
	bundle_free(b);
}

static void bundle_open_error(const char *path, bool ignore, const char *sub1, const char *sub2)
{
	cleanup_error oci_error_t err = NULL;
	struct oci_bundle *b = NULL;

	if (bundle_open(path, ignore, "/nonexistent-image-cache", 0, &b, &err) == 0) {
		bundle_free(b);
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
	assert_ok(bundle_open(link, false, "/nonexistent-image-cache", 0, &b, &err), err);
	assert_string_equal(b->path, path);
	assert_string_equal(b->rootfs, rootfs);
	assert_string_equal(json_string_value(json_object_get(b->config, "hostname")), "h");
	bundle_free(b);
	b = NULL;

	/* an absolute root.path is taken as it is */
	text = xasprintf("{\"root\": {\"path\": \"%s\"}}", elsewhere);
	write_text(path, "config.json", text);
	assert_ok(bundle_open(path, false, "/nonexistent-image-cache", 0, &b, &err), err);
	assert_string_equal(b->rootfs, elsewhere);
	bundle_free(b);
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
	bundle_free(b);
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
	bundle_free(b);
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
	bundle_free(b);
}

/* "/x/a:b" that exists is itself, even when "/x/a" is a layout with a tag "b". */
static void bundle_path_with_colon_is_not_a_tag(void **state)
{
	struct dir_fixture *f = *state;
	static const struct layer_entry files[] = {F("from-the-layout", "x"), {0}};
	cleanup_free char *layout = make_layout(f->dir, "img");
	cleanup_free char *layer = put_layer(layout, PLAIN, files);
	cleanup_free char *digest = put_image(layout, "{\"config\": {}}", layer, "b");
	cleanup_free char *dir = dir_fixture_at(f, "img:b"), *file = dir_fixture_at(f, "img:c");
	cleanup_free char *cache = dir_fixture_at(f, "cache");
	struct oci_bundle *b;

	make_dir(f->dir, "img:b", 0755);
	make_dir(f->dir, "img:b/usr", 0755);
	check_rootfs_only(dir, false, dir, dir);
	/* a file there: refused as what it is, not opened as the layout's image */
	write_text(file, NULL, "not a squashfs");
	bundle_open_error(file, false, file, "neither a directory");
	/* with nothing there, it is the layout's image tagged "b" */
	rm_tree(dir);
	b = bundle_open_ok(dir, false, cache);
	assert_true(b->is_image);
	assert_string_equal(b->path, dir);
	bundle_free(b);
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
		T(bundle_path_with_colon_is_not_a_tag),
	};

	return cmocka_run_group_tests_name("bundle", tests, NULL, NULL);
}
