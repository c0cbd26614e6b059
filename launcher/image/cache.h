/*
 * Unpacked images, per user and node, keyed by manifest digest: <cache>/<hex>/rootfs.
 * One task unpacks (to a temporary directory, renamed into place: a crash never leaves a
 * half image); the others wait on a lock and reuse it. A task holds its image "in use"
 * (a shared lock) until it ends; pruning removes only images not in use, least recently
 * used first.
 */
#ifndef SPANK_OCI_IMAGE_CACHE_H
#define SPANK_OCI_IMAGE_CACHE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "common/error.h"
#include "conf/conf.h"
#include "launcher/image/unpack.h"

/* How far the cache and one unpack may grow. */
struct cache_limits {
	unsigned long long max_bytes; /* ImageCacheSize: pruned to it after an unpack; 0: none */
	struct unpack_limits unpack;  /* ImageUnpackMaxSize, ImageUnpackMaxEntries */
};

/* The limits the configuration sets. */
struct cache_limits cache_limits_of(const struct oci_conf *conf);

/*
 * Resolves ref (an image layout reference) in cache_dir (created private if missing).
 * Gives the unpacked rootfs, the image's config object (Env, WorkingDir...) and an fd
 * that holds the image in use until it is closed. An unpack past limits->unpack fails
 * and leaves nothing; limits->max_bytes > 0: after an unpack, images not in use are
 * pruned until the cache holds at most that. limits NULL: no limits.
 */
int cache_get(const char *cache_dir, const char *ref, const struct cache_limits *limits,
	      char **rootfs, json_t **config, int *in_use_fd, oci_error_t *err);

/* Prints one line per cached image: digest, size, last use, in use or idle, source. */
int cache_list(const char *cache_dir, FILE *out, oci_error_t *err);

/*
 * Removes images not in use, least recently used first, until the cache holds at most
 * max_bytes (every image not in use with all), and what a killed unpack or prune left
 * (.unpacking-*, .removing-*). Tells what it removed on out (or NULL).
 */
int cache_prune(const char *cache_dir, unsigned long long max_bytes, bool all, FILE *out,
		oci_error_t *err);

#endif
