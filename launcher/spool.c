#include "launcher/spool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fsutil.h"
#include "common/xalloc.h"

#define TASK_DIR_PREFIX "task."

int spool_paths(const struct oci_conf *conf, const struct pattern_vars *vars, char **spool,
		char **bundle_dir, oci_error_t *err)
{
	cleanup_free char *s = NULL;

	if (pattern_expand_word(conf->container_path, vars, &s, err) < 0)
		return oci_error_wrap(err, "ContainerPath");
	if (bundle_dir != NULL)
		*bundle_dir = xasprintf("%s/" TASK_DIR_PREFIX "%u", s, vars->task_id);
	*spool = steal_pointer(&s);
	return 0;
}

int spool_enter(const char *spool, const char *bundle_dir, int *spool_fd, oci_error_t *err)
{
	const char *name = strrchr(bundle_dir, '/') + 1;

	for (int attempt = 0; attempt < 5; attempt++) {
		cleanup_close int fd = -1;
		struct stat st;

		if (fs_mkdir_private(spool, err) < 0)
			return -1;
		fd = open(spool, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (flock(fd, LOCK_SH) < 0 || fstat(fd, &st) < 0)
			return oci_error_make(err, errno, "cannot lock %s", spool);
		/* a task that finds %m removed under it (by the last one leaving) starts again */
		if (st.st_nlink == 0)
			continue;
		/* a directory left by an earlier, killed task of the same ids is stale */
		if (fs_remove_tree(bundle_dir, err) < 0)
			return -1;
		if (mkdirat(fd, name, 0700) == 0) {
			*spool_fd = steal_fd(&fd);
			return 0;
		}
		if (errno != ENOENT)
			return oci_error_make(err, errno, "cannot create %s", bundle_dir);
	}
	return oci_error_make(err, EAGAIN, "cannot create %s", bundle_dir);
}

bool spool_is_last(int spool_fd)
{
	return flock(spool_fd, LOCK_EX | LOCK_NB) == 0;
}

bool spool_task_of(const char *name, uint32_t *task_id)
{
	char *end;
	unsigned long id;

	if (strncmp(name, TASK_DIR_PREFIX, strlen(TASK_DIR_PREFIX)) != 0)
		return false;
	name += strlen(TASK_DIR_PREFIX);
	if (*name < '0' || *name > '9')
		return false;
	errno = 0;
	id = strtoul(name, &end, 10);
	if (*end != '\0' || errno != 0 || id > UINT32_MAX)
		return false;
	*task_id = (uint32_t)id;
	return true;
}

char *spool_squashfs_mount(const char *spool)
{
	return path_join(spool, "squashfs-root");
}

char *spool_squashfs_lock(const char *spool)
{
	return path_join(spool, "squashfs.lock");
}
