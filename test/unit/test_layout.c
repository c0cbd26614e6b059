/*
 * launcher/image/layout.c: which manifest an image layout reference names, its config and
 * layers. Each test writes a small layout in a temporary directory.
 */
#include "image_fixture.h"

#include "launcher/image/layout.h"

static const char config_json[] =
	"{\"architecture\": \"amd64\", \"os\": \"linux\",\n"
	" \"config\": {\"Env\": [\"PATH=/usr/bin:/bin\"], \"WorkingDir\": \"/work\"},\n"
	" \"rootfs\": {\"type\": \"layers\", \"diff_ids\": []}}\n";

struct fixture {
	char *dir, *layout;
	char *config, *layer1, *layer2; /* digests */
	char *manifest1, *manifest2;	/* two layers; only the second layer */
	size_t manifest1_size, manifest2_size;
};

static char *blob(struct fixture *f, const char *digest)
{
	return blob_file(f->layout, digest);
}

/* A manifest of the image configuration with these layer descriptors. */
static char *manifest(const char *config_digest, const char *layers)
{
	return manifest_json(config_digest, strlen(config_json), layers);
}

static int setup(void **state)
{
	struct fixture *f = dir_fixture_new(struct fixture);
	cleanup_free char *l1 = NULL, *l2 = NULL, *layers = NULL, *m1 = NULL, *m2 = NULL;
	cleanup_free char *d1 = NULL;

	f->layout = make_layout(f->dir, "image");
	f->config = put_blob(f->layout, config_json);
	/* the layers' content does not matter here: they are read when unpacked */
	f->layer1 = put_blob(f->layout, "first layer, 24 bytes...");
	f->layer2 = put_blob(f->layout, "second layer: 25 bytes...");
	l1 = layer_desc(MT_TAR_GZIP, f->layer1, 24);
	l2 = layer_desc(MT_TAR_ZSTD, f->layer2, 25);
	layers = xasprintf("%s, %s", l1, l2);
	m1 = manifest(f->config, layers);
	m2 = manifest(f->config, l2);
	f->manifest1 = put_blob(f->layout, m1);
	f->manifest1_size = strlen(m1);
	f->manifest2 = put_blob(f->layout, m2);
	f->manifest2_size = strlen(m2);
	/* by default, the layout holds the first manifest only */
	d1 = manifest_desc(f->manifest1, f->manifest1_size, "latest");
	write_index(f->layout, d1);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	free(f->layout);
	free(f->config);
	free(f->layer1);
	free(f->layer2);
	free(f->manifest1);
	free(f->manifest2);
	dir_fixture_free(f);
	return 0;
}

/* The index with both manifests, tagged v1 and v2. */
static void write_index_two(struct fixture *f)
{
	cleanup_free char *d1 = manifest_desc(f->manifest1, f->manifest1_size, "v1");
	cleanup_free char *d2 = manifest_desc(f->manifest2, f->manifest2_size, "v2");
	cleanup_free char *both = xasprintf("%s, %s", d1, d2);

	write_index(f->layout, both);
}

static void resolve_error(const char *ref, const char *sub1, const char *sub2)
{
	cleanup_error oci_error_t err = NULL;
	struct layout_image r;

	if (layout_resolve(ref, &r, &err) == 0) {
		layout_image_release(&r);
		fail_msg("%s resolved without error", ref);
	}
	assert_error_has(err, sub1);
	if (sub2 != NULL)
		assert_error_has(err, sub2);
	/* nothing is left to release */
	assert_null(r.layout);
	assert_null(r.manifest_digest);
	assert_null(r.config);
	assert_null(r.layers);
	assert_int_equal(r.nlayers, 0);
}

/* ---- layout_is_ref ---------------------------------------------------------------------- */

