#include "launcher/shared/shared.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fsutil.h"
#include "common/proc.h"
#include "common/xalloc.h"
#include "launcher/runtime/runtime.h"
#include "launcher/shared/holder.h"
#include "launcher/spec/spec.h"

#define SHARED_DIR "shared"	  /* %m/shared: the shared container's bundle */
#define SHARED_LOCK "shared.lock" /* %m/shared.lock: one task creates it */
#define CREATOR_FILE "creator"	  /* the task id the container was created with */
#define TARGET_FILE "target"	  /* "pid mnt-ns-inode": what tasks join */
#define FUSE_FILE "fuse"	  /* "pid start-time" of fuse-overlayfs serving the root */

static int read_numbers(const char *dir, const char *name, unsigned long long *a,
			unsigned long long *b)
{
	cleanup_free char *path = path_join(dir, name);
	cleanup_fclose FILE *f = fopen(path, "re");

	if (f == NULL)
		return -1;
	return fscanf(f, "%llu %llu", a, b) >= 1 ? 0 : -1;
}

static int write_numbers(const char *dir, const char *name, unsigned long long a,
			 unsigned long long b, oci_error_t *err)
{
	cleanup_free char *path = path_join(dir, name);
	cleanup_free char *line = xasprintf("%llu %llu\n", a, b);

	return fs_write_file(path, line, strlen(line), err);
}

