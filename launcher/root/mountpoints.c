/*
 * Mount points made in the container's upper layer before the overlay is mounted, so that
 * neither the runtime nor a copy-up ever writes into the image (whoever owns it): every
 * destination of config.json's mounts (an empty file for a bind of a file, else a
 * directory) and the process's working directory. The part of a destination that exists
 * in the image is followed there as the container will see it (a symlink resolves inside
 * the image, so /var/run may become /run); the directories made for it in the upper layer
 * keep the image's modes, the new ones are 0755.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fsutil.h"
#include "common/xalloc.h"
#include "launcher/root/root.h"

/* The path fd stands for. */
static char *path_of_fd(int fd)
{
	char link[64], buf[4096];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, buf, sizeof(buf) - 1);
	if (n < 0)
		return NULL;
	buf[n] = '\0';
	return xstrdup(buf);
}

struct image {
	int fd;	    /* the image's root, O_PATH */
	char *real; /* its real path on the node */
	const char *upper;
};

/* mkdir in the upper layer, with mode, if it is not there yet. */
static int upper_dir(const struct image *im, const char *path, mode_t mode, oci_error_t *err)
{
	cleanup_free char *at = xasprintf("%s%s", im->upper, path);

	if (mkdir(at, 0700) < 0) {
		if (errno == EEXIST)
			return 0;
		return oci_error_make(err, errno, "mount point %s", path);
	}
	if (chmod(at, mode) < 0)
		return oci_error_make(err, errno, "mount point %s", path);
	return 0;
}

/* Where fd (opened inside the image) is, as a path of the image ("/" for its root), or NULL. */
static char *image_path_of(const struct image *im, int fd)
{
	cleanup_free char *real = path_of_fd(fd);
	size_t len = strlen(im->real);

	if (real == NULL || strncmp(real, im->real, len) != 0 ||
	    (real[len] != '/' && real[len] != '\0'))
		return NULL;
	return xstrdup(real[len] != '\0' ? real + len : "/");
}

/* The directories of resolved (an existing directory of the image), made in the upper layer. */
static int mirror_dirs(const struct image *im, const char *resolved, oci_error_t *err)
{
	cleanup_free char *copy = xstrdup(resolved);

	for (char *slash = strchr(copy + 1, '/');; slash = strchr(slash + 1, '/')) {
		struct stat st;
		int fd;

		if (slash != NULL)
			*slash = '\0';
		if (copy[1] != '\0') {
			fd = fs_open_in_root(im->fd, copy, O_PATH);
			if (fd < 0 || fstat(fd, &st) < 0) {
				if (fd >= 0)
					close(fd);
				return oci_error_make(err, errno, "%s in the image", copy);
			}
			close(fd);
			if (upper_dir(im, copy, st.st_mode & 07777, err) < 0)
				return -1;
		}
		if (slash == NULL)
			return 0;
		*slash = '/';
	}
}

static int make_one(const struct image *im, const char *dest, bool file, oci_error_t *err)
{
	cleanup_free char *prefix = xstrdup(dest), *made = NULL, *parts = NULL;
	cleanup_close int fd = -1;
	const char *rest = NULL;
	char *name, *save = NULL;
	struct stat st;

	/* the longest part of dest that is in the image */
	for (;;) {
		char *slash;

		fd = fs_open_in_root(im->fd, prefix[0] ? prefix : "/", O_PATH);
		if (fd >= 0)
			break;
		if (errno != ENOENT && errno != ENOTDIR)
			return oci_error_make(err, errno, "mount point %s", dest);
		slash = strrchr(prefix, '/');
		if (slash == NULL)
			return 0;
		*slash = '\0';
		rest = dest + (slash - prefix) + 1;
	}
	if (rest == NULL || fstat(fd, &st) < 0 || !S_ISDIR(st.st_mode))
		return 0; /* there already, or no directory: the runtime will say so */
	made = image_path_of(im, fd);
	if (made == NULL)
		return oci_error_make(err, 0, "mount point %s: cannot follow it in the image",
				      dest);
	if (mirror_dirs(im, made, err) < 0)
		return -1;
	parts = xstrdup(rest);
	for (name = strtok_r(parts, "/", &save); name != NULL;) {
		char *next = strtok_r(NULL, "/", &save);
		char *path;

		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
			return 0; /* left to the runtime */
		path = xasprintf("%s%s%s", made, strcmp(made, "/") == 0 ? "" : "/", name);
		free(made);
		made = path;
		if (next == NULL && file) {
			cleanup_free char *at = xasprintf("%s%s", im->upper, made);
			int created = open(at, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);

			if (created < 0)
				return oci_error_make(err, errno, "mount point %s", dest);
			close(created);
			return 0;
		}
		if (upper_dir(im, made, 0755, err) < 0)
			return -1;
		name = next;
	}
	return 0;
}

