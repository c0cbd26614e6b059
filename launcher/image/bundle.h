/* What --container names: an OCI bundle (config.json + rootfs) or a bare root filesystem. */
#ifndef SPANK_OCI_BUNDLE_H
#define SPANK_OCI_BUNDLE_H

#include <jansson.h>
#include <stdbool.h>

#include "common/error.h"
#include "launcher/image/cache.h"

struct oci_bundle {
	char *path;	    /* absolute, as given (symlinks resolved) */
	char *rootfs;	    /* absolute path of the root filesystem */
	json_t *config;	    /* the bundle's own config.json, or NULL */
	char *workdir;	    /* an image's WorkingDir, or NULL */
	json_t *entrypoint; /* an image's Entrypoint (an array), or NULL */
	bool is_image;	    /* an OCI image layout, unpacked in the image cache */
	int image_lock_fd;  /* holds a cached image in use, or -1 */
	char *squashfs;	    /* a squashfs image file: rootfs is set where it gets mounted */
	bool readonly;	    /* the root filesystem cannot be written (squashfs) */
};

/*
 * Inspects path (as the calling user). ignore_config: IgnoreFileConfigJson. An OCI image
 * layout ("DIR", "DIR:tag", "DIR@sha256:...") is unpacked into image_cache (once) and its
 * configuration's Env and WorkingDir fill what the task does not give. A squashfs file is
 * only recognised here (rootfs stays NULL): the launcher mounts it per step.
 */
int bundle_open(const char *path, bool ignore_config, const char *image_cache,
		const struct cache_limits *limits, struct oci_bundle **out, oci_error_t *err);
void bundle_free(struct oci_bundle *b);

#endif
