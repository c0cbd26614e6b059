#include "launcher/spec/mpi.h"

#include <string.h>

#include "common/strv.h"
#include "common/xalloc.h"

#define OMPI_SINGLE_COPY "OMPI_MCA_btl_vader_single_copy_mechanism"

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

void mpi_per_task_env(char *const *task_env, char ***env, size_t *len)
{
	if (mpi_step(task_env) && strv_env_get(*env, OMPI_SINGLE_COPY) == NULL)
		strv_push_owned(env, len, xstrdup(OMPI_SINGLE_COPY "=none"));
}
