/*
 * Image layers applied to a root filesystem, rootless, with libarchive: no chown, device
 * nodes skipped, setuid/setgid bits dropped, whiteouts and opaque directories as the
 * image spec says, and nothing ever written outside the root (no "..", no absolute
 * names, no writes through symlinks, no hard links to outside paths: such a layer is
 * refused). Each layer is read once, its sha256 checked as it is read.
 */
#ifndef SPANK_OCI_UNPACK_H
#define SPANK_OCI_UNPACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include "common/error.h"

struct unpack_stats {
	size_t entries;
	size_t devices_skipped;
	size_t setid_dropped;
	unsigned long long headers; /* every entry read, written or not */
	unsigned long long bytes;   /* of file data written */
};

/*
 * What an image may unpack to, all its layers together (the stats passed from layer to
 * layer count them): a decompression bomb stops there. 0: no limit.
 */
struct unpack_limits {
	unsigned long long max_bytes;	/* ImageUnpackMaxSize */
	unsigned long long max_entries; /* ImageUnpackMaxEntries */
};

/* Progress of an unpack: told on out only once it has taken more than a second. */
struct unpack_progress {
	const char *image;	  /* as the user named it */
	unsigned long long total; /* bytes of all the layer blobs */
	unsigned long long done;
	struct timespec start, last;
	bool shown;
	FILE *out; /* NULL: silent */
};

void unpack_progress_init(struct unpack_progress *p, const char *image, unsigned long long total,
			  FILE *out);
/* The closing line, if progress was shown at all. */
void unpack_progress_end(struct unpack_progress *p);

struct unpack_source {
	const char *path;		    /* the blob: tar, tar+gzip or tar+zstd */
	const char *digest;		    /* "sha256:<hex>" it must have, or NULL */
	long long size;			    /* bytes it must have (never more are read), or -1 */
	const struct unpack_limits *limits; /* NULL: none */
};

/* Applies one layer on top of rootfs. progress may be NULL. */
int unpack_layer(const char *rootfs, const struct unpack_source *layer,
		 struct unpack_progress *progress, struct unpack_stats *stats, oci_error_t *err);

#endif
