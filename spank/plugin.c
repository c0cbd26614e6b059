/*
 * spank_oci.so: SPANK entry points. Glue only: the launcher does the work.
 *
 * plugstack.conf:  required /path/to/spank_oci.so [config=/etc/slurm/spank-oci.conf]
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "spank/context.h"

/* Slurm looks these symbols up: everything else stays hidden. */
struct plugin_context context = {.ctx = S_CTX_ERROR, .node_pipe = {-1, -1}};

#pragma GCC visibility push(default)
SPANK_PLUGIN(spank_oci, 1);

static int parse_plugin_args(int ac, char **av)
{
	for (int i = 0; i < ac; i++) {
		if (strncmp(av[i], "config=", 7) == 0 && av[i][7] != '\0') {
			free(context.config_path);
			context.config_path = strdup(av[i] + 7);
			if (context.config_path == NULL)
				return -1;
			continue;
		}
		slurm_error(SPANK_OCI_PREFIX
			    "unknown plugin argument '%s' in plugstack.conf (known: "
			    "config=PATH)",
			    av[i]);
		return -1;
	}
	if (context.config_path == NULL)
		context.config_path = strdup(SPANK_OCI_DEFAULT_CONFIG);
	return context.config_path ? 0 : -1;
}

static void load_config(void)
{
	cleanup_error oci_error_t err = NULL;

	if (oci_conf_load(context.config_path, &context.conf, &err) < 0) {
		context.conf_error = strdup(oci_error_text(err));
		slurm_error(SPANK_OCI_PREFIX "%s", oci_error_text(err));
	}
}

int slurm_spank_init(spank_t sp, int ac, char **av)
{
	context.ctx = spank_context();
	if (parse_plugin_args(ac, av) < 0)
		return -1;
	switch (context.ctx) {
	case S_CTX_LOCAL:
	case S_CTX_ALLOCATOR:
		if (options_register(sp) < 0)
			return -1;
		return client_init(sp);
	case S_CTX_REMOTE:
		for (struct spank_option *o = client_options; o->name != NULL; o++)
			spank_option_register(sp, o);
		options_register(sp);
		/* the step's tasks share one parsed configuration */
		load_config();
		return 0;
	default:
		return 0;
	}
}

int slurm_spank_init_post_opt(spank_t sp, int ac, char **av)
{
	(void)ac;
	(void)av;
	if (context.ctx == S_CTX_LOCAL || context.ctx == S_CTX_ALLOCATOR) {
		if (options_client_check() < 0)
			return -1;
		return client_post_opt(sp);
	}
	if (context.ctx == S_CTX_REMOTE)
		return remote_step_init(sp);
	return 0;
}

int slurm_spank_task_init(spank_t sp, int ac, char **av)
{
	(void)ac;
	(void)av;
	return remote_task_init(sp);
}

int slurm_spank_exit(spank_t sp, int ac, char **av)
{
	(void)ac;
	(void)av;
	if (context.ctx == S_CTX_REMOTE)
		remote_exit(sp);
	for (int i = 0; i < 2; i++) {
		if (context.node_pipe[i] >= 0)
			close(context.node_pipe[i]);
		context.node_pipe[i] = -1;
	}
	oci_conf_free(context.conf);
	context.conf = NULL;
	free(context.conf_error);
	free(context.step_error);
	context.step_error = NULL;
	free(context.tmp_fs);
	context.tmp_fs = NULL;
	free(context.config_path);
	free(context.inherited_container);
	oci_options_release(&context.options);
	context.conf_error = context.config_path = context.inherited_container = NULL;
	return 0;
}
#pragma GCC visibility pop
