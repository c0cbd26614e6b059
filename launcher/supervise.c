#include "launcher/supervise.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/proc.h"
#include "launcher/runtime/console.h"

/* Signals that reach the supervisor while it waits; forwarded only where needed. */
static volatile sig_atomic_t pending_signals[NSIG];

static const int supervised_signals[] = {SIGHUP,  SIGINT,  SIGQUIT, SIGTERM, SIGUSR1,
					 SIGUSR2, SIGALRM, SIGCONT, SIGTSTP, SIGWINCH};

#define N_SUPERVISED (sizeof(supervised_signals) / sizeof(supervised_signals[0]))

static void note_signal(int sig)
{
	pending_signals[sig] = 1;
}

/* Sends the signals noted since the last call to pid (0: drops them). */
static void forward_signals(pid_t pid)
{
	for (size_t i = 0; i < N_SUPERVISED; i++) {
		int sig = supervised_signals[i];
		if (pending_signals[sig]) {
			pending_signals[sig] = 0;
			if (pid > 0)
				kill(pid, sig);
		}
	}
}

int supervise_begin(oci_error_t *err)
{
	struct sigaction sa = {.sa_handler = note_signal};

	/* orphans of the container (double forks, a killed runtime) come back to us */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
		return oci_error_make(err, errno, "prctl(PR_SET_CHILD_SUBREAPER)");
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < N_SUPERVISED; i++)
		sigaction(supervised_signals[i], &sa, NULL);
	return 0;
}

void supervise_end(void)
{
	proc_kill_children();
}

static int pidfd_of(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

static pid_t read_pid_file(const char *path)
{
	cleanup_fclose FILE *f = fopen(path, "re");
	int pid = 0;

	if (f == NULL || fscanf(f, "%d", &pid) != 1)
		return 0;
	return (pid_t)pid;
}

/* SIGWINCH came: the relayed terminal of the container follows the task's. */
static void resize_if_asked(const struct console *console)
{
	if (console != NULL && pending_signals[SIGWINCH])
		console_resize(console);
}

/*
 * The supervised signals stay blocked but while ppoll waits: one that comes between two
 * waits is seen at the next, never left noted until another one comes. *waiting: the
 * mask to wait with.
 */
static void block_supervised(sigset_t *supervised, sigset_t *waiting)
{
	sigemptyset(supervised);
	for (size_t i = 0; i < N_SUPERVISED; i++)
		sigaddset(supervised, supervised_signals[i]);
	sigprocmask(SIG_BLOCK, supervised, waiting);
	sigdelset(waiting, SIGCHLD);
	for (size_t i = 0; i < N_SUPERVISED; i++)
		sigdelset(waiting, supervised_signals[i]);
}

static struct timespec ms_timespec(int ms)
{
	return (struct timespec){.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
}

/* What remains of the container is killed this long after its main process ended. */
#define LEFTOVER_GRACE_NS (100 * 1000000ULL)

int supervise_runtime(pid_t runtime, const char *main_pid_file, struct console *console,
		      int *wstatus, oci_error_t *err)
{
	cleanup_close int runtime_fd = pidfd_of(runtime);
	cleanup_close int main_fd = -1;
	bool main_known = false;
	uint64_t main_ended_at = 0; /* 0: not ended, or what it left was killed */
	int waited_ms = 0;
	sigset_t supervised, waiting;
	struct console none;

	if (console == NULL) {
		console_init(&none);
		console = &none;
	}
	block_supervised(&supervised, &waiting);
	while (runtime_fd >= 0) {
		struct pollfd fds[2 + CONSOLE_POLLFDS] = {{.fd = runtime_fd, .events = POLLIN},
							  {.fd = main_fd, .events = POLLIN}};
		int timeout = main_ended_at ? 20 : main_known ? -1 : waited_ms < 2000 ? 20 : 250;
		struct timespec ts = ms_timespec(timeout);
		int n;

		console_pollfds(console, fds + 2);
		n = ppoll(fds, 2 + CONSOLE_POLLFDS, timeout < 0 ? NULL : &ts, &waiting);
		if (n < 0 && errno == EINTR) {
			resize_if_asked(console);
			forward_signals(0);
			continue;
		}
		if (n < 0 || fds[0].revents != 0)
			break; /* the runtime ended */
		console_handle(console, fds + 2);
		if (main_fd >= 0 && fds[1].revents != 0) {
			close(main_fd);
			main_fd = -1;
			main_ended_at = proc_now_ns();
		} else if (main_ended_at && proc_now_ns() - main_ended_at >= LEFTOVER_GRACE_NS) {
			proc_kill_descendants(runtime);
			main_ended_at = 0;
		} else if (!main_known) {
			pid_t main_pid = read_pid_file(main_pid_file);

			if (n == 0)
				waited_ms += timeout;
			if (main_pid > 0) {
				main_known = true;
				main_fd = pidfd_of(main_pid);
				if (main_fd < 0)
					main_ended_at = proc_now_ns();
			}
		}
	}
	while (waitpid(runtime, wstatus, 0) < 0) {
		if (errno != EINTR) {
			sigprocmask(SIG_UNBLOCK, &supervised, NULL);
			return oci_error_make(err, errno, "waiting for the runtime (pid %d)",
					      (int)runtime);
		}
	}
	sigprocmask(SIG_UNBLOCK, &supervised, NULL);
	forward_signals(0);
	return 0;
}

int supervise_container(pid_t pid, struct console *console, int *wstatus, oci_error_t *err)
{
	cleanup_close int fd = pidfd_of(pid);
	sigset_t supervised, waiting;
	struct console none;
	int rc = 0;

	if (console == NULL) {
		console_init(&none);
		console = &none;
	}
	block_supervised(&supervised, &waiting);
	/* those that came while the runtime created and started it */
	forward_signals(pid);
	for (bool ended = false; !ended;) {
		const struct timespec reap_every = {.tv_sec = 1};
		struct pollfd p[1 + CONSOLE_POLLFDS] = {{.fd = fd, .events = POLLIN}};
		int n, st;
		pid_t got;

		console_pollfds(console, p + 1);
		n = ppoll(p, 1 + CONSOLE_POLLFDS, &reap_every, &waiting);
		if (n < 0 && errno == EINTR) {
			resize_if_asked(console);
			forward_signals(pid);
		} else if (n > 0) {
			console_handle(console, p + 1);
		}
		/* the container, and the orphans it leaves (they come back to us) */
		while (!ended && (got = waitpid(-1, &st, WNOHANG)) > 0) {
			if (got == pid) {
				*wstatus = st;
				ended = true;
			}
		}
		if (!ended && got < 0 && errno != EINTR) {
			rc = oci_error_make(err, errno, "waiting for the container (pid %d)",
					    (int)pid);
			break;
		}
	}
	sigprocmask(SIG_UNBLOCK, &supervised, NULL);
	forward_signals(0);
	return rc;
}

int supervise_status_of_run(int wstatus)
{
	int code;

	if (!WIFEXITED(wstatus))
		return wstatus;
	code = WEXITSTATUS(wstatus);
	if (code > 128 && code < 128 + 32 && code - 128 != SIGSTOP && code - 128 != SIGTSTP)
		return code - 128; /* the wait status of a death by that signal */
	return wstatus;
}

void supervise_exit_like(int wstatus)
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
