/* Bind mount requests: "SRC:DST[:ro|rw][,...]", as --container-mounts and ContainerMounts. */
#ifndef SPANK_OCI_MOUNTS_H
#define SPANK_OCI_MOUNTS_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"

struct mount_request {
	char *src;
	char *dst;
	bool ro;
};

struct mount_list {
	struct mount_request *v;
	size_t n;
};

/*
 * Appends the mounts of text to list. SRC and DST must be absolute; DST is normalized
 * ("//" and trailing "/" dropped) and may not be "/", contain "." or ".." components, or
 * lie in /proc, /sys or /dev (the node's own there). Errors name the offending entry.
 */
int mounts_parse(const char *text, struct mount_list *list, oci_error_t *err);
/* Appends copies of src and dst; returns 0 (out of memory aborts; int for existing callers). */
void mounts_add(struct mount_list *list, const char *src, const char *dst, bool ro);
void mounts_release(struct mount_list *list);

/* Is dst one of the container's /proc, /sys or /dev (or under them)? */
bool mounts_host_owned_destination(const char *dst);

#endif
