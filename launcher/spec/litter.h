/*
 * Mount points the runtime creates in the user's root filesystem for our bind mounts
 * (the batch script, the spool directory) are litter: noted before the container runs,
 * removed after it, so the bundle is left as it was found.
 */
#ifndef SPANK_OCI_LITTER_H
#define SPANK_OCI_LITTER_H

#include <stddef.h>

#include "common/error.h"

struct litter {
	char *parent; /* existing directory, as a path inside the root filesystem */
	char *name;   /* the first missing component under it */
};

/*
 * What one container may leave. Noting dest records its first component missing in
 * rootfs (an element with name NULL if none is); removal (as the calling user) takes
 * what was created there, last noted first (inner before outer).
 */
struct litter_list {
	struct litter *v;
	size_t n;
};

int litter_list_note(struct litter_list *list, const char *rootfs, const char *dest,
		     oci_error_t *err);
void litter_list_remove(const struct litter_list *list, const char *rootfs);
void litter_list_release(struct litter_list *list);

#endif
