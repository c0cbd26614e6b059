/*
 * common/proc.c: finding a program, running it with its output captured, waiting through
 * EINTR, and killing what a process leaves behind. What changes the calling process itself
 * (becoming a subreaper, closing fds) runs in a forked child (check_in_child).
 */
#include "unit.h"

#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "common/messages.h"
#include "common/proc.h"
#include "common/strv.h"

#define ENV(...) ((char *const[]){__VA_ARGS__, NULL})
/* An owned argv for proc_cmd_init. */
#define ARGV(...) strv_dup((char *const[]){__VA_ARGS__, NULL})

#define FAKE_NAME "spank-oci-unit-fake-program" /* in no system directory */

/* ---- helpers ---------------------------------------------------------------------------- */

static void sleep_for_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

/* The state letter of /proc/PID/stat, or 0 when the process is gone. */
static char proc_state(pid_t pid)
{
	char path[64], buf[512], *p;
	cleanup_fclose FILE *f = NULL;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p != NULL && p[1] == ' ' ? p[2] : 0;
}

/* Whether pid has ended (gone, or a zombie nobody reaps) within 5 s. */
static bool ends_soon(pid_t pid)
{
	for (int i = 0; i < 1000; i++) {
		char state = proc_state(pid);

		if (state == 0 || state == 'Z' || state == 'X')
			return true;
		sleep_for_ms(5);
	}
	return false;
}

/* A pid announced on a pipe by a process of a test: its tag and pid. */
struct announce {
	char tag;
	pid_t pid;
};

static void announce(int fd, char tag, pid_t pid)
{
	struct announce a = {.tag = tag, .pid = pid};

	if (write(fd, &a, sizeof(a)) != (ssize_t)sizeof(a))
		_exit(120);
}

/* Reads one announcement, waiting at most 5 s. */
static struct announce read_announce(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	struct announce a = {0};

	if (poll(&p, 1, 5000) != 1 || read(fd, &a, sizeof(a)) != (ssize_t)sizeof(a))
		fail_msg("no pid announced within 5 s");
	return a;
}

/* ---- proc_find_program ------------------------------------------------------------------ */

static void find_program_takes_a_path_as_is(void **state)
{
	struct dir_fixture *f = *state;
	cleanup_free char *prog = dir_fixture_at(f, "sh"), *path = NULL;
	cleanup_free char *plain = dir_fixture_at(f, "plain"), *missing = dir_fixture_at(f, "nope");
	cleanup_error oci_error_t err = NULL, err2 = NULL;

	write_executable(f->dir, "sh", "#!/bin/sh\n");
	write_text(plain, NULL, "not executable\n");
	/* a name with a slash is the program itself, whatever PATH holds of that name */
	assert_ok(proc_find_program(prog, ENV("PATH=/usr/bin:/bin"), &path, &err), err);
	assert_string_equal(path, prog);

	assert_int_equal(proc_find_program(plain, ENV("PATH=/usr/bin"), &path, &err), -1);
	assert_error_has(err, plain);
	assert_int_equal(err->status, EACCES);
	assert_int_equal(proc_find_program(missing, NULL, &path, &err2), -1);
	assert_error_has(err2, missing);
	assert_int_equal(err2->status, ENOENT);
	assert_string_equal(path, prog); /* untouched on failure */
}

static void find_program_searches_env_path_in_order(void **state)
{
	struct dir_fixture *f = *state;
	cleanup_free char *path = NULL, *env_path = NULL, *want = NULL;
	cleanup_error oci_error_t err = NULL;

	make_dir(f->dir, "a", 0755);
	make_dir(f->dir, "b", 0755);
	make_dir(f->dir, "c", 0755);
	/* not executable in a: skipped; b's is the first that runs; c's comes later */
	write_text(f->dir, "a/" FAKE_NAME, "#!/bin/sh\n");
	write_executable(f->dir, "b/" FAKE_NAME, "#!/bin/sh\n");
	write_executable(f->dir, "c/" FAKE_NAME, "#!/bin/sh\n");
	env_path = xasprintf("PATH=/nonexistent::%s/a:%s/b:%s/c", f->dir, f->dir, f->dir);
	want = xasprintf("%s/b/" FAKE_NAME, f->dir);

	assert_ok(proc_find_program(FAKE_NAME, ENV("HOME=/", env_path), &path, &err), err);
	assert_string_equal(path, want);
}

