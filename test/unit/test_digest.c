/*
 * launcher/image/digest.c: sha256 digests of blobs, checked against the ones computed
 * here with OpenSSL.
 */
#include "image_fixture.h"

#include "launcher/image/digest.h"

static void digest_validity(void **state)
{
	(void)state;
	assert_true(digest_is_valid("sha256:" ZEROS64));
	assert_true(digest_is_valid(
		"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
	assert_false(digest_is_valid(NULL));
	assert_false(digest_is_valid(""));
	assert_false(digest_is_valid("sha256:"));
	assert_false(digest_is_valid("sha256:xyz"));
	/* 63 and 65 hex digits */
	assert_false(digest_is_valid(
		"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85"));
	assert_false(digest_is_valid(
		"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8550"));
	/* upper case, other algorithms, no algorithm, separators */
	assert_false(digest_is_valid(
		"sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"));
	assert_false(digest_is_valid("SHA256:" ZEROS64));
	assert_false(digest_is_valid("sha512:" ZEROS64));
	assert_false(digest_is_valid("md5:d41d8cd98f00b204e9800998ecf8427e"));
	assert_false(digest_is_valid(ZEROS64));
	assert_false(digest_is_valid("sha256-" ZEROS64));
	assert_false(digest_is_valid(
		"sha256:../../../../../../../../../../../../../../../../../../../../.."));
	assert_false(digest_is_valid(
		"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85/"));
}

static void digest_read_file_checks(void **state)
{
	static const char text[] = "{\"config\": {\"WorkingDir\": \"/work\"}}\n";
	cleanup_error oci_error_t err = NULL;
	cleanup_free char *path = dir_fixture_at(*state, "blob"), *data = NULL;
	cleanup_free char *digest = sha256_hex(text, strlen(text));
	cleanup_free char *other = sha256_hex("other", 5);
	size_t len = 0;

	write_text(path, NULL, text);
	assert_ok(digest_read_file(path, digest, 1 << 30, &data, &len, &err), err);
	assert_int_equal(len, strlen(text));
	assert_string_equal(data, text);
	free(data);
	data = NULL;
	assert_int_equal(digest_read_file(path, other, 1 << 30, &data, &len, &err), -1);
	assert_error_has(err, "digest mismatch");
	assert_error_has(err, digest); /* what was read */
	assert_null(data);
}

/* A blob larger than the first buffer, NULs included: all of it, and a NUL after it. */
static void digest_read_file_large(void **state)
{
	enum { SIZE = 300000 };
	cleanup_error oci_error_t err = NULL;
	cleanup_free char *path = dir_fixture_at(*state, "blob"), *data = NULL;
	cleanup_free char *want = xcalloc(1, SIZE), *digest = NULL;
	size_t len = 0;
	FILE *f;

	for (size_t i = 0; i < SIZE; i++)
		want[i] = (char)(i % 251);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(want, 1, SIZE, f), SIZE);
	assert_int_equal(fclose(f), 0);
	digest = sha256_hex(want, SIZE);
	assert_ok(digest_read_file(path, digest, 1 << 30, &data, &len, &err), err);
	assert_int_equal(len, SIZE);
	assert_memory_equal(data, want, SIZE);
	assert_int_equal(data[SIZE], '\0');
}

static void digest_streamed(void **state)
{
	cleanup_error oci_error_t err = NULL;
	cleanup_free char *want = sha256_hex("hello, world\n", 13);
	struct digest d;

	(void)state;
	/* in pieces, the same digest as in one go; the size is checked after it */
	assert_ok(digest_init(&d, &err), err);
	digest_update(&d, "hello, ", 7);
	digest_update(&d, "", 0);
	digest_update(&d, "world\n", 6);
	assert_ok(digest_check(&d, "blob", want, 13, &err), err);
	digest_release(&d);
	assert_ok(digest_init(&d, &err), err);
	digest_update(&d, "hello, world\n", 13);
	assert_int_equal(digest_check(&d, "blob", want, 12, &err), -1);
	assert_error_has(err, "blob: size mismatch: expected 12 bytes, read 13");
	digest_release(&d);
}

#define T(name) cmocka_unit_test_setup_teardown(name, dir_fixture_setup, dir_fixture_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(digest_validity),
		T(digest_read_file_checks),
		T(digest_read_file_large),
		T(digest_streamed),
	};

	return cmocka_run_group_tests_name("digest", tests, NULL, NULL);
}
