/*
 * launcher/supervise.c: the task's process as its container's supervisor. The supervisor
 * becomes a subreaper and catches signals, so it always runs in a forked child of the test;
 * the container and the runtime are processes the tests fork, with pids they announce on
 * pipes. Waits in the test process are bounded (wait_child), and every process a test
 * makes ends by itself after a while (alarm) should a test go wrong.
 */
#include "unit.h"

#include <sys/syscall.h>

#include "launcher/supervise.h"

static const int supervised[] = {SIGHUP,  SIGINT,  SIGQUIT, SIGUSR1,  SIGUSR2,
				 SIGALRM, SIGCONT, SIGTSTP, SIGWINCH, SIGTERM};
#define N_SUPERVISED (sizeof(supervised) / sizeof(supervised[0]))

/* ---- helpers ---------------------------------------------------------------------------- */

static void sleep_for_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

/* The real wait status of a child that exits with code. */
static int status_of_exit(int code)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(code);
	return wait_child(pid, 5000);
}

/* The real wait status of a child killed by sig (one that dumps no core). */
static int status_of_death(int sig)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		alarm(10);
		for (;;)
			pause();
	}
	kill(pid, sig);
	return wait_child(pid, 5000);
}

/* Waits for nothing, but for 20 s at most (even in a child of a supervisor). */
static __attribute__((noreturn)) void pause_forever(void)
{
	sigset_t alrm;

	sigemptyset(&alrm);
	sigaddset(&alrm, SIGALRM);
	sigprocmask(SIG_UNBLOCK, &alrm, NULL);
	signal(SIGALRM, SIG_DFL);
	alarm(20); /* never outlives a broken test by long */
	for (;;)
		pause();
}

static void send_all(int fd, const void *data, size_t len)
{
	if (write(fd, data, len) != (ssize_t)len)
		_exit(120);
}

/* Reads exactly len bytes within 5 s; false otherwise. */
static bool read_within(int fd, void *data, size_t len)
{
	size_t got = 0;

	while (got < len) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;

		if (poll(&p, 1, 5000) != 1)
			return false;
		n = read(fd, (char *)data + got, len - got);
		if (n <= 0)
			return false;
		got += (size_t)n;
	}
	return true;
}

/* ---- supervise_status_of_run ------------------------------------------------------------- */

static void status_of_run_128_plus_n_is_death_by_n(void **state)
{
	(void)state;
	for (int n = 1; n <= 31; n++) {
		int exited = status_of_exit(128 + n), got = supervise_status_of_run(exited);

		if (n == SIGSTOP || n == SIGTSTP) {
			/* a stopped container is no dead one */
			assert_int_equal(got, exited);
			continue;
		}
		if (!WIFSIGNALED(got) || WTERMSIG(got) != n)
			fail_msg("exit status %d gave wait status %#x, not a death by %d", 128 + n,
				 got, n);
		assert_false(WCOREDUMP(got));
	}
	/* exactly as Slurm sees a host task killed by that signal */
	assert_int_equal(supervise_status_of_run(status_of_exit(128 + SIGKILL)),
			 status_of_death(SIGKILL));
	assert_int_equal(supervise_status_of_run(status_of_exit(128 + SIGTERM)),
			 status_of_death(SIGTERM));
}

static void status_of_run_keeps_other_statuses(void **state)
{
	const int codes[] = {0, 1, 2, 42, 126, 127, 128, 128 + 32, 200, 255};
	const int sigs[] = {SIGKILL, SIGTERM, SIGUSR1, SIGINT};

	(void)state;
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		int exited = status_of_exit(codes[i]);

		assert_int_equal(supervise_status_of_run(exited), exited);
	}
	/* the runtime itself killed: its death as it is */
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		int died = status_of_death(sigs[i]);

		assert_int_equal(supervise_status_of_run(died), died);
	}
}

/* ---- supervise_exit_like ------------------------------------------------------------------ */

