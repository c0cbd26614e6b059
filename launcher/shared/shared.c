#include "launcher/shared/shared.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fsutil.h"
#include "launcher/shared/holder.h"

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

/* What the view's runtime commands gave l: time waited, the user namespace if made. */
static void shared_view_done(struct oci_launch *l, const struct oci_launch *s)
{
	l->waited_ns = s->waited_ns;
	l->userns_fd = s->userns_fd;
}

/* The step's config.json: the first task's, with the holder as its process. */
static int write_config(const struct oci_launch *l, const char *path, oci_error_t *err)
{
	json_t *spec = json_deep_copy(l->spec), *process = json_object_get(spec, "process");
	cleanup_free char *text = NULL;

	if (process == NULL ||
	    json_object_set_new(process, "args", json_pack("[s]", HOLDER_EXEC_PATH)) < 0 ||
	    json_object_set_new(process, "terminal", json_false()) < 0 ||
	    json_object_set_new(process, "cwd", json_string("/")) < 0)
		text = NULL;
	else
		text = json_dumps(spec, JSON_COMPACT);
	json_decref(spec);
	if (text == NULL)
		return oci_error_make(err, ENOMEM, "%s", path);
	return fs_write_file(path, text, strlen(text), err);
}

/*
 * The holder is joinable once it runs: before its exec the runtime's init may be
 * undumpable (crun's is), which keeps others out of its namespaces.
 */
static int wait_joinable(pid_t pid, ino_t *mnt_ns, oci_error_t *err)
{
	const struct timespec pause_1ms = {.tv_nsec = 1000000};

	for (int i = 0; i < 5000; i++) {
		*mnt_ns = join_mnt_ns_of(pid);
		if (*mnt_ns != 0)
			return 0;
		if (errno != EACCES)
			return oci_error_make(err, errno,
					      "its first process (pid %d) ended before it could be "
					      "joined",
					      pid);
		nanosleep(&pause_1ms, NULL);
	}
	return oci_error_make(err, EACCES, "its first process (pid %d) cannot be joined", pid);
}

static int create(struct oci_launch *l, const char *dir, struct join_target *t, oci_error_t *err)
{
	cleanup_free char *config = path_in(dir, "config.json"), *log = path_in(dir, "runtime.log");
	cleanup_close int holder = -1;
	struct oci_launch s = *l;
	struct runtime_cmd cmd;
	pid_t pid = 0;
	int rc;

	if (config == NULL || log == NULL)
		return oci_error_make(err, ENOMEM, "shared container");
	/* a dead container's files stay with DisableCleanup=true: they go now */
	if (mkdir(dir, 0700) < 0 &&
	    (errno != EEXIST || fs_remove_tree(dir, err) < 0 || mkdir(dir, 0700) < 0))
		return oci_error_make(err, errno, "cannot create %s", dir);
	if (write_config(l, config, err) < 0 ||
	    write_line(dir, CREATOR_FILE, "%llu\n", l->vars.task_id, 0, err) < 0)
		return -1;
	holder = holder_open(err);
	if (holder < 0)
		return -1;
	shared_view(&s, dir, log);
	/* its process executes the holder, given as its stdin: a file of no file system */
	rc = oci_launch_cmd_init(&s, l->conf->runtime_create, RUNTIME_IO_CAPTURE, &cmd, err);
	if (rc == 0) {
		cmd.stdin_fd = holder;
		rc = oci_launch_cmd_run(&s, "create", &cmd, err);
	}
	runtime_cmd_release(&cmd);
	if (rc == 0)
		rc = oci_launch_query_pid(&s, &pid, err);
	if (rc == 0) {
		rc = oci_launch_step(&s, l->conf->runtime_start, "start", RUNTIME_IO_CAPTURE, &cmd,
				     err);
		runtime_cmd_release(&cmd);
	}
	shared_view_done(l, &s);
	if (rc < 0 || wait_joinable(pid, &t->mnt_ns, err) < 0)
		return -1;
	t->pid = pid;
	return write_line(dir, TARGET_FILE, "%llu %llu\n", (unsigned long long)pid,
			  (unsigned long long)t->mnt_ns, err);
}

int shared_container_get(struct oci_launch *l, struct join_target *t, oci_error_t *err)
{
	cleanup_free char *dir = path_in(l->spool, SHARED_DIR);
	cleanup_free char *lock = path_in(l->spool, SHARED_LOCK);
	cleanup_close int lock_fd = -1;
	unsigned long long pid = 0, ino = 0;
	uint64_t waiting;

	if (dir == NULL || lock == NULL)
		return oci_error_make(err, ENOMEM, "shared container");
	lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (lock_fd < 0)
		return oci_error_make(err, errno, "cannot lock %s", lock);
	/* waiting here is waiting for another task's RunTimeCreate and RunTimeStart */
	waiting = runtime_now_ns();
	if (flock(lock_fd, LOCK_EX) < 0)
		return oci_error_make(err, errno, "cannot lock %s", lock);
	l->waited_ns += runtime_now_ns() - waiting;
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

void shared_container_remove(struct oci_launch *l)
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
		shared_view_done(l, &s);
	}
	if (!l->conf->disable_cleanup)
		fs_remove_tree(dir, &err);
}
