/*
 * The runtime-spec config.json of one task: the bundle's own config.json (or a complete
 * rootless default) rewritten so that the container is the task (see README, "What the
 * container gets").
 */
#ifndef SPANK_OCI_SPEC_H
#define SPANK_OCI_SPEC_H

#include <jansson.h>
#include <stdbool.h>

#include "../conf/conf.h"
#include "../conf/error.h"
#include "bundle.h"
#include "task.h"

struct spec_input {
	const struct oci_conf *conf;
	const struct oci_bundle *bundle;
	const struct oci_task *task;
	const char *spool;	/* %m on the host, or NULL */
	const char *spool_dest; /* where %m is bound in the container (MountSpoolDir), or NULL */
	bool remap_root;	/* uid 0 inside, mapped to the user */
};

int oci_spec_build(const struct spec_input *in, json_t **out, oci_error_t *err);

/* The container's environment: the task's minus EnvExclude; image env fills the gaps. */
int oci_spec_env(const struct oci_conf *conf, char *const *task_env, json_t *image_env, char ***out,
		 oci_error_t *err);

/* Whether RemapRoot resolves to uid 0 inside for this runtime. */
bool oci_spec_remap_root(const struct oci_conf *conf);

#endif
