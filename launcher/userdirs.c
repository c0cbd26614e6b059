#include "launcher/userdirs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/xalloc.h"

static const char *const parents[] = {SPANK_OCI_RUN_DIR, SPANK_OCI_CACHE_DIR};

bool userdirs_pattern_in(const char *pattern, const char *parent)
{
	size_t n = strlen(parent);

	return pattern != NULL && strncmp(pattern, parent, n) == 0 &&
	       strncmp(pattern + n, "/%U", 3) == 0 &&
	       (pattern[n + 3] == '\0' || pattern[n + 3] == '/');
}

/* The directory fd (at where) is root's, and nobody else may write to it (unless sticky). */
static int check_root_dir(int fd, const char *where, bool sticky_ok, oci_error_t *err)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return oci_error_make(err, errno, "%s", where);
	if (st.st_uid != 0 ||
	    ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(sticky_ok && (st.st_mode & S_ISVTX))))
		return oci_error_make(err, 0,
				      "%s must be a directory of root's that nobody else may "
				      "write to (it is uid %u's, mode %04o): refusing to use it",
				      where, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
	return 0;
}

/* parent opened (O_PATH), made (0755) if missing; every component checked on the way. */
static int open_parent(const char *parent, oci_error_t *err)
{
	cleanup_free char *copy = xstrdup(parent), *where = xmalloc(strlen(parent) + 2);
	cleanup_close int dir = -1;
	char *save = NULL, *name;
	size_t len = 0;

	if (parent[0] != '/')
		return oci_error_make(err, 0, "%s is not an absolute path", parent);
	dir = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0)
		return oci_error_make(err, errno, "/");
	name = strtok_r(copy, "/", &save);
	while (name != NULL) {
		char *next = strtok_r(NULL, "/", &save);
		int fd;

		len += (size_t)sprintf(where + len, "/%s", name);
		if (next == NULL) {
			if (mkdirat(dir, name, 0700) == 0) {
				/*
				 * root's, group too (slurmstepd may run with the job's gid),
				 * and then readable by all, whatever umask
				 */
				if (fchownat(dir, name, 0, 0, AT_SYMLINK_NOFOLLOW) < 0 ||
				    fchmodat(dir, name, 0755, 0) < 0)
					return oci_error_make(err, errno, "cannot create %s",
							      where);
			} else if (errno != EEXIST) {
				return oci_error_make(err, errno, "cannot create %s", where);
			}
		}
		fd = openat(dir, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return oci_error_make(err, errno == ELOOP ? ENOTDIR : errno, "%s", where);
		close(dir);
		dir = fd;
		if (check_root_dir(dir, where, next != NULL, err) < 0)
			return -1;
		name = next;
	}
	return steal_fd(&dir);
}

int userdirs_make(const char *parent, uid_t uid, gid_t gid, oci_error_t *err)
{
	cleanup_close int dir = open_parent(parent, err);
	char name[16];
	struct stat st;

	if (dir < 0)
		return -1;
	snprintf(name, sizeof(name), "%u", (unsigned)uid);
	if (mkdirat(dir, name, 0700) < 0 && errno != EEXIST)
		return oci_error_make(err, errno, "cannot create %s/%s", parent, name);
	/* only root can make entries in parent: nothing here is the user's to swap */
	if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return oci_error_make(err, errno, "%s/%s", parent, name);
	if (!S_ISDIR(st.st_mode) || (st.st_uid != uid && st.st_uid != 0))
		return oci_error_make(err, 0,
				      "%s/%s must be a directory of uid %u's (it is uid %u's): "
				      "refusing to use it",
				      parent, name, (unsigned)uid, (unsigned)st.st_uid);
	if (st.st_uid == uid)
		return 0;
	/* new (or left half-made): mode 0700 while still root's, then the user's */
	if (fchmodat(dir, name, 0700, 0) < 0 ||
	    fchownat(dir, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
		return oci_error_make(err, errno, "cannot give %s/%s to uid %u", parent, name,
				      (unsigned)uid);
	return 0;
}

int userdirs_make_for(const struct oci_conf *conf, uid_t uid, gid_t gid, oci_error_t *err)
{
	for (size_t i = 0; i < sizeof(parents) / sizeof(parents[0]); i++) {
		if ((userdirs_pattern_in(conf->container_path, parents[i]) ||
		     userdirs_pattern_in(conf->image_cache, parents[i])) &&
		    userdirs_make(parents[i], uid, gid, err) < 0)
			return -1;
	}
	return 0;
}

char *userdirs_missing(const char *pattern, const char *parent, uid_t uid)
{
	char *dir;
	struct stat st;

	if (!userdirs_pattern_in(pattern, parent))
		return NULL;
	dir = xasprintf("%s/%u", parent, (unsigned)uid);
	if (lstat(dir, &st) == 0 || errno != ENOENT) {
		free(dir);
		return NULL;
	}
	return dir;
}
