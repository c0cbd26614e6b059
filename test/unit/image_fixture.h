/*
 * What the image tests (test_layout, test_cache, test_unpack) build: layer blobs written
 * with libarchive, OCI image layouts, and their sha256 digests, computed here with
 * OpenSSL, independently of launcher/image/digest.c.
 */
#ifndef SPANK_OCI_TEST_IMAGE_FIXTURE_H
#define SPANK_OCI_TEST_IMAGE_FIXTURE_H

#include "unit.h"

#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>
#include <sys/sysmacros.h>

#define MT_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_TAR "application/vnd.oci.image.layer.v1.tar"
#define MT_TAR_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"
#define MT_TAR_ZSTD "application/vnd.oci.image.layer.v1.tar+zstd"
#define ZEROS64 "0000000000000000000000000000000000000000000000000000000000000000"

/* ---- sha256 ----------------------------------------------------------------------------- */

static inline char *sha256_text_(EVP_MD_CTX *ctx)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	char hex[2 * EVP_MAX_MD_SIZE + 1];

	assert_int_equal(EVP_DigestFinal_ex(ctx, md, &n), 1);
	EVP_MD_CTX_free(ctx);
	assert_int_equal(n, 32);
	for (unsigned int i = 0; i < n; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return xasprintf("sha256:%s", hex);
}

static inline EVP_MD_CTX *sha256_start_(void)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	assert_non_null(ctx);
	assert_int_equal(EVP_DigestInit_ex(ctx, EVP_sha256(), NULL), 1);
	return ctx;
}

/* "sha256:<hex>" of len bytes. */
static inline char *sha256_hex(const void *data, size_t len)
{
	EVP_MD_CTX *ctx = sha256_start_();

	assert_int_equal(EVP_DigestUpdate(ctx, data, len), 1);
	return sha256_text_(ctx);
}

/* "sha256:<hex>" of a file; its size in *size. */
static inline char *sha256_of_file(const char *path, long long *size)
{
	EVP_MD_CTX *ctx = sha256_start_();
	unsigned char buf[4096];
	FILE *f = fopen(path, "rb");
	size_t got;

	assert_non_null(f);
	*size = 0;
	while ((got = fread(buf, 1, sizeof(buf), f)) > 0) {
		assert_int_equal(EVP_DigestUpdate(ctx, buf, got), 1);
		*size += (long long)got;
	}
	fclose(f);
	return sha256_text_(ctx);
}

/* ---- layer blobs ------------------------------------------------------------------------ */

enum layer_filter { PLAIN, GZIP, ZSTD };

/* One entry of a layer; a list of them ends with an entry whose type is 0. */
struct layer_entry {
	char type; /* 'f' file, 'd' directory, 'l' symlink, 'h' hard link, 'c'/'b' device */
	const char *name;
	const char *data; /* a file's content, a link's target */
	mode_t mode;	  /* 0: 0644 for files, 0755 for directories */
	size_t len;	  /* of data, when it is not a string */
};

#define F(n, d)                                                                                    \
	{                                                                                          \
		.type = 'f', .name = (n), .data = (d)                                              \
	}
#define FM(n, d, m)                                                                                \
	{                                                                                          \
		.type = 'f', .name = (n), .data = (d), .mode = (m)                                 \
	}
#define D(n)                                                                                       \
	{                                                                                          \
		.type = 'd', .name = (n)                                                           \
	}
#define DM(n, m)                                                                                   \
	{                                                                                          \
		.type = 'd', .name = (n), .mode = (m)                                              \
	}
#define L(n, target)                                                                               \
	{                                                                                          \
		.type = 'l', .name = (n), .data = (target)                                         \
	}
#define H(n, target)                                                                               \
	{                                                                                          \
		.type = 'h', .name = (n), .data = (target)                                         \
	}
#define DEV(type_, n)                                                                              \
	{                                                                                          \
		.type = (type_), .name = (n)                                                       \
	}

static inline void layer_entry_header_(struct archive_entry *ae, const struct layer_entry *e,
				       size_t len)
{
	archive_entry_set_pathname(ae, e->name);
	archive_entry_set_mtime(ae, 1700000000, 0);
	switch (e->type) {
	case 'f':
		archive_entry_set_filetype(ae, AE_IFREG);
		archive_entry_set_perm(ae, e->mode ? e->mode : 0644);
		archive_entry_set_size(ae, (la_int64_t)len);
		break;
	case 'd':
		archive_entry_set_filetype(ae, AE_IFDIR);
		archive_entry_set_perm(ae, e->mode ? e->mode : 0755);
		break;
	case 'l':
		archive_entry_set_filetype(ae, AE_IFLNK);
		archive_entry_set_perm(ae, 0777);
		archive_entry_set_symlink(ae, e->data);
		break;
	case 'h':
		archive_entry_set_filetype(ae, AE_IFREG);
		archive_entry_set_perm(ae, 0644);
		archive_entry_set_hardlink(ae, e->data);
		break;
	case 'c':
	case 'b':
		archive_entry_set_filetype(ae, e->type == 'c' ? AE_IFCHR : AE_IFBLK);
		archive_entry_set_perm(ae, 0666);
		archive_entry_set_rdev(ae, makedev(1, 3));
		break;
	default:
		fail_msg("unknown entry type '%c'", e->type);
	}
}