/* A directory of that name is no program: execvp and the shells look further. */
static void find_program_skips_directories_in_path(void **state)
{
	struct dir_fixture *f = *state;
	cleanup_free char *path = NULL, *env_path = NULL, *want = NULL;
	cleanup_error oci_error_t err = NULL;

	make_dir(f->dir, "a", 0755);
	make_dir(f->dir, "a/" FAKE_NAME, 0755);
	make_dir(f->dir, "b", 0755);
	write_executable(f->dir, "b/" FAKE_NAME, "#!/bin/sh\n");
	env_path = xasprintf("PATH=%s/a:%s/b", f->dir, f->dir);
	want = xasprintf("%s/b/" FAKE_NAME, f->dir);

	assert_ok(proc_find_program(FAKE_NAME, ENV(env_path), &path, &err), err);
	assert_string_equal(path, want);
}

/* Relative PATH entries would depend on the cwd: they are ignored. */
static void find_program_ignores_relative_path_entries(void **state)
{
	struct dir_fixture *f = *state;
	cleanup_close int cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cleanup_error oci_error_t err = NULL;
	char *path = NULL;
	int rc;

	assert_true(cwd >= 0);
	make_dir(f->dir, "rel", 0755);
	write_executable(f->dir, "rel/" FAKE_NAME, "#!/bin/sh\n");
	assert_int_equal(chdir(f->dir), 0);
	rc = proc_find_program(FAKE_NAME, ENV("PATH=rel:./rel"), &path, &err);
	assert_int_equal(fchdir(cwd), 0);
	if (rc == 0)
		fail_msg("found %s through a relative PATH entry", path);
	assert_error_has(err, "not found in PATH");
}

/* The job's PATH comes first: a program of the user's shadows the system's. */
static void find_program_prefers_env_path_to_system_dirs(void **state)
{
	struct dir_fixture *f = *state;
	cleanup_free char *path = NULL, *env_path = xasprintf("PATH=%s", f->dir);
	cleanup_free char *want = dir_fixture_at(f, "sh");
	cleanup_error oci_error_t err = NULL;

	write_executable(f->dir, "sh", "#!/bin/sh\n");
	assert_ok(proc_find_program("sh", ENV(env_path), &path, &err), err);
	assert_string_equal(path, want);
}

/* Whether path is <one of the system directories>/name. */
static bool in_system_dirs(const char *path, const char *name)
{
	cleanup_free char *dirs = xstrdup(SPANK_OCI_SYSTEM_PATH);
	char *save = NULL;

	for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		cleanup_free char *candidate = xasprintf("%s/%s", d, name);

		if (strcmp(candidate, path) == 0)
			return true;
	}
	return false;
}

static void find_program_falls_back_to_system_dirs(void **state)
{
	struct dir_fixture *f = *state;
	cleanup_free char *path1 = NULL, *path2 = NULL, *path3 = NULL;
	cleanup_free char *env_path = xasprintf("PATH=%s", f->dir);
	cleanup_error oci_error_t err = NULL;

	/* no PATH, no environment at all, or a PATH without it */
	assert_ok(proc_find_program("sh", ENV("HOME=/"), &path1, &err), err);
	assert_ok(proc_find_program("sh", NULL, &path2, &err), err);
	assert_ok(proc_find_program("sh", ENV(env_path), &path3, &err), err);
	if (!in_system_dirs(path1, "sh"))
		fail_msg("%s is not in %s", path1, SPANK_OCI_SYSTEM_PATH);
	assert_int_equal(access(path1, X_OK), 0);
	assert_string_equal(path2, path1);
	assert_string_equal(path3, path1);
}

static void find_program_not_found_names_path(void **state)
{
	struct dir_fixture *f = *state;
	cleanup_free char *env_path = xasprintf("PATH=%s", f->dir);
	cleanup_error oci_error_t err = NULL;
	char *path = NULL;

	assert_int_equal(proc_find_program(FAKE_NAME, ENV(env_path), &path, &err), -1);
	assert_null(path);
	assert_error_has(err, "runtime " FAKE_NAME ": not found in PATH or " SPANK_OCI_SYSTEM_PATH);
}

