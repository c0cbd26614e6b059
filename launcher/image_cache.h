/*
 * Unpacked images, per user and node, keyed by manifest digest: <cache>/<hex>/rootfs.
 * One task unpacks (to a temporary directory, renamed into place: a crash never leaves a
 * half image); the others wait on a lock and reuse it.
 */
#ifndef SPANK_OCI_IMAGE_CACHE_H
#define SPANK_OCI_IMAGE_CACHE_H

#include <jansson.h>

#include "../conf/error.h"

/*
 * Resolves ref (an image layout reference) in cache_dir (created private if missing).
 * Gives the unpacked rootfs and the image's config object (Env, WorkingDir...).
 */
int image_cache_get(const char *cache_dir, const char *ref, char **rootfs, json_t **config,
		    oci_error_t *err);

#endif
