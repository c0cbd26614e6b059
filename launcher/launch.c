#include "launcher/launch.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <poll.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/strv.h"
#include "launcher/runtime/cgroup.h"
#include "common/fsutil.h"
#include "common/proc.h"
#include "launcher/runtime/runtime.h"
#include "launcher/spec/spec.h"
#include "launcher/shared/shared.h"
#include "launcher/image/squashfs.h"

#define TASK_DIR_PREFIX "task."
#define SQUASHFS_MOUNT "squashfs-root" /* in %m: where a squashfs image is mounted */
#define SQUASHFS_LOCK "squashfs.lock"

int oci_launch_paths(const struct oci_conf *conf, const struct pattern_vars *vars, char **spool,
		     char **bundle_dir, oci_error_t *err)
{
	cleanup_free char *s = NULL;

	if (pattern_expand_word(conf->container_path, vars, &s, err) < 0)
		return oci_error_wrap(err, "ContainerPath");
	if (bundle_dir != NULL &&
	    asprintf(bundle_dir, "%s/" TASK_DIR_PREFIX "%u", s, vars->task_id) < 0)
		return oci_error_make(err, ENOMEM, "paths");
	*spool = steal_pointer(&s);
	return 0;
}

/*
 * The user's own uid/gid inside where the runtime can do it: crun with one mapping, runc
 * 1.1.5 (which needs uid 0 mapped) in a user namespace of its own made from the user's
 * /etc/subuid and /etc/subgid ranges. Without such ranges: uid 0 inside, with a notice,
 * unless RemapRoot=false or AllowRemapRoot=false forbid it.
 */
static int choose_identity(struct oci_launch *l, oci_error_t *err)
{
	const struct oci_conf *conf = l->conf;
	const struct oci_task *t = l->task;
	const char *runtime = oci_conf_runtime_name(conf);

	if (l->settings.remap_root) {
		l->identity = IDENTITY_REMAP_ROOT;
		return 0;
	}
	if (!oci_spec_runtime_needs_root_mapped(conf)) {
		l->identity = IDENTITY_OWN;
		return 0;
	}
	/*
	 * A squashfs mount (FUSE, without allow_other) lets in only the user: the runtime's
	 * uid 0 inside would be a subordinate id, which may not enter it.
	 */
	if (l->bundle->squashfs == NULL && userns_lookup(t->user, t->uid, t->gid, &l->userns)) {
		l->identity = IDENTITY_OWN_SUBIDS;
		return 0;
	}
	if (l->bundle->squashfs != NULL &&
	    (conf->remap_root == REMAP_ROOT_NO || !conf->allow_remap_root))
		return oci_error_make(
			err, 0,
			"a squashfs image under %s runs as uid 0 in the container "
			"(mapped to %s): its FUSE mount lets only %s in, and %s in %s "
			"forbids that",
			runtime, t->user, t->user,
			conf->remap_root == REMAP_ROOT_NO ? "RemapRoot=false"
							  : "AllowRemapRoot=false",
			conf->path);
	if (conf->remap_root == REMAP_ROOT_NO)
		return oci_error_make(err, 0,
				      "your own identity in a %s container needs a range for %s in "
				      "/etc/subuid and /etc/subgid (RemapRoot=false in %s)",
				      runtime, t->user, conf->path);
	if (!conf->allow_remap_root)
		return oci_error_make(err, 0,
				      "your own identity in a %s container needs a range for %s in "
				      "/etc/subuid and /etc/subgid, and AllowRemapRoot=false in %s "
				      "forbids uid 0 instead",
				      runtime, t->user, conf->path);
	l->identity = IDENTITY_REMAP_ROOT;
	if (l->bundle->squashfs != NULL
		    ? asprintf(&l->notice,
			       "notice: a squashfs image under %s runs as uid 0 in the container "
			       "(mapped to %s): its FUSE mount lets only %s in",
			       runtime, t->user, t->user) < 0
		    : asprintf(&l->notice,
			       "notice: no range for %s in /etc/subuid and /etc/subgid: running as "
			       "uid 0 in the container (mapped to %s)",
			       t->user, t->user) < 0)
		l->notice = NULL;
	return 0;
}