/* ---- proc_cmd_init, proc_cmd_run --------------------------------------------------------- */

static void cmd_init_resolves_program_or_fails(void **state)
{
	cleanup_error oci_error_t err = NULL, err2 = NULL, err3 = NULL;
	cleanup_free char *sh = NULL;
	struct proc_cmd cmd;

	(void)state;
	assert_ok(proc_find_program("sh", NULL, &sh, &err), err);
	assert_ok(proc_cmd_init(&cmd, ARGV("sh", "-c", "exit 0"), NULL, PROC_IO_CAPTURE, &err),
		  err);
	assert_string_equal(cmd.argv[0], sh);
	assert_string_equal(cmd.argv[1], "-c");
	assert_string_equal(cmd.argv[2], "exit 0");
	assert_null(cmd.argv[3]);
	assert_int_equal(cmd.io, PROC_IO_CAPTURE);
	assert_null(cmd.output);
	assert_int_equal(cmd.capture_fd, -1);
	assert_int_equal(cmd.cgroup_fd, -1);
	assert_int_equal(cmd.stdin_fd, -1);
	assert_int_equal(cmd.userns_fd, -1);
	proc_cmd_release(&cmd);

	/* failures release the argv they were given (ASan would see a leak) */
	assert_int_equal(proc_cmd_init(&cmd, ARGV(FAKE_NAME, "x"), NULL, PROC_IO_CAPTURE, &err2),
			 -1);
	assert_error_has(err2, "runtime " FAKE_NAME ": not found");
	assert_null(cmd.argv);
	assert_int_equal(cmd.capture_fd, -1);
	assert_int_equal(proc_cmd_init(&cmd, strv_dup(ENV(NULL)), NULL, PROC_IO_CAPTURE, &err3),
			 -1);
	assert_error_has(err3, "an empty command");
	assert_int_equal(proc_cmd_init(&cmd, NULL, NULL, PROC_IO_CAPTURE, &err3), -1);
	assert_int_equal(cmd.stdin_fd, -1);
	assert_int_equal(cmd.userns_fd, -1);
}

/* Runs argv with PROC_IO_CAPTURE to its end; the caller releases cmd. */
static int run_captured(struct proc_cmd *cmd, char **argv, char *const *env, int stdin_fd)
{
	cleanup_error oci_error_t err = NULL;
	int status = -1;

	assert_ok(proc_cmd_init(cmd, argv, env, PROC_IO_CAPTURE, &err), err);
	cmd->stdin_fd = stdin_fd;
	assert_ok(proc_cmd_run(cmd, &status, &err), err);
	assert_int_equal(cmd->capture_fd, -1);
	assert_non_null(cmd->output);
	return status;
}

static void cmd_run_captures_stdout_stderr_and_status(void **state)
{
	struct proc_cmd cmd;
	int status;

	(void)state;
	status = run_captured(&cmd, ARGV("sh", "-c", "echo out; echo err >&2; echo more; exit 3"),
			      ENV("PATH=/usr/bin:/bin"), -1);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 3);
	assert_string_equal(cmd.output, "out\nerr\nmore\n");
	proc_cmd_release(&cmd);

	status = run_captured(&cmd, ARGV("sh", "-c", "exit 0"), NULL, -1);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_string_equal(cmd.output, "");
	proc_cmd_release(&cmd);
}

/* More than a pipe holds: captured output never blocks the program. */
static void cmd_run_captures_large_output(void **state)
{
	struct proc_cmd cmd;
	int status;

	(void)state;
	status = run_captured(&cmd,
			      ARGV("sh", "-c",
				   "i=0; while [ $i -lt 20000 ]; do echo 0123456789abcdef; "
				   "i=$((i + 1)); done; echo end >&2"),
			      NULL, -1);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(strlen(cmd.output), 20000 * 17 + 4);
	assert_memory_equal(cmd.output, "0123456789abcdef\n0123456789abcdef\n", 34);
	assert_string_equal(cmd.output + 20000 * 17, "end\n");
	proc_cmd_release(&cmd);
}

