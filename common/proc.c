#include "common/proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/messages.h"
#include "common/strv.h"
#include "common/xalloc.h"

/* The parent pid from /proc/<pid>/stat (the field after the parenthesised name). */
static pid_t parent_of(const char *pid)
{
	char path[320], buf[512];
	FILE *f;
	char *p;
	size_t n;
	int ppid = -1;

	snprintf(path, sizeof(path), "/proc/%s/stat", pid);
	f = fopen(path, "re");
	if (f == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (p == NULL || sscanf(p + 1, " %*c %d", &ppid) != 1)
		return -1;
	return ppid;
}

int proc_kill_descendants(pid_t root)
{
	pid_t tree[4096];
	size_t n = 1;
	int killed = 0;
	bool grew = true;

	tree[0] = root;
	/* grow the set of known descendants until a pass adds nothing */
	while (grew && n < sizeof(tree) / sizeof(tree[0])) {
		DIR *d = opendir("/proc");
		struct dirent *e;

		grew = false;
		while (d != NULL && (e = readdir(d)) != NULL &&
		       n < sizeof(tree) / sizeof(tree[0])) {
			pid_t pid, ppid;
			bool known = false;

			if (e->d_name[0] < '0' || e->d_name[0] > '9')
				continue;
			pid = (pid_t)atoi(e->d_name);
			ppid = parent_of(e->d_name);
			for (size_t i = 0; i < n && !known; i++)
				known = tree[i] == pid;
			for (size_t i = 0; i < n && !known; i++) {
				if (tree[i] == ppid) {
					tree[n++] = pid;
					grew = true;
					break;
				}
			}
		}
		if (d != NULL)
			closedir(d);
	}
	for (size_t i = 1; i < n; i++) {
		if (kill(tree[i], SIGKILL) == 0)
			killed++;
	}
	return killed;
}

int proc_wait(pid_t pid, int *status)
{
	while (waitpid(pid, status, 0) < 0) {
		if (errno != EINTR)
			return -1;
	}
	return 0;
}

void proc_kill_children(void)
{
	int status;

	for (;;) {
		pid_t pid = waitpid(-1, &status, WNOHANG);

		if (pid > 0 || (pid < 0 && errno == EINTR))
			continue;
		if (pid < 0)
			return; /* ECHILD: nothing left */
		/* children remain and live: kill them, then wait for one and look again */
		proc_kill_descendants(getpid());
		waitpid(-1, &status, 0);
	}
}

static int search_dirs(const char *dirs, const char *name, char **path)
{
	cleanup_free char *copy = xstrdup(dirs);
	char *save = NULL;

	for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		cleanup_free char *candidate = NULL;
		struct stat st; /* a directory of that name is no program: look further */

		if (*d != '/')
			continue;
		candidate = xasprintf("%s/%s", d, name);
		if (access(candidate, X_OK) == 0 && stat(candidate, &st) == 0 &&
		    S_ISREG(st.st_mode)) {
			*path = steal_pointer(&candidate);
			return 0;
		}
	}
	return -1;
}

int proc_find_program(const char *name, char *const *env, char **path, oci_error_t *err)
{
	const char *env_path = strv_env_get(env, "PATH");

	if (strchr(name, '/') != NULL) {
		if (access(name, X_OK) < 0)
			return oci_error_make(err, errno, "runtime %s", name);
		*path = xstrdup(name);
		return 0;
	}
	if (env_path != NULL && search_dirs(env_path, name, path) == 0)
		return 0;
	if (search_dirs(SPANK_OCI_SYSTEM_PATH, name, path) == 0)
		return 0;
	return oci_error_make(err, 0, "runtime %s: not found in PATH or %s", name,
			      SPANK_OCI_SYSTEM_PATH);
}

int proc_cmd_init(struct proc_cmd *cmd, char **argv_owned, char *const *env, enum proc_io io,
		  oci_error_t *err)
{
	char *resolved = NULL;

	if (argv_owned == NULL || argv_owned[0] == NULL) {
		strv_free(argv_owned);
		*cmd = (struct proc_cmd){.capture_fd = -1,
					 .cgroup_fd = -1,
					 .stdin_fd = -1,
					 .userns_fd = -1,
					 .mntns_fd = -1};
		return oci_error_make(err, 0, "an empty command");
	}
	*cmd = (struct proc_cmd){.argv = argv_owned,
				 .env = env,
				 .io = io,
				 .capture_fd = -1,
				 .cgroup_fd = -1,
				 .stdin_fd = -1,
				 .userns_fd = -1,
				 .mntns_fd = -1};
	if (proc_find_program(cmd->argv[0], env, &resolved, err) < 0) {
		proc_cmd_release(cmd);
		return -1;
	}
	free(cmd->argv[0]);
	cmd->argv[0] = resolved;
	return 0;
}

void proc_cmd_release(struct proc_cmd *cmd)
{
	strv_free(cmd->argv);
	free(cmd->output);
	if (cmd->capture_fd >= 0)
		close(cmd->capture_fd);
	*cmd = (struct proc_cmd){
		.capture_fd = -1, .cgroup_fd = -1, .stdin_fd = -1, .userns_fd = -1, .mntns_fd = -1};
}

int proc_enter_cgroup(int dirfd)
{
	cleanup_close int fd = openat(dirfd, "cgroup.procs", O_WRONLY | O_CLOEXEC);

	return fd >= 0 && write(fd, "0", 1) == 1 ? 0 : -1;
}

