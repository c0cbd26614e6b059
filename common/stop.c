#include "common/stop.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>

static volatile sig_atomic_t stop_signal;

static const int stop_signals[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT};

#define N_STOP (sizeof(stop_signals) / sizeof(stop_signals[0]))

static void note_stop(int sig)
{
	if (stop_signal == 0)
		stop_signal = sig;
}

void stop_catch(void)
{
	struct sigaction sa = {.sa_handler = note_stop};
	sigset_t set;

	sigemptyset(&sa.sa_mask);
	sigemptyset(&set);
	for (size_t i = 0; i < N_STOP; i++) {
		sigaction(stop_signals[i], &sa, NULL);
		sigaddset(&set, stop_signals[i]);
	}
	sigprocmask(SIG_UNBLOCK, &set, NULL);
}

int stop_requested(void)
{
	return stop_signal;
}

int stop_error(oci_error_t *err, const char *what)
{
	int sig = stop_signal;
	const char *name = sig ? sigabbrev_np(sig) : NULL;

	return oci_error_make(err, 0, "%s: stopped by SIG%s", what, name ? name : "?");
}

int stop_flock(int fd, int op)
{
	int rc = -1;

	errno = EINTR;
	while (!stop_signal && (rc = flock(fd, op)) < 0 && errno == EINTR)
		continue;
	if (rc == 0 && stop_signal) {
		errno = EINTR; /* it came while we got the lock: the caller must not go on */
		return -1;
	}
	return rc;
}