/* The user's options with the site's defaults and policy, as the user. */
static int apply_options(struct oci_launch *l, const char *bundle_path, oci_error_t *err)
{
	struct oci_options none;

	oci_options_init(&none);
	if (settings_resolve(l->task->options ? l->task->options : &none, l->conf, l->task->home,
			     &l->settings, err) < 0)
		return -1;
	if (l->settings.entrypoint && !l->bundle->is_image)
		return oci_error_make(
			err, 0,
			"--container-entrypoint needs an OCI image: %s is a bundle or "
			"root filesystem directory, which has no Entrypoint",
			bundle_path);
	if (l->settings.writable == OPT_ON && l->bundle->squashfs != NULL)
		return oci_error_make(err, 0,
				      "--container-writable: %s is a squashfs image, which is "
				      "read-only (its /tmp, /var/tmp and /run are writable)",
				      bundle_path);
	return choose_identity(l, err);
}

int oci_launch_new(const struct oci_conf *conf, const struct oci_task *task,
		   const char *bundle_path, struct oci_launch **out, oci_error_t *err)
{
	struct oci_launch *l = calloc(1, sizeof(*l));
	cleanup_free char *image_cache = NULL;

	if (l == NULL)
		return oci_error_make(err, ENOMEM, "launch");
	l->conf = conf;
	l->task = task;
	l->spool_fd = -1;
	l->cgroup_fd = -1;
	l->userns_fd = -1;
	l->vars = (struct pattern_vars){
		.node = task->node,
		.user = task->user,
		.job_id = task->job_id,
		.step_id = task->step_id,
		.task_id = task->task_id,
		.uid = task->uid,
		.argv = task->argv,
	};
	if (oci_launch_paths(conf, &l->vars, &l->spool, &l->bundle_dir, err) < 0)
		goto fail;
	l->vars.spool = l->spool;
	l->vars.bundle = l->bundle_dir;
	if (conf->mount_spool_dir != NULL &&
	    pattern_expand_word(conf->mount_spool_dir, &l->vars, &l->spool_dest, err) < 0) {
		oci_error_wrap(err, "MountSpoolDir");
		goto fail;
	}
	if (asprintf(&l->config_path, "%s/config.json", l->bundle_dir) < 0 ||
	    asprintf(&l->log_path, "%s/runtime.log", l->bundle_dir) < 0 ||
	    (conf->create_env_file != ENV_FILE_DISABLED &&
	     asprintf(&l->env_file, "%s/environment", l->bundle_dir) < 0)) {
		oci_error_make(err, ENOMEM, "paths");
		goto fail;
	}
	l->vars.env_file = l->env_file;
	l->runtime_env = conf_env_without(task->env, &conf->runtime_env_exclude);
	if (l->runtime_env == NULL) {
		oci_error_make(err, ENOMEM, "environment");
		goto fail;
	}
	if (pattern_expand_word(conf->image_cache, &l->vars, &image_cache, err) < 0) {
		oci_error_wrap(err, "ImageCache");
		goto fail;
	}
	if (oci_bundle_open(bundle_path, conf->ignore_file_config_json, image_cache,
			    conf->image_cache_size, &l->bundle, err) < 0)
		goto fail;
	if (l->bundle->squashfs != NULL &&
	    asprintf(&l->bundle->rootfs, "%s/" SQUASHFS_MOUNT, l->spool) < 0) {
		oci_error_make(err, ENOMEM, "paths");
		goto fail;
	}
	l->vars.rootfs = l->bundle->rootfs;
	if (apply_options(l, bundle_path, err) < 0)
		goto fail;
	*out = l;
	return 0;
fail:
	oci_launch_free(l);
	return -1;
}

int oci_launch_spec(struct oci_launch *l, json_t **spec, oci_error_t *err)
{
	struct spec_input in = {
		.conf = l->conf,
		.bundle = l->bundle,
		.task = l->task,
		.spool = l->spool,
		.spool_dest = l->spool_dest,
		.identity = l->identity,
		.settings = &l->settings,
	};

	return oci_spec_build(&in, spec, err);
}

static int write_env_file(struct oci_launch *l, json_t *spec, oci_error_t *err)
{
	json_t *env = json_object_get(json_object_get(spec, "process"), "env"), *v;
	char sep = l->conf->create_env_file == ENV_FILE_NEWLINE ? '\n' : '\0';
	cleanup_free char *data = NULL;
	size_t len = 0, i;
	FILE *mem = open_memstream(&data, &len);

	if (mem == NULL)
		return oci_error_make(err, errno, "environment file");
	json_array_foreach(env, i, v)
	{
		const char *entry = json_string_value(v);
		if (sep == '\n' && strchr(entry, '\n') != NULL)
			continue; /* as Slurm does: such variables are dropped */
		fputs(entry, mem);
		fputc(sep, mem);
	}
	if (fclose(mem) != 0)
		return oci_error_make(err, errno, "environment file");
	return fs_write_file(l->env_file, data, len, err);
}

