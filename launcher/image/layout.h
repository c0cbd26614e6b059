/*
 * OCI image layouts (oci-layout + index.json + blobs), as written by skopeo, umoci or
 * podman: "DIR", "DIR:tag" or "DIR@sha256:<hex>" names one image manifest in DIR.
 */
#ifndef SPANK_OCI_IMAGE_LAYOUT_H
#define SPANK_OCI_IMAGE_LAYOUT_H

#include <jansson.h>
#include <stdbool.h>

#include "common/error.h"

struct layout_layer {
	char *path;	  /* the blob file */
	char *media_type; /* ...tar, ...tar+gzip, ...tar+zstd */
	char *digest;	  /* "sha256:<hex>": checked as the layer is read */
	long long size;	  /* bytes, from the manifest */
};

/* One image of a layout, as a reference names it. */
struct layout_image {
	char *layout;	       /* the layout directory */
	char *manifest_digest; /* "sha256:<hex>": the cache key */
	json_t *config;	       /* the image configuration's "config" object (Env, WorkingDir) */
	struct layout_layer *layers;
	size_t nlayers;
	unsigned long long layers_size; /* all layer blobs, for progress */
};

/* Whether path names an OCI image layout (with an optional :tag or @digest). */
bool layout_is_ref(const char *path);

/*
 * Reads the layout's index, the selected manifest and the image configuration, each
 * checked against its digest (layers are checked as they are unpacked).
 */
int layout_resolve(const char *ref, struct layout_image *out, oci_error_t *err);
void layout_image_release(struct layout_image *img);

#endif
