#include "launcher/runtime/runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/strv.h"
#include "launcher/runtime/cgroup.h"
#include "common/proc.h"

#define SYSTEM_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static int search_dirs(const char *dirs, const char *name, char **path)
{
	cleanup_free char *copy = strdup(dirs);
	char *save = NULL;

	if (copy == NULL)
		return -1;
	for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		char *candidate = NULL;
		if (*d != '/' || asprintf(&candidate, "%s/%s", d, name) < 0)
			continue;
		if (access(candidate, X_OK) == 0) {
			*path = candidate;
			return 0;
		}
		free(candidate);
	}
	return -1;
}

int runtime_resolve(const char *name, char *const *env, char **path, oci_error_t *err)
{
	const char *env_path = strv_env_get(env, "PATH");

	if (strchr(name, '/') != NULL) {
		if (access(name, X_OK) < 0)
			return oci_error_make(err, errno, "runtime %s", name);
		*path = strdup(name);
		return *path ? 0 : oci_error_make(err, ENOMEM, "runtime %s", name);
	}
	if (env_path != NULL && search_dirs(env_path, name, path) == 0)
		return 0;
	if (search_dirs(SYSTEM_PATH, name, path) == 0)
		return 0;
	return oci_error_make(err, 0, "runtime %s: not found in PATH or %s", name, SYSTEM_PATH);
}

static int resolve_program(struct runtime_cmd *cmd, oci_error_t *err)
{
	char *resolved = NULL;

	if (runtime_resolve(cmd->argv[0], cmd->env, &resolved, err) < 0) {
		runtime_cmd_release(cmd);
		return -1;
	}
	free(cmd->argv[0]);
	cmd->argv[0] = resolved;
	return 0;
}

int runtime_cmd_init(struct runtime_cmd *cmd, char *const *words, const struct pattern_vars *v,
		     char *const *env, enum runtime_io io, oci_error_t *err)
{
	*cmd = (struct runtime_cmd){.env = env,
				    .io = io,
				    .capture_fd = -1,
				    .cgroup_fd = -1,
				    .stdin_fd = -1,
				    .userns_fd = -1};
	if (pattern_expand_argv(words, v, &cmd->argv, err) < 0)
		return -1;
	return resolve_program(cmd, err);
}

int runtime_cmd_init_argv(struct runtime_cmd *cmd, const char *const *argv, char *const *env,
			  enum runtime_io io, oci_error_t *err)
{
	*cmd = (struct runtime_cmd){.env = env,
				    .io = io,
				    .capture_fd = -1,
				    .cgroup_fd = -1,
				    .stdin_fd = -1,
				    .userns_fd = -1};
	cmd->argv = strv_dup((char *const *)argv);
	if (cmd->argv == NULL)
		return oci_error_make(err, ENOMEM, "%s", argv[0]);
	return resolve_program(cmd, err);
}

void runtime_cmd_release(struct runtime_cmd *cmd)
{
	strv_free(cmd->argv);
	free(cmd->output);
	if (cmd->capture_fd >= 0)
		close(cmd->capture_fd);
	*cmd = (struct runtime_cmd){
		.capture_fd = -1, .cgroup_fd = -1, .stdin_fd = -1, .userns_fd = -1};
}

/* The child of spawn_forked: stdio, cgroup, user namespace, then the runtime. */
__attribute__((noreturn)) static void forked_child(struct runtime_cmd *cmd)
{
	sigset_t none;

	if (cmd->io == RUNTIME_IO_CAPTURE) {
		int in = cmd->stdin_fd >= 0 ? cmd->stdin_fd
					    : open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (in < 0 || dup2(in, 0) < 0 || dup2(cmd->capture_fd, 1) < 0 ||
		    dup2(cmd->capture_fd, 2) < 0)
			_exit(127);
	}
	if (cmd->cgroup_fd >= 0) {
		if (cgroup2_enter_fd(cmd->cgroup_fd) < 0) {
			fprintf(stderr, "spank-oci: cannot enter the container's cgroup: %s\n",
				strerror(errno));
			_exit(127);
		}
	}
	if (cmd->userns_fd >= 0 && userns_child_join(cmd->userns_fd) < 0) {
		fprintf(stderr, "spank-oci: cannot enter a user namespace: %s\n", strerror(errno));
		_exit(127);
	}
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execve(cmd->argv[0], cmd->argv, cmd->env);
	fprintf(stderr, "spank-oci: cannot run %s: %s\n", cmd->argv[0], strerror(errno));
	_exit(127);
}

/*
 * fork, join the cgroup and/or the task's user namespace, exec: the runtime (and so the
 * container) starts there while the supervisor stays where it is.
 */
static int spawn_forked(pid_t *pid, struct runtime_cmd *cmd, oci_error_t *err)
{
	*pid = fork();
	if (*pid < 0)
		return oci_error_make(err, errno, "fork");
	if (*pid == 0)
		forked_child(cmd);
	return 0;
}

int runtime_spawn(struct runtime_cmd *cmd, pid_t *pid, oci_error_t *err)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t all, none;
	int rc;

	if (cmd->io == RUNTIME_IO_CAPTURE) {
		/* a memfd: captured output never touches the file system */
		if (cmd->capture_fd >= 0)
			close(cmd->capture_fd);
		cmd->capture_fd = memfd_create("spank-oci-runtime-output", MFD_CLOEXEC);
		if (cmd->capture_fd < 0)
			return oci_error_make(err, errno, "memfd_create");
	}
	if (cmd->cgroup_fd >= 0 || cmd->userns_fd >= 0)
		return spawn_forked(pid, cmd, err);
	sigfillset(&all);
	sigemptyset(&none);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
	posix_spawn_file_actions_init(&fa);
	if (cmd->io == RUNTIME_IO_CAPTURE) {
		if (cmd->stdin_fd >= 0)
			posix_spawn_file_actions_adddup2(&fa, cmd->stdin_fd, 0);
		else
			posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
		posix_spawn_file_actions_adddup2(&fa, cmd->capture_fd, 1);
		posix_spawn_file_actions_adddup2(&fa, cmd->capture_fd, 2);
	}
	rc = posix_spawn(pid, cmd->argv[0], &fa, &attr, cmd->argv, cmd->env);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (rc != 0)
		return oci_error_make(err, rc, "cannot run %s", cmd->argv[0]);
	return 0;
}

void runtime_collect_output(struct runtime_cmd *cmd)
{
	struct stat st;

	if (cmd->capture_fd < 0 || fstat(cmd->capture_fd, &st) < 0)
		return;
	free(cmd->output);
	cmd->output = calloc(1, (size_t)st.st_size + 1);
	if (cmd->output != NULL && pread(cmd->capture_fd, cmd->output, (size_t)st.st_size, 0) < 0)
		cmd->output[0] = '\0';
	close(cmd->capture_fd);
	cmd->capture_fd = -1;
}

uint64_t runtime_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int runtime_run_sync(struct runtime_cmd *cmd, int *wstatus, oci_error_t *err)
{
	uint64_t started;
	pid_t pid;

	if (runtime_spawn(cmd, &pid, err) < 0)
		return -1;
	started = runtime_now_ns();
	if (reap_wait(pid, wstatus) < 0)
		return oci_error_make(err, errno, "waiting for %s", cmd->argv[0]);
	cmd->waited_ns = runtime_now_ns() - started;
	runtime_collect_output(cmd);
	return 0;
}
