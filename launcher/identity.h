/*
 * Who the task is in its container: the user's own uid/gid where the runtime can do it
 * (crun with one mapping; runc 1.1.5, which needs uid 0 mapped, in a user namespace of
 * its own made from the user's /etc/subuid and /etc/subgid ranges), else uid 0 mapped to
 * the user, with a notice, unless RemapRoot=false or AllowRemapRoot=false forbid it.
 */
#ifndef SPANK_OCI_IDENTITY_H
#define SPANK_OCI_IDENTITY_H

#include <stdbool.h>

#include "common/error.h"
#include "conf/conf.h"
#include "launcher/runtime/userns.h"
#include "launcher/spec/spec.h"
#include "launcher/task.h"

struct identity {
	enum spec_identity kind;
	struct userns_map userns; /* the task's namespace (subordinate ids: IDENTITY_OWN_SUBIDS) */
	char *notice;		  /* one line for the user (a fallback taken), or NULL */
};

/*
 * remap_root: uid 0 inside was asked for. squashfs: the root is the squashfs mount itself
 * (RootOverlay=off), which (FUSE, without allow_other) lets in only the user; an overlay
 * over it reads it as its mounter, the user, whoever the runtime's init is.
 */
int identity_choose(const struct oci_conf *conf, const struct oci_task *task, bool remap_root,
		    bool squashfs, struct identity *out, oci_error_t *err);
void identity_release(struct identity *id);

#endif
