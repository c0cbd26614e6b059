/*
 * Image layers applied to a root filesystem, rootless, with libarchive: no chown, device
 * nodes skipped, setuid/setgid bits dropped, whiteouts and opaque directories as the
 * image spec says, and nothing ever written outside the root (no "..", no absolute
 * names, no writes through symlinks, no hard links to outside paths: such a layer is
 * refused).
 */
#ifndef SPANK_OCI_UNPACK_H
#define SPANK_OCI_UNPACK_H

#include <stddef.h>

#include "../conf/error.h"

struct unpack_stats {
	size_t entries;
	size_t devices_skipped;
	size_t setid_dropped;
};

/* Applies one layer (tar, tar+gzip or tar+zstd) on top of rootfs. */
int unpack_layer(const char *rootfs, const char *layer, struct unpack_stats *stats,
		 oci_error_t *err);

#endif
