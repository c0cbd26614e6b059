/*
 * The per-step directory %m (ContainerPath expanded) that the step's tasks on a node
 * share, and each task's own bundle directory %m/task.<id> in it. %m holds the
 * runtime's state, the squashfs mount and the shared container; each task holds a shared
 * lock on it while it lives, and the last one to leave removes it.
 */
#ifndef SPANK_OCI_SPOOL_H
#define SPANK_OCI_SPOOL_H

#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
#include "conf/conf.h"
#include "conf/pattern.h"

/* %m for these ids and, if bundle_dir is set, the task's %b (no file system access). */
int spool_paths(const struct oci_conf *conf, const struct pattern_vars *vars, char **spool,
		char **bundle_dir, oci_error_t *err);

/*
 * Creates %m (private to the user) and the task's directory in it, replacing one a killed
 * task of the same ids left; *spool_fd is %m, share-locked while the task lives.
 */
int spool_enter(const char *spool, const char *bundle_dir, int *spool_fd, oci_error_t *err);

/* Whether the calling task is the last of its step on the node (then it removes %m). */
bool spool_is_last(int spool_fd);

/* The task id of a task directory's name in %m, or false if name is not one. */
bool spool_task_of(const char *name, uint32_t *task_id);

/* Where a step's squashfs image is mounted (%m/squashfs-root), and its lock. */
char *spool_squashfs_mount(const char *spool);
char *spool_squashfs_lock(const char *spool);

#endif
