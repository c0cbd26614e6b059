#include "launcher/image/layout.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fsutil.h"
#include "common/xalloc.h"
#include "launcher/image/digest.h"

#define REF_NAME "org.opencontainers.image.ref.name"
/*
 * The most an index.json, a manifest or an image configuration may hold: a few KiB in
 * practice (a config with a long history a few hundred); past it (a huge or endless file,
 * a symlink to /dev/zero) the image is refused at once, nothing more read.
 */
#define LAYOUT_JSON_MAX (4 << 20)

static bool is_layout_dir(const char *dir)
{
	cleanup_free char *marker = path_join(dir, "oci-layout");

	return access(marker, F_OK) == 0;
}

/* Splits "DIR:tag" or "DIR@sha256:hex" (the selector after the last '/'); gives DIR. */
static char *split_ref(const char *ref, char **tag, char **digest)
{
	const char *slash = strrchr(ref, '/'), *base = slash ? slash + 1 : ref;
	const char *at = strchr(base, '@'), *colon = strchr(base, ':');

	*tag = *digest = NULL;
	/* what is there under the whole name wins: "/x/a:b" is never "/x/a" tagged "b" then */
	if (is_layout_dir(ref) || access(ref, F_OK) == 0)
		return xstrdup(ref);
	if (at != NULL) {
		*digest = xstrdup(at + 1);
		return xstrndup(ref, (size_t)(at - ref));
	}
	if (colon != NULL) {
		*tag = xstrdup(colon + 1);
		return xstrndup(ref, (size_t)(colon - ref));
	}
	return xstrdup(ref);
}

bool layout_is_ref(const char *path)
{
	cleanup_free char *tag = NULL, *digest = NULL;
	cleanup_free char *dir = split_ref(path, &tag, &digest);

	return is_layout_dir(dir);
}

/* blobs/<alg>/<hex> of a digest, refusing anything but a plain sha256 hex digest. */
static char *blob_path(const char *layout, const char *digest)
{
	if (!digest_is_valid(digest))
		return NULL;
	return xasprintf("%s/blobs/sha256/%s", layout, digest + 7);
}

static json_t *load_blob(const char *layout, const char *digest, oci_error_t *err)
{
	cleanup_free char *path = blob_path(layout, digest), *data = NULL;
	json_error_t jerr;
	size_t len;
	json_t *j;

	if (path == NULL) {
		oci_error_make(err, 0, "image %s: invalid digest '%s'", layout,
			       digest ? digest : "");
		return NULL;
	}
	if (digest_read_file(path, digest, LAYOUT_JSON_MAX, &data, &len, err) < 0) {
		oci_error_wrap(err, "image %s", layout);
		return NULL;
	}
	j = json_loadb(data, len, 0, &jerr);
	if (j == NULL)
		oci_error_make(err, 0, "image %s: blob %s: %s", layout, digest, jerr.text);
	return j;
}

/* Picks the manifest descriptor of an index by tag, digest, or as its only manifest. */
static json_t *select_manifest(const char *ref, json_t *index, const char *tag, const char *digest,
			       oci_error_t *err)
{
	json_t *manifests = json_object_get(index, "manifests"), *m, *found = NULL;
	size_t i, count = 0;

	json_array_foreach(manifests, i, m)
	{
		const char *d = json_string_value(json_object_get(m, "digest"));
		const char *name = json_string_value(
			json_object_get(json_object_get(m, "annotations"), REF_NAME));

		count++;
		if ((digest && d && strcmp(d, digest) == 0) ||
		    (tag && name && strcmp(name, tag) == 0) || (!tag && !digest && count == 1))
			found = m;
	}
	if (!tag && !digest && count > 1) {
		oci_error_make(
			err, 0,
			"image %s holds %zu manifests: name one with :tag or @sha256:<digest>", ref,
			count);
		return NULL;
	}
	if (found == NULL)
		oci_error_make(err, 0, "image %s: no manifest %s%s", ref, tag ? "tagged " : "",
			       tag	? tag
			       : digest ? digest
					: "at all");
	return found;
}

/* The manifest's layer descriptors, each with a valid digest and size. */
static int read_layers(const char *ref, json_t *layers, struct layout_image *out, oci_error_t *err)
{
	json_t *l;
	size_t i;

	out->layers = xcalloc(json_array_size(layers) + 1, sizeof(*out->layers));
	json_array_foreach(layers, i, l)
	{
		const char *d = json_string_value(json_object_get(l, "digest"));
		const char *mt = json_string_value(json_object_get(l, "mediaType"));
		struct layout_layer *layer = &out->layers[out->nlayers++];

		layer->path = blob_path(out->layout, d);
		layer->media_type = xstrdup(mt ? mt : "");
		layer->digest = d ? xstrdup(d) : NULL;
		layer->size = json_integer_value(json_object_get(l, "size"));
		out->layers_size += (unsigned long long)layer->size;
		if (layer->path == NULL || layer->digest == NULL || layer->size < 0)
			return oci_error_make(err, 0, "image %s: invalid layer digest '%s'", ref,
					      d ? d : "");
	}
	return 0;
}

int layout_resolve(const char *ref, struct layout_image *out, oci_error_t *err)
{
	cleanup_free char *tag = NULL, *digest = NULL, *index_path = NULL, *index_text = NULL;
	size_t index_len;
	json_t *index = NULL, *manifest = NULL, *config = NULL, *desc;
	json_error_t jerr;
	int rc = -1;

	*out = (struct layout_image){0};
	out->layout = split_ref(ref, &tag, &digest);
	index_path = path_join(out->layout, "index.json");
	if (digest_read_file(index_path, NULL, LAYOUT_JSON_MAX, &index_text, &index_len, err) < 0) {
		oci_error_wrap(err, "image %s", ref);
		goto out;
	}
	index = json_loadb(index_text, index_len, 0, &jerr);
	if (index == NULL) {
		oci_error_make(err, 0, "image %s: %s: %s", ref, index_path, jerr.text);
		goto out;
	}
	desc = select_manifest(ref, index, tag, digest, err);
	if (desc == NULL)
		goto out;
	/* a descriptor without a digest: "" is refused as an invalid digest by load_blob */
	out->manifest_digest = xstrdup(json_string_value(json_object_get(desc, "digest")) ?: "");
	manifest = load_blob(out->layout, out->manifest_digest, err);
	if (manifest == NULL)
		goto out;
	config = load_blob(
		out->layout,
		json_string_value(json_object_get(json_object_get(manifest, "config"), "digest")),
		err);
	if (config == NULL)
		goto out;
	out->config = json_incref(json_object_get(config, "config"));
	rc = read_layers(ref, json_object_get(manifest, "layers"), out, err);
out:
	json_decref(index);
	json_decref(manifest);
	json_decref(config);
	if (rc < 0)
		layout_image_release(out);
	return rc;
}

void layout_image_release(struct layout_image *img)
{
	free(img->layout);
	free(img->manifest_digest);
	json_decref(img->config);
	for (size_t i = 0; i < img->nlayers; i++) {
		free(img->layers[i].path);
		free(img->layers[i].media_type);
		free(img->layers[i].digest);
	}
	free(img->layers);
	*img = (struct layout_image){0};
}