/*
 * Creates %m (shared by the step's tasks) and holds a shared lock on it while the task
 * lives, then creates the task's own directory in it. The last task to leave removes %m
 * (see oci_launch_cleanup); a task that finds %m removed under it starts again.
 */
static int make_task_dir(struct oci_launch *l, oci_error_t *err)
{
	const char *name = strrchr(l->bundle_dir, '/') + 1;

	for (int attempt = 0; attempt < 5; attempt++) {
		struct stat st;

		if (fs_mkdir_private(l->spool, err) < 0)
			return -1;
		l->spool_fd = open(l->spool, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (l->spool_fd < 0)
			continue;
		if (flock(l->spool_fd, LOCK_SH) < 0 || fstat(l->spool_fd, &st) < 0)
			return oci_error_make(err, errno, "cannot lock %s", l->spool);
		if (st.st_nlink > 0) {
			/* a directory left by an earlier, killed task of the same ids is stale */
			if (fs_remove_tree(l->bundle_dir, err) < 0)
				return -1;
			if (mkdirat(l->spool_fd, name, 0700) == 0)
				return 0;
			if (errno != ENOENT)
				return oci_error_make(err, errno, "cannot create %s",
						      l->bundle_dir);
		}
		close(l->spool_fd);
		l->spool_fd = -1;
	}
	return oci_error_make(err, EAGAIN, "cannot create %s", l->bundle_dir);
}

static int note_one(struct oci_launch *l, const char *dest, oci_error_t *err)
{
	struct litter *grown = realloc(l->litter, (l->nlitter + 1) * sizeof(*grown));

	if (grown == NULL)
		return oci_error_make(err, ENOMEM, "litter");
	l->litter = grown;
	if (litter_note(l->bundle->rootfs, dest, &l->litter[l->nlitter], err) < 0)
		return -1;
	l->nlitter++;
	return 0;
}

/*
 * What the runtime may create in the root filesystem for us: mount points (spool, batch
 * script, ContainerMounts, home, --container-mounts) and --container-workdir.
 */
static int note_litter(struct oci_launch *l, oci_error_t *err)
{
	if (l->spool_dest != NULL && note_one(l, l->spool_dest, err) < 0)
		return -1;
	if (l->task->batch_script != NULL && note_one(l, l->task->batch_script, err) < 0)
		return -1;
	for (size_t i = 0; i < l->settings.mounts.n; i++) {
		if (note_one(l, l->settings.mounts.v[i].dst, err) < 0)
			return -1;
	}
	if (l->settings.workdir != NULL && note_one(l, l->settings.workdir, err) < 0)
		return -1;
	return 0;
}

int oci_launch_prepare(struct oci_launch *l, oci_error_t *err)
{
	json_t *spec = NULL;
	cleanup_free char *text = NULL, *lock = NULL;
	int rc = -1;

	if (make_task_dir(l, err) < 0)
		return -1;
	if (l->bundle->squashfs != NULL &&
	    (asprintf(&lock, "%s/" SQUASHFS_LOCK, l->spool) < 0 ||
	     squashfs_mount(l->bundle->squashfs, l->bundle->rootfs, lock, l->runtime_env, err) < 0))
		return oci_error_wrap(err, "squashfs image %s", l->bundle->squashfs);
	if (oci_launch_spec(l, &spec, err) < 0)
		return -1;
	/* shared mode: the tasks run no container of their own (shared.c writes the step's) */
	if (!l->settings.shared) {
		text = json_dumps(spec, JSON_COMPACT);
		if (text == NULL) {
			oci_error_make(err, ENOMEM, "config.json");
			goto out;
		}
		if (fs_write_file(l->config_path, text, strlen(text), err) < 0)
			goto out;
	}
	if (l->env_file != NULL && write_env_file(l, spec, err) < 0)
		goto out;
	if (note_litter(l, err) < 0)
		goto out;
	l->spec = json_incref(spec);
	rc = 0;
out:
	json_decref(spec);
	return rc;
}

/* The last error the runtime logged (JSON lines, as runc --log-format json and crun write). */
static char *runtime_log_error(const char *log_path)
{
	cleanup_fclose FILE *f = fopen(log_path, "re");
	cleanup_free char *line = NULL;
	char *last = NULL;
	size_t cap = 0;

	while (f != NULL && getline(&line, &cap, f) >= 0) {
		json_t *entry = json_loads(line, 0, NULL);
		const char *level = json_string_value(json_object_get(entry, "level"));
		const char *msg = json_string_value(json_object_get(entry, "msg"));

		if (level != NULL && msg != NULL &&
		    (strcmp(level, "error") == 0 || strcmp(level, "fatal") == 0)) {
			free(last);
			last = strdup(msg);
		}
		json_decref(entry);
	}
	return last;
}

/* Signals that reach the supervisor while it waits; forwarded only where needed. */
static volatile sig_atomic_t pending_signals[NSIG];

static void note_signal(int sig)
{
	pending_signals[sig] = 1;
}

static const int supervised_signals[] = {SIGHUP,  SIGINT,  SIGQUIT, SIGTERM, SIGUSR1,
					 SIGUSR2, SIGALRM, SIGCONT, SIGTSTP, SIGWINCH};

static void catch_signals(void)
{
	struct sigaction sa = {.sa_handler = note_signal};

	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(supervised_signals) / sizeof(int); i++)
		sigaction(supervised_signals[i], &sa, NULL);
}

