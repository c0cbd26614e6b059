/*
 * One task as a container: the paths it uses, its config.json, the runtime run (or
 * create/start) supervised to its end, and the cleanup after it. Everything here runs
 * as the job's user.
 */
#ifndef SPANK_OCI_LAUNCH_H
#define SPANK_OCI_LAUNCH_H

#include <jansson.h>
#include <stdbool.h>

#include "conf/conf.h"
#include "common/error.h"
#include "conf/options.h"
#include "conf/pattern.h"
#include "launcher/image/bundle.h"
#include "launcher/spec/litter.h"
#include "launcher/runtime/runtime.h"
#include "launcher/spec/spec.h"
#include "launcher/task.h"
#include "launcher/runtime/userns.h"

struct oci_launch {
	const struct oci_conf *conf;
	const struct oci_task *task;
	struct pattern_vars vars;
	char *spool;	   /* %m: the per-step directory */
	char *spool_dest;  /* MountSpoolDir expanded, or NULL */
	char *bundle_dir;  /* %b: the generated per-task bundle, inside %m */
	char *config_path; /* %b/config.json */
	char *env_file;	   /* %e, or NULL */
	char *log_path;	   /* %b/runtime.log: where the configured runtime should log */
	char **runtime_env;
	struct oci_bundle *bundle;
	bool state_may_remain; /* the runtime may have left state behind */
	int spool_fd;	       /* %m, share-locked while the task lives; -1 before prepare */
	struct litter *litter; /* mount points the runtime may create in the rootfs */
	size_t nlitter;
	struct container_settings settings; /* the user's options merged with the site's */
	enum spec_identity identity;
	struct userns_map userns; /* IDENTITY_OWN_SUBIDS: the runtime's own namespace */
	int userns_fd;		  /* that namespace once made (userns_make), or -1 */
	char *notice;		  /* one line for the user (a fallback taken), or NULL */
	char *cgroup_child;	  /* CgroupPerContainer: the container's own cgroup, or NULL */
	int cgroup_fd;		  /* an O_PATH fd of cgroup_child, or -1 */
	json_t *spec;		  /* the task's config.json, once prepared */
	uint64_t waited_ns;	  /* in the runtime's and the container's processes */
};

/* Per-step and per-task directories for these ids (no file system access). */
int oci_launch_paths(const struct oci_conf *conf, const struct pattern_vars *vars, char **spool,
		     char **bundle_dir, oci_error_t *err);

int oci_launch_new(const struct oci_conf *conf, const struct oci_task *task,
		   const char *bundle_path, struct oci_launch **out, oci_error_t *err);
/* The task's config.json, without touching the file system. */
int oci_launch_spec(struct oci_launch *l, json_t **spec, oci_error_t *err);
/* Creates the private directories and writes config.json (and the env file). */
int oci_launch_prepare(struct oci_launch *l, oci_error_t *err);
/*
 * Runs the container to its end. *wstatus is the container's wait status (a signal that
 * killed it is reported as that signal). Returns -1 when the container could not run;
 * *wstatus is then a failure status.
 */
int oci_launch_run(struct oci_launch *l, int *wstatus, oci_error_t *err);
/*
 * SPANK_OCI_TIMING=1 in the task's environment asks for one line on the task's stderr:
 * spank-oci's own time since start (oci_timing_mark) apart from the time spent
 * waiting for the runtime's and the container's processes (and, in shared mode, for
 * another task creating the step's container), the CPU time of that work, and the
 * time waited.
 */
bool oci_timing_wanted(char *const *env);
struct oci_timing_mark {
	uint64_t wall_ns; /* CLOCK_MONOTONIC */
	uint64_t cpu_ns;  /* the process's own CPU time, children not included */
};
void oci_timing_mark(struct oci_timing_mark *m);
void oci_launch_report_timing(const struct oci_launch *l, const struct oci_timing_mark *start);
/* Removes runtime state (RunTimeDelete) and generated files; safe to call twice. */
void oci_launch_cleanup(struct oci_launch *l);
void oci_launch_free(struct oci_launch *l);

/* For shared.c: one configured runtime command, its failure told in err. */
int oci_launch_step(struct oci_launch *l, char **words, const char *op, enum runtime_io io,
		    struct runtime_cmd *cmd, oci_error_t *err);
/* The same in two parts: cmd made ready (adjust it in between), then run. */
int oci_launch_cmd_init(struct oci_launch *l, char **words, enum runtime_io io,
			struct runtime_cmd *cmd, oci_error_t *err);
int oci_launch_cmd_run(struct oci_launch *l, const char *op, struct runtime_cmd *cmd,
		       oci_error_t *err);
/* RunTimeQuery's pid of the container. */
int oci_launch_query_pid(struct oci_launch *l, pid_t *pid, oci_error_t *err);
/* Runs a configured command, ignoring how it goes (kill, delete). */
void oci_launch_quietly(struct oci_launch *l, char **words);

/*
 * After the tasks of a step: removes whatever the step's tasks left in the per-step
 * directory (RunTimeKill/RunTimeDelete for each task, then the files). Call as the user.
 */
void oci_launch_sweep(const struct oci_conf *conf, const struct pattern_vars *step_vars,
		      char *const *env);

/*
 * For a process that becomes the task without an exec: closes what an exec would have
 * closed (slurmstepd's close-on-exec pipes, among them the write end of the task's own
 * stdin, which would keep the container from ever seeing end of file). Regular files
 * (slurmd's log) stay open.
 */
void oci_close_exec_fds(void);

/* Ends the calling process the way the container ended: same exit code or same signal. */
__attribute__((noreturn)) void oci_exit_like(int wstatus);

#endif
