#include "launcher/identity.h"

#include <stdlib.h>

#include "common/xalloc.h"

int identity_choose(const struct oci_conf *conf, const struct oci_task *t, bool remap_root,
		    bool squashfs, struct identity *out, oci_error_t *err)
{
	const char *runtime = oci_conf_runtime_name(conf);

	/* the task's namespace maps the user to its uid 0, and no subordinate ids unless told */
	*out = (struct identity){.kind = IDENTITY_REMAP_ROOT,
				 .userns = {.uid = t->uid, .gid = t->gid}};
	if (remap_root)
		return 0;
	if (!spec_runtime_needs_root_mapped(conf)) {
		out->kind = IDENTITY_OWN;
		return 0;
	}
	/* the runtime's uid 0 inside would be a subordinate id, which may not enter the mount */
	if (!squashfs && userns_lookup(USERNS_SUBUID_FILE, USERNS_SUBGID_FILE, t->user, t->uid,
				       t->gid, &out->userns)) {
		out->kind = IDENTITY_OWN_SUBIDS;
		return 0;
	}
	out->userns.subids = false;
	if (squashfs && (conf->remap_root == REMAP_ROOT_NO || !conf->allow_remap_root))
		return oci_error_make(
			err, 0,
			"a squashfs image under %s runs as uid 0 in the container "
			"(mapped to %s): its FUSE mount lets only %s in, and %s in %s "
			"forbids that",
			runtime, t->user, t->user,
			conf->remap_root == REMAP_ROOT_NO ? "RemapRoot=false"
							  : "AllowRemapRoot=false",
			conf->path);
	if (conf->remap_root == REMAP_ROOT_NO)
		return oci_error_make(err, 0,
				      "your own identity in a %s container needs a range for %s in "
				      "/etc/subuid and /etc/subgid (RemapRoot=false in %s)",
				      runtime, t->user, conf->path);
	if (!conf->allow_remap_root)
		return oci_error_make(err, 0,
				      "your own identity in a %s container needs a range for %s in "
				      "/etc/subuid and /etc/subgid, and AllowRemapRoot=false in %s "
				      "forbids uid 0 instead",
				      runtime, t->user, conf->path);
	out->notice = squashfs ? xasprintf("notice: a squashfs image under %s runs as uid 0 in "
					   "the container (mapped to %s): its FUSE mount lets "
					   "only %s in",
					   runtime, t->user, t->user)
			       : xasprintf("notice: no range for %s in /etc/subuid and "
					   "/etc/subgid: running as uid 0 in the container "
					   "(mapped to %s)",
					   t->user, t->user);
	return 0;
}

void identity_release(struct identity *id)
{
	free(id->notice);
	id->notice = NULL;
}
