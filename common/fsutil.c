#include "common/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/xalloc.h"

/* Whether the directory fd (at where, a prefix of the path being made) may be used. */
static int check_component(int fd, const char *where, bool last, oci_error_t *err)
{
	struct stat st;
	uid_t me = geteuid();

	if (fstat(fd, &st) < 0)
		return oci_error_make(err, errno, "%s", where);
	if (st.st_uid != me && st.st_uid != 0)
		return oci_error_make(err, 0,
				      "%s belongs to uid %u, not to you: refusing to use it", where,
				      (unsigned)st.st_uid);
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX))
		return oci_error_make(err, 0,
				      "%s is writable by others and not sticky: refusing to use it",
				      where);
	if (last && (st.st_uid != me || (st.st_mode & 077) != 0))
		return oci_error_make(
			err, 0,
			"%s must be a directory of yours with mode 0700: refusing to use "
			"it",
			where);
	return 0;
}

/* The directory name in dir (at where), opened O_PATH; root's own symlinks are followed. */
static int open_component(int dir, const char *name, const char *where, oci_error_t *err)
{
	struct stat st;
	int fd = openat(dir, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd >= 0 || (errno != ENOTDIR && errno != ELOOP))
		return fd >= 0 ? fd : oci_error_make(err, errno, "%s", where);
	/* a symlink: only root's own (like /var/run) is followed */
	if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISLNK(st.st_mode))
		return oci_error_make(err, ENOTDIR, "%s", where);
	if (st.st_uid != 0)
		return oci_error_make(
			err, 0, "%s is a symlink not owned by root: refusing to follow it", where);
	fd = openat(dir, name, O_PATH | O_DIRECTORY | O_CLOEXEC);
	return fd >= 0 ? fd : oci_error_make(err, errno, "%s", where);
}

int fs_mkdir_private(const char *path, oci_error_t *err)
{
	cleanup_free char *copy = strdup(path), *where = NULL;
	cleanup_close int dir = -1;
	char *save = NULL, *name;
	size_t len = 0;

	if (copy == NULL)
		return oci_error_make(err, ENOMEM, "%s", path);
	if (path[0] != '/')
		return oci_error_make(err, 0, "%s is not an absolute path", path);
	where = xmalloc(strlen(path) + 2);
	dir = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0)
		return oci_error_make(err, errno, "/");
	name = strtok_r(copy, "/", &save);
	while (name != NULL) {
		char *next = strtok_r(NULL, "/", &save);
		int fd;

		/* where: the path up to this component, which errors name */
		len += (size_t)sprintf(where + len, "/%s", name);
		if (mkdirat(dir, name, 0700) < 0 && errno != EEXIST)
			return oci_error_make(err, errno, "cannot create %s", where);
		fd = open_component(dir, name, where, err);
		if (fd < 0)
			return -1;
		close(dir);
		dir = fd;
		if (check_component(dir, where, next == NULL, err) < 0)
			return -1;
		name = next;
	}
	return 0;
}

/*
 * Removes name in dirfd and all below it, staying on dev (a mount below is left alone).
 * Directories the user may not read or write (an overlay's work directory is d---------)
 * are opened up first: they are the caller's.
 */
static int remove_at(int parent, const char *name, dev_t dev)
{
	cleanup_dir DIR *d = NULL;
	struct dirent *e;
	struct stat st;
	int fd, rc = 0;

	if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(parent, name, 0) < 0 && errno != ENOENT ? -1 : 0;
	if (st.st_dev != dev)
		return unlinkat(parent, name, AT_REMOVEDIR); /* EBUSY: not ours to empty */
	if ((st.st_mode & S_IRWXU) != S_IRWXU &&
	    fchmodat(parent, name, (st.st_mode & 07777) | S_IRWXU, 0) < 0)
		return -1;
	fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (remove_at(dirfd(d), e->d_name, dev) < 0 && rc == 0)
			rc = -1;
	}
	if (rc == 0 && unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		rc = -1;
	return rc;
}

int fs_remove_tree(const char *path, oci_error_t *err)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : oci_error_make(err, errno, "cannot remove %s", path);
	if (remove_at(AT_FDCWD, path, st.st_dev) < 0)
		return oci_error_make(err, errno, "cannot remove %s", path);
	return 0;
}

int fs_write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return -1;
		}
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

int fs_write_file(const char *path, const char *data, size_t len, oci_error_t *err)
{
	cleanup_close int fd = -1;

	if (unlink(path) < 0 && errno != ENOENT)
		return oci_error_make(err, errno, "cannot replace %s", path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return oci_error_make(err, errno, "cannot create %s", path);
	if (fs_write_all(fd, data, len) < 0)
		return oci_error_make(err, errno, "cannot write %s", path);
	return 0;
}

char *path_join(const char *dir, const char *name)
{
	return xasprintf("%s/%s", dir, name);
}

bool fs_is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int fs_open_in_root(int root, const char *path, int flags)
{
	struct open_how how = {.flags = (unsigned long long)flags | O_CLOEXEC,
			       .resolve = RESOLVE_IN_ROOT};

	return (int)syscall(SYS_openat2, root, path, &how, sizeof(how));
}
