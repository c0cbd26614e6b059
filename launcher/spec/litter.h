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

/* Notes the first component of dest missing in rootfs; 0 with out->name NULL if none. */
int litter_note(const char *rootfs, const char *dest, struct litter *out, oci_error_t *err);
/* Removes what was created at the noted place (as the calling user). */
void litter_remove(const char *rootfs, const struct litter *l);
void litter_release(struct litter *l);

/* What one container may leave: removed last noted first (inner before outer). */
struct litter_list {
	struct litter *v;
	size_t n;
};

int litter_list_note(struct litter_list *list, const char *rootfs, const char *dest,
		     oci_error_t *err);
void litter_list_remove(const struct litter_list *list, const char *rootfs);
void litter_list_release(struct litter_list *list);

#endif
