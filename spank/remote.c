/*
 * slurmstepd: in slurm_spank_init_post_opt (root, before the tasks are forked) the
 * user's own directories are made; in slurm_spank_task_init (the task's own process,
 * already the job's user) the task becomes the container; in slurm_spank_exit (root)
 * whatever a killed task left behind is removed, as the user.
 */
#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/xalloc.h"
#include "launcher/runtime/cgroup.h"
#include "launcher/launch.h"
#include "launcher/supervise.h"
#include "launcher/task.h"
#include "launcher/userdirs.h"
#include "common/proc.h"
#include "common/stop.h"
#include "spank/context.h"

/* The longest container request read from the environment (a path or an image name). */
#define SPANK_OCI_MAX_REQUEST (256 * 1024)

/*
 * The name of the task's process (its comm: what ps, top, pgrep and /proc/<pid>/stat show)
 * from the moment it is a container task, so that Slurm signals it like any task process.
 * proctrack/linuxproc's kill_proc_tree skips every process whose comm is slurmstepd's own
 * ("slurmstepd"), the name the task process has from its fork until it executes
 * something, which it never does: it would unpack on through scancel, time limits and
 * SIGKILL, and the node would drain with "Kill task failed". At most 15 characters.
 */
#define TASK_PROCESS_NAME "spank-oci-task"

/*
 * The task stopped by a signal from Slurm (scancel, time limit) before its container ran:
 * tells why, as task_fail does, then dies by that signal, as a host task would.
 */
__attribute__((noreturn)) static void task_stopped(const struct oci_task *t, oci_error_t err)
{
	fprintf(stderr, SPANK_OCI_PREFIX "%s\n", oci_error_text(err));
	fflush(stderr);
	slurm_info(SPANK_OCI_PREFIX "job %u step %u task %u (uid %u): %s", t->job_id, t->step_id,
		   t->task_id, (unsigned)t->uid, oci_error_text(err));
	supervise_exit_like(stop_requested()); /* the wait status of that signal's death */
}

/* Tells the user (on the task's stderr) and the node's log, then ends the task. */
__attribute__((noreturn, format(printf, 2, 3))) static void task_fail(const struct oci_task *t,
								      const char *fmt, ...)
{
	cleanup_free char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	fprintf(stderr, SPANK_OCI_PREFIX "%s\n", msg);
	fflush(stderr);
	slurm_error(SPANK_OCI_PREFIX "job %u step %u task %u (uid %u): %s", t->job_id, t->step_id,
		    t->task_id, (unsigned)t->uid, msg);
	_exit(1);
}

static bool option_set(spank_t sp, struct spank_option *opt)
{
	char *arg = NULL;

	return spank_option_getopt(sp, opt, &arg) == ESPANK_SUCCESS;
}

enum step_kind {
	STEP_ON_HOST,
	STEP_IN_CONTAINER,
	STEP_UNREADABLE /* a container may have been asked for: never run such a task */
};

/*
 * Where this step's tasks run: in the container *bundle (malloc'd) names, or on the host.
 * The request is read whatever its length; when it cannot be read, the step is
 * STEP_UNREADABLE (*why says why), which fails its tasks rather than run them on the host.
 */
static enum step_kind step_container(spank_t sp, char **bundle, spank_err_t *why)
{
	uint32_t step_id = 0;

	*bundle = NULL;
	if (spank_get_item(sp, S_JOB_STEPID, &step_id) != ESPANK_SUCCESS ||
	    step_id == SLURM_EXTERN_CONT)
		return STEP_ON_HOST;
	if (option_set(sp, &client_options[0]))
		return STEP_ON_HOST; /* --no-container */
	for (size_t len = PATH_MAX; len <= SPANK_OCI_MAX_REQUEST; len *= 4) {
		cleanup_free char *buf = xmalloc(len);

		*why = spank_getenv(sp, "SLURM_CONTAINER", buf, (int)len);
		if (*why == ESPANK_ENV_NOEXIST || (*why == ESPANK_SUCCESS && buf[0] == '\0'))
			return STEP_ON_HOST;
		if (*why == ESPANK_SUCCESS) {
			*bundle = steal_pointer(&buf);
			return STEP_IN_CONTAINER;
		}
		if (*why != ESPANK_NOSPACE)
			return STEP_UNREADABLE;
	}
	return STEP_UNREADABLE;
}

