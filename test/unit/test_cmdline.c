/*
 * launcher/runtime/cmdline.c: what spank-oci adds to the command lines of the runtimes it
 * knows (--log, --console-socket), and where.
 */
#include "unit.h"

#include "common/strv.h"
#include "launcher/runtime/cmdline.h"

/* The words of argv joined by spaces, for comparing whole command lines. */
static char *joined(char *const *argv)
{
	char *out = xstrdup("");

	for (size_t i = 0; argv[i] != NULL; i++) {
		char *next = xasprintf("%s%s%s", out, i ? " " : "", argv[i]);
		free(out);
		out = next;
	}
	return out;
}

static char **words(const char *line)
{
	char **v = NULL, *copy = xstrdup(line), *save = NULL;
	size_t n = 0;

	for (char *w = strtok_r(copy, " ", &save); w != NULL; w = strtok_r(NULL, " ", &save))
		strv_push(&v, &n, w);
	free(copy);
	return v;
}

static void kind_by_file_name(void **state)
{
	(void)state;
	assert_int_equal(cmdline_runtime_kind("/usr/sbin/runc"), RUNTIME_RUNC);
	assert_int_equal(cmdline_runtime_kind("crun"), RUNTIME_CRUN);
	assert_int_equal(cmdline_runtime_kind("/opt/runc-wrapper"), RUNTIME_OTHER);
	assert_int_equal(cmdline_runtime_kind("/usr/bin/youki"), RUNTIME_OTHER);
	assert_int_equal(cmdline_runtime_kind(NULL), RUNTIME_OTHER);
}

static void has_option_in_both_forms(void **state)
{
	cleanup_strv char **a = words("runc --log /x --log-format json run id");
	cleanup_strv char **b = words("crun --log=file:/x run id");
	cleanup_strv char **c = words("runc --log-format json --log-level debug run id");

	(void)state;
	assert_true(cmdline_has_option(a, "--log"));
	assert_true(cmdline_has_option(b, "--log"));
	/* --log-format and --log-level are other options */
	assert_false(cmdline_has_option(c, "--log"));
}

static void subcommand_after_global_options(void **state)
{
	cleanup_strv char **a = words("runc --root /run/x --log run run --bundle b id");
	cleanup_strv char **b = words("crun --root=/r --cgroup-manager=disabled create id");
	cleanup_strv char **c = words("runc --root /r start id");

	(void)state;
	/* "run" as the value of --log is not the subcommand */
	assert_int_equal(cmdline_subcommand(a, "run"), 5);
	assert_int_equal(cmdline_subcommand(b, "create"), 3);
	assert_int_equal(cmdline_subcommand(c, "create"), 0);
}

static void log_added_as_each_runtime_reads_it(void **state)
{
	cleanup_strv char **runc = words("/usr/sbin/runc --root /r run --bundle b id");
	cleanup_strv char **crun = words("/usr/bin/crun --root=/r run --bundle b id");
	cleanup_free char *runc_line = NULL, *crun_line = NULL;

	(void)state;
	cmdline_add_log(&runc, RUNTIME_RUNC, "/b/runtime.log");
	cmdline_add_log(&crun, RUNTIME_CRUN, "/b/runtime.log");
	runc_line = joined(runc);
	crun_line = joined(crun);
	assert_string_equal(runc_line, "/usr/sbin/runc --log /b/runtime.log --log-format json "
				       "--root /r run --bundle b id");
	assert_string_equal(crun_line, "/usr/bin/crun --log=file:/b/runtime.log --log-format=json "
				       "--root=/r run --bundle b id");
}

static void console_socket_right_after_the_subcommand(void **state)
{
	cleanup_strv char **v = words("crun --root=/r run --pid-file p --bundle b id");
	cleanup_free char *line = NULL;

	(void)state;
	cmdline_add_console_socket(&v, cmdline_subcommand(v, "run"), "/b/console.sock");
	line = joined(v);
	assert_string_equal(line, "crun --root=/r run --console-socket /b/console.sock "
				  "--pid-file p --bundle b id");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(kind_by_file_name),
		cmocka_unit_test(has_option_in_both_forms),
		cmocka_unit_test(subcommand_after_global_options),
		cmocka_unit_test(log_added_as_each_runtime_reads_it),
		cmocka_unit_test(console_socket_right_after_the_subcommand),
	};

	return cmocka_run_group_tests_name("cmdline", tests, NULL, NULL);
}
