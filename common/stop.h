/*
 * Stop requests. While a task gets its container ready (unpacking an image, waiting for
 * another task's unpack or squashfs mount), SIGTERM, SIGINT, SIGHUP and SIGQUIT only note
 * that it must stop: long work looks at stop_requested() between its steps (each read of
 * a layer, each lock wait), ends with "stopped by SIGTERM" and removes what it had half
 * done; the caller then dies by that signal. SIGKILL ends it as it ends anything.
 */
#ifndef SPANK_OCI_STOP_H
#define SPANK_OCI_STOP_H

#include "common/error.h"

/*
 * Catches the stop signals (no SA_RESTART: a blocking read or lock wait returns EINTR)
 * and unblocks them, whatever the caller's disposition and mask were.
 */
void stop_catch(void);

/* The stop signal that came since stop_catch, or 0. */
int stop_requested(void);

/* Sets *err to "<what>: stopped by SIG<NAME>" (the signal that came); returns -1. */
int stop_error(oci_error_t *err, const char *what);

/*
 * flock(fd, op) that waits through signals until a stop is requested: 0 (the lock is
 * held, and no stop came), or -1 with errno (EINTR: a stop came, the lock may be held).
 */
int stop_flock(int fd, int op);

#endif
