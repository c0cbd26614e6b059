/*
 * srun, sbatch and salloc: which container a command gets.
 *
 * Slurm 21.08+ owns --container (a SPANK option of that name is dropped), and sets
 * SLURM_CONTAINER only when it is unset, so an inherited value would beat the command's
 * own --container. So, as measured (see FIELD-NOTES): save and unset SLURM_CONTAINER
 * before Slurm parses options; afterwards, a value present now came from this command
 * (--container or SRUN_/SBATCH_/SALLOC_CONTAINER), else the saved one is restored.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/xalloc.h"
#include "spank/context.h"

#define SALLOC_STEP_MARK "SPANK_OCI_SALLOC_STEP"

static int no_container_cb(int val, const char *optarg, int remote)
{
	(void)val;
	(void)optarg;
	(void)remote;
	context.no_container = true;
	return 0;
}

static int container_cb(int val, const char *optarg, int remote)
{
	(void)val;
	(void)remote;
	if (optarg == NULL || *optarg == '\0') {
		slurm_error(SPANK_OCI_PREFIX "--container needs a path");
		return -1;
	}
	return setenv("SLURM_CONTAINER", optarg, 1);
}

struct spank_option client_options[] = {
	{"no-container", NULL,
	 "Run this step on the host even if the job has a container (spank-oci)", 0, 0,
	 no_container_cb},
	SPANK_OPTIONS_TABLE_END};

/* Only for a Slurm older than 21.08, which has no --container of its own. */
static struct spank_option container_option = {
	"container", "PATH", "Run the tasks in this OCI bundle or root filesystem (spank-oci)",
	1,	     0,	     container_cb};

static bool slurm_has_container_option(spank_t sp)
{
	char *major = NULL, *minor = NULL;

	if (spank_get_item(sp, S_SLURM_VERSION_MAJOR, &major) != ESPANK_SUCCESS ||
	    spank_get_item(sp, S_SLURM_VERSION_MINOR, &minor) != ESPANK_SUCCESS || !major || !minor)
		return true;
	return atoi(major) > 21 || (atoi(major) == 21 && atoi(minor) >= 8);
}

int client_init(spank_t sp)
{
	const char *inherited = getenv("SLURM_CONTAINER");

	for (struct spank_option *o = client_options; o->name != NULL; o++) {
		if (spank_option_register(sp, o) != ESPANK_SUCCESS)
			return -1;
	}
	if (!slurm_has_container_option(sp) &&
	    spank_option_register(sp, &container_option) != ESPANK_SUCCESS)
		return -1;
	if (inherited != NULL) {
		context.inherited_container = strdup(inherited);
		if (context.inherited_container == NULL)
			return -1;
		unsetenv("SLURM_CONTAINER");
	}
	return 0;
}

/* The command line salloc was started with (from /proc/self/cmdline). */
static char **read_cmdline(size_t *argc)
{
	cleanup_fclose FILE *f = fopen("/proc/self/cmdline", "re");
	cleanup_free char *arg = NULL;
	char **argv = xcalloc(1, sizeof(char *));
	size_t cap = 0;

	*argc = 0;
	while (f != NULL && getdelim(&arg, &cap, '\0', f) >= 0)
		strv_push(&argv, argc, arg);
	return argv;
}

/*
 * salloc runs a command given to it on the submit host, outside any container. With a
 * container, spank-oci runs that command as a one-task step of the allocation instead
 * ("salloc --container=B cmd" behaves as "salloc srun --container=B cmd"), by running
 * salloc again with srun put in front of the command. getopt's optind tells where
 * salloc's own options ended.
 */
static int salloc_command_in_container(void)
{
	cleanup_strv char **argv = NULL, **next = NULL;
	struct oci_conf *conf = NULL;
	cleanup_error oci_error_t err = NULL;
	size_t argc = 0, n = 0;

	if (strcmp(program_invocation_short_name, "salloc") != 0 || getenv(SALLOC_STEP_MARK))
		return 0;
	argv = read_cmdline(&argc);
	if (argv == NULL || optind <= 0 || (size_t)optind >= argc)
		return 0; /* no command: the interactive step (use_interactive_step) runs */
	next = xcalloc(1, sizeof(char *));
	for (size_t i = 0; i < (size_t)optind; i++)
		strv_push(&next, &n, argv[i]);
	if (oci_conf_load(context.config_path, &conf, &err) < 0)
		conf = NULL;
	strv_push(&next, &n, conf && conf->srun_path ? conf->srun_path : "srun");
	for (size_t i = 0; conf && conf->srun_args && conf->srun_args[i]; i++)
		strv_push(&next, &n, conf->srun_args[i]);
	strv_push(&next, &n, "--ntasks=1");
	strv_push(&next, &n, "--nodes=1");
	for (size_t i = (size_t)optind; i < argc; i++)
		strv_push(&next, &n, argv[i]);
	oci_conf_free(conf);
	setenv(SALLOC_STEP_MARK, "1", 1);
	execv("/proc/self/exe", next);
	slurm_error(SPANK_OCI_PREFIX "cannot run salloc again: %s", strerror(errno));
	return -1;
}

int client_post_opt(spank_t sp)
{
	const char *given = getenv("SLURM_CONTAINER");

	(void)sp;
	if (context.no_container) {
		if (given != NULL) {
			slurm_error(SPANK_OCI_PREFIX "--container and --no-container exclude each "
						     "other");
			return -1;
		}
		return 0; /* the inherited container stays unset for this command */
	}
	if (given == NULL && context.inherited_container != NULL &&
	    setenv("SLURM_CONTAINER", context.inherited_container, 1) < 0)
		return -1;
	if (context.ctx == S_CTX_ALLOCATOR && getenv("SLURM_CONTAINER") != NULL)
		return salloc_command_in_container();
	return 0;
}