static void cmd_run_passes_exactly_its_env(void **state)
{
	struct proc_cmd cmd;
	int status;

	(void)state;
	setenv("SPANK_OCI_UNIT_LEAK", "from the test process", 1);
	status = run_captured(&cmd, ARGV("env"), ENV("A=1", "B=two words", "C="), -1);
	unsetenv("SPANK_OCI_UNIT_LEAK");
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_string_equal(cmd.output, "A=1\nB=two words\nC=\n");
	proc_cmd_release(&cmd);
}

static void cmd_run_stdin_is_dev_null_or_stdin_fd(void **state)
{
	struct dir_fixture *f = *state;
	cleanup_free char *input = dir_fixture_at(f, "input");
	struct proc_cmd cmd;
	int status, fd;

	status = run_captured(&cmd, ARGV("cat"), NULL, -1);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_string_equal(cmd.output, "");
	proc_cmd_release(&cmd);

	/* close-on-exec, like the holder's memfd: it is still the program's stdin */
	write_text(input, NULL, "fed on stdin\nline 2\n");
	fd = open(input, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	status = run_captured(&cmd, ARGV("cat"), NULL, fd);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_string_equal(cmd.output, "fed on stdin\nline 2\n");
	proc_cmd_release(&cmd);
	/* the caller's fd stays the caller's */
	assert_true(fcntl(fd, F_GETFD) >= 0);
	close(fd);
}

/*
 * The program starts with default signal dispositions and no blocked signal, whatever the
 * caller has (slurmstepd ignores and blocks some): a shell that ignored SIGTERM on entry
 * could not undo it.
 */
static void cmd_run_resets_signals(void **state)
{
	struct sigaction ignore = {.sa_handler = SIG_IGN}, old;
	sigset_t term, old_mask;
	struct proc_cmd cmd;
	int status;

	(void)state;
	sigemptyset(&ignore.sa_mask);
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	assert_int_equal(sigaction(SIGTERM, &ignore, &old), 0);
	assert_int_equal(sigprocmask(SIG_BLOCK, &term, &old_mask), 0);
	status = run_captured(&cmd, ARGV("sh", "-c", "kill -TERM $$; exit 7"), NULL, -1);
	sigprocmask(SIG_SETMASK, &old_mask, NULL);
	sigaction(SIGTERM, &old, NULL);
	if (!WIFSIGNALED(status))
		fail_msg("the program survived SIGTERM: exit status %d", WEXITSTATUS(status));
	assert_int_equal(WTERMSIG(status), SIGTERM);
	proc_cmd_release(&cmd);
}

static void cmd_run_measures_waited_ns(void **state)
{
	struct proc_cmd cmd;
	int status;

	(void)state;
	status = run_captured(&cmd, ARGV("sleep", "0.2"), NULL, -1);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* the whole run (with a margin for clocks that disagree by a little) */
	assert_true(cmd.waited_ns >= 180000000u);
	assert_true(cmd.waited_ns < 30000000000u);
	proc_cmd_release(&cmd);
}

/* An executable file the kernel cannot run (no #! line, no ELF): the error names it. */
static void cmd_run_unrunnable_program_is_an_error(void **state)
{
	struct dir_fixture *f = *state;
	cleanup_free char *prog = dir_fixture_at(f, "garbage");
	cleanup_error oci_error_t err = NULL;
	struct proc_cmd cmd;
	int status = -1;

	write_executable(f->dir, "garbage", "no interpreter line, no ELF header\n");
	assert_ok(proc_cmd_init(&cmd, ARGV(prog), NULL, PROC_IO_CAPTURE, &err), err);
	assert_int_equal(proc_cmd_run(&cmd, &status, &err), -1);
	assert_error_has(err, "cannot run ");
	assert_error_has(err, prog);
	proc_cmd_release(&cmd);
}

/* ---- proc_wait ---------------------------------------------------------------------------- */

static volatile sig_atomic_t alarms;

static void count_alarm(int sig)
{
	(void)sig;
	alarms++;
}

static void wait_goes_on_through_eintr(void **state)
{
	struct sigaction sa = {.sa_handler = count_alarm}, old; /* no SA_RESTART: EINTR */
	struct itimerval every_10ms = {{0, 10000}, {0, 10000}}, off = {{0, 0}, {0, 0}};
	int status = 0, rc, saved_errno;
	pid_t pid;

	(void)state;
	sigemptyset(&sa.sa_mask);
	alarms = 0;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		sleep_for_ms(300);
		_exit(9);
	}
	assert_int_equal(sigaction(SIGALRM, &sa, &old), 0);
	assert_int_equal(setitimer(ITIMER_REAL, &every_10ms, NULL), 0);
	rc = proc_wait(pid, &status);
	saved_errno = errno;
	setitimer(ITIMER_REAL, &off, NULL);
	sigaction(SIGALRM, &old, NULL);
	if (rc != 0)
		fail_msg("proc_wait: %s", strerror(saved_errno));
	assert_true(alarms > 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 9);
}