int proc_enter_userns(int fd, int mnt_fd)
{
	if (setns(fd, CLONE_NEWUSER) < 0)
		return -1;
	if (mnt_fd >= 0 ? setns(mnt_fd, CLONE_NEWNS) < 0 : unshare(CLONE_NEWNS) < 0)
		return -1;
	if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
		return -1;
	/* where only the user is mapped, newgidmap denied setgroups: the groups stay */
	return setgroups(0, NULL) < 0 && errno != EPERM ? -1 : 0;
}

/* The child of spawn_forked: stdio, cgroup, user namespace, then the program. */
__attribute__((noreturn)) static void forked_child(struct proc_cmd *cmd)
{
	sigset_t none;

	if (cmd->io == PROC_IO_CAPTURE) {
		int in = cmd->stdin_fd >= 0 ? cmd->stdin_fd
					    : open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (in < 0 || dup2(in, 0) < 0 || dup2(cmd->capture_fd, 1) < 0 ||
		    dup2(cmd->capture_fd, 2) < 0)
			_exit(127);
	}
	if (cmd->cgroup_fd >= 0 && proc_enter_cgroup(cmd->cgroup_fd) < 0) {
		fprintf(stderr, SPANK_OCI_PREFIX "cannot enter the container's cgroup: %s\n",
			strerror(errno));
		_exit(127);
	}
	if (cmd->die_with_parent && prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		_exit(127);
	if (cmd->userns_fd >= 0 && proc_enter_userns(cmd->userns_fd, cmd->mntns_fd) < 0) {
		fprintf(stderr, SPANK_OCI_PREFIX "cannot enter a user namespace: %s\n",
			strerror(errno));
		_exit(127);
	}
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execve(cmd->argv[0], cmd->argv, cmd->env);
	fprintf(stderr, SPANK_OCI_PREFIX "cannot run %s: %s\n", cmd->argv[0], strerror(errno));
	_exit(127);
}

/*
 * fork, join the cgroup and/or the user namespace, exec: the program (and so the
 * container) starts there while the caller stays where it is.
 */
static int spawn_forked(pid_t *pid, struct proc_cmd *cmd, oci_error_t *err)
{
	*pid = fork();
	if (*pid < 0)
		return oci_error_make(err, errno, "fork");
	if (*pid == 0)
		forked_child(cmd);
	return 0;
}

int proc_cmd_spawn(struct proc_cmd *cmd, pid_t *pid, oci_error_t *err)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t all, none;
	int rc;

	if (cmd->io == PROC_IO_CAPTURE) {
		/* a memfd: captured output never touches the file system */
		if (cmd->capture_fd >= 0)
			close(cmd->capture_fd);
		cmd->capture_fd = memfd_create("spank-oci-runtime-output", MFD_CLOEXEC);
		if (cmd->capture_fd < 0)
			return oci_error_make(err, errno, "memfd_create");
	}
	if (cmd->cgroup_fd >= 0 || cmd->userns_fd >= 0 || cmd->die_with_parent)
		return spawn_forked(pid, cmd, err);
	sigfillset(&all);
	sigemptyset(&none);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
	posix_spawn_file_actions_init(&fa);
	if (cmd->io == PROC_IO_CAPTURE) {
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

void proc_cmd_collect_output(struct proc_cmd *cmd)
{
	struct stat st;

	if (cmd->capture_fd < 0 || fstat(cmd->capture_fd, &st) < 0)
		return;
	free(cmd->output);
	cmd->output = xcalloc(1, (size_t)st.st_size + 1);
	if (pread(cmd->capture_fd, cmd->output, (size_t)st.st_size, 0) < 0)
		cmd->output[0] = '\0';
	close(cmd->capture_fd);
	cmd->capture_fd = -1;
}

uint64_t proc_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int proc_cmd_run(struct proc_cmd *cmd, int *wstatus, oci_error_t *err)
{
	uint64_t started;
	pid_t pid;

	if (proc_cmd_spawn(cmd, &pid, err) < 0)
		return -1;
	started = proc_now_ns();
	if (proc_wait(pid, wstatus) < 0)
		return oci_error_make(err, errno, "waiting for %s", cmd->argv[0]);
	cmd->waited_ns = proc_now_ns() - started;
	proc_cmd_collect_output(cmd);
	return 0;
}

int proc_close_all_but_stdio(void)
{
	return close_range(3, ~0U, 0);
}

int proc_reset_rlimits(void)
{
	/* a new process's limits (the kernel's INIT_RLIMITS) where they are finite */
	static const struct {
		int resource;
		rlim_t soft, hard;
	} defaults[] = {
		{RLIMIT_CORE, 0, 0},
		{RLIMIT_NOFILE, 1024, 4096},
		{RLIMIT_MEMLOCK, 8 << 20, 8 << 20},
		{RLIMIT_RTPRIO, 0, 0},
		{RLIMIT_NICE, 0, 0},
		{RLIMIT_MSGQUEUE, 819200, 819200},
		{RLIMIT_STACK, 8 << 20, RLIM_INFINITY},
	};

	for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
		struct rlimit rl;

		if (getrlimit(defaults[i].resource, &rl) < 0)
			return -1;
		/* RLIM_INFINITY is the largest value: min() lowers, never raises */
		if (rl.rlim_max > defaults[i].hard)
			rl.rlim_max = defaults[i].hard;
		if (rl.rlim_cur > defaults[i].soft)
			rl.rlim_cur = defaults[i].soft;
		if (rl.rlim_cur > rl.rlim_max)
			rl.rlim_cur = rl.rlim_max;
		if (setrlimit(defaults[i].resource, &rl) < 0)
			return -1;
	}
	return 0;
}

void proc_close_exec_fds(void)
{
	cleanup_dir DIR *d = opendir("/proc/self/fd");
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
}
