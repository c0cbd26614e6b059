/*
 * OCI image layouts (oci-layout + index.json + blobs), as written by skopeo, umoci or
 * podman: "DIR", "DIR:tag" or "DIR@sha256:<hex>" names one image manifest in DIR.
 */
#ifndef SPANK_OCI_IMAGE_H
#define SPANK_OCI_IMAGE_H

#include <jansson.h>
#include <stdbool.h>

#include "../conf/error.h"

struct image_layer {
	char *path;	  /* the blob file */
	char *media_type; /* ...tar, ...tar+gzip, ...tar+zstd */
};

struct image_ref {
	char *layout;	       /* the layout directory */
	char *manifest_digest; /* "sha256:<hex>": the cache key */
	json_t *config;	       /* the image configuration's "config" object (Env, WorkingDir) */
	struct image_layer *layers;
	size_t nlayers;
};

/* Whether path names an OCI image layout (with an optional :tag or @digest). */
bool image_is_layout_ref(const char *path);

int image_resolve(const char *ref, struct image_ref *out, oci_error_t *err);
void image_ref_release(struct image_ref *r);

#endif