static void wait_without_status_and_for_no_child(void **state)
{
	pid_t pid;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	assert_int_equal(proc_wait(pid, NULL), 0);
	/* reaped: it is no child any more */
	errno = 0;
	assert_int_equal(proc_wait(pid, NULL), -1);
	assert_int_equal(errno, ECHILD);
}

/* ---- proc_kill_descendants ---------------------------------------------------------------- */

static __attribute__((noreturn)) void pause_forever(void)
{
	alarm(20); /* never outlives a broken test by long */
	for (;;)
		pause();
}

/*
 * root forks g1 (which forks gg) and g2, announces them, waits for g1 and g2 and exits 0
 * if both were SIGKILLed, 1 otherwise.
 */
static __attribute__((noreturn)) void descendants_root(int report)
{
	pid_t g1, g2;
	int s1 = 0, s2 = 0;

	alarm(10);
	g1 = fork();
	if (g1 == 0) {
		pid_t gg = fork();

		if (gg == 0)
			pause_forever();
		announce(report, 'G', gg);
		pause_forever();
	}
	g2 = fork();
	if (g2 == 0)
		pause_forever();
	if (g1 < 0 || g2 < 0)
		_exit(2);
	announce(report, '1', g1);
	announce(report, '2', g2);
	if (waitpid(g1, &s1, 0) != g1 || waitpid(g2, &s2, 0) != g2)
		_exit(3);
	_exit(WIFSIGNALED(s1) && WTERMSIG(s1) == SIGKILL && WIFSIGNALED(s2) &&
			      WTERMSIG(s2) == SIGKILL
		      ? 0
		      : 1);
}

static void kill_descendants_spares_root_and_others(void **state)
{
	pid_t root, bystander, pids[3] = {0, 0, 0};
	int report[2], status, killed;

	(void)state;
	assert_int_equal(pipe2(report, O_CLOEXEC), 0);
	fflush(NULL);
	bystander = fork();
	assert_true(bystander >= 0);
	if (bystander == 0)
		pause_forever();
	root = fork();
	assert_true(root >= 0);
	if (root == 0)
		descendants_root(report[1]);
	close(report[1]);
	for (int i = 0; i < 3; i++) {
		struct announce a = read_announce(report[0]);

		pids[a.tag == '1' ? 0 : a.tag == '2' ? 1 : 2] = a.pid;
	}
	close(report[0]);

	killed = proc_kill_descendants(root);

	status = wait_child(root, 5000);
	if (!WIFEXITED(status))
		fail_msg("the root itself was killed (signal %d)", WTERMSIG(status));
	if (WEXITSTATUS(status) != 0)
		fail_msg("the root's children were not SIGKILLed (root exit %d)",
			 WEXITSTATUS(status));
	assert_true(ends_soon(pids[2])); /* the grandchild of root's child */
	assert_int_equal(killed, 3);
	/* a process outside root's tree lives on */
	assert_int_equal(kill(bystander, 0), 0);
	assert_true(proc_state(bystander) != 'Z');
	kill(bystander, SIGKILL);
	status = wait_child(bystander, 5000);
	assert_true(WIFSIGNALED(status));
}

