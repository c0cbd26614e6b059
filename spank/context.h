/* The plugin's state: one context struct per SPANK context (after pyxis). */
#ifndef SPANK_OCI_CONTEXT_H
#define SPANK_OCI_CONTEXT_H

#include <slurm/spank.h>
#include <stdbool.h>

#include "conf/conf.h"
#include "common/messages.h"
#include "conf/options.h"

/* Slurm's special step ids (slurm.h), without pulling all of slurm.h in. */
#ifndef SLURM_EXTERN_CONT
#define SLURM_EXTERN_CONT 0xfffffffcU
#endif
#ifndef SLURM_BATCH_SCRIPT
#define SLURM_BATCH_SCRIPT 0xfffffffbU
#endif
#ifndef SLURM_INTERACTIVE_STEP
#define SLURM_INTERACTIVE_STEP 0xfffffffaU
#endif

struct plugin_context {
	spank_context_t ctx;
	char *config_path;

	/* srun, sbatch, salloc */
	char *inherited_container;  /* SLURM_CONTAINER as found before option parsing */
	bool no_container;	    /* --no-container */
	struct oci_options options; /* --container-mounts and the others */

	/* slurmstepd */
	struct oci_conf *conf;
	char *conf_error; /* why the config could not be loaded, told to container tasks */
	char *step_error; /* why the step's per-user directories could not be made, likewise */
	/*
	 * The node's name as Slurm gives it to the tasks (SLURMD_NODENAME of their
	 * environment), which their %n expanded to: each container task writes it here,
	 * slurm_spank_exit reads it rather than guess it from the step's environment (srun's)
	 * or the host name.
	 */
	int node_pipe[2];
	/* Slurm's TmpFS as slurm.conf has it (%n unexpanded), or NULL: see slurm_tmp_fs */
	char *tmp_fs;
};

extern struct plugin_context context;

/* Client side (srun/sbatch/salloc): options and which container a command gets. */
int client_init(spank_t sp);
int client_post_opt(spank_t sp);
extern struct spank_option client_options[];

/* The container options: registered everywhere, checked on both sides. */
int options_register(spank_t sp);
int options_client_check(void);
int options_for_task(spank_t sp, char **env, struct oci_options *out, oci_error_t *err);

/* slurmstepd side: the step's directories, then the task becomes the container. */
int remote_step_init(spank_t sp);
int remote_task_init(spank_t sp);
int remote_exit(spank_t sp);

#endif