static void exit_like_exits_with_the_same_code(void **state)
{
	const int codes[] = {0, 1, 3, 42, 127, 255};

	(void)state;
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		int like = status_of_exit(codes[i]), status;
		pid_t pid;

		fflush(NULL);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0)
			supervise_exit_like(like);
		status = wait_child(pid, 5000);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), codes[i]);
	}
}

static void ignore_signal(int sig)
{
	(void)sig;
}

/* Ends like a container killed by sig, even where the signal is caught and blocked. */
static void exit_like_dies_by_the_same_signal(void **state)
{
	const int sigs[] = {SIGHUP, SIGINT, SIGKILL, SIGUSR1, SIGUSR2, SIGPIPE, SIGALRM, SIGTERM};

	(void)state;
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		/* a real death, and what runc run reports of one (128 + N) */
		int likes[2] = {status_of_death(sigs[i]),
				supervise_status_of_run(status_of_exit(128 + sigs[i]))};

		for (int k = 0; k < 2; k++) {
			int status;
			pid_t pid;

			fflush(NULL);
			pid = fork();
			assert_true(pid >= 0);
			if (pid == 0) {
				struct sigaction sa = {.sa_handler = ignore_signal};
				sigset_t set;

				alarm(10);
				sigemptyset(&sa.sa_mask);
				sigemptyset(&set);
				sigaddset(&set, sigs[i]);
				if (sigs[i] != SIGKILL) {
					sigaction(sigs[i], &sa, NULL);
					sigprocmask(SIG_BLOCK, &set, NULL);
				}
				supervise_exit_like(likes[k]);
			}
			status = wait_child(pid, 5000);
			if (!WIFSIGNALED(status))
				fail_msg("signal %d: exited with %d instead", sigs[i],
					 WEXITSTATUS(status));
			assert_int_equal(WTERMSIG(status), sigs[i]);
		}
	}
}

/* ---- supervise_container ------------------------------------------------------------------ */

/*
 * The container of the forwarding test: takes the supervised signals as they come,
 * telling each on report; ends with exit code 40 at SIGTERM (or 50 after 10 s without one).
 */
static __attribute__((noreturn)) void container_telling_signals(int report)
{
	struct timespec ten_s = {10, 0};
	sigset_t set;

	sigemptyset(&set);
	for (size_t i = 0; i < N_SUPERVISED; i++)
		sigaddset(&set, supervised[i]);
	sigprocmask(SIG_BLOCK, &set, NULL);
	send_all(report, "R", 1);
	for (;;) {
		int sig = sigtimedwait(&set, NULL, &ten_s);
		char c = (char)sig;

		if (sig < 0)
			_exit(50);
		send_all(report, &c, 1);
		if (sig == SIGTERM)
			_exit(40);
	}
}

/* The supervisor: its container a child of its own; reports the container's status. */
static __attribute__((noreturn)) void supervisor_of_own_child(int report, int status_fd)
{
	cleanup_error oci_error_t err = NULL;
	int wstatus = 0;
	pid_t pid;

	if (supervise_begin(&err) < 0)
		_exit(100);
	pid = fork();
	if (pid == 0)
		container_telling_signals(report);
	if (pid < 0 || supervise_container(pid, NULL, &wstatus, &err) < 0)
		_exit(101);
	send_all(status_fd, &wstatus, sizeof(wstatus));
	supervise_end();
	supervise_exit_like(wstatus);
}

