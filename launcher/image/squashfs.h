/*
 * Squashfs images: mounted read-only with squashfuse as the job's user, once per step
 * and node (the step's tasks share the mount), unmounted with fusermount3 when the
 * step's last task on the node ends or when the step is swept.
 */
#ifndef SPANK_OCI_SQUASHFS_H
#define SPANK_OCI_SQUASHFS_H

#include <stdbool.h>

#include "common/error.h"

/* Whether path is a regular file that starts with the squashfs magic. */
bool squashfs_is_image(const char *path);

/*
 * Mounts image at mountpoint (created 0700 if missing), unless it is mounted there
 * already; lock_path serialises the tasks of a step.
 */
int squashfs_mount(const char *image, const char *mountpoint, const char *lock_path,
		   char *const *env, oci_error_t *err);

/* Unmounts whatever is mounted at mountpoint (lazily: a busy mount goes when unused). */
void squashfs_unmount(const char *mountpoint, char *const *env);

#endif
