#include "launcher/settings.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/strv.h"
#include "common/xalloc.h"

/* A mount source as the user sees it: it must exist; its real path is used. */
static int add_resolved(struct mount_list *out, const struct mount_request *m,
			const struct oci_conf *conf, bool check_policy, oci_error_t *err)
{
	cleanup_free char *real = realpath(m->src, NULL);

	if (real == NULL)
		return oci_error_make(err, errno, "mount source %s", m->src);
	if (check_policy && oci_options_check_source(conf, m->src, real, err) < 0)
		return -1;
	/* a later mount at the same destination replaces an earlier one */
	for (size_t i = 0; i < out->n; i++) {
		if (strcmp(out->v[i].dst, m->dst) == 0) {
			free(out->v[i].src);
			out->v[i].src = steal_pointer(&real);
			out->v[i].ro = m->ro;
			return 0;
		}
	}
	mounts_add(out, real, m->dst, m->ro);
	return 0;
}

static int resolve_mounts(const struct oci_options *o, const struct oci_conf *conf,
			  const char *home, struct mount_list *out, oci_error_t *err)
{
	bool mount_home = o->mount_home == OPT_UNSET ? conf->mount_home : o->mount_home == OPT_ON;

	for (size_t i = 0; i < conf->container_mounts.n; i++) {
		if (add_resolved(out, &conf->container_mounts.v[i], conf, false, err) < 0)
			return oci_error_wrap(err, "ContainerMounts in %s", conf->path);
	}
	if (mount_home && home != NULL && home[0] == '/') {
		struct mount_request m = {.src = (char *)home, .dst = (char *)home};
		/* the site's MountHome is not checked against its own prefixes */
		if (add_resolved(out, &m, conf, o->mount_home == OPT_ON, err) < 0)
			return oci_error_wrap(err, "--container-mount-home");
	}
	for (size_t i = 0; i < o->mounts.n; i++) {
		if (add_resolved(out, &o->mounts.v[i], conf, true, err) < 0)
			return oci_error_wrap(err, "--container-mounts");
	}
	return 0;
}

int settings_resolve(const struct oci_options *o, const struct oci_conf *conf, const char *home,
		     bool mpi_step, struct container_settings *out, oci_error_t *err)
{
	*out = (struct container_settings){.writable = OPT_UNSET};
	if (oci_options_check(o, conf, err) < 0 ||
	    resolve_mounts(o, conf, home, &out->mounts, err) < 0)
		goto fail;
	out->remap_root = o->remap_root == OPT_UNSET ? conf->remap_root == REMAP_ROOT_YES
						     : o->remap_root == OPT_ON;
	out->writable = o->writable != OPT_UNSET ? o->writable : conf->writable;
	out->entrypoint = o->entrypoint == OPT_ON;
	if (o->shared != OPT_UNSET)
		out->shared = o->shared == OPT_ON;
	else if (conf->shared_container == SHARED_MPI)
		/* ranks of a node share memory, /tmp and CMA (one user namespace): README */
		out->shared = mpi_step && conf->runtime_create != NULL;
	else
		out->shared = conf->shared_container == SHARED_ALWAYS;
	if (out->shared && conf->runtime_create == NULL) {
		oci_error_make(err, 0,
			       "--container-shared: the site's runtime setup has no RunTimeCreate "
			       "(one container per task only)");
		goto fail;
	}
	if (o->workdir != NULL)
		out->workdir = xstrdup(o->workdir);
	if (o->env != NULL)
		out->env = strv_dup(o->env);
	if (o->save != NULL)
		out->save = xstrdup(o->save);
	return 0;
fail:
	settings_release(out);
	return -1;
}

void settings_release(struct container_settings *s)
{
	mounts_release(&s->mounts);
	free(s->workdir);
	strv_free(s->env);
	free(s->save);
	*s = (struct container_settings){.writable = OPT_UNSET};
}
