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

void mpi_per_task_env(char *const *task_env, char ***env, size_t *len)
{
	if (mpi_step(task_env) && strv_env_get(*env, OMPI_SINGLE_COPY) == NULL)
		strv_push_owned(env, len, xstrdup(OMPI_SINGLE_COPY "=none"));
}