static void container_gets_the_signals_the_supervisor_gets(void **state)
{
	int report[2], status_pipe[2], status, wstatus = 0;
	char c = 0;
	pid_t pid;

	(void)state;
	assert_int_equal(pipe2(report, O_CLOEXEC), 0);
	assert_int_equal(pipe2(status_pipe, O_CLOEXEC), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		supervisor_of_own_child(report[1], status_pipe[1]);
	close(report[1]);
	close(status_pipe[1]);
	if (!read_within(report[0], &c, 1) || c != 'R')
		fail_msg("the container never started");
	/* SIGTERM last: the container ends at it */
	for (size_t i = 0; i < N_SUPERVISED; i++) {
		int sig = supervised[i];

		assert_int_equal(kill(pid, sig), 0);
		if (!read_within(report[0], &c, 1))
			fail_msg("signal %d (%s) was not forwarded", sig, strsignal(sig));
		assert_int_equal(c, sig);
	}
	status = wait_child(pid, 10000);
	assert_true(read_within(status_pipe[0], &wstatus, sizeof(wstatus)));
	close(report[0]);
	close(status_pipe[0]);
	assert_true(WIFEXITED(wstatus));
	assert_int_equal(WEXITSTATUS(wstatus), 40);
	/* and the supervisor ended like it */
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 40);
}

/*
 * A signal that reached the supervisor before it began to wait (while the runtime created
 * and started the container) is forwarded once the wait begins.
 */
static int signal_before_the_wait_is_forwarded(void *arg, char *msg, size_t len)
{
	cleanup_error oci_error_t err = NULL;
	int ready[2], wstatus = 0;
	char c;
	pid_t pid;

	(void)arg;
	if (supervise_begin(&err) < 0 || pipe(ready) < 0)
		return snprintf(msg, len, "supervise_begin: %s", oci_error_text(err)), 1;
	pid = fork();
	if (pid == 0) {
		struct timespec two_s = {2, 0};
		sigset_t set;

		sigemptyset(&set);
		sigaddset(&set, SIGUSR1);
		sigprocmask(SIG_BLOCK, &set, NULL);
		send_all(ready[1], "R", 1);
		_exit(sigtimedwait(&set, NULL, &two_s) == SIGUSR1 ? 0 : 1);
	}
	if (pid < 0 || read(ready[0], &c, 1) != 1)
		return snprintf(msg, len, "the container never started"), 1;
	raise(SIGUSR1); /* caught: noted for the container */
	if (supervise_container(pid, NULL, &wstatus, &err) < 0)
		return snprintf(msg, len, "supervise_container: %s", oci_error_text(err)), 1;
	if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0)
		return snprintf(msg, len, "the container never got the SIGUSR1 noted before"), 1;
	return 0;
}

static void container_gets_a_signal_noted_before_the_wait(void **state)
{
	(void)state;
	check_in_child(signal_before_the_wait_is_forwarded, NULL, 10000);
}

/* What the reparented-container test reports from its supervisor. */
struct reparented_report {
	int wstatus;
	bool leftover_gone;
};

/*
 * The supervisor of a container whose first process was started by a "runtime" process
 * that exited (so it came back to us, the subreaper). The container leaves a daemon behind.
 */
static __attribute__((noreturn)) void supervisor_of_reparented(int ready_fd, int report_fd)
{
	cleanup_error oci_error_t err = NULL;
	struct reparented_report r = {0};
	pid_t runtime, pids[2] = {0, 0};
	int pipe_fds[2];

	if (supervise_begin(&err) < 0 || pipe(pipe_fds) < 0)
		_exit(100);
	runtime = fork();
	if (runtime == 0) {
		if (fork() == 0) {
			pid_t daemon = fork(), both[2] = {getpid(), daemon};

			if (daemon == 0)
				pause_forever();
			/* a real container execs: its signals are its own */
			signal(SIGTERM, SIG_DFL);
			send_all(pipe_fds[1], both, sizeof(both));
			pause_forever();
		}
		_exit(0);
	}
	/* the container's pid, then its daemon's */
	if (runtime < 0 || !read_within(pipe_fds[0], pids, sizeof(pids)))
		_exit(102);
	send_all(ready_fd, &runtime, sizeof(runtime));
	if (supervise_container(pids[0], NULL, &r.wstatus, &err) < 0)
		_exit(101);
	supervise_end();
	r.leftover_gone = kill(pids[1], 0) < 0 && errno == ESRCH;
	send_all(report_fd, &r, sizeof(r));
	supervise_exit_like(r.wstatus);
}

