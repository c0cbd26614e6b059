/*
 * launcher/spec/pmix.c: the directories of the step's PMIx server bound into the
 * container, and the PMIX_MCA_* variables that make a client speak the server's way.
 */
#include "unit.h"

#include "common/strv.h"
#include "launcher/spec/pmix.h"

static void binds_only_the_steps_own_directories(void **state)
{
	struct dir_fixture *f = *state;
	cleanup_free char *server = xasprintf("PMIX_SERVER_TMPDIR=%s/pmix.5.2/", f->dir);
	cleanup_free char *base = xasprintf("SLURM_PMIX_TMPDIR=%s", f->dir);
	cleanup_free char *want_server = dir_fixture_at(f, "pmix.5.2");
	cleanup_free char *want_app = dir_fixture_at(f, "spmix_appdir_1001_5.2");
	char *env[] = {server, base, NULL};
	cleanup_strv char **dirs = NULL, **other_step = NULL, **not_pmix = NULL;
	char *const none[] = {"PATH=/bin", NULL};

	make_dir(f->dir, "pmix.5.2", 0770);
	make_dir(f->dir, "spmix_appdir_1001_5.2", 0700);
	dirs = pmix_dirs(env, NULL, 1001, 5, 2);
	assert_non_null(dirs);
	assert_string_equal(dirs[0], want_server); /* without the trailing slash */
	assert_string_equal(dirs[1], want_app);
	assert_null(dirs[2]);
	/* a PMIX_SERVER_TMPDIR that names another step's directory is not bound */
	other_step = pmix_dirs(env, NULL, 1001, 5, 3);
	assert_null(other_step);
	/* without SLURM_PMIX_TMPDIR, in Slurm's TmpFS */
	{
		cleanup_free char *tmpfs = dir_fixture_at(f, "tmpfs");
		cleanup_free char *want = dir_fixture_at(f, "tmpfs/spmix_appdir_1001_5.2");
		char *no_base[] = {server, NULL};
		cleanup_strv char **got = NULL, **overridden = NULL;

		make_dir(f->dir, "tmpfs", 0755);
		make_dir(f->dir, "tmpfs/spmix_appdir_1001_5.2", 0700);
		got = pmix_dirs(no_base, tmpfs, 1001, 5, 2);
		assert_non_null(got);
		assert_string_equal(got[1], want);
		assert_null(got[2]);
		/* SLURM_PMIX_TMPDIR, the job's, wins as in Slurm's plugin */
		overridden = pmix_dirs(env, tmpfs, 1001, 5, 2);
		assert_string_equal(overridden[1], want_app);
	}
	/* no PMIx server: nothing */
	not_pmix = pmix_dirs(none, NULL, 1001, 5, 2);
	assert_null(not_pmix);
}

static void mca_variables_follow_the_server(void **state)
{
	cleanup_strv char **env =
		strv_dup((char *const[]){"PMIX_PTL_MODULE=tcp,usock", "PMIX_SECURITY_MODE=native",
					 "PMIX_GDS_MODULE=ds21", "PMIX_MCA_gds=hash", NULL});
	size_t len = strv_len(env);

	(void)state;
	pmix_env(&env, &len);
	assert_int_equal(len, strv_len(env));
	assert_string_equal(strv_env_get(env, "PMIX_MCA_ptl"), "tcp,usock");
	assert_string_equal(strv_env_get(env, "PMIX_MCA_psec"), "native");
	/* the user's own choice stays */
	assert_string_equal(strv_env_get(env, "PMIX_MCA_gds"), "hash");
}

#define T(name) cmocka_unit_test_setup_teardown(name, dir_fixture_setup, dir_fixture_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(binds_only_the_steps_own_directories),
		T(mca_variables_follow_the_server),
	};

	return cmocka_run_group_tests_name("pmix", tests, NULL, NULL);
}
