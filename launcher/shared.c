#include "shared.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../conf/cleanup.h"
#include "fsutil.h"

#define SHARED_DIR "shared"	  /* %m/shared: the shared container's bundle */
#define SHARED_LOCK "shared.lock" /* %m/shared.lock: one task creates it */
#define CREATOR_FILE "creator"	  /* the task id the container was created with */
#define TARGET_FILE "target"	  /* "pid mnt-ns-inode": what tasks join */

static char *path_in(const char *dir, const char *name)
{
	char *p = NULL;

	return asprintf(&p, "%s/%s", dir, name) < 0 ? NULL : p;
}

static int read_numbers(const char *dir, const char *name, unsigned long long *a,
			unsigned long long *b)
{
	cleanup_free char *path = path_in(dir, name);
	cleanup_fclose FILE *f = path ? fopen(path, "re") : NULL;
	int n;

	if (f == NULL)
		return -1;
	n = fscanf(f, "%llu %llu", a, b);
	return n >= 1 ? 0 : -1;
}

static int write_line(const char *dir, const char *name, const char *fmt, unsigned long long a,
		      unsigned long long b, oci_error_t *err)
{
	cleanup_free char *path = path_in(dir, name), *line = NULL;

	if (path == NULL || asprintf(&line, fmt, a, b) < 0)
		return oci_error_make(err, ENOMEM, "shared container");
	return fs_write_file(path, line, strlen(line), err);
}

/* The launch as the runtime sees it for the shared container: its own bundle and log. */
static void shared_view(struct oci_launch *s, const char *dir, char *log)
{
	s->bundle_dir = (char *)dir;
	s->log_path = log;
	s->vars.bundle = dir;
}

static int create(struct oci_launch *l, const char *dir, struct join_target *t, oci_error_t *err)
{
	cleanup_free char *config = path_in(dir, "config.json"), *log = path_in(dir, "runtime.log");
	struct oci_launch s = *l;
	struct runtime_cmd cmd;
	pid_t pid;
	int rc;

	if (config == NULL || log == NULL)
		return oci_error_make(err, ENOMEM, "shared container");
	if (mkdir(dir, 0700) < 0)
		return oci_error_make(err, errno, "cannot create %s", dir);
	if (link(l->config_path, config) < 0)
		return oci_error_make(err, errno, "cannot create %s", config);
	if (write_line(dir, CREATOR_FILE, "%llu\n", l->vars.task_id, 0, err) < 0)
		return -1;
	shared_view(&s, dir, log);
	/* its first process never starts: it holds the namespaces the tasks join */
	rc = oci_launch_step(&s, l->conf->runtime_create, "create", RUNTIME_IO_CAPTURE, &cmd, err);
	runtime_cmd_release(&cmd);
	if (rc < 0 || oci_launch_query_pid(&s, &pid, err) < 0)
		return -1;
	t->pid = pid;
	t->mnt_ns = join_mnt_ns_of(pid);
	if (t->mnt_ns == 0 && errno == EACCES)
		return oci_error_make(err, 0,
				      "its first process (pid %d) cannot be joined: the runtime "
				      "made it undumpable (crun does; use runc)",
				      pid);
	if (t->mnt_ns == 0)
		return oci_error_make(err, errno, "its first process (pid %d) is gone", pid);
	return write_line(dir, TARGET_FILE, "%llu %llu\n", (unsigned long long)pid,
			  (unsigned long long)t->mnt_ns, err);
}

int shared_container_get(struct oci_launch *l, struct join_target *t, oci_error_t *err)
{
	cleanup_free char *dir = path_in(l->spool, SHARED_DIR);
	cleanup_free char *lock = path_in(l->spool, SHARED_LOCK);
	cleanup_close int lock_fd = -1;
	unsigned long long pid = 0, ino = 0;

	if (dir == NULL || lock == NULL)
		return oci_error_make(err, ENOMEM, "shared container");
	lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (lock_fd < 0 || flock(lock_fd, LOCK_EX) < 0)
		return oci_error_make(err, errno, "cannot lock %s", lock);
	if (read_numbers(dir, TARGET_FILE, &pid, &ino) == 0 && ino != 0 &&
	    join_mnt_ns_of((pid_t)pid) == (ino_t)ino) {
		*t = (struct join_target){.pid = (pid_t)pid, .mnt_ns = (ino_t)ino};
		return 0;
	}
	/* none yet, or one that died (its state goes first) */
	shared_container_remove(l);
	if (create(l, dir, t, err) < 0) {
		shared_container_remove(l);
		return -1;
	}
	return 0;
}

void shared_container_remove(const struct oci_launch *l)
{
	cleanup_free char *dir = path_in(l->spool, SHARED_DIR), *log = NULL;
	cleanup_error oci_error_t err = NULL;
	struct oci_launch s = *l;
	unsigned long long creator = 0, unused = 0;
	struct stat st;

	if (dir == NULL || lstat(dir, &st) < 0)
		return;
	log = path_in(dir, "runtime.log");
	if (read_numbers(dir, CREATOR_FILE, &creator, &unused) == 0) {
		s.vars.task_id = (uint32_t)creator;
		s.vars.spool = l->spool;
		shared_view(&s, dir, log);
		oci_launch_quietly(&s, l->conf->runtime_kill);
		oci_launch_quietly(&s, l->conf->runtime_delete);
	}
	fs_remove_tree(dir, &err);
}
