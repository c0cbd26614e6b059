/*
 * launcher/spec/mpi.c: which steps are MPI steps, and the Open MPI setting a per-task
 * container of one gets (single-copy off: per-task containers cannot use CMA).
 */
#include "unit.h"

#include "common/strv.h"
#include "launcher/spec/mpi.h"

static void mpi_steps_are_those_with_an_mpi_type(void **state)
{
	(void)state;
	assert_true(mpi_step((char *const[]){"SLURM_MPI_TYPE=pmix", NULL}));
	assert_true(mpi_step((char *const[]){"A=1", "SLURM_MPI_TYPE=pmi2", NULL}));
	assert_false(mpi_step((char *const[]){"SLURM_MPI_TYPE=none", NULL}));
	assert_false(mpi_step((char *const[]){"SLURM_MPI_TYPE=", NULL}));
	assert_false(mpi_step((char *const[]){"PATH=/bin", NULL}));
}

static void pmi2_and_pmix_as_root_are_refused(void **state)
{
	char *const pmi2[] = {"SLURM_MPI_TYPE=pmi2", NULL};
	char *const pmix[] = {"SLURM_MPI_TYPE=pmix", NULL};
	char *const pmix_v4[] = {"SLURM_MPI_TYPE=pmix_v4", NULL};
	char *const none[] = {"SLURM_MPI_TYPE=none", NULL};

	(void)state;
	assert_non_null(strstr(mpi_refusal(pmi2, false), "--mpi=pmi2 is not offered"));
	assert_null(mpi_refusal(pmix, false));
	assert_non_null(strstr(mpi_refusal(pmix, true), "run as you"));
	assert_non_null(mpi_refusal(pmix_v4, true));
	assert_null(mpi_refusal(none, true));
	assert_null(mpi_refusal((char *const[]){"PATH=/bin", NULL}, true));
}

/* The container's environment after mpi_per_task_env for a task with task_env. */
static char **per_task(char *const *task_env, char *const *container_env)
{
	char **env = strv_dup(container_env);
	size_t len = strv_len(env);

	mpi_per_task_env(task_env, &env, &len);
	assert_int_equal(len, strv_len(env));
	return env;
}

static void per_task_mpi_turns_single_copy_off(void **state)
{
	char *const mpi[] = {"SLURM_MPI_TYPE=pmix", NULL};
	char *const plain[] = {"SLURM_MPI_TYPE=none", NULL};
	cleanup_strv char **set = per_task(mpi, (char *const[]){"PATH=/bin", NULL});
	cleanup_strv char **untouched = per_task(plain, (char *const[]){"PATH=/bin", NULL});
	cleanup_strv char **users = per_task(
		mpi, (char *const[]){"OMPI_MCA_btl_vader_single_copy_mechanism=cma", NULL});

	(void)state;
	assert_string_equal(strv_env_get(set, "OMPI_MCA_btl_vader_single_copy_mechanism"), "none");
	assert_int_equal(strv_len(untouched), 1);
	/* the user's own choice stands */
	assert_int_equal(strv_len(users), 1);
	assert_string_equal(strv_env_get(users, "OMPI_MCA_btl_vader_single_copy_mechanism"), "cma");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(mpi_steps_are_those_with_an_mpi_type),
		cmocka_unit_test(per_task_mpi_turns_single_copy_off),
		cmocka_unit_test(pmi2_and_pmix_as_root_are_refused),
	};

	return cmocka_run_group_tests_name("mpi", tests, NULL, NULL);
}