/*
 * The node's name as Slurm knows it (SLURMD_NODENAME), else the short host name. Right in
 * a task (slurmstepd sets it there); slurm_spank_exit uses the tasks' (node_told).
 */
static void node_name(spank_t sp, char *buf, size_t len)
{
	if (spank_getenv(sp, "SLURMD_NODENAME", buf, (int)len) == ESPANK_SUCCESS && buf[0])
		return;
	task_node_name(buf, len);
}

/*
 * Slurm's TmpFS, from slurmstepd's own configuration (libslurmfull's slurm_get_tmp_fs:
 * SPANK has no item for it), or NULL where that is not there. Slurm's PMIx plugin makes
 * each step's client directory in it (launcher/spec/pmix.c). Called in slurmstepd itself,
 * never in a forked task, where a configuration lock another thread held would stay held.
 */
static char *slurm_tmp_fs(void)
{
	char *(*get)(char *);
	char *value;

	*(void **)&get = dlsym(RTLD_DEFAULT, "slurm_get_tmp_fs");
	if (get == NULL || (value = get(NULL)) == NULL)
		return NULL;
	/* Slurm's xmalloc'd copy is left to slurmstepd: one small string per step */
	return xstrdup(value);
}

/* TmpFS for node: its %n expanded as Slurm does for the node's daemons, or NULL. */
static char *node_tmp_fs(const char *tmp_fs, const char *node)
{
	const char *n;

	if (tmp_fs == NULL)
		return NULL;
	n = strstr(tmp_fs, "%n");
	if (n == NULL)
		return xstrdup(tmp_fs);
	return xasprintf("%.*s%s%s", (int)(n - tmp_fs), tmp_fs, node, n + 2);
}

/*
 * A container step: the users' own directories its patterns lie in are made (as root,
 * before the tasks start), and the pipe by which its tasks tell the node's name to
 * slurm_spank_exit. What fails is told to the tasks, which then fail with it.
 */
