/*
 * The task's process supervises its container: it is a child subreaper (what the
 * container leaves behind comes back to it), forwards the signals Slurm sends, waits for
 * the container's end, and ends the way the container ended.
 */
#ifndef SPANK_OCI_SUPERVISE_H
#define SPANK_OCI_SUPERVISE_H

#include <sys/types.h>

#include "common/error.h"

struct console;

/* Becomes a child subreaper and catches the signals to forward. */
int supervise_begin(oci_error_t *err);
/* Kills and reaps whatever is left of the container's processes. */
void supervise_end(void);

/*
 * Waits for a runtime that runs the container (runc run, crun run) while forwarding
 * nothing (the runtime gets the signals itself: same process group). When the container's
 * main process (its pid in main_pid_file, once the runtime wrote it) has ended but the
 * runtime has not, what the container left behind is killed, as Slurm kills what a host
 * task leaves: runc run waits until nothing holds the container's stdout and stderr.
 * console: the container's terminal that spank-oci relays meanwhile, or NULL.
 */
int supervise_runtime(pid_t runtime, const char *main_pid_file, struct console *console,
		      int *wstatus, oci_error_t *err);

/*
 * Waits for a container's first process (created and started, reparented to us: we are
 * its subreaper), forwarding the signals that reach us to it, and relaying its terminal
 * (console, or NULL).
 */
int supervise_container(pid_t pid, struct console *console, int *wstatus, oci_error_t *err);

/*
 * runc run and crun run report a container killed by signal N as exit status 128 + N,
 * the shells' convention: the wait status of that death, as Slurm reports a host task
 * killed by N (an OOM kill shows as "Killed", ExitCode 0:9). Other statuses as they are.
 */
int supervise_status_of_run(int wstatus);

/* Ends the calling process the way the container ended: same exit code or same signal. */
__attribute__((noreturn)) void supervise_exit_like(int wstatus);

#endif
