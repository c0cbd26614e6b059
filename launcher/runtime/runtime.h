/*
 * The configured OCI runtime's commands for one container (RunTimeRun, RunTimeCreate,
 * RunTimeStart, RunTimeQuery, RunTimeKill, RunTimeDelete): each template expanded into
 * argv words (no shell), run as the job's user (as uid 0 of the runtime's own user
 * namespace where the identity needs one), and a failure told with the runtime's own
 * last error line.
 */
#ifndef SPANK_OCI_RUNTIME_H
#define SPANK_OCI_RUNTIME_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/error.h"
#include "common/proc.h"
#include "conf/conf.h"
#include "conf/pattern.h"
#include "launcher/runtime/userns.h"

struct runtime {
	const struct oci_conf *conf;
	struct pattern_vars vars;   /* what the templates' patterns expand to (%b: bundle) */
	char *const *env;	    /* the runtime's environment */
	char *log_path;		    /* <bundle>/runtime.log, where the templates should log */
	struct userns *userns;	    /* the namespace commands run in, or NULL: as the user */
	int cgroup_fd;		    /* where the container starts (run, create), or -1 */
	uint64_t *waited_ns;	    /* time spent in runtime commands is added here, or NULL */
	const char *console_socket; /* where run/create send a terminal's master, or NULL */
};

/*
 * rt for the container of task task_id (%t) whose bundle is `bundle` (%b); the step's
 * patterns come from step_vars, whose strings rt borrows.
 */
void runtime_init(struct runtime *rt, const struct oci_conf *conf,
		  const struct pattern_vars *step_vars, const char *bundle, uint32_t task_id,
		  char *const *env, struct userns *userns, uint64_t *waited_ns);
void runtime_release(struct runtime *rt);

/*
 * Runs one configured command (op names it in errors: "create", "start") to its end.
 * PROC_IO_INHERIT: with the caller's stdio, starting in rt->cgroup_fd (a container's
 * create). PROC_IO_CAPTURE: its output kept for the error, its stdin stdin_fd (or
 * /dev/null for -1). A non-zero exit is an error with the runtime's reason.
 */
int runtime_command(struct runtime *rt, const char *op, char **words, enum proc_io io, int stdin_fd,
		    oci_error_t *err);

/*
 * Whether spank-oci relays the terminal of a container that the template `words` starts
 * (op: "run" or "create"): a runtime it knows (runc, crun) whose template names op, has no
 * --console-socket of its own, and does not relay it itself (runc run does). Then
 * console_socket, once set, is added to the command.
 */
bool runtime_takes_console(char **words, const char *op);

/* RunTimeQuery: the pid of the container's first process. */
int runtime_state_pid(struct runtime *rt, pid_t *pid, oci_error_t *err);

/* RunTimeKill then RunTimeDelete, however each goes: nothing of the container stays. */
void runtime_kill_delete(struct runtime *rt);

/* Starts RunTimeRun with the caller's stdio in rt->cgroup_fd; *pid is the runtime's. */
int runtime_spawn_run(struct runtime *rt, pid_t *pid, oci_error_t *err);

/*
 * After RunTimeRun exited with a non-zero status: the runtime's own error from its log,
 * as "<runtime>: <error>", or 0 when it logged none (the status is the container's).
 */
int runtime_run_error(struct runtime *rt, oci_error_t *err);

#endif