int remote_step_init(spank_t sp)
{
	cleanup_free char *bundle = NULL;
	cleanup_error oci_error_t err = NULL;
	spank_err_t why = ESPANK_SUCCESS;
	uint32_t job_id = 0, step_id = 0;
	uid_t uid = 0;
	gid_t gid = 0;

	if (context.conf == NULL || step_container(sp, &bundle, &why) == STEP_ON_HOST)
		return 0;
	if (pipe2(context.node_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		slurm_error(SPANK_OCI_PREFIX "pipe: %s", strerror(errno));
		context.node_pipe[0] = context.node_pipe[1] = -1;
	}
	context.tmp_fs = slurm_tmp_fs();
	spank_get_item(sp, S_JOB_ID, &job_id);
	spank_get_item(sp, S_JOB_STEPID, &step_id);
	if (spank_get_item(sp, S_JOB_UID, &uid) != ESPANK_SUCCESS ||
	    spank_get_item(sp, S_JOB_GID, &gid) != ESPANK_SUCCESS)
		oci_error_make(&err, 0, "the step has no user");
	else
		userdirs_make_for(context.conf, uid, gid, &err);
	if (err != NULL) {
		context.step_error = xstrdup(oci_error_text(err));
		slurm_error(SPANK_OCI_PREFIX "job %u step %u (uid %u): %s", job_id, step_id,
			    (unsigned)uid, context.step_error);
	}
	return 0;
}

/* In a container task: tells slurm_spank_exit the node's name (one line, atomic). */
static void tell_node(const char *node)
{
	cleanup_free char *line = xasprintf("%s\n", node);

	if (context.node_pipe[1] >= 0) {
		/* EAGAIN when full (thousands of tasks): the first ones said it */
		ssize_t n = write(context.node_pipe[1], line, strlen(line));
		(void)n;
	}
	for (int i = 0; i < 2; i++) {
		if (context.node_pipe[i] >= 0)
			close(context.node_pipe[i]);
		context.node_pipe[i] = -1;
	}
}

/*
 * In slurm_spank_exit: the node name the step's container tasks used (their %n), as they
 * told it. False when none of them told it: none started here, so none left anything.
 * Without the pipe (it could not be made) the name is guessed as before.
 */
static bool node_told(spank_t sp, char *buf, size_t len)
{
	ssize_t n;
	char *nl;

	if (context.node_pipe[0] < 0) {
		node_name(sp, buf, len);
		return true;
	}
	close(context.node_pipe[1]);
	context.node_pipe[1] = -1;
	n = read(context.node_pipe[0], buf, len - 1);
	close(context.node_pipe[0]);
	context.node_pipe[0] = -1;
	if (n <= 0)
		return false;
	buf[n] = '\0';
	nl = strchr(buf, '\n');
	if (nl == NULL)
		return false;
	*nl = '\0';
	/* a name, as the tasks wrote it: nothing that leaves a path component */
	if (buf[0] == '\0' || strcmp(buf, ".") == 0 || strcmp(buf, "..") == 0)
		return false;
	for (const char *c = buf; *c != '\0'; c++) {
		if (!isgraph((unsigned char)*c) || *c == '/')
			return false;
	}
	return true;
}

int remote_task_init(spank_t sp)
{
	char cwd[PATH_MAX], node[256];
	cleanup_free char *bundle = NULL, *tmp_fs = NULL;
	spank_err_t why = ESPANK_SUCCESS;
	enum step_kind kind;
	struct oci_task task = {0};
	struct oci_options options;
	cleanup_error oci_error_t err = NULL;
	struct passwd *pw;
	char **argv = NULL, **env = NULL;
	int argc = 0, wstatus, ngids = 0;
	uint32_t gtid = 0;
	struct timing_mark start;

	timing_mark(&start);
	kind = step_container(sp, &bundle, &why);
	if (kind == STEP_ON_HOST)
		return 0;
	prctl(PR_SET_NAME, TASK_PROCESS_NAME, 0, 0, 0);
	stop_catch(); /* whatever slurmstepd left: SIGTERM stops the setup, cleanly */
	/* before anything of the container exists: the sweep finds it by this name */
	node_name(sp, node, sizeof(node));
	tell_node(node);
	proc_close_exec_fds();
	spank_get_item(sp, S_JOB_UID, &task.uid);
	spank_get_item(sp, S_JOB_GID, &task.gid);
	spank_get_item(sp, S_JOB_ID, &task.job_id);
	spank_get_item(sp, S_JOB_STEPID, &task.step_id);
	spank_get_item(sp, S_TASK_GLOBAL_ID, &gtid);
	task.task_id = gtid;
	if (kind == STEP_UNREADABLE)
		task_fail(&task,
			  "cannot read the container this step asks for (SLURM_CONTAINER): %s",
			  spank_strerror(why));
	if (spank_get_item(sp, S_JOB_SUPPLEMENTARY_GIDS, &task.gids, &ngids) == ESPANK_SUCCESS)
		task.ngids = (size_t)ngids;
	if (spank_get_item(sp, S_JOB_ARGV, &argc, &argv) != ESPANK_SUCCESS || argc < 1)
		task_fail(&task, "%s: the task has no command", bundle);
	if (spank_get_item(sp, S_JOB_ENV, &env) != ESPANK_SUCCESS)
		task_fail(&task, "%s: the task has no environment", bundle);
	if (context.conf == NULL)
		task_fail(&task, "%s",
			  context.conf_error ? context.conf_error : "no configuration");
	if (context.step_error != NULL)
		task_fail(&task, "%s", context.step_error);
	if (options_for_task(sp, env, &options, &err) < 0)
		task_fail(&task, "%s", oci_error_text(err));
	task.options = &options;
	pw = getpwuid(task.uid);
	if (pw == NULL)
		task_fail(&task, "no passwd entry for uid %u", (unsigned)task.uid);
	task.user = pw->pw_name;
	task.home = pw->pw_dir;
	task.node = node;
	task.tmp_fs = tmp_fs = node_tmp_fs(context.tmp_fs, node);
	task.argv = argv;
	task.env = env;
	task.cwd = getcwd(cwd, sizeof(cwd));
	task.shell = pw->pw_shell;
	task.tty = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
	if (task.tty)
		task_terminal_size(&task);
	task.interactive = task.step_id == SLURM_INTERACTIVE_STEP;
	if (task.step_id == SLURM_BATCH_SCRIPT)
		task.batch_script = argv[0];

	if (launch_task(context.conf, &task, bundle, &start, &wstatus, &err) < 0) {
		if (stop_requested())
			task_stopped(&task, err);
		task_fail(&task, "%s", oci_error_text(err));
	}
	supervise_exit_like(wstatus);
}

/* Becomes the job's user for good (in a child of slurmstepd). */
static int become_user(uid_t uid, gid_t gid, const gid_t *gids, size_t ngids)
{
	if (setgroups(ngids, gids) < 0 || setresgid(gid, gid, gid) < 0 ||
	    setresuid(uid, uid, uid) < 0)
		return -1;
	/* no way back */
	return setuid(0) == 0 ? -1 : 0;
}

/*
 * The last line of defence, as root: container processes still in the step's user
 * subtree of Slurm's cgroup v2 layout (job_<j>/step_<s>/user) are killed. The path comes
 * from slurmstepd's own cgroup (job_<j>/step_<s>/slurm), never from the user. Under
 * other proctrack/cgroup setups there is no such path and nothing is done here (the task
 * supervisor has already killed what it could reach).
 */
static void kill_step_leftovers(uint32_t job_id, uint32_t step_id)
{
	cleanup_free char *mount = NULL, *self = NULL, *step_dir = NULL, *user_dir = NULL;
	cleanup_error oci_error_t err = NULL;
	char step[16];
	int n;

	if (step_id == SLURM_BATCH_SCRIPT)
		snprintf(step, sizeof(step), "batch");
	else if (step_id == SLURM_INTERACTIVE_STEP)
		snprintf(step, sizeof(step), "interactive");
	else
		snprintf(step, sizeof(step), "%u", step_id);
	if (cgroup2_mount("/proc/self/mountinfo", &mount, &err) < 0 ||
	    cgroup2_path_of("/proc/self/cgroup", &self, &err) < 0)
		return;
	step_dir = cgroup2_slurm_step_dir(mount, self, job_id, step);
	if (step_dir == NULL || asprintf(&user_dir, "%s/user", step_dir) < 0 ||
	    access(user_dir, F_OK) < 0)
		return;
	n = cgroup2_kill_tree(user_dir, &err);
	if (n > 0)
		slurm_info(SPANK_OCI_PREFIX
			   "job %u step %s: killed %d container processes left in %s",
			   job_id, step, n, user_dir);
	else if (n < 0)
		slurm_error(SPANK_OCI_PREFIX "job %u step %s: %s", job_id, step,
			    oci_error_text(err));
}

int remote_exit(spank_t sp)
{
	char node[256];
	cleanup_free char *bundle = NULL;
	spank_err_t why = ESPANK_SUCCESS;
	struct pattern_vars vars = {0};
	struct passwd pwbuf, *pw = NULL;
	char pwtext[4096], home[PATH_MAX + 8], user[300];
	gid_t gid = 0, *gids = NULL;
	int ngids = 0;
	pid_t pid;

	/* an unreadable request may have made containers: sweep then too */
	if (context.conf == NULL || step_container(sp, &bundle, &why) == STEP_ON_HOST)
		return 0;
	spank_get_item(sp, S_JOB_UID, &vars.uid);
	spank_get_item(sp, S_JOB_GID, &gid);
	spank_get_item(sp, S_JOB_ID, &vars.job_id);
	spank_get_item(sp, S_JOB_STEPID, &vars.step_id);
	spank_get_item(sp, S_JOB_SUPPLEMENTARY_GIDS, &gids, &ngids);
	if (vars.uid == 0 || getpwuid_r(vars.uid, &pwbuf, pwtext, sizeof(pwtext), &pw) != 0 ||
	    pw == NULL)
		return 0;
	kill_step_leftovers(vars.job_id, vars.step_id);
	if (!node_told(sp, node, sizeof(node)))
		return 0;
	vars.node = node;
	vars.user = pw->pw_name;
	snprintf(home, sizeof(home), "HOME=%s", pw->pw_dir);
	snprintf(user, sizeof(user), "USER=%s", pw->pw_name);

	pid = fork();
	if (pid < 0) {
		slurm_error(SPANK_OCI_PREFIX "cleanup: fork: %s", strerror(errno));
		return 0;
	}
	if (pid == 0) {
		char *env[] = {"PATH=" SPANK_OCI_SYSTEM_PATH, home, user, NULL};
		/* nothing of slurmstepd's reaches the user's runtime commands: fds, limits */
		if (proc_close_all_but_stdio() < 0 || proc_reset_rlimits() < 0 ||
		    become_user(vars.uid, gid, gids, ngids > 0 ? (size_t)ngids : 0) < 0)
			_exit(1);
		launch_sweep(context.conf, &vars, env);
		_exit(0);
	}
	proc_wait(pid, NULL);
	return 0;
}
