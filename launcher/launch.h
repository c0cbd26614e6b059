/*
 * One task as a container: its lifecycle (new, prepare, run, cleanup, free) and the one
 * driver that the plugin and the command line both use. Everything here runs as the
 * job's user.
 */
#ifndef SPANK_OCI_LAUNCH_H
#define SPANK_OCI_LAUNCH_H

#include <jansson.h>

#include "common/error.h"
#include "conf/conf.h"
#include "conf/pattern.h"
#include "launcher/task.h"
#include "launcher/timing.h"

struct launch;

/*
 * Opens the bundle or image at bundle_path and settles the task's options and identity
 * (as the user; nothing is written).
 */
int launch_new(const struct oci_conf *conf, const struct oci_task *task, const char *bundle_path,
	       struct launch **out, oci_error_t *err);
/* One line for the user when a fallback was taken (e.g. uid 0 inside), or NULL. */
const char *launch_notice(const struct launch *l);
/* The task's config.json, without touching the file system. */
int launch_spec(struct launch *l, json_t **spec, oci_error_t *err);
void launch_free(struct launch *l);

/*
 * The whole sequence for one task: new; the notice (once per step: task 0); prepare (the
 * private directories, a squashfs mount, config.json); run the container to its end,
 * supervised; cleanup (RunTimeKill, RunTimeDelete, generated files); and the timing line
 * if SPANK_OCI_TIMING asks (start: when the task's work began). *wstatus: how the
 * container ended (a signal that killed it as that signal); -1 with err when it could
 * not run (*wstatus is then a failure status).
 */
int launch_task(const struct oci_conf *conf, const struct oci_task *task, const char *bundle_path,
		const struct timing_mark *start, int *wstatus, oci_error_t *err);

/*
 * After the tasks of a step: removes whatever the step's tasks left in the per-step
 * directory (RunTimeKill/RunTimeDelete for each task, the shared container, the squashfs
 * mount, then the files). step_vars: the step's ids, node and user. Call as the user.
 */
void launch_sweep(const struct oci_conf *conf, const struct pattern_vars *step_vars,
		  char *const *env);

#endif
