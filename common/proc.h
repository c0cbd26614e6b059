/*
 * Processes: running a program (no shell: an argv, its program found in PATH), capturing
 * what it says, waiting through EINTR, and what a child subreaper does with what its
 * children leave behind.
 */
#ifndef SPANK_OCI_PROC_H
#define SPANK_OCI_PROC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/error.h"

/* Finds an executable: a name with a slash as is, else in env's PATH, then the system's. */
int proc_find_program(const char *name, char *const *env, char **path, oci_error_t *err);

enum proc_io {
	PROC_IO_INHERIT, /* the caller's own stdio */
	PROC_IO_CAPTURE	 /* stdin /dev/null (or stdin_fd); stdout and stderr kept in output */
};

/* One program to run. */
struct proc_cmd {
	char **argv; /* argv[0] resolved */
	char *const *env;
	enum proc_io io;
	char *output;	      /* captured stdout+stderr (PROC_IO_CAPTURE), NUL-terminated */
	int capture_fd;	      /* memfd behind output while the command runs, or -1 */
	int cgroup_fd;	      /* a cgroup v2 directory the command starts in, or -1 */
	int stdin_fd;	      /* PROC_IO_CAPTURE: its stdin instead of /dev/null, or -1 */
	int userns_fd;	      /* run as uid 0 of this user namespace, or -1 */
	int mntns_fd;	      /* with userns_fd: in this mount namespace (else one of its own) */
	bool die_with_parent; /* SIGKILLed when the process that started it ends */
	uint64_t waited_ns;   /* proc_cmd_run: from its start to its end */
};

/* cmd for argv (copied), its program resolved; *cmd is released on failure. */
int proc_cmd_init(struct proc_cmd *cmd, char **argv_owned, char *const *env, enum proc_io io,
		  oci_error_t *err);
void proc_cmd_release(struct proc_cmd *cmd);
/* Starts cmd; *pid is its pid. */
int proc_cmd_spawn(struct proc_cmd *cmd, pid_t *pid, oci_error_t *err);
/* Runs cmd to its end; *wstatus is its wait status, cmd->output what it said. */
int proc_cmd_run(struct proc_cmd *cmd, int *wstatus, oci_error_t *err);

/* What a PROC_IO_CAPTURE command wrote (it ended), into cmd->output. */
void proc_cmd_collect_output(struct proc_cmd *cmd);

/* Waits for the child pid through EINTR; *status may be NULL. 0, or -1 with errno. */
int proc_wait(pid_t pid, int *status);

/* Kills (SIGKILL) and reaps every remaining child until none is left. */
void proc_kill_children(void);

/* SIGKILLs every descendant of root (not root itself); returns how many. */
int proc_kill_descendants(pid_t root);

/*
 * In a child: moves the calling process into the cgroup v2 directory dirfd, or into the
 * user namespace fd as its uid and gid 0, in the mount namespace mnt_fd (of that user
 * namespace), or with a mount namespace of its own for -1. -1 with errno.
 */
int proc_enter_cgroup(int dirfd);
int proc_enter_userns(int fd, int mnt_fd);

/*
 * For a process that becomes something else without an exec: closes what an exec would
 * have closed (close-on-exec fds other than regular files, which stay: slurmd's log).
 */
void proc_close_exec_fds(void);

/*
 * For a child of a privileged process about to run programs for a user: closes every fd
 * but stdin, stdout and stderr, whatever its flags (slurmstepd's sockets and files are not
 * the user's). 0, or -1 with errno.
 */
int proc_close_all_but_stdio(void);

/*
 * For the same child: lowers the resource limits a privileged process may have (slurmd
 * raises its own, sites raise them for it) to those the kernel gives a new process, where
 * these are finite: no core file (RLIMIT_CORE 0), RLIMIT_NOFILE 1024/4096, RLIMIT_MEMLOCK
 * 8 MiB, no realtime or raised priority (RLIMIT_RTPRIO, RLIMIT_NICE 0), RLIMIT_MSGQUEUE
 * 819200, a soft RLIMIT_STACK of 8 MiB. Never raises a limit; the others stay. 0, or -1
 * with errno.
 */
int proc_reset_rlimits(void);

/* CLOCK_MONOTONIC in ns. */
uint64_t proc_now_ns(void);

#endif