static void forward_signals(pid_t pid)
{
	for (size_t i = 0; i < sizeof(supervised_signals) / sizeof(int); i++) {
		int sig = supervised_signals[i];
		if (pending_signals[sig]) {
			pending_signals[sig] = 0;
			if (pid > 0)
				kill(pid, sig);
		}
	}
}

static int runtime_failed(struct oci_launch *l, const char *op, struct runtime_cmd *cmd,
			  int wstatus, oci_error_t *err)
{
	cleanup_free char *logged = runtime_log_error(l->log_path);
	const char *name = oci_conf_runtime_name(l->conf);
	const char *detail = logged ? logged : (cmd->output && *cmd->output ? cmd->output : NULL);

	if (detail != NULL) {
		cleanup_free char *trimmed = strdup(detail);
		if (trimmed != NULL)
			trimmed[strcspn(trimmed, "\n")] = '\0';
		return oci_error_make(err, 0, "%s %s failed: %s", name, op,
				      trimmed ? trimmed : detail);
	}
	if (WIFSIGNALED(wstatus))
		return oci_error_make(err, 0, "%s %s was killed by signal %d", name, op,
				      WTERMSIG(wstatus));
	return oci_error_make(err, 0, "%s %s failed with exit status %d", name, op,
			      WEXITSTATUS(wstatus));
}

/*
 * Every runtime command of a task with IDENTITY_OWN_SUBIDS runs in one user namespace,
 * made at the first (so newuidmap and newgidmap run once per task): its fd in *fd, or -1
 * for other identities.
 */
static int runtime_userns(struct oci_launch *l, int *fd, oci_error_t *err)
{
	*fd = -1;
	if (l->identity != IDENTITY_OWN_SUBIDS)
		return 0;
	if (l->userns_fd < 0 && userns_make(&l->userns, l->runtime_env, &l->userns_fd, err) < 0)
		return oci_error_wrap(err, "%s's user namespace", oci_conf_runtime_name(l->conf));
	*fd = l->userns_fd;
	return 0;
}

int oci_launch_cmd_init(struct oci_launch *l, char **words, enum runtime_io io,
			struct runtime_cmd *cmd, oci_error_t *err)
{
	if (runtime_cmd_init(cmd, words, &l->vars, l->runtime_env, io, err) < 0)
		return -1;
	if (runtime_userns(l, &cmd->userns_fd, err) < 0)
		return -1;
	if (io == RUNTIME_IO_INHERIT)
		cmd->cgroup_fd = l->cgroup_fd; /* create: the container starts there */
	return 0;
}

int oci_launch_cmd_run(struct oci_launch *l, const char *op, struct runtime_cmd *cmd,
		       oci_error_t *err)
{
	int wstatus;

	if (runtime_run_sync(cmd, &wstatus, err) < 0)
		return -1;
	l->waited_ns += cmd->waited_ns;
	if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0)
		return runtime_failed(l, op, cmd, wstatus, err);
	return 0;
}

int oci_launch_step(struct oci_launch *l, char **words, const char *op, enum runtime_io io,
		    struct runtime_cmd *cmd, oci_error_t *err)
{
	if (oci_launch_cmd_init(l, words, io, cmd, err) < 0)
		return -1;
	return oci_launch_cmd_run(l, op, cmd, err);
}

