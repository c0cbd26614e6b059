#include "launcher/runtime/cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/xalloc.h"

/* mountinfo writes space, tab, newline and backslash as \ooo. */
static void unescape_octal(char *s)
{
	char *out = s;

	for (; *s != '\0'; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*out++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
}

/*
 * The value pick() finds in the first line that has one (1), or none in the whole file
 * (0); -1 when the file cannot be read.
 */
static int first_value(const char *file, char *(*pick)(char *line), char **value, oci_error_t *err)
{
	cleanup_fclose FILE *f = fopen(file, "re");
	cleanup_free char *line = NULL;
	size_t cap = 0;

	if (f == NULL)
		return oci_error_make(err, errno, "%s", file);
	while (getline(&line, &cap, f) >= 0) {
		*value = pick(line);
		if (*value != NULL)
			return 1;
	}
	return 0;
}

/* id parent major:minor root mountpoint options [optional...] - fstype ...: mountpoint */
static char *cgroup2_mount_point(char *line)
{
	char *sep = strstr(line, " - "), *fields[5] = {0}, *save = NULL, *mount;
	size_t n = 0;

	if (sep == NULL || strncmp(sep + 3, "cgroup2 ", 8) != 0)
		return NULL;
	for (char *t = strtok_r(line, " ", &save); t && n < 5; t = strtok_r(NULL, " ", &save))
		fields[n++] = t;
	if (n < 5)
		return NULL;
	mount = xstrdup(fields[4]);
	unescape_octal(mount);
	return mount;
}

int cgroup2_mount(const char *mountinfo, char **mount, oci_error_t *err)
{
	int found = first_value(mountinfo, cgroup2_mount_point, mount, err);

	if (found == 0)
		return oci_error_make(err, 0, "no cgroup2 file system is mounted");
	return found < 0 ? -1 : 0;
}

/* "0::<path>": the path */
static char *v2_path(char *line)
{
	if (strncmp(line, "0::", 3) != 0)
		return NULL;
	return xstrndup(line + 3, strcspn(line + 3, "\n"));
}

int cgroup2_path_of(const char *proc_cgroup, char **path, oci_error_t *err)
{
	int found = first_value(proc_cgroup, v2_path, path, err);

	if (found == 0)
		return oci_error_make(err, 0, "%s has no cgroup v2 (0::) line", proc_cgroup);
	return found < 0 ? -1 : 0;
}

/* mount + the calling process's cgroup2 path: the task's cgroup directory. */
static int self_dir(char **dir, oci_error_t *err)
{
	cleanup_free char *mount = NULL, *path = NULL;

	if (cgroup2_mount("/proc/self/mountinfo", &mount, err) < 0 ||
	    cgroup2_path_of("/proc/self/cgroup", &path, err) < 0)
		return -1;
	if (asprintf(dir, "%s%s", mount, strcmp(path, "/") == 0 ? "" : path) < 0)
		return oci_error_make(err, ENOMEM, "cgroup path");
	return 0;
}

/* Writes text to dir's file (a cgroup interface file: no symlink is followed). */
static int write_at(int dirfd, const char *file, const char *text)
{
	cleanup_close int fd = openat(dirfd, file, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	size_t len = strlen(text);

	if (fd < 0)
		return -1;
	return write(fd, text, len) == (ssize_t)len ? 0 : -1;
}

static int open_dir_at(int dirfd, const char *name)
{
	return openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

enum visit_order { PARENT_FIRST, CHILDREN_FIRST };

/*
 * What for_each_cgroup visits: the directory (fd), and where it is (name in parent; the
 * starting directory is its path in AT_FDCWD).
 */
struct cgroup_dir {
	int fd, parent;
	const char *name;
};

/*
 * Visits dir and every descendant cgroup directory and adds up what fn returns. Each
 * directory is opened from its parent's fd, without following a symlink: a subtree a
 * user may rename or nest in (root visits the user's cgroups) never leads elsewhere.
 */
static int for_each_cgroup(const struct cgroup_dir *dir, enum visit_order order,
			   int (*fn)(const struct cgroup_dir *dir, void *arg), void *arg)
{
	int total = order == PARENT_FIRST ? fn(dir, arg) : 0;
	int list_fd = fcntl(dir->fd, F_DUPFD_CLOEXEC, 0);
	cleanup_dir DIR *d = list_fd >= 0 ? fdopendir(list_fd) : NULL;
	struct dirent *e;

	if (d == NULL && list_fd >= 0)
		close(list_fd);
	while (d != NULL && (e = readdir(d)) != NULL) {
		struct cgroup_dir sub = {.parent = dir->fd, .name = e->d_name};

		if (e->d_type != DT_DIR || strcmp(e->d_name, ".") == 0 ||
		    strcmp(e->d_name, "..") == 0)
			continue;
		sub.fd = open_dir_at(dir->fd, e->d_name);
		if (sub.fd < 0)
			continue;
		total += for_each_cgroup(&sub, order, fn, arg);
		close(sub.fd);
	}
	return order == CHILDREN_FIRST ? total + fn(dir, arg) : total;
}

/* Counts (and with arg non-NULL, SIGKILLs) the processes listed in dir's cgroup.procs. */
static int signal_procs(const struct cgroup_dir *dir, void *kill_them)
{
	int fd = openat(dir->fd, "cgroup.procs", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	cleanup_fclose FILE *f = fd >= 0 ? fdopen(fd, "re") : NULL;
	int pid, n = 0;

	if (f == NULL && fd >= 0)
		close(fd);
	while (f != NULL && fscanf(f, "%d", &pid) == 1) {
		n++;
		if (kill_them != NULL && pid > 0)
			kill(pid, SIGKILL);
	}
	return n;
}

/* cgroup.events says "frozen 1" (the whole subtree is frozen). */
static bool is_frozen(int dirfd)
{
	int fd = openat(dirfd, "cgroup.events", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	cleanup_fclose FILE *f = fd >= 0 ? fdopen(fd, "re") : NULL;
	char line[64];

	if (f == NULL && fd >= 0)
		close(fd);
	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		if (strcmp(line, "frozen 1\n") == 0)
			return true;
	return false;
}

/*
 * Without cgroup.kill (before Linux 5.14) each pid listed is killed, and a pid is safe to
 * kill only while its process cannot exit and the number go to another process: the
 * subtree is frozen first (cgroup.freeze, Linux 5.2), waiting (1 s at most) until
 * cgroup.events says so, then the pids are killed and the subtree thawed. Past that
 * wait (a process in an uninterruptible sleep delays freezing) or without cgroup.freeze,
 * they are killed all the same: this is the last line of defence.
 */
static void kill_frozen(const struct cgroup_dir *dir)
{
	const struct timespec pause = {0, 10 * 1000 * 1000};
	bool freezing = write_at(dir->fd, "cgroup.freeze", "1") == 0;

	for (int i = 0; freezing && i < 100 && !is_frozen(dir->fd); i++)
		nanosleep(&pause, NULL);
	for_each_cgroup(dir, PARENT_FIRST, signal_procs, (void *)1);
	if (freezing)
		write_at(dir->fd, "cgroup.freeze", "0");
}

int cgroup2_kill_tree(const char *path, oci_error_t *err)
{
	struct timespec pause = {0, 10 * 1000 * 1000};
	cleanup_close int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct cgroup_dir dir = {.fd = fd, .parent = AT_FDCWD, .name = path};
	bool have_kill;
	int found;

	if (fd < 0)
		return oci_error_make(err, errno, "%s", path);
	found = for_each_cgroup(&dir, PARENT_FIRST, signal_procs, NULL);
	have_kill = write_at(fd, "cgroup.kill", "1") == 0;
	for (int round = 0; round < 500; round++) {
		if (for_each_cgroup(&dir, PARENT_FIRST, signal_procs, NULL) == 0)
			return found;
		if (!have_kill)
			kill_frozen(&dir);
		nanosleep(&pause, NULL);
	}
	return oci_error_make(err, 0, "processes remain in %s after SIGKILL", path);
}

static int remove_one(const struct cgroup_dir *dir, void *unused)
{
	(void)unused;
	return unlinkat(dir->parent, dir->name, AT_REMOVEDIR) == 0 ? 1 : 0;
}

/* Removes dir and its empty descendants (deepest first). */
static void remove_tree(const char *path)
{
	cleanup_close int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct cgroup_dir dir = {.fd = fd, .parent = AT_FDCWD, .name = path};

	if (fd >= 0)
		for_each_cgroup(&dir, CHILDREN_FIRST, remove_one, NULL);
}

char *cgroup2_slurm_step_dir(const char *mount, const char *self_path, unsigned job,
			     const char *step)
{
	cleanup_free char *suffix = NULL;
	char *dir = NULL;
	size_t plen = strlen(self_path), slen;

	if (asprintf(&suffix, "/job_%u/step_%s/slurm", job, step) < 0)
		return NULL;
	slen = strlen(suffix);
	if (plen < slen || strcmp(self_path + plen - slen, suffix) != 0)
		return NULL;
	/* the step directory: the path without "/slurm" */
	if (asprintf(&dir, "%s%.*s", mount, (int)(plen - strlen("/slurm")), self_path) < 0)
		return NULL;
	return dir;
}

void cgroup2_container_make(const char *name, struct cgroup2_container *c)
{
	cleanup_error oci_error_t err = NULL;
	cleanup_free char *task_dir = NULL, *path = NULL;

	*c = (struct cgroup2_container){.fd = -1};
	if (self_dir(&task_dir, &err) < 0)
		return;
	path = xasprintf("%s/%s", task_dir, name);
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return;
	c->fd = open(path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (c->fd >= 0)
		c->path = steal_pointer(&path);
	else
		rmdir(path);
}

void cgroup2_container_remove(struct cgroup2_container *c)
{
	cleanup_error oci_error_t err = NULL;

	if (c->path != NULL) {
		cgroup2_kill_tree(c->path, &err);
		remove_tree(c->path);
	}
	if (c->fd >= 0)
		close(c->fd);
	free(c->path);
	*c = (struct cgroup2_container){.fd = -1};
}