/* A bind whose source is not a directory gets a file as its mount point. */
static bool binds_a_file(json_t *m)
{
	const char *type = json_string_value(json_object_get(m, "type"));
	const char *src = json_string_value(json_object_get(m, "source"));
	json_t *opt;
	bool bind = type != NULL && strcmp(type, "bind") == 0;
	struct stat st;
	size_t i;

	json_array_foreach(json_object_get(m, "options"), i, opt)
	{
		const char *o = json_string_value(opt);
		bind = bind || (o != NULL && (strcmp(o, "bind") == 0 || strcmp(o, "rbind") == 0));
	}
	return bind && src != NULL && stat(src, &st) == 0 && !S_ISDIR(st.st_mode);
}

/*
 * An image of someone else's (root's, say) cannot have its directories copied up in the
 * user's namespace, whose ids do not map their owner; the places everyone may write to in
 * such an image (/tmp, /var/tmp) are made in the upper layer, so they stay writable.
 */
static int writable_places(const struct image *im, oci_error_t *err)
{
	static const char *const places[] = {"/tmp", "/var/tmp"};
	struct stat st;

	if (fstat(im->fd, &st) < 0)
		return oci_error_make(err, errno, "%s", im->real);
	if (st.st_uid == geteuid())
		return 0;
	for (size_t i = 0; i < sizeof(places) / sizeof(places[0]); i++) {
		cleanup_close int fd = fs_open_in_root(im->fd, places[i], O_PATH | O_DIRECTORY);
		cleanup_free char *resolved = NULL;

		if (fd < 0 || fstat(fd, &st) < 0 || st.st_uid == geteuid() ||
		    (st.st_mode & (S_IWOTH | S_ISVTX)) != (S_IWOTH | S_ISVTX))
			continue;
		resolved = image_path_of(im, fd);
		if (resolved == NULL || strcmp(resolved, "/") == 0)
			continue;
		if (mirror_dirs(im, resolved, err) < 0)
			return -1;
	}
	return 0;
}

int root_make_mount_points(const char *lower, const char *upper, json_t *spec, oci_error_t *err)
{
	const char *cwd =
		json_string_value(json_object_get(json_object_get(spec, "process"), "cwd"));
	struct image im = {.upper = upper};
	json_t *m;
	size_t i;
	int rc = 0;

	im.fd = open(lower, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (im.fd < 0)
		return oci_error_make(err, errno, "%s", lower);
	im.real = path_of_fd(im.fd);
	if (im.real == NULL) {
		close(im.fd);
		return oci_error_make(err, errno, "%s", lower);
	}
	rc = writable_places(&im, err);
	json_array_foreach(json_object_get(spec, "mounts"), i, m)
	{
		const char *dst = json_string_value(json_object_get(m, "destination"));

		if (rc == 0 && dst != NULL && dst[0] == '/')
			rc = make_one(&im, dst, binds_a_file(m), err);
	}
	if (rc == 0 && cwd != NULL && cwd[0] == '/')
		rc = make_one(&im, cwd, false, err);
	close(im.fd);
	free(im.real);
	return rc;
}