int oci_launch_query_pid(struct oci_launch *l, pid_t *pid, oci_error_t *err)
{
	struct runtime_cmd cmd;
	json_t *state;
	int rc;

	if (oci_launch_step(l, l->conf->runtime_query, "state", RUNTIME_IO_CAPTURE, &cmd, err) <
	    0) {
		runtime_cmd_release(&cmd);
		return -1;
	}
	state = json_loads(cmd.output ? cmd.output : "", 0, NULL);
	*pid = (pid_t)json_integer_value(json_object_get(state, "pid"));
	rc = *pid > 0
		     ? 0
		     : oci_error_make(err, 0, "%s state gave no pid: %s",
				      oci_conf_runtime_name(l->conf), cmd.output ? cmd.output : "");
	json_decref(state);
	runtime_cmd_release(&cmd);
	return rc;
}

/* create + start, then wait for the container's init, which is reparented to us. */
static int run_create_start(struct oci_launch *l, int *wstatus, oci_error_t *err)
{
	struct runtime_cmd cmd;
	pid_t pid = 0, got;
	uint64_t started;

	l->state_may_remain = true;
	if (oci_launch_step(l, l->conf->runtime_create, "create", RUNTIME_IO_INHERIT, &cmd, err) <
	    0)
		goto fail;
	runtime_cmd_release(&cmd);
	if (oci_launch_query_pid(l, &pid, err) < 0)
		return -1;
	l->vars.pid = pid;
	if (oci_launch_step(l, l->conf->runtime_start, "start", RUNTIME_IO_CAPTURE, &cmd, err) < 0)
		goto fail;
	runtime_cmd_release(&cmd);
	started = runtime_now_ns();
	while ((got = waitpid(-1, wstatus, 0)) != pid) {
		if (got < 0 && errno == EINTR) {
			forward_signals(pid);
			continue;
		}
		if (got < 0)
			return oci_error_make(err, errno, "waiting for the container (pid %d)",
					      pid);
	}
	l->waited_ns += runtime_now_ns() - started;
	return 0;
fail:
	runtime_cmd_release(&cmd);
	return -1;
}

/*
 * runc run and crun run report a container killed by signal N as exit status 128 + N,
 * the shells' convention. Report it as the signal, as Slurm does for a host task (an
 * OOM kill then shows as "Killed", ExitCode 0:9). A command that itself exits with such
 * a status is reported as killed too: RunTimeCreate/RunTimeStart report exactly.
 */
static int signal_from_exit_code(int wstatus)
{
	int code = WEXITSTATUS(wstatus);

	if (code > 128 && code < 128 + 32 && code - 128 != SIGSTOP && code - 128 != SIGTSTP)
		return code - 128; /* the wait status of a death by that signal */
	return wstatus;
}