static void kill_descendants_of_a_leaf_kills_nothing(void **state)
{
	pid_t pid;
	int status;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		pause_forever();
	assert_int_equal(proc_kill_descendants(pid), 0);
	assert_int_equal(kill(pid, 0), 0);
	kill(pid, SIGKILL);
	status = wait_child(pid, 5000);
	assert_true(WIFSIGNALED(status));
}

/* ---- proc_kill_children -------------------------------------------------------------------- */

/* ppid from /proc/PID/stat, -1 when gone. */
static pid_t parent_pid(pid_t pid)
{
	char path[64], buf[512], *p;
	cleanup_fclose FILE *f = NULL;
	int ppid = -1;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (p == NULL || sscanf(p + 1, " %*c %d", &ppid) != 1)
		return -1;
	return ppid;
}

/*
 * As a subreaper: a live child, an ended one not yet reaped, and an orphan (with a child of
 * its own) whose parent exited and which came back to us; all killed and reaped.
 */
static int subreaper_kills_and_reaps_all(void *arg, char *msg, size_t len)
{
	pid_t live, ended, mid, orphan = -1, orphan_child = -1;
	int report[2];

	(void)arg;
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0 || pipe(report) < 0)
		return snprintf(msg, len, "setup: %s", strerror(errno)), 1;
	live = fork();
	if (live == 0)
		pause_forever();
	ended = fork();
	if (ended == 0)
		_exit(0);
	mid = fork();
	if (mid == 0) {
		pid_t o = fork();

		if (o == 0) {
			pid_t c = fork();

			if (c == 0)
				pause_forever();
			announce(report[1], 'c', c);
			pause_forever();
		}
		announce(report[1], 'o', o);
		_exit(0);
	}
	if (live < 0 || ended < 0 || mid < 0)
		return snprintf(msg, len, "fork: %s", strerror(errno)), 1;
	for (int i = 0; i < 2; i++) {
		struct announce a;

		if (read(report[0], &a, sizeof(a)) != (ssize_t)sizeof(a))
			return snprintf(msg, len, "no pid announced"), 1;
		*(a.tag == 'o' ? &orphan : &orphan_child) = a.pid;
	}
	/* the orphan is ours once mid has exited */
	for (int i = 0; i < 1000 && parent_pid(orphan) != getpid(); i++)
		sleep_for_ms(5);
	if (parent_pid(orphan) != getpid())
		return snprintf(msg, len, "the orphan %d never came back to us", (int)orphan), 1;

	proc_kill_children();

	errno = 0;
	if (waitpid(-1, NULL, WNOHANG) != -1 || errno != ECHILD)
		return snprintf(msg, len, "children remain after proc_kill_children"), 1;
	if (kill(live, 0) == 0 || kill(orphan, 0) == 0)
		return snprintf(msg, len, "a child still exists"), 1;
	if (kill(orphan_child, 0) == 0 && proc_state(orphan_child) != 'Z')
		return snprintf(msg, len, "the orphan's child %d lives", (int)orphan_child), 1;
	return 0;
}

static void kill_children_as_subreaper(void **state)
{
	(void)state;
	check_in_child(subreaper_kills_and_reaps_all, NULL, 10000);
}

static int no_children_returns_at_once(void *arg, char *msg, size_t len)
{
	(void)arg;
	proc_kill_children();
	if (waitpid(-1, NULL, WNOHANG) != -1 || errno != ECHILD)
		return snprintf(msg, len, "a child appeared"), 1;
	return 0;
}

static void kill_children_without_children(void **state)
{
	(void)state;
	check_in_child(no_children_returns_at_once, NULL, 5000);
}

/* ---- proc_close_exec_fds ------------------------------------------------------------------- */

static const char *open_or_closed(int fd)
{
	return fcntl(fd, F_GETFD) >= 0 ? "open" : "closed";
}

