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

static int write_text(const char *dir, const char *file, const char *text, oci_error_t *err)
{
	cleanup_free char *path = NULL;
	cleanup_close int fd = -1;
	size_t len = strlen(text);

	if (asprintf(&path, "%s/%s", dir, file) < 0)
		return oci_error_make(err, ENOMEM, "%s", dir);
	fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return oci_error_make(err, errno, "%s", path);
	if (write(fd, text, len) != (ssize_t)len)
		return oci_error_make(err, errno, "cannot write %s", path);
	return 0;
}

enum visit_order { PARENT_FIRST, CHILDREN_FIRST };

/*
 * Visits dir and every descendant cgroup directory (no symlinks: cgroupfs has none) and
 * adds up what fn returns.
 */
static int for_each_cgroup(const char *dir, enum visit_order order,
			   int (*fn)(const char *dir, void *arg), void *arg)
{
	cleanup_dir DIR *d = opendir(dir);
	struct dirent *e;
	int total = order == PARENT_FIRST ? fn(dir, arg) : 0;

	while (d != NULL && (e = readdir(d)) != NULL) {
		cleanup_free char *sub = NULL;

		if (e->d_type != DT_DIR || strcmp(e->d_name, ".") == 0 ||
		    strcmp(e->d_name, "..") == 0)
			continue;
		sub = xasprintf("%s/%s", dir, e->d_name);
		total += for_each_cgroup(sub, order, fn, arg);
	}
	return order == CHILDREN_FIRST ? total + fn(dir, arg) : total;
}

/* Counts (and with arg non-NULL, SIGKILLs) the processes listed in dir/cgroup.procs. */
static int signal_procs(const char *dir, void *kill_them)
{
	cleanup_free char *path = NULL;
	cleanup_fclose FILE *f = NULL;
	int pid, n = 0;

	if (asprintf(&path, "%s/cgroup.procs", dir) < 0)
		return 0;
	f = fopen(path, "re");
	while (f != NULL && fscanf(f, "%d", &pid) == 1) {
		n++;
		if (kill_them != NULL && pid > 0)
			kill(pid, SIGKILL);
	}
	return n;
}

int cgroup2_kill_tree(const char *dir, oci_error_t *err)
{
	struct timespec pause = {0, 10 * 1000 * 1000};
	cleanup_error oci_error_t kerr = NULL;
	int found = for_each_cgroup(dir, PARENT_FIRST, signal_procs, NULL);
	bool have_kill = write_text(dir, "cgroup.kill", "1", &kerr) == 0;

	for (int round = 0; round < 500; round++) {
		if (for_each_cgroup(dir, PARENT_FIRST, signal_procs,
				    have_kill ? NULL : (void *)1) == 0)
			return found;
		nanosleep(&pause, NULL);
	}
	return oci_error_make(err, 0, "processes remain in %s after SIGKILL", dir);
}

static int remove_one(const char *dir, void *unused)
{
	(void)unused;
	return rmdir(dir) == 0 ? 1 : 0;
}

/* Removes dir and its empty descendants (deepest first). */
static void remove_tree(const char *dir)
{
	for_each_cgroup(dir, CHILDREN_FIRST, remove_one, NULL);
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