static int pidfd_of(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* The container's main process, from the pid file the runtime writes (%b/pid). */
static pid_t read_main_pid(const struct oci_launch *l)
{
	cleanup_free char *path = NULL;
	cleanup_fclose FILE *f = NULL;
	int pid = 0;

	if (asprintf(&path, "%s/pid", l->bundle_dir) < 0)
		return 0;
	f = fopen(path, "re");
	if (f == NULL || fscanf(f, "%d", &pid) != 1)
		return 0;
	return (pid_t)pid;
}

/*
 * Waits for the runtime (runc run, crun run). When the container's main process has
 * ended but the runtime has not, the processes the container left behind are killed, as
 * Slurm kills what a host task leaves at the end of its step: runc run waits until
 * nothing holds the container's stdout and stderr, so a daemon that outlives the main
 * process would otherwise keep the task alive until its time limit. The main process is
 * known from the runtime's pid file (--pid-file %b/pid in RunTimeRun).
 */
static int wait_runtime(struct oci_launch *l, pid_t pid, const char *name, int *wstatus,
			oci_error_t *err)
{
	cleanup_close int runtime_fd = pidfd_of(pid);
	cleanup_close int main_fd = -1;
	bool main_known = false, main_ended = false;
	int waited_ms = 0;

	while (runtime_fd >= 0) {
		struct pollfd fds[2] = {{.fd = runtime_fd, .events = POLLIN},
					{.fd = main_fd, .events = POLLIN}};
		int timeout = main_ended ? 100 : main_known ? -1 : waited_ms < 2000 ? 20 : 250;
		int n = poll(fds, main_fd >= 0 ? 2 : 1, timeout);

		if (n < 0 && errno == EINTR) {
			forward_signals(0);
			continue;
		}
		if (n < 0 || fds[0].revents != 0)
			break; /* the runtime ended */
		if (main_fd >= 0 && fds[1].revents != 0) {
			close(main_fd);
			main_fd = -1;
			main_ended = true;
		} else if (main_ended && n == 0) {
			reap_kill_descendants(pid);
			main_ended = false;
		} else if (!main_known && n == 0) {
			pid_t main_pid = read_main_pid(l);

			waited_ms += timeout;
			if (main_pid > 0) {
				main_known = true;
				main_fd = pidfd_of(main_pid);
				main_ended = main_fd < 0;
			}
		}
	}
	while (waitpid(pid, wstatus, 0) < 0) {
		if (errno != EINTR)
			return oci_error_make(err, errno, "waiting for %s", name);
		forward_signals(0);
	}
	return 0;
}

static int run_run(struct oci_launch *l, int *wstatus, oci_error_t *err)
{
	struct runtime_cmd cmd;
	uint64_t started;
	pid_t pid;
	int rc = 0;

	if (runtime_cmd_init(&cmd, l->conf->runtime_run, &l->vars, l->runtime_env,
			     RUNTIME_IO_INHERIT, err) < 0)
		return -1;
	cmd.cgroup_fd = l->cgroup_fd;
	if (runtime_userns(l, &cmd.userns_fd, err) < 0 || runtime_spawn(&cmd, &pid, err) < 0) {
		runtime_cmd_release(&cmd);
		return -1;
	}
	started = runtime_now_ns();
	l->state_may_remain = true;
	/* signals reach the runtime directly (same process group); it forwards them */
	rc = wait_runtime(l, pid, cmd.argv[0], wstatus, err);
	l->waited_ns += runtime_now_ns() - started;
	if (rc == 0 && WIFEXITED(*wstatus) && WEXITSTATUS(*wstatus) != 0) {
		cleanup_free char *logged = runtime_log_error(l->log_path);
		if (logged != NULL)
			rc = oci_error_make(err, 0, "%s: %s", oci_conf_runtime_name(l->conf),
					    logged);
	}
	/* runc run and crun run delete their own state when they end normally */
	if (rc == 0 && WIFEXITED(*wstatus)) {
		l->state_may_remain = false;
		*wstatus = signal_from_exit_code(*wstatus);
	}
	runtime_cmd_release(&cmd);
	return rc;
}

void oci_close_exec_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;

	while (d != NULL && (e = readdir(d)) != NULL) {
		int fd = atoi(e->d_name), flags;
		struct stat st;

		if (fd <= 2 || fd == dirfd(d))
			continue;
		flags = fcntl(fd, F_GETFD);
		if (flags < 0 || !(flags & FD_CLOEXEC) || fstat(fd, &st) < 0 || S_ISREG(st.st_mode))
			continue;
		close(fd);
	}
	if (d != NULL)
		closedir(d);
}

/*
 * CgroupPerContainer: a child of the task's cgroup for the container, where the user may
 * create one (Slurm's cgroup/v2 gives task_<n> to the user). Where not, the container
 * stays in the task's cgroup, as it does by default.
 */
