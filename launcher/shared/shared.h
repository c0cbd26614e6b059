/*
 * Shared mode (SharedContainer): one container per step and node. The first task of the
 * step on the node creates and starts it with RunTimeCreate and RunTimeStart; its
 * process is spank-oci-holder (holder.h), which only waits, holding the namespaces;
 * every task joins it (join.h); the last task to leave deletes it. Everything lives in
 * %m/shared.
 */
#ifndef SPANK_OCI_SHARED_H
#define SPANK_OCI_SHARED_H

#include "conf/conf.h"
#include "common/error.h"
#include "conf/pattern.h"
#include "launcher/shared/join.h"
#include "launcher/launch.h"

/* The step's container on this node, created from l's config.json if there is none. */
int shared_container_get(struct oci_launch *l, struct join_target *t, oci_error_t *err);

/*
 * Kills and deletes the step's container on this node (if any), and its files, with the
 * runtime commands as l runs them (l->spool: the step's directory).
 */
void shared_container_remove(struct oci_launch *l);

#endif
