/*
 * Mount points made in the container's root before the runtime runs, so that it never has
 * to make them in the image: every destination of config.json's mounts (an empty file for
 * a bind of a file, else a directory) and the process's working directory. Paths resolve
 * inside the root, as the container will see them (a symlink cannot lead out of it).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/xalloc.h"
#include "launcher/root/root.h"

static int open_in_root(int root, const char *path, int flags)
{
	struct open_how how = {.flags = (unsigned long long)flags | O_CLOEXEC,
			       .resolve = RESOLVE_IN_ROOT};

	return (int)syscall(SYS_openat2, root, path, &how, sizeof(how));
}

/* Makes path (absolute, inside root) and its missing parents; the last one a file if asked. */
static int make_path(int root, const char *path, bool file, oci_error_t *err)
{
	cleanup_free char *copy = xstrdup(path);
	size_t len = strlen(copy);

	for (size_t i = 1; i <= len; i++) {
		bool last = i == len || (copy[i] == '/' && copy[i + 1] == '\0');
		char saved = copy[i];
		cleanup_close int parent = -1;
		char *slash, *name;
		int fd;

		if (i < len && copy[i] != '/')
			continue;
		copy[i] = '\0';
		fd = open_in_root(root, copy, O_PATH);
		if (fd >= 0) {
			close(fd);
			copy[i] = saved;
			continue;
		}
		if (errno != ENOENT)
			return oci_error_make(err, errno, "mount point %s", path);
		slash = strrchr(copy, '/');
		name = slash + 1;
		*slash = '\0';
		parent = open_in_root(root, slash == copy ? "/" : copy, O_PATH | O_DIRECTORY);
		*slash = '/';
		if (parent < 0)
			return oci_error_make(err, errno, "mount point %s", path);
		if (*name != '\0' && last && file) {
			fd = openat(parent, name,
				    O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
			if (fd < 0 && errno != EEXIST)
				return oci_error_make(err, errno, "mount point %s", path);
			if (fd >= 0)
				close(fd);
		} else if (*name != '\0' && mkdirat(parent, name, 0755) < 0 && errno != EEXIST) {
			return oci_error_make(err, errno, "mount point %s", path);
		}
		copy[i] = saved;
		if (last)
			break;
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

int root_make_mount_points(const char *rootfs, json_t *spec, oci_error_t *err)
{
	cleanup_close int root = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	const char *cwd =
		json_string_value(json_object_get(json_object_get(spec, "process"), "cwd"));
	json_t *m;
	size_t i;

	if (root < 0)
		return oci_error_make(err, errno, "%s", rootfs);
	json_array_foreach(json_object_get(spec, "mounts"), i, m)
	{
		const char *dst = json_string_value(json_object_get(m, "destination"));

		if (dst != NULL && dst[0] == '/' && make_path(root, dst, binds_a_file(m), err) < 0)
			return -1;
	}
	if (cwd != NULL && cwd[0] == '/' && make_path(root, cwd, false, err) < 0)
		return -1;
	return 0;
}