static int close_exec_fds_closes_what_exec_would(void *arg, char *msg, size_t len)
{
	struct dir_fixture *f = arg;
	cleanup_free char *log = dir_fixture_at(f, "log");
	int cloexec_pipe[2], plain_pipe[2], sock[2], reg, plain_reg, dir, null;
	char got[512];
	const char *want = "cloexec pipe closed closed, plain pipe open open, cloexec socket "
			   "closed, regular file open open, directory closed, /dev/null closed, "
			   "stdio open open open";

	if (pipe2(cloexec_pipe, O_CLOEXEC) < 0 || pipe(plain_pipe) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sock) < 0)
		return snprintf(msg, len, "pipe: %s", strerror(errno)), 1;
	reg = open(log, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	plain_reg = open(log, O_RDONLY);
	dir = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (reg < 0 || plain_reg < 0 || dir < 0 || null < 0)
		return snprintf(msg, len, "open: %s", strerror(errno)), 1;
	/* 0, 1 and 2 are never closed, close-on-exec or not */
	for (int fd = 0; fd <= 2; fd++)
		fcntl(fd, F_SETFD, FD_CLOEXEC);

	proc_close_exec_fds();

	snprintf(got, sizeof(got),
		 "cloexec pipe %s %s, plain pipe %s %s, cloexec socket %s, regular file %s %s, "
		 "directory %s, /dev/null %s, stdio %s %s %s",
		 open_or_closed(cloexec_pipe[0]), open_or_closed(cloexec_pipe[1]),
		 open_or_closed(plain_pipe[0]), open_or_closed(plain_pipe[1]),
		 open_or_closed(sock[0]), open_or_closed(reg), open_or_closed(plain_reg),
		 open_or_closed(dir), open_or_closed(null), open_or_closed(0), open_or_closed(1),
		 open_or_closed(2));
	if (strcmp(got, want) != 0)
		return snprintf(msg, len, "got:      %s\nexpected: %s", got, want), 1;
	return 0;
}

static void close_exec_fds(void **state)
{
	check_in_child(close_exec_fds_closes_what_exec_would, *state, 5000);
}

/* ---- proc_close_all_but_stdio ------------------------------------------------------------ */

static int close_all_but_stdio_closes_every_other_fd(void *arg, char *msg, size_t len)
{
	struct dir_fixture *f = arg;
	cleanup_free char *file = dir_fixture_at(f, "file");
	int plain[2], cloexec[2], reg, high;

	if (pipe(plain) < 0 || pipe2(cloexec, O_CLOEXEC) < 0)
		return snprintf(msg, len, "pipe: %s", strerror(errno)), 1;
	reg = open(file, O_WRONLY | O_CREAT, 0600);
	high = reg >= 0 ? fcntl(reg, F_DUPFD, 200) : -1;
	if (reg < 0 || high < 0)
		return snprintf(msg, len, "open: %s", strerror(errno)), 1;
	if (proc_close_all_but_stdio() < 0)
		return snprintf(msg, len, "proc_close_all_but_stdio: %s", strerror(errno)), 1;
	for (int fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) < 0)
			return snprintf(msg, len, "fd %d was closed", fd), 1;
	}
	{
		const int gone[] = {plain[0], plain[1], cloexec[0], cloexec[1], reg, high};

		for (size_t i = 0; i < sizeof(gone) / sizeof(gone[0]); i++) {
			if (fcntl(gone[i], F_GETFD) >= 0)
				return snprintf(msg, len, "fd %d is still open", gone[i]), 1;
		}
	}
	return 0;
}

static void close_all_but_stdio(void **state)
{
	check_in_child(close_all_but_stdio_closes_every_other_fd, *state, 5000);
}

/* ---- proc_reset_rlimits -------------------------------------------------------------------- */

struct limit_case {
	int resource;
	const char *name;
	rlim_t before_soft, before_hard; /* set first: raised where this process may */
	rlim_t limit_soft, limit_hard;	 /* what it may be after */
};

static rlim_t min_limit(rlim_t a, rlim_t b)
{
	return a < b ? a : b; /* RLIM_INFINITY is the largest */
}