static void layout_ref_forms(void **state)
{
	struct fixture *f = *state;
	cleanup_free char *tagged = xasprintf("%s:latest", f->layout);
	cleanup_free char *pinned = xasprintf("%s@%s", f->layout, f->manifest1);
	cleanup_free char *slash = xasprintf("%s/", f->layout);
	cleanup_free char *plain_dir = xasprintf("%s/plain", f->dir);
	cleanup_free char *plain_tagged = xasprintf("%s/plain:latest", f->dir);
	cleanup_free char *missing = xasprintf("%s/missing", f->dir);
	cleanup_free char *missing_tagged = xasprintf("%s/missing:latest", f->dir);
	cleanup_free char *file = xasprintf("%s/oci-layout", f->layout);

	assert_true(layout_is_ref(f->layout));
	assert_true(layout_is_ref(tagged));
	assert_true(layout_is_ref(pinned));
	assert_true(layout_is_ref(slash));
	make_dir(f->dir, "plain", 0755);
	assert_false(layout_is_ref(plain_dir));
	assert_false(layout_is_ref(plain_tagged));
	assert_false(layout_is_ref(missing));
	assert_false(layout_is_ref(missing_tagged));
	assert_false(layout_is_ref(file));
	assert_false(layout_is_ref("docker://alpine:3.19"));
}

/* ---- layout_resolve --------------------------------------------------------------------- */

static void assert_layer(struct fixture *f, const struct layout_layer *l, const char *digest,
			 const char *media_type, long long size)
{
	cleanup_free char *path = blob(f, digest);

	assert_string_equal(l->path, path);
	assert_string_equal(l->digest, digest);
	assert_string_equal(l->media_type, media_type);
	assert_int_equal(l->size, size);
}

/* Resolves ref, which must name manifest (with nlayers layers) in f's layout. */
static void resolve_ok(struct fixture *f, const char *ref, const char *manifest, size_t nlayers,
		       struct layout_image *r)
{
	cleanup_error oci_error_t err = NULL;

	assert_ok(layout_resolve(ref, r, &err), err);
	assert_string_equal(r->layout, f->layout);
	assert_string_equal(r->manifest_digest, manifest);
	assert_int_equal(r->nlayers, nlayers);
}

static void resolve_single_manifest(void **state)
{
	struct fixture *f = *state;
	cleanup_free char *tagged = xasprintf("%s:latest", f->layout);
	cleanup_free char *pinned = xasprintf("%s@%s", f->layout, f->manifest1);
	struct layout_image r;

	resolve_ok(f, f->layout, f->manifest1, 2, &r);
	assert_non_null(r.config);
	assert_string_equal(json_string_value(json_object_get(r.config, "WorkingDir")), "/work");
	assert_string_equal(json_string_value(json_array_get(json_object_get(r.config, "Env"), 0)),
			    "PATH=/usr/bin:/bin");
	assert_layer(f, &r.layers[0], f->layer1, MT_TAR_GZIP, 24);
	assert_layer(f, &r.layers[1], f->layer2, MT_TAR_ZSTD, 25);
	assert_int_equal(r.layers_size, 24 + 25);
	layout_image_release(&r);
	assert_null(r.layers);
	/* its tag and its digest name it too */
	resolve_ok(f, tagged, f->manifest1, 2, &r);
	layout_image_release(&r);
	resolve_ok(f, pinned, f->manifest1, 2, &r);
	layout_image_release(&r);
}

static void resolve_by_tag(void **state)
{
	struct fixture *f = *state;
	cleanup_free char *v1 = xasprintf("%s:v1", f->layout), *v2 = xasprintf("%s:v2", f->layout);
	struct layout_image r;

	write_index_two(f);
	resolve_ok(f, v2, f->manifest2, 1, &r);
	assert_layer(f, &r.layers[0], f->layer2, MT_TAR_ZSTD, 25);
	assert_int_equal(r.layers_size, 25);
	layout_image_release(&r);
	resolve_ok(f, v1, f->manifest1, 2, &r);
	layout_image_release(&r);
}

static void resolve_by_digest(void **state)
{
	struct fixture *f = *state;
	cleanup_free char *ref = xasprintf("%s@%s", f->layout, f->manifest2);
	struct layout_image r;

	write_index_two(f);
	resolve_ok(f, ref, f->manifest2, 1, &r);
	layout_image_release(&r);
}