static void reparented_container_and_its_leftovers(void **state)
{
	int ready[2], report[2], status;
	struct reparented_report r = {0};
	pid_t pid, runtime = 0;

	(void)state;
	assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
	assert_int_equal(pipe2(report, O_CLOEXEC), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		supervisor_of_reparented(ready[1], report[1]);
	close(ready[1]);
	close(report[1]);
	if (!read_within(ready[0], &runtime, sizeof(runtime)))
		fail_msg("the container never started");
	(void)runtime;
	assert_int_equal(kill(pid, SIGTERM), 0);
	status = wait_child(pid, 10000);
	if (!read_within(report[0], &r, sizeof(r)))
		fail_msg("the supervisor failed (status %#x)", status);
	close(ready[0]);
	close(report[0]);
	assert_true(WIFSIGNALED(r.wstatus));
	assert_int_equal(WTERMSIG(r.wstatus), SIGTERM);
	assert_true(r.leftover_gone);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGTERM);
}

/* ---- supervise_runtime -------------------------------------------------------------------- */

struct runtime_fixture {
	char *dir;
	char *pid_file;
	char *skip_reason;
};

/* supervise_runtime needs pidfd_open: without it the test is skipped, saying why. */
static void skip_without_pidfd(const struct runtime_fixture *f)
{
	if (f->skip_reason != NULL) {
		print_message("skipped: %s\n", f->skip_reason);
		skip();
	}
}

static int runtime_setup(void **state)
{
	struct runtime_fixture *f = dir_fixture_new(struct runtime_fixture);
	int fd = (int)syscall(SYS_pidfd_open, getpid(), 0);

	f->pid_file = xasprintf("%s/pid", f->dir);
	if (fd < 0)
		f->skip_reason = xasprintf("no pidfd_open here: %s", strerror(errno));
	else
		close(fd);
	*state = f;
	return 0;
}

static int runtime_teardown(void **state)
{
	struct runtime_fixture *f = *state;

	free(f->pid_file);
	free(f->skip_reason);
	dir_fixture_free(f);
	return 0;
}

/* Writes pid into path at once (as runc writes its --pid-file: complete or not there). */
static void write_pid_file(const char *path, pid_t pid)
{
	char tmp[PATH_MAX + 8], text[32];
	int fd, n = snprintf(text, sizeof(text), "%d", (int)pid);

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, text, (size_t)n) != n || close(fd) < 0 || rename(tmp, path) < 0)
		_exit(121);
}

/*
 * A runtime (runc run) whose container's main process exits with 3 after 200 ms, leaving
 * behind a process that holds on; the runtime waits for both, as runc waits for the
 * container's stdout to close. Exits 13 if the leftover lived until main ended and was then
 * SIGKILLed, something else otherwise.
 */
static __attribute__((noreturn)) void runtime_with_leftover(const char *pid_file, bool late)
{
	pid_t main_pid, leftover;
	int main_status, leftover_status;

	alarm(10);
	main_pid = fork();
	if (main_pid == 0) {
		sleep_for_ms(late ? 0 : 200);
		_exit(3);
	}
	leftover = fork();
	if (leftover == 0)
		pause_forever();
	if (main_pid < 0 || leftover < 0)
		_exit(90);
	if (late) {
		/* main ended (and was reaped) before its pid file was written */
		if (waitpid(main_pid, &main_status, 0) != main_pid)
			_exit(91);
		write_pid_file(pid_file, main_pid);
	} else {
		sleep_for_ms(50); /* after the supervisor began to look for it */
		write_pid_file(pid_file, main_pid);
		if (waitpid(main_pid, &main_status, 0) != main_pid)
			_exit(91);
	}
	if (waitpid(leftover, &leftover_status, WNOHANG) != 0)
		_exit(92); /* killed before main ended */
	if (waitpid(leftover, &leftover_status, 0) != leftover)
		_exit(93);
	if (!WIFEXITED(main_status) || WEXITSTATUS(main_status) != 3)
		_exit(94);
	_exit(WIFSIGNALED(leftover_status) && WTERMSIG(leftover_status) == SIGKILL ? 13 : 95);
}

