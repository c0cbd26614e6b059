/*
 * The users' own directories under root-owned parents (SPANK_OCI_RUN_DIR/<uid> for
 * ContainerPath, SPANK_OCI_CACHE_DIR/<uid> for ImageCache, by default): slurmstepd, as
 * root, makes them at a container step's start, so that no other user can take a name
 * first (a directory another user made in /dev/shm or /tmp under the name a user's tasks
 * use stops them on that node until someone removes it).
 */
#ifndef SPANK_OCI_USERDIRS_H
#define SPANK_OCI_USERDIRS_H

#include <stdbool.h>
#include <sys/types.h>

#include "common/error.h"
#include "conf/conf.h"

/* Whether pattern lies in parent's per-user directory: "<parent>/%U" or below it. */
bool userdirs_pattern_in(const char *pattern, const char *parent);

/*
 * As root: parent (root's, mode 0755, made if missing; its own parents must exist, be
 * root's and writable by nobody else unless sticky) and parent/<uid> (uid's, mode 0700,
 * made if missing). Nothing is followed or opened below parent: a per-user directory that
 * exists is only looked at. Errors name the directory at fault.
 */
int userdirs_make(const char *parent, uid_t uid, gid_t gid, oci_error_t *err);

/* userdirs_make for each parent that conf's ContainerPath or ImageCache lies in. */
int userdirs_make_for(const struct oci_conf *conf, uid_t uid, gid_t gid, oci_error_t *err);

/*
 * Outside Slurm (spank-oci as the user): parent/<uid> (allocated) when pattern lies in
 * parent's per-user directory and it does not exist yet, else NULL.
 */
char *userdirs_missing(const char *pattern, const char *parent, uid_t uid);

#endif
