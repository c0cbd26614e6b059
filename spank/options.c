/*
 * The container options (--container-mounts, --container-workdir, ...) on srun, sbatch
 * and salloc. Glue only: conf/options.c parses and checks them.
 *
 * Client side: the callbacks collect the options (errors stop the command before
 * anything is submitted), then SPANK_OCI_CONTAINER_* variables fill what the command
 * line left unset and the site policy is checked, for early, friendly errors. Slurm
 * passes the options to slurmstepd; sbatch and salloc pass theirs to the job's steps.
 * Remote side: every task collects them again (spank_option_getopt and the task's own
 * environment) and the launcher checks everything once more, as the user: a client
 * check can be bypassed, this one cannot.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "spank/context.h"

static int option_cb(int val, const char *optarg, int remote);

static const char *task_getenv(void *ctx, const char *name)
{
	return strv_env_get(ctx, name);
}

static struct spank_option option_table[OPTION_COUNT];

static void fill_table(void)
{
	for (int id = 0; id < OPTION_COUNT; id++) {
		const struct option_def *d = &oci_option_defs[id];
		option_table[id] = (struct spank_option){
			.name = (char *)d->name,
			.arginfo = (char *)d->arginfo,
			.usage = (char *)d->help,
			.has_arg = d->arginfo != NULL,
			.val = id,
			.cb = option_cb,
		};
	}
}

/*
 * Options given to sbatch or salloc reach the job's steps as variables that srun reads
 * as if they were given again: SLURM_SPANK__SLURM_SPANK_OPTION_spank_oci_<name> (and
 * _SLURM_SPANK_OPTION_... in a step's tasks). A value equal to such a variable's is
 * inherited: the step's own options replace it.
 */
static bool is_inherited(const char *(*get)(void *, const char *), void *ctx, enum option_id id,
			 const char *arg)
{
	static const char *const prefixes[] = {"SLURM_SPANK__SLURM_SPANK_OPTION_spank_oci_",
					       "_SLURM_SPANK_OPTION_spank_oci_"};
	char name[128];

	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		const char *value;

		snprintf(name, sizeof(name), "%s%s", prefixes[i], oci_option_defs[id].name);
		for (char *p = name + strlen(prefixes[i]); *p != '\0'; p++)
			if (*p == '-')
				*p = '_';
		value = get(ctx, name);
		/* a flag's variable holds "(null)" */
		if (value != NULL &&
		    (oci_option_defs[id].arginfo == NULL || strcmp(value, arg ? arg : "") == 0))
			return true;
	}
	return false;
}

static const char *process_getenv(void *ctx, const char *name)
{
	(void)ctx;
	return getenv(name);
}

static int option_cb(int val, const char *optarg, int remote)
{
	cleanup_error oci_error_t err = NULL;
	bool inherited = is_inherited(process_getenv, NULL, (enum option_id)val, optarg);

	if (remote)
		return 0; /* each task reads them with spank_option_getopt */
	if (oci_options_set(&context.options, (enum option_id)val, optarg, inherited, &err) < 0) {
		slurm_error(SPANK_OCI_PREFIX "%s", oci_error_text(err));
		return -1;
	}
	return 0;
}

int options_register(spank_t sp)
{
	fill_table();
	oci_options_init(&context.options);
	for (int id = 0; id < OPTION_COUNT; id++) {
		if (spank_option_register(sp, &option_table[id]) != ESPANK_SUCCESS)
			return -1;
	}
	return 0;
}

int options_client_check(void)
{
	cleanup_error oci_error_t err = NULL;
	struct oci_conf *conf = NULL;
	int rc = 0;

	if (oci_options_from_env(&context.options, process_getenv, NULL, &err) < 0) {
		slurm_error(SPANK_OCI_PREFIX "%s", oci_error_text(err));
		return -1;
	}
	/* the site policy, where this host has the configuration (nodes check it anyway) */
	if (oci_conf_load(context.config_path, &conf, &err) < 0)
		return 0;
	if (oci_options_check(&context.options, conf, &err) < 0) {
		slurm_error(SPANK_OCI_PREFIX "%s", oci_error_text(err));
		rc = -1;
	}
	oci_conf_free(conf);
	return rc;
}

int options_for_task(spank_t sp, char **env, struct oci_options *out, oci_error_t *err)
{
	oci_options_init(out);
	for (int id = 0; id < OPTION_COUNT; id++) {
		char *arg = NULL;

		if (spank_option_getopt(sp, &option_table[id], &arg) != ESPANK_SUCCESS)
			continue;
		if (oci_options_set(out, (enum option_id)id, arg,
				    is_inherited(task_getenv, env, (enum option_id)id, arg),
				    err) < 0)
			return -1;
	}
	return oci_options_from_env(out, task_getenv, env, err);
}
