/*
 * launcher/spec/shell.c: an interactive step's shell in an image: the user's shell when
 * the image has it, else the image's /bin/sh, else an error naming both.
 */
#include "unit.h"

#include "common/strv.h"
#include "launcher/spec/shell.h"

/* An executable file at rootfs/rel. */
static void make_program(const char *rootfs, const char *rel)
{
	cleanup_free char *path = xasprintf("%s/%s", rootfs, rel);

	write_text(path, NULL, "#!/bin/sh\n");
	assert_int_equal(chmod(path, 0755), 0);
}

static char *make_rootfs(struct dir_fixture *f, bool bash, bool sh)
{
	char *rootfs = dir_fixture_at(f, "rootfs");
	cleanup_free char *bin = dir_fixture_at(f, "rootfs/bin");

	make_dir(f->dir, "rootfs", 0755);
	make_dir(f->dir, "rootfs/usr", 0755);
	make_dir(f->dir, "rootfs/usr/bin", 0755);
	/* merged /usr: /bin is a symlink, followed inside the image */
	assert_int_equal(symlinkat("usr/bin", AT_FDCWD, bin), 0);
	if (bash)
		make_program(rootfs, "usr/bin/bash");
	if (sh)
		make_program(rootfs, "usr/bin/sh");
	return rootfs;
}

static struct oci_task shell_task(char *const *argv, bool tty)
{
	static char *const env[] = {"SHELL=/bin/zsh", NULL};

	return (struct oci_task){.argv = argv, .env = env, .shell = "/bin/bash", .tty = tty};
}

static void image_with_the_users_shell_keeps_it(void **state)
{
	cleanup_free char *rootfs = make_rootfs(*state, true, true);
	char *const argv[] = {"/bin/bash", NULL};
	struct oci_task t = shell_task(argv, true);
	cleanup_error oci_error_t err = NULL;
	cleanup_strv char **got = NULL;

	assert_ok(shell_for_image(rootfs, &t, &got, &err), err);
	assert_null(got);
}

static void image_without_it_gets_bin_sh(void **state)
{
	cleanup_free char *rootfs = make_rootfs(*state, false, true);
	char *const argv[] = {"/bin/bash", NULL};
	char *const from_env[] = {"/bin/zsh", NULL};
	struct oci_task t = shell_task(argv, true);
	cleanup_error oci_error_t err = NULL;
	cleanup_strv char **got = NULL, **got_env = NULL;

	assert_ok(shell_for_image(rootfs, &t, &got, &err), err);
	assert_non_null(got);
	assert_string_equal(got[0], "/bin/sh");
	assert_null(got[1]);
	/* salloc's interactive step runs $SHELL: the same rule, without a terminal too */
	t = shell_task(from_env, false);
	t.interactive = true;
	assert_ok(shell_for_image(rootfs, &t, &got_env, &err), err);
	assert_non_null(got_env);
	assert_string_equal(got_env[0], "/bin/sh");
}

static void image_with_no_shell_names_both(void **state)
{
	cleanup_free char *rootfs = make_rootfs(*state, false, false);
	char *const argv[] = {"/bin/bash", NULL};
	struct oci_task t = shell_task(argv, true);
	cleanup_error oci_error_t err = NULL;
	cleanup_strv char **got = NULL;

	assert_int_equal(shell_for_image(rootfs, &t, &got, &err), -1);
	assert_error_has(err, "neither /bin/bash (your shell) nor /bin/sh");
	assert_null(got);
}

static void other_commands_are_left_alone(void **state)
{
	cleanup_free char *rootfs = make_rootfs(*state, false, true);
	char *const with_args[] = {"/bin/bash", "-c", "true", NULL};
	char *const other[] = {"/usr/bin/python3", NULL};
	char *const bash[] = {"/bin/bash", NULL};
	struct oci_task cases[] = {
		shell_task(with_args, true), /* a command, not a shell */
		shell_task(other, true),     /* not the user's shell */
		shell_task(bash, false),     /* no terminal, not the interactive step */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cleanup_error oci_error_t err = NULL;
		cleanup_strv char **got = NULL;

		assert_ok(shell_for_image(rootfs, &cases[i], &got, &err), err);
		assert_null(got);
	}
}

#define T(name) cmocka_unit_test_setup_teardown(name, dir_fixture_setup, dir_fixture_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(image_with_the_users_shell_keeps_it),
		T(image_without_it_gets_bin_sh),
		T(image_with_no_shell_names_both),
		T(other_commands_are_left_alone),
	};

	return cmocka_run_group_tests_name("shell", tests, NULL, NULL);
}
