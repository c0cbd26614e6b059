/*
 * launcher/image/layout.c: an OCI image layout's index, manifest and configuration. Each
 * input is a scratch layout: parts separated by "\n----\n":
 *   0 the reference's selector after the layout directory (":tag", "@sha256:...", "")
 *   1 index.json   2 the manifest blob   3 the configuration blob   4 a layer blob
 * Blobs are stored under their sha256 (a part that is absent is not stored). Before
 * that, "@C@", "@L@" and "@M@" in the later parts become the digests of the configuration,
 * the layer and the manifest ("sha256:<hex>"), so the digests the fuzzer cannot compute
 * still match.
 */
#include "test/fuzz/fuzz.h"

#include <errno.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <sys/stat.h>

#include "common/fsutil.h"
#include "launcher/image/layout.h"

#define SEP "\n----\n"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *dir, *layout, *blobs;

static void cleanup(void)
{
	fuzz_remove_tree(dir);
}

static void setup(void)
{
	char *marker;

	dir = fuzz_tmpdir("layout");
	FUZZ_CHECK(atexit(cleanup) == 0);
	layout = path_join(dir, "image");
	FUZZ_CHECK(mkdir(layout, 0700) == 0);
	marker = path_join(layout, "oci-layout");
	fuzz_write_file(marker, "{\"imageLayoutVersion\": \"1.0.0\"}", 31);
	blobs = path_join(layout, "blobs");
	free(marker);
}

/* "sha256:<hex>" of a part. */
static void sha256_of(const struct fuzz_part *p, char out[72])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	FUZZ_CHECK(EVP_Digest(p->data, p->len, md, &n, EVP_sha256(), NULL) == 1 && n == 32);
	memcpy(out, "sha256:", 7);
	for (unsigned int i = 0; i < n; i++)
		snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
}

/* Replaces every token in p with value. */
static void substitute(struct fuzz_part *p, const char *token, const char *value)
{
	size_t tlen = strlen(token), vlen = strlen(value), n = 0;
	char *out = xcalloc(1, p->len / tlen * vlen + p->len + 1);

	for (size_t i = 0; i < p->len;) {
		if (i + tlen <= p->len && memcmp(p->data + i, token, tlen) == 0) {
			memcpy(out + n, value, vlen);
			n += vlen;
			i += tlen;
		} else {
			out[n++] = p->data[i++];
		}
	}
	free(p->data);
	p->data = out;
	p->len = n;
}

static void store_blob(const struct fuzz_part *p, const char *digest)
{
	char *path = xasprintf("%s/sha256/%s", blobs, digest + 7);

	fuzz_write_file(path, p->data, p->len);
	free(path);
}

static void check(const struct layout_image *img)
{
	char *text;

	FUZZ_CHECK(img->layout != NULL && img->manifest_digest != NULL);
	fuzz_say("resolved: %s, %zu layers", img->manifest_digest, img->nlayers);
	for (size_t i = 0; i < img->nlayers; i++) {
		const struct layout_layer *l = &img->layers[i];

		FUZZ_CHECK(l->path != NULL && l->digest != NULL && l->media_type != NULL);
		FUZZ_CHECK(l->size >= 0);
	}
	if (img->config != NULL) {
		text = json_dumps(img->config, JSON_COMPACT);
		free(text);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_part parts[5];
	size_t n = fuzz_split(data, size, SEP, parts, 5);
	char digest[3][72] = {"", "", ""}; /* config, layer, manifest */
	struct layout_image img;
	oci_error_t err = NULL;
	char *ref, *sel, *index;

	if (layout == NULL)
		setup();
	fuzz_remove_tree(blobs);
	FUZZ_CHECK(mkdir(blobs, 0700) == 0);
	index = xasprintf("%s/sha256", blobs);
	FUZZ_CHECK(mkdir(index, 0700) == 0);
	free(index);
	if (n > 3) {
		sha256_of(&parts[3], digest[0]);
		store_blob(&parts[3], digest[0]);
	}
	if (n > 4) {
		sha256_of(&parts[4], digest[1]);
		store_blob(&parts[4], digest[1]);
	}
	for (size_t i = 0; i < n && i < 3; i++) {
		substitute(&parts[i], "@C@", digest[0]);
		substitute(&parts[i], "@L@", digest[1]);
	}
	if (n > 2) {
		sha256_of(&parts[2], digest[2]);
		store_blob(&parts[2], digest[2]);
	}
	for (size_t i = 0; i < n && i < 2; i++)
		substitute(&parts[i], "@M@", digest[2]);
	index = path_join(layout, "index.json");
	if (n > 1)
		fuzz_write_file(index, parts[1].data, parts[1].len);
	else
		FUZZ_CHECK(unlink(index) == 0 || errno == ENOENT);
	free(index);
	/* the selector stays a name in the scratch directory: no '/' */
	for (sel = parts[0].data; (sel = strchr(sel, '/')) != NULL;)
		*sel = '_';
	ref = xasprintf("%s%s", layout, parts[0].data);
	(void)layout_is_ref(ref);
	if (layout_resolve(ref, &img, &err) == 0) {
		FUZZ_CHECK(err == NULL);
		check(&img);
		layout_image_release(&img);
	} else {
		FUZZ_CHECK(err != NULL);
		fuzz_drop_error(&err);
	}
	free(ref);
	fuzz_parts_free(parts, n);
	return 0;
}