static void make_container_cgroup(struct oci_launch *l)
{
	cleanup_error oci_error_t err = NULL;
	cleanup_free char *task_dir = NULL, *path = NULL;

	if (!l->conf->cgroup_per_container || cgroup2_self_dir(&task_dir, &err) < 0)
		return;
	if (asprintf(&path, "%s/spank-oci.%u.%u.%u", task_dir, l->vars.job_id, l->vars.step_id,
		     l->vars.task_id) < 0)
		return;
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return;
	l->cgroup_fd = open(path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (l->cgroup_fd >= 0)
		l->cgroup_child = steal_pointer(&path);
	else
		rmdir(path);
}

/* Nothing of the container survives in its own cgroup. */
static void remove_container_cgroup(struct oci_launch *l)
{
	cleanup_error oci_error_t err = NULL;

	if (l->cgroup_child == NULL)
		return;
	cgroup2_kill_tree(l->cgroup_child, &err);
	cgroup2_remove_tree(l->cgroup_child);
	close(l->cgroup_fd);
	l->cgroup_fd = -1;
	free(l->cgroup_child);
	l->cgroup_child = NULL;
}

/*
 * Shared mode: the task joins the step's container on this node (created by the first
 * task) in a child of its own, which keeps the task's stdio, environment and cgroup; the
 * child's status is the task's, exactly. Signals reach the child directly: it is in the
 * task's process group.
 */
static int run_joined(struct oci_launch *l, const struct join_target *target, int *wstatus,
		      oci_error_t *err)
{
	pid_t pid = fork();
	uint64_t started = runtime_now_ns();

	if (pid < 0)
		return oci_error_make(err, errno, "fork");
	if (pid == 0) {
		for (int sig = 1; sig < NSIG; sig++)
			signal(sig, SIG_DFL);
		if (l->cgroup_fd >= 0 && cgroup2_enter_fd(l->cgroup_fd) < 0) {
			fprintf(stderr, "spank-oci: cannot enter the container's cgroup: %s\n",
				strerror(errno));
			_exit(127);
		}
		join_exec(target, json_object_get(l->spec, "process"));
	}
	if (reap_wait(pid, wstatus) < 0)
		return oci_error_make(err, errno, "waiting for the task in the container");
	l->waited_ns += runtime_now_ns() - started;
	return 0;
}

int oci_launch_run(struct oci_launch *l, int *wstatus, oci_error_t *err)
{
	struct join_target target;
	int rc;

	*wstatus = 1 << 8; /* exit status 1 until the container says otherwise */
	/* before becoming a subreaper: the shared container's first process must not be ours */
	if (l->settings.shared && shared_container_get(l, &target, err) < 0)
		return -1;
	/* orphans of the container (double forks, a killed runtime) come back to us */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
		return oci_error_make(err, errno, "prctl(PR_SET_CHILD_SUBREAPER)");
	catch_signals();
	make_container_cgroup(l);
	if (l->settings.shared)
		rc = run_joined(l, &target, wstatus, err);
	else if (l->conf->runtime_run != NULL)
		rc = run_run(l, wstatus, err);
	else
		rc = run_create_start(l, wstatus, err);
	reap_kill_children();
	remove_container_cgroup(l);
	if (rc < 0 && WIFEXITED(*wstatus) && WEXITSTATUS(*wstatus) == 0)
		*wstatus = 1 << 8;
	return rc;
}

bool oci_timing_wanted(char *const *env)
{
	const char *v = strv_env_get(env, "SPANK_OCI_TIMING");

	return v != NULL && *v != '\0' && strcmp(v, "0") != 0;
}

void oci_timing_mark(struct oci_timing_mark *m)
{
	struct rusage ru;

	m->wall_ns = runtime_now_ns();
	m->cpu_ns = 0;
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		m->cpu_ns = (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000u +
			    (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000u;
}

void oci_launch_report_timing(const struct oci_launch *l, const struct oci_timing_mark *start)
{
	struct oci_timing_mark now;
	uint64_t total, own;

	oci_timing_mark(&now);
	total = now.wall_ns - start->wall_ns;
	own = total > l->waited_ns ? total - l->waited_ns : 0;
	fprintf(stderr,
		"spank-oci: timing: task %u: spank-oci %.3f ms (CPU %.3f ms), runtime and "
		"container %.3f ms\n",
		l->vars.task_id, (double)own / 1e6, (double)(now.cpu_ns - start->cpu_ns) / 1e6,
		(double)l->waited_ns / 1e6);
	fflush(stderr);
}

void oci_launch_quietly(struct oci_launch *l, char **words)
{
	struct runtime_cmd cmd;
	cleanup_error oci_error_t err = NULL;
	int wstatus;

	if (words == NULL ||
	    runtime_cmd_init(&cmd, words, &l->vars, l->runtime_env, RUNTIME_IO_CAPTURE, &err) < 0)
		return;
	if (runtime_userns(l, &cmd.userns_fd, &err) == 0 &&
	    runtime_run_sync(&cmd, &wstatus, &err) == 0)
		l->waited_ns += cmd.waited_ns;
	runtime_cmd_release(&cmd);
}

/* The step's squashfs mount goes with its last task on the node (or the sweep). */
static void unmount_squashfs(const char *spool, char *const *env)
{
	cleanup_free char *mountpoint = NULL;

	if (asprintf(&mountpoint, "%s/" SQUASHFS_MOUNT, spool) >= 0)
		squashfs_unmount(mountpoint, env);
}

static void remove_litter(void *arg)
{
	struct oci_launch *l = arg;

	/* the last noted first: an inner mount point goes before an outer one */
	for (size_t i = l->nlitter; i-- > 0;)
		litter_remove(l->bundle->rootfs, &l->litter[i]);
}

void oci_launch_cleanup(struct oci_launch *l)
{
	cleanup_error oci_error_t err = NULL;
	int userns_fd;

	if (l->state_may_remain) {
		oci_launch_quietly(l, l->conf->runtime_kill);
		oci_launch_quietly(l, l->conf->runtime_delete);
		l->state_may_remain = false;
	}
	/* in a namespace of its own, runc made them as the subordinate id: remove them there */
	if (l->identity != IDENTITY_OWN_SUBIDS)
		remove_litter(l);
	else if (l->nlitter > 0 && runtime_userns(l, &userns_fd, &err) == 0)
		userns_run(userns_fd, remove_litter, l, &err);
	for (size_t i = 0; i < l->nlitter; i++)
		litter_release(&l->litter[i]);
	l->nlitter = 0;
	if (l->conf->disable_cleanup || l->spool_fd < 0)
		return;
	fs_remove_tree(l->bundle_dir, &err);
	/* the last task of the step on this node removes %m (runtime root and all) */
	if (flock(l->spool_fd, LOCK_EX | LOCK_NB) == 0) {
		shared_container_remove(l);
		unmount_squashfs(l->spool, l->runtime_env);
		fs_remove_tree(l->spool, &err);
	}
	close(l->spool_fd);
	l->spool_fd = -1;
}

void oci_launch_free(struct oci_launch *l)
{
	if (l == NULL)
		return;
	free(l->spool);
	free(l->spool_dest);
	free(l->bundle_dir);
	free(l->config_path);
	free(l->env_file);
	free(l->log_path);
	strv_free(l->runtime_env);
	if (l->spool_fd >= 0)
		close(l->spool_fd);
	if (l->cgroup_fd >= 0)
		close(l->cgroup_fd);
	if (l->userns_fd >= 0)
		close(l->userns_fd);
	free(l->cgroup_child);
	json_decref(l->spec);
	for (size_t i = 0; i < l->nlitter; i++)
		litter_release(&l->litter[i]);
	free(l->litter);
	settings_release(&l->settings);
	free(l->notice);
	oci_bundle_free(l->bundle);
	free(l);
}

void oci_launch_sweep(const struct oci_conf *conf, const struct pattern_vars *step_vars,
		      char *const *env)
{
	cleanup_free char *spool = NULL;
	cleanup_error oci_error_t err = NULL;
	struct oci_task task = {0};
	struct oci_launch l = {.conf = conf,
			       .task = &task,
			       .vars = *step_vars,
			       .spool_fd = -1,
			       .cgroup_fd = -1,
			       .userns_fd = -1};
	DIR *d;
	struct dirent *e;

	if (oci_launch_paths(conf, step_vars, &spool, NULL, &err) < 0)
		return;
	l.runtime_env = conf_env_without(env, &conf->runtime_env_exclude);
	d = opendir(spool);
	while (d != NULL && (e = readdir(d)) != NULL) {
		char *end;
		unsigned long id;

		if (strncmp(e->d_name, TASK_DIR_PREFIX, strlen(TASK_DIR_PREFIX)) != 0)
			continue;
		id = strtoul(e->d_name + strlen(TASK_DIR_PREFIX), &end, 10);
		if (*end != '\0')
			continue;
		l.vars.task_id = (uint32_t)id;
		if (asprintf(&l.bundle_dir, "%s/%s", spool, e->d_name) < 0)
			continue;
		l.vars.bundle = l.bundle_dir;
		l.vars.spool = spool;
		oci_launch_quietly(&l, conf->runtime_kill);
		oci_launch_quietly(&l, conf->runtime_delete);
		free(l.bundle_dir);
		l.bundle_dir = NULL;
	}
	if (d != NULL)
		closedir(d);
	l.spool = spool;
	shared_container_remove(&l);
	l.spool = NULL;
	unmount_squashfs(spool, l.runtime_env);
	strv_free(l.runtime_env);
	if (!conf->disable_cleanup)
		fs_remove_tree(spool, &err);
}

void oci_exit_like(int wstatus)
{
	if (WIFSIGNALED(wstatus)) {
		int sig = WTERMSIG(wstatus);
		sigset_t set;

		signal(sig, SIG_DFL);
		sigemptyset(&set);
		sigaddset(&set, sig);
		sigprocmask(SIG_UNBLOCK, &set, NULL);
		prctl(PR_SET_DUMPABLE, 0, 0, 0, 0); /* no core file of the supervisor */
		raise(sig);
		_exit(128 + sig);
	}
	_exit(WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 1);
}