static void resolve_needs_selector(void **state)
{
	struct fixture *f = *state;

	write_index_two(f);
	resolve_error(f->layout, "holds 2 manifests", ":tag or @sha256:<digest>");
}

static void resolve_unknown_selector(void **state)
{
	struct fixture *f = *state;
	cleanup_free char *tag = xasprintf("%s:v3", f->layout);
	cleanup_free char *pinned = xasprintf("%s@sha256:" ZEROS64, f->layout);

	write_index_two(f);
	resolve_error(tag, "no manifest tagged v3", NULL);
	resolve_error(pinned, "no manifest sha256:" ZEROS64, NULL);
}

static void resolve_empty_index(void **state)
{
	struct fixture *f = *state;

	write_index(f->layout, "");
	resolve_error(f->layout, "no manifest at all", NULL);
}

static void resolve_missing_index(void **state)
{
	struct fixture *f = *state;
	cleanup_free char *index = xasprintf("%s/index.json", f->layout);

	assert_int_equal(unlink(index), 0);
	resolve_error(f->layout, index, NULL);
}

static void resolve_tampered_manifest(void **state)
{
	struct fixture *f = *state;
	cleanup_free char *path = blob(f, f->manifest1);
	cleanup_free char *m = manifest(f->config, "");

	/* a valid manifest, but not the one its name says */
	write_text(path, NULL, m);
	resolve_error(f->layout, "digest mismatch", f->manifest1);
}

static void resolve_tampered_config(void **state)
{
	struct fixture *f = *state;
	cleanup_free char *path = blob(f, f->config);

	write_text(path, NULL, "{\"config\": {\"WorkingDir\": \"/evil\"}}");
	resolve_error(f->layout, "digest mismatch", f->config);
}

static void resolve_missing_blob(void **state)
{
	struct fixture *f = *state;
	cleanup_free char *path = blob(f, f->manifest1);

	assert_int_equal(unlink(path), 0);
	resolve_error(f->layout, path, "No such file or directory");
}

/* An index naming its manifest by an invalid digest. */
static void check_invalid_manifest_digest(struct fixture *f, const char *digest)
{
	cleanup_free char *desc = manifest_desc(digest, 100, NULL);

	write_index(f->layout, desc);
	resolve_error(f->layout, "invalid digest", digest);
}

static void resolve_invalid_manifest_digest(void **state)
{
	struct fixture *f = *state;

	check_invalid_manifest_digest(f, "sha256:xyz");
	check_invalid_manifest_digest(f, "md5:d41d8cd98f00b204e9800998ecf8427e");
	check_invalid_manifest_digest(f, "sha256:../../../../etc/passwd");
	check_invalid_manifest_digest(f, "sha512:" ZEROS64 ZEROS64);
}

static void resolve_manifest_without_digest(void **state)
{
	struct fixture *f = *state;

	write_index(f->layout, "{\"mediaType\": \"" MT_MANIFEST "\", \"size\": 100}");
	resolve_error(f->layout, "invalid digest", NULL);
}

/* A manifest (put in the index alone) with the given layer descriptors. */
static void use_manifest(struct fixture *f, const char *config_digest, const char *layers)
{
	free(put_manifest(f->layout, config_digest, strlen(config_json), layers, NULL));
}

static void resolve_invalid_layer_digest(void **state)
{
	struct fixture *f = *state;
	cleanup_free char *md5 = layer_desc(MT_TAR_GZIP, "md5:d41d8cd98f00b204e9800998ecf8427e", 1);
	cleanup_free char *short_ = layer_desc(MT_TAR_GZIP, "sha256:xyz", 1);
	cleanup_free char *good = layer_desc(MT_TAR_GZIP, f->layer1, 24);
	cleanup_free char *both = xasprintf("%s, %s", good, md5);

	use_manifest(f, f->config, md5);
	resolve_error(f->layout, "invalid layer digest", "md5:");
	use_manifest(f, f->config, short_);
	resolve_error(f->layout, "invalid layer digest", "sha256:xyz");
	/* the second layer: the first one is released too (leaks would fail the test) */
	use_manifest(f, f->config, both);
	resolve_error(f->layout, "invalid layer digest", "md5:");
	use_manifest(f, f->config, "{\"mediaType\": \"" MT_TAR_GZIP "\", \"size\": 1}");
	resolve_error(f->layout, "invalid layer digest", NULL);
}

