/* Running the configured OCI runtime commands: no shell, patterns expanded into argv. */
#ifndef SPANK_OCI_RUNTIME_H
#define SPANK_OCI_RUNTIME_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/error.h"
#include "conf/pattern.h"
#include "launcher/runtime/userns.h"

/* Finds an executable: absolute as is, else in PATH from env, then the system dirs. */
int runtime_resolve(const char *name, char *const *env, char **path, oci_error_t *err);

enum runtime_io {
	RUNTIME_IO_INHERIT, /* the task's own stdio (the container's) */
	RUNTIME_IO_CAPTURE  /* stdin /dev/null; stdout and stderr kept for failure reports */
};

struct runtime_cmd {
	char **argv; /* argv[0] resolved */
	char *const *env;
	enum runtime_io io;
	char *output;	    /* captured stdout+stderr (RUNTIME_IO_CAPTURE), NUL-terminated */
	int capture_fd;	    /* memfd behind output while the command runs, or -1 */
	int cgroup_fd;	    /* a cgroup directory the command starts in, or -1 */
	int stdin_fd;	    /* RUNTIME_IO_CAPTURE: its stdin instead of /dev/null, or -1 */
	int userns_fd;	    /* run as uid 0 of this user namespace (userns_make), or -1 */
	uint64_t waited_ns; /* runtime_run_sync: from its start to its end (SPANK_OCI_TIMING) */
};

/* Expands a configured command template and resolves its program. */
int runtime_cmd_init(struct runtime_cmd *cmd, char *const *words, const struct pattern_vars *v,
		     char *const *env, enum runtime_io io, oci_error_t *err);
/* A command given word by word (no patterns), its program resolved. */
int runtime_cmd_init_argv(struct runtime_cmd *cmd, const char *const *argv, char *const *env,
			  enum runtime_io io, oci_error_t *err);
void runtime_cmd_release(struct runtime_cmd *cmd);

/* Starts cmd; returns its pid. */
int runtime_spawn(struct runtime_cmd *cmd, pid_t *pid, oci_error_t *err);
/* Runs cmd to its end; *wstatus is its wait status. */
int runtime_run_sync(struct runtime_cmd *cmd, int *wstatus, oci_error_t *err);
/* CLOCK_MONOTONIC in ns. */
uint64_t runtime_now_ns(void);
/* Collects what a RUNTIME_IO_CAPTURE command wrote (after it ended). */
void runtime_collect_output(struct runtime_cmd *cmd);

#endif
