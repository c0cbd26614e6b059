/*
 * The runtime-spec config.json of one task: the bundle's own config.json (or a complete
 * rootless default) rewritten so that the container is the task (see README, "What the
 * container gets").
 */
#ifndef SPANK_OCI_SPEC_H
#define SPANK_OCI_SPEC_H

#include <jansson.h>
#include <stdbool.h>

#include "conf/conf.h"
#include "common/error.h"
#include "launcher/settings.h"
#include "launcher/image/bundle.h"
#include "launcher/task.h"

/* Who the container's process is, and how its ids are mapped. */
enum spec_identity {
	IDENTITY_REMAP_ROOT, /* uid/gid 0 inside, mapped to the user */
	IDENTITY_OWN,	     /* the user's uid/gid inside, mapped to themselves */
	/*
	 * The user's uid/gid inside, and uid/gid 0 mapped too (runc 1.1.5 needs it): the
	 * runtime runs in a user namespace of its own (launcher/runtime/userns.c) where 0 is the
	 * user and 1 the user's first subordinate id; host ids in config.json count there.
	 */
	IDENTITY_OWN_SUBIDS,
};

struct spec_input {
	const struct oci_conf *conf;
	const struct oci_bundle *bundle;
	const struct oci_task *task;
	const char *spool;	     /* %m on the host, or NULL */
	const char *spool_dest;	     /* where %m is bound (MountSpoolDir), or NULL */
	enum spec_identity identity; /* IDENTITY_REMAP_ROOT when zeroed */
	bool in_userns;	       /* the runtime runs as uid 0 of the task's namespace (the user) */
	const char *root_path; /* root.path (the overlay), or NULL: the bundle's rootfs */
	const struct container_settings *settings; /* the user's options and site defaults */
	char ***notices; /* a strv the notices for the user are appended to, or NULL */
};

int spec_build(const struct spec_input *in, json_t **out, oci_error_t *err);

/* Whether the runtime needs container uid 0 mapped (runc 1.1.5 rootless does). */
bool spec_runtime_needs_root_mapped(const struct oci_conf *conf);

/* Writes spec as path (a config.json the runtime reads), private to the user. */
int spec_write(json_t *spec, const char *path, oci_error_t *err);

#endif
