#include "launcher/spec/mpi.h"

#include <stdio.h>
#include <string.h>

#include "common/strv.h"
#include "common/xalloc.h"

#define OMPI_SINGLE_COPY "OMPI_MCA_btl_vader_single_copy_mechanism"
#define OMPI_BACKING_DIR "OMPI_MCA_btl_vader_backing_directory"

bool mpi_step(char *const *task_env)
{
	const char *type = strv_env_get(task_env, "SLURM_MPI_TYPE");

	return type != NULL && type[0] != '\0' && strcmp(type, "none") != 0;
}

const char *mpi_refusal(char *const *task_env, bool uid0_inside)
{
	const char *type = strv_env_get(task_env, "SLURM_MPI_TYPE");

	if (type == NULL)
		return NULL;
	if (strncmp(type, "pmi2", 4) == 0)
		return "--mpi=pmi2 is not offered in containers: PMI-2 gives each task a socket "
		       "by descriptor number (PMI_FD), and no descriptor but stdio reaches a "
		       "container; use --mpi=pmix";
	if (strncmp(type, "pmix", 4) == 0 && uid0_inside)
		return "--mpi=pmix: Slurm's PMIx server accepts only clients that run as you, and "
		       "this container would run as uid 0 (--container-remap-root, RemapRoot, or "
		       "runc without a range in /etc/subuid and /etc/subgid)";
	return NULL;
}

/* Adds NAME=VALUE (setting, "NAME=VALUE") to env unless env has NAME. */
static void default_to(char ***env, size_t *len, const char *setting)
{
	size_t n = strcspn(setting, "=");
	char name[64];

	snprintf(name, sizeof(name), "%.*s", (int)n, setting);
	if (strv_env_get(*env, name) == NULL)
		strv_push_owned(env, len, xstrdup(setting));
}

void mpi_per_task_env(char *const *task_env, char ***env, size_t *len)
{
	if (!mpi_step(task_env))
		return;
	default_to(env, len, OMPI_SINGLE_COPY "=none");
	/* the node's /dev/shm, which every per-task container shares with it */
	default_to(env, len, OMPI_BACKING_DIR "=/dev/shm");
}