/* c's limits, raised as far as this process may (without CAP_SYS_RESOURCE: its hard one). */
static int raise_limit(const struct limit_case *c, struct rlimit *before)
{
	struct rlimit now;

	*before = (struct rlimit){c->before_soft, c->before_hard};
	if (setrlimit(c->resource, before) == 0)
		return 0;
	if (errno != EPERM || getrlimit(c->resource, &now) < 0)
		return -1;
	*before = (struct rlimit){min_limit(c->before_soft, now.rlim_max),
				  min_limit(c->before_hard, now.rlim_max)};
	return setrlimit(c->resource, before);
}

static int reset_rlimits_lowers_to_new_process_defaults(void *arg, char *msg, size_t len)
{
	const rlim_t inf = RLIM_INFINITY;
	const struct limit_case cases[] = {
		{RLIMIT_CORE, "RLIMIT_CORE", inf, inf, 0, 0},
		{RLIMIT_NOFILE, "RLIMIT_NOFILE", 65536, 65536, 1024, 4096},
		{RLIMIT_MEMLOCK, "RLIMIT_MEMLOCK", inf, inf, 8 << 20, 8 << 20},
		{RLIMIT_RTPRIO, "RLIMIT_RTPRIO", 99, 99, 0, 0},
		{RLIMIT_NICE, "RLIMIT_NICE", 40, 40, 0, 0},
		{RLIMIT_MSGQUEUE, "RLIMIT_MSGQUEUE", inf, inf, 819200, 819200},
		{RLIMIT_STACK, "RLIMIT_STACK", inf, inf, 8 << 20, inf},
		/* lower than the defaults: stays */
		{RLIMIT_NOFILE, "RLIMIT_NOFILE", 100, 200, inf, inf},
		/* not one of them: stays */
		{RLIMIT_CPU, "RLIMIT_CPU", 1000, 2000, inf, inf},
	};

	(void)arg;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct limit_case *c = &cases[i];
		struct rlimit before, rl;
		rlim_t want_hard, want_soft;

		if (raise_limit(c, &before) < 0)
			return snprintf(msg, len, "setrlimit %s: %s", c->name, strerror(errno)), 1;
		want_hard = min_limit(before.rlim_max, c->limit_hard);
		want_soft = min_limit(min_limit(before.rlim_cur, c->limit_soft), want_hard);
		if (proc_reset_rlimits() < 0)
			return snprintf(msg, len, "proc_reset_rlimits: %s", strerror(errno)), 1;
		if (getrlimit(c->resource, &rl) < 0 || rl.rlim_cur != want_soft ||
		    rl.rlim_max != want_hard)
			return snprintf(msg, len,
					"%s from %llu/%llu: %llu/%llu, expected %llu/%llu", c->name,
					(unsigned long long)before.rlim_cur,
					(unsigned long long)before.rlim_max,
					(unsigned long long)rl.rlim_cur,
					(unsigned long long)rl.rlim_max,
					(unsigned long long)want_soft,
					(unsigned long long)want_hard),
			       1;
	}
	return 0;
}

static void reset_rlimits(void **state)
{
	check_in_child(reset_rlimits_lowers_to_new_process_defaults, *state, 5000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, dir_fixture_setup, dir_fixture_teardown)
		T(find_program_takes_a_path_as_is),
		T(find_program_searches_env_path_in_order),
		T(find_program_skips_directories_in_path),
		T(find_program_ignores_relative_path_entries),
		T(find_program_prefers_env_path_to_system_dirs),
		T(find_program_falls_back_to_system_dirs),
		T(find_program_not_found_names_path),
		T(cmd_init_resolves_program_or_fails),
		T(cmd_run_captures_stdout_stderr_and_status),
		T(cmd_run_captures_large_output),
		T(cmd_run_passes_exactly_its_env),
		T(cmd_run_stdin_is_dev_null_or_stdin_fd),
		T(cmd_run_resets_signals),
		T(cmd_run_measures_waited_ns),
		T(cmd_run_unrunnable_program_is_an_error),
		T(wait_goes_on_through_eintr),
		T(wait_without_status_and_for_no_child),
		T(kill_descendants_spares_root_and_others),
		T(kill_descendants_of_a_leaf_kills_nothing),
		T(kill_children_as_subreaper),
		T(kill_children_without_children),
		T(close_exec_fds),
		T(close_all_but_stdio),
		T(reset_rlimits),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