/* The step's config.json: the first task's, with the holder as its process. */
static int write_config(json_t *task_spec, const char *dir, oci_error_t *err)
{
	cleanup_free char *path = path_join(dir, "config.json");
	json_t *spec = json_deep_copy(task_spec), *process = json_object_get(spec, "process");
	int rc;

	if (process != NULL &&
	    json_object_set_new(process, "args", json_pack("[s]", HOLDER_EXEC_PATH)) == 0 &&
	    json_object_set_new(process, "terminal", json_false()) == 0 &&
	    json_object_set_new(process, "cwd", json_string("/")) == 0)
		rc = spec_write(spec, path, err);
	else
		rc = oci_error_make(err, 0, "%s: the task's config.json has no process", path);
	json_decref(spec);
	return rc;
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

/* The runtime's commands for the shared container, as task `creator` made it. */
static void shared_runtime(struct runtime *rt, const struct shared_step *s, const char *dir,
			   uint32_t creator)
{
	runtime_init(rt, s->conf, s->vars, dir, creator, s->env, s->userns, s->waited_ns);
}

static int create(const struct shared_step *s, json_t *spec, const char *dir, struct join_target *t,
		  oci_error_t *err)
{
	cleanup_close int holder = -1;
	struct runtime rt;
	pid_t pid = 0;
	int rc;

	/* a dead container's files stay with DisableCleanup=true: they go now */
	if (mkdir(dir, 0700) < 0 &&
	    (errno != EEXIST || fs_remove_tree(dir, err) < 0 || mkdir(dir, 0700) < 0))
		return oci_error_make(err, errno, "cannot create %s", dir);
	if (write_config(spec, dir, err) < 0 ||
	    write_numbers(dir, CREATOR_FILE, s->vars->task_id, 0, err) < 0)
		return -1;
	/* the step's one root, in this task's namespace: the container keeps it mounted */
	if (s->root != NULL && container_root_mount(s->root, s->userns, spec, s->env, err) < 0)
		return oci_error_wrap(err, "the container's root over %s", s->root->lower);
	if (s->root != NULL && s->root->fuse_pid > 0) {
		cleanup_free char *fuse_path = path_join(dir, FUSE_FILE);
		cleanup_free char *id = container_root_fuse_id(s->root);

		if (fs_write_file(fuse_path, id, strlen(id), err) < 0)
			return -1;
	}
	holder = holder_open(err);
	if (holder < 0)
		return -1;
	shared_runtime(&rt, s, dir, s->vars->task_id);
	/* its process executes the holder, given as its stdin: a file of no file system */
	rc = runtime_command(&rt, "create", s->conf->runtime_create, PROC_IO_CAPTURE, holder, err);
	if (rc == 0)
		rc = runtime_state_pid(&rt, &pid, err);
	if (rc == 0)
		rc = runtime_command(&rt, "start", s->conf->runtime_start, PROC_IO_CAPTURE, -1,
				     err);
	runtime_release(&rt);
	if (rc < 0 || wait_joinable(pid, &t->mnt_ns, err) < 0)
		return -1;
	t->pid = pid;
	return write_numbers(dir, TARGET_FILE, (unsigned long long)pid,
			     (unsigned long long)t->mnt_ns, err);
}

char *shared_dir_of(const char *spool)
{
	return path_join(spool, SHARED_DIR);
}

int shared_container_get(const struct shared_step *s, json_t *spec, struct join_target *t,
			 oci_error_t *err)
{
	cleanup_free char *dir = path_join(s->spool, SHARED_DIR);
	cleanup_free char *lock = path_join(s->spool, SHARED_LOCK);
	cleanup_close int lock_fd = -1;
	unsigned long long pid = 0, ino = 0;
	uint64_t waiting;

	lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (lock_fd < 0)
		return oci_error_make(err, errno, "cannot lock %s", lock);
	/* waiting here is waiting for another task's RunTimeCreate and RunTimeStart */
	waiting = proc_now_ns();
	if (flock(lock_fd, LOCK_EX) < 0)
		return oci_error_make(err, errno, "cannot lock %s", lock);
	if (s->waited_ns != NULL)
		*s->waited_ns += proc_now_ns() - waiting;
	if (read_numbers(dir, TARGET_FILE, &pid, &ino) == 0 && ino != 0 &&
	    join_mnt_ns_of((pid_t)pid) == (ino_t)ino) {
		*t = (struct join_target){.pid = (pid_t)pid, .mnt_ns = (ino_t)ino};
		return 0;
	}
	/* none yet, or one that died (its state goes first) */
	shared_container_remove(s);
	if (create(s, spec, dir, t, err) < 0) {
		shared_container_remove(s);
		return -1;
	}
	return 0;
}

/*
 * The holder ignores the signals Slurm sends to a step, so a site's RunTimeKill with the
 * default SIGTERM (Slurm's documented crun line) would leave it running, and crun 1.8.1's
 * delete --force does not kill it: it is killed here, for sure, when it is still the
 * process the tasks joined (its mount namespace tells, whatever became of its pid).
 */
static void kill_holder(const char *dir)
{
	unsigned long long pid = 0, ino = 0;

	if (read_numbers(dir, TARGET_FILE, &pid, &ino) == 0 && pid > 0 && ino != 0 &&
	    join_mnt_ns_of((pid_t)pid) == (ino_t)ino)
		kill((pid_t)pid, SIGKILL);
}

/* fuse-overlayfs, where it serves the container's root: it outlived the task that started it. */
static void stop_fuse(const char *dir)
{
	cleanup_free char *path = path_join(dir, FUSE_FILE);
	cleanup_fclose FILE *f = fopen(path, "re");
	char line[64];

	if (f != NULL && fgets(line, sizeof(line), f) != NULL)
		container_root_fuse_kill(line);
}

void shared_container_stop(const struct shared_step *s)
{
	cleanup_free char *dir = path_join(s->spool, SHARED_DIR);
	unsigned long long creator = 0, unused = 0;
	struct stat st;

	if (lstat(dir, &st) < 0)
		return;
	kill_holder(dir);
	if (read_numbers(dir, CREATOR_FILE, &creator, &unused) == 0) {
		struct runtime rt;

		shared_runtime(&rt, s, dir, (uint32_t)creator);
		runtime_kill_delete(&rt);
		runtime_release(&rt);
	}
	stop_fuse(dir);
}

void shared_container_remove(const struct shared_step *s)
{
	cleanup_free char *dir = path_join(s->spool, SHARED_DIR);
	cleanup_error oci_error_t err = NULL;
	struct stat st;

	if (lstat(dir, &st) < 0)
		return;
	shared_container_stop(s);
	if (!s->conf->disable_cleanup)
		fs_remove_tree(dir, &err);
}
