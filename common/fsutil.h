/* Private directories and their removal, done as the calling (unprivileged) user. */
#ifndef SPANK_OCI_FSUTIL_H
#define SPANK_OCI_FSUTIL_H

#include <stdbool.h>
#include <sys/types.h>

#include "common/error.h"

/*
 * Creates path and its missing parents with mode 0700. Every existing component must be
 * owned by root or by the caller and, if others may write to it, be sticky (like /tmp):
 * nobody else can swap a component under us. The last one must be the caller's own.
 */
int fs_mkdir_private(const char *path, oci_error_t *err);

/* Removes a directory tree without following symlinks; ENOENT is success. */
int fs_remove_tree(const char *path, oci_error_t *err);

/* Writes all of data to fd (through EINTR and short writes). 0, or -1 with errno. */
int fs_write_all(int fd, const char *data, size_t len);
/* Writes data to path (created 0600, O_EXCL after removing any old file). */
int fs_write_file(const char *path, const char *data, size_t len, oci_error_t *err);

/* "dir/name" (allocated; never NULL). */
char *path_join(const char *dir, const char *name);

/* Whether path is a directory (symlinks followed). */
bool fs_is_dir(const char *path);

/*
 * openat2 of path inside the directory root as if root were /: absolute paths, ".." and
 * symlinks all stay within it (RESOLVE_IN_ROOT). O_CLOEXEC is added. -1 and errno.
 */
int fs_open_in_root(int root, const char *path, int flags);

#endif