static void check_leftover_killed(struct runtime_fixture *f, bool late)
{
	cleanup_error oci_error_t err = NULL;
	int wstatus = -1;
	pid_t pid;

	skip_without_pidfd(f);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		runtime_with_leftover(f->pid_file, late);
	if (supervise_runtime(pid, f->pid_file, NULL, &wstatus, &err) < 0) {
		kill(pid, SIGKILL);
		wait_child(pid, 5000);
		fail_msg("supervise_runtime: %s", oci_error_text(err));
	}
	if (!WIFEXITED(wstatus))
		fail_msg("the runtime was killed by signal %d", WTERMSIG(wstatus));
	assert_int_equal(WEXITSTATUS(wstatus), 13);
	/* reaped: it is no child any more */
	assert_int_equal(waitpid(pid, NULL, WNOHANG), -1);
}

static void runtime_leftover_killed_after_main_ends(void **state)
{
	check_leftover_killed(*state, false);
}

static void runtime_leftover_killed_when_main_ended_unseen(void **state)
{
	check_leftover_killed(*state, true);
}

/* A runtime that fails before its container exists: its status, nothing killed. */
static void runtime_that_fails_without_container(void **state)
{
	struct runtime_fixture *f = *state;
	cleanup_error oci_error_t err = NULL;
	int wstatus = -1;
	pid_t pid;

	skip_without_pidfd(f);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		sleep_for_ms(50);
		_exit(1);
	}
	assert_ok(supervise_runtime(pid, f->pid_file, NULL, &wstatus, &err), err);
	assert_true(WIFEXITED(wstatus));
	assert_int_equal(WEXITSTATUS(wstatus), 1);
}

/* A container that ends with everything in it: the runtime's own end, untouched. */
static void runtime_that_ends_with_its_container(void **state)
{
	struct runtime_fixture *f = *state;
	cleanup_error oci_error_t err = NULL;
	int wstatus = -1;
	pid_t pid;

	skip_without_pidfd(f);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		pid_t main_pid = fork();
		int st;

		if (main_pid == 0) {
			sleep_for_ms(100);
			_exit(0);
		}
		write_pid_file(f->pid_file, main_pid);
		if (waitpid(main_pid, &st, 0) != main_pid)
			_exit(90);
		_exit(WIFEXITED(st) ? 7 : 8);
	}
	assert_ok(supervise_runtime(pid, f->pid_file, NULL, &wstatus, &err), err);
	assert_true(WIFEXITED(wstatus));
	assert_int_equal(WEXITSTATUS(wstatus), 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(status_of_run_128_plus_n_is_death_by_n),
		cmocka_unit_test(status_of_run_keeps_other_statuses),
		cmocka_unit_test(exit_like_exits_with_the_same_code),
		cmocka_unit_test(exit_like_dies_by_the_same_signal),
		cmocka_unit_test(container_gets_the_signals_the_supervisor_gets),
		cmocka_unit_test(container_gets_a_signal_noted_before_the_wait),
		cmocka_unit_test(reparented_container_and_its_leftovers),
#define T(name) cmocka_unit_test_setup_teardown(name, runtime_setup, runtime_teardown)
		T(runtime_leftover_killed_after_main_ends),
		T(runtime_leftover_killed_when_main_ended_unseen),
		T(runtime_that_fails_without_container),
		T(runtime_that_ends_with_its_container),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
