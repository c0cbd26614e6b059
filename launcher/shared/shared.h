/*
 * Shared mode (SharedContainer): one container per step and node. The first task of the
 * step on the node creates and starts it with RunTimeCreate and RunTimeStart; its
 * process is spank-oci-holder (holder.h), which only waits, holding the namespaces;
 * every task joins it (join.h); the last task to leave deletes it. Everything lives in
 * %m/shared.
 */
#ifndef SPANK_OCI_SHARED_H
#define SPANK_OCI_SHARED_H

#include <jansson.h>
#include <stdint.h>

#include "common/error.h"
#include "conf/conf.h"
#include "conf/pattern.h"
#include "launcher/root/root.h"
#include "launcher/runtime/userns.h"
#include "launcher/shared/join.h"

/* The step's side of a task: what its runtime commands for the shared container need. */
struct shared_step {
	const struct oci_conf *conf;
	const char *spool;		 /* %m */
	const struct pattern_vars *vars; /* the task's patterns (%b becomes %m/shared) */
	char *const *env;		 /* the runtime's environment */
	struct userns *userns;		 /* the runtime's user namespace, or NULL */
	struct container_root *root;	 /* the root the step's container is created on, or NULL */
	uint64_t *waited_ns;		 /* time in runtime commands and waiting goes here */
};

/* %m/shared, where the step's container's bundle and root are (allocated). */
char *shared_dir_of(const char *spool);

/*
 * The step's container on this node, created from spec (the task's config.json; its
 * process becomes the holder) if there is none.
 */
int shared_container_get(const struct shared_step *s, json_t *spec, struct join_target *t,
			 oci_error_t *err);

/* Kills and deletes the step's container on this node (if any); its files stay. */
void shared_container_stop(const struct shared_step *s);

/* Kills and deletes the step's container on this node (if any), and its files. */
void shared_container_remove(const struct shared_step *s);

#endif