static void resolve_negative_layer_size(void **state)
{
	struct fixture *f = *state;
	cleanup_free char *layer = layer_desc(MT_TAR_GZIP, f->layer1, -1);

	use_manifest(f, f->config, layer);
	resolve_error(f->layout, "invalid layer", NULL);
}

static void resolve_invalid_config_digest(void **state)
{
	struct fixture *f = *state;

	use_manifest(f, "sha256:xyz", "");
	resolve_error(f->layout, "invalid digest", "sha256:xyz");
}

/* ---- bounded reads ------------------------------------------------------------------------ */

/* In a child (whose check_in_child alarm fails a read that never ends): refused, and why. */
static int resolve_refused_in_child(void *arg, char *msg, size_t len)
{
	cleanup_error oci_error_t err = NULL;
	struct layout_image r;

	if (layout_resolve(arg, &r, &err) == 0) {
		snprintf(msg, len, "%s resolved", (const char *)arg);
		return 1;
	}
	if (strstr(oci_error_text(err), "larger than 4194304 bytes: refused") == NULL) {
		snprintf(msg, len, "unexpected error: %s", oci_error_text(err));
		return 1;
	}
	return 0;
}

/* An index, manifest or config that never ends (/dev/zero) is refused at once. */
static void resolve_endless_files_fail_fast(void **state)
{
	struct fixture *f = *state;
	cleanup_free char *index = xasprintf("%s/index.json", f->layout);
	cleanup_free char *saved = xasprintf("%s/index.saved", f->dir);
	cleanup_free char *manifest = blob(f, f->manifest1), *config = blob(f, f->config);

	assert_int_equal(rename(index, saved), 0);
	assert_int_equal(symlink("/dev/zero", index), 0);
	check_in_child(resolve_refused_in_child, f->layout, 5000);
	assert_int_equal(rename(saved, index), 0);
	assert_int_equal(unlink(config), 0);
	assert_int_equal(symlink("/dev/zero", config), 0);
	check_in_child(resolve_refused_in_child, f->layout, 5000);
	assert_int_equal(unlink(manifest), 0);
	assert_int_equal(symlink("/dev/zero", manifest), 0);
	check_in_child(resolve_refused_in_child, f->layout, 5000);
}

/* A config blob past the cap is refused, even with the right digest. */
static void resolve_oversized_config(void **state)
{
	struct fixture *f = *state;
	size_t len = (4 << 20) + 1;
	cleanup_free char *big = xmalloc(len + 1), *digest = NULL, *m = NULL, *mdigest = NULL;
	cleanup_free char *desc = NULL;

	memset(big, ' ', len);
	big[0] = '{';
	big[len - 1] = '}';
	big[len] = '\0';
	digest = put_blob(f->layout, big);
	m = manifest_json(digest, len, "");
	mdigest = put_blob(f->layout, m);
	desc = manifest_desc(mdigest, strlen(m), NULL);
	write_index(f->layout, desc);
	resolve_error(f->layout, "larger than 4194304 bytes: refused", digest + strlen("sha256:"));
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(layout_ref_forms),
		T(resolve_single_manifest),
		T(resolve_by_tag),
		T(resolve_by_digest),
		T(resolve_needs_selector),
		T(resolve_unknown_selector),
		T(resolve_empty_index),
		T(resolve_missing_index),
		T(resolve_tampered_manifest),
		T(resolve_tampered_config),
		T(resolve_missing_blob),
		T(resolve_invalid_manifest_digest),
		T(resolve_manifest_without_digest),
		T(resolve_invalid_layer_digest),
		T(resolve_negative_layer_size),
		T(resolve_invalid_config_digest),
		T(resolve_endless_files_fail_fast),
		T(resolve_oversized_config),
	};

	return cmocka_run_group_tests_name("layout", tests, NULL, NULL);
}
