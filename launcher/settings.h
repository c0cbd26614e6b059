/*
 * What a container gets of the user's options (conf/options.h) and the site's defaults
 * (struct oci_conf): merged as the job's user, on the real paths of the mount sources.
 */
#ifndef SPANK_OCI_SETTINGS_H
#define SPANK_OCI_SETTINGS_H

#include <stdbool.h>

#include "common/error.h"
#include "conf/conf.h"
#include "conf/mounts.h"
#include "conf/options.h"

struct container_settings {
	struct mount_list mounts; /* site's, home, user's; sources are real paths */
	bool remap_root;	  /* uid 0 inside, asked for (by the user or RemapRoot=true) */
	int writable;		  /* enum opt_tristate: unset leaves it to the bundle */
	bool entrypoint;
	bool shared;   /* one container per step and node, joined by the tasks */
	char *workdir; /* NULL: the task's cwd, the image's WorkingDir, or "/" */
	char **env;    /* names whose host values win over the bundle's or image's */
	char *save;    /* --container-save: where the root goes as squashfs, or NULL */
};

/*
 * Merges and checks, as the job's user: the text policy first (oci_options_check), then
 * every mount source must exist; its real path is what the policy is checked on again
 * and what is mounted. home: the user's home directory. mpi_step: the step has --mpi
 * (shared mode is its default: SharedContainer=mpi). On error *out is released.
 */
int settings_resolve(const struct oci_options *o, const struct oci_conf *conf, const char *home,
		     bool mpi_step, struct container_settings *out, oci_error_t *err);
void settings_release(struct container_settings *s);

#endif