/* Writes a layer blob at path: a pax tar of the entries, maybe compressed. */
static inline void write_layer(const char *path, enum layer_filter filter,
			       const struct layer_entry *entries)
{
	struct archive *a = archive_write_new();

	assert_non_null(a);
	assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
	if (filter == GZIP)
		assert_int_equal(archive_write_add_filter_gzip(a), ARCHIVE_OK);
	if (filter == ZSTD)
		assert_int_equal(archive_write_add_filter_zstd(a), ARCHIVE_OK);
	assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
	for (const struct layer_entry *e = entries; e->type != 0; e++) {
		struct archive_entry *ae = archive_entry_new();
		size_t len = e->len ? e->len : e->data ? strlen(e->data) : 0;

		assert_non_null(ae);
		layer_entry_header_(ae, e, len);
		assert_int_equal(archive_write_header(a, ae), ARCHIVE_OK);
		if (e->type == 'f' && len > 0)
			assert_int_equal(archive_write_data(a, e->data, len), (la_ssize_t)len);
		archive_entry_free(ae);
	}
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
}

/* ---- image layouts ---------------------------------------------------------------------- */

/* An empty image layout, dir/name (oci-layout and blobs/sha256/, no index yet). */
static inline char *make_layout(const char *dir, const char *name)
{
	char *layout = xasprintf("%s/%s", dir, name);

	make_dir(dir, name, 0755);
	make_dir(layout, "blobs", 0755);
	make_dir(layout, "blobs/sha256", 0755);
	write_text(layout, "oci-layout", "{\"imageLayoutVersion\": \"1.0.0\"}\n");
	return layout;
}

/* Where the layout keeps the blob of a digest. */
static inline char *blob_file(const char *layout, const char *digest)
{
	return xasprintf("%s/blobs/sha256/%s", layout, digest + strlen("sha256:"));
}

/* Stores text as a blob under its digest; gives the digest. */
static inline char *put_blob(const char *layout, const char *text)
{
	char *digest = sha256_hex(text, strlen(text));
	cleanup_free char *path = blob_file(layout, digest);

	write_text(path, NULL, text);
	return digest;
}

/* A layer descriptor of a manifest. */
static inline char *layer_desc(const char *media_type, const char *digest, long long size)
{
	return xasprintf("{\"mediaType\": \"%s\", \"digest\": \"%s\", \"size\": %lld}", media_type,
			 digest, size);
}

/* Writes a layer of the entries as a blob of the layout; gives its descriptor. */
static inline char *put_layer(const char *layout, enum layer_filter filter,
			      const struct layer_entry *entries)
{
	static const char *const media_types[] = {MT_TAR, MT_TAR_GZIP, MT_TAR_ZSTD};
	cleanup_free char *tmp = xasprintf("%s/layer.tmp", layout), *digest = NULL;
	cleanup_free char *path = NULL;
	long long size;

	write_layer(tmp, filter, entries);
	digest = sha256_of_file(tmp, &size);
	path = blob_file(layout, digest);
	assert_int_equal(rename(tmp, path), 0);
	return layer_desc(media_types[filter], digest, size);
}

/* An image manifest; layers: its layer descriptors, comma-separated. */
static inline char *manifest_json(const char *config_digest, size_t config_size, const char *layers)
{
	return xasprintf("{\"schemaVersion\": 2, \"mediaType\": \"" MT_MANIFEST "\",\n"
			 " \"config\": {\"mediaType\": \"" MT_CONFIG "\", \"digest\": \"%s\", "
			 "\"size\": %zu},\n"
			 " \"layers\": [%s]}\n",
			 config_digest, config_size, layers);
}

/* A manifest descriptor of index.json; tag may be NULL. */
static inline char *manifest_desc(const char *digest, size_t size, const char *tag)
{
	cleanup_free char *annotations =
		tag ? xasprintf(", \"annotations\": {\"org.opencontainers.image.ref.name\": "
				"\"%s\"}",
				tag)
		    : xstrdup("");

	return xasprintf("{\"mediaType\": \"" MT_MANIFEST "\", \"digest\": \"%s\", \"size\": "
			 "%zu%s}",
			 digest, size, annotations);
}

/* index.json with these manifest descriptors (comma-separated). */
static inline void write_index(const char *layout, const char *manifests)
{
	cleanup_free char *text =
		xasprintf("{\"schemaVersion\": 2, \"manifests\": [%s]}\n", manifests);

	write_text(layout, "index.json", text);
}

/*
 * Stores an image manifest (of the configuration with that digest and size, and these
 * layer descriptors) and makes it the index's only manifest, tagged tag (or NULL: not
 * tagged). Gives the manifest's digest.
 */
static inline char *put_manifest(const char *layout, const char *config_digest, size_t config_size,
				 const char *layers, const char *tag)
{
	cleanup_free char *manifest = manifest_json(config_digest, config_size, layers);
	char *digest = put_blob(layout, manifest);
	cleanup_free char *desc = manifest_desc(digest, strlen(manifest), tag);

	write_index(layout, desc);
	return digest;
}

/* The same with config, the image configuration's JSON, stored too. */
static inline char *put_image(const char *layout, const char *config, const char *layers,
			      const char *tag)
{
	cleanup_free char *config_digest = put_blob(layout, config);

	return put_manifest(layout, config_digest, strlen(config), layers, tag);
}

#endif
