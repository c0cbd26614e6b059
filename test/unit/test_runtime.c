/*
 * launcher/runtime/runtime.c: the configured runtime commands, run against a fake runtime
 * (a shell script the tests write) that records its argv and does what each test tells it.
 * The runner executes argv itself: no shell stands between it and the fake.
 */
#include "unit.h"

#include "common/strv.h"
#include "conf/conf.h"
#include "launcher/runtime/runtime.h"

#define ENV(...) ((char *const[]){__VA_ARGS__, NULL})
#define WORDS(...) ((const char *const[]){__VA_ARGS__, NULL})

/*
 * The fake runtime. Each call appends its argv, one word a line, then "--end", to
 * <ctl>/calls. Its operation is its first argument among run, create, start, state, kill
 * and delete; for operation OP it appends <ctl>/OP.log to the file after --log (the
 * runtime's JSON log), prints <ctl>/OP.out, sources <ctl>/OP.sh and exits with the number
 * in <ctl>/OP.exit (0 without).
 */
static const char fake_runtime[] =
	"#!/bin/sh\n"
	"ctl='%s'\n"
	"printf '%%s\\n' \"$0\" \"$@\" --end >>\"$ctl/calls\"\n"
	"op= log= prev=\n"
	"for a in \"$@\"; do\n"
	"	case \"$prev\" in --log) log=$a ;; esac\n"
	"	case \"$a\" in run|create|start|state|kill|delete) [ -n \"$op\" ] || op=$a ;; "
	"esac\n"
	"	prev=$a\n"
	"done\n"
	"if [ -f \"$ctl/$op.log\" ] && [ -n \"$log\" ]; then cat \"$ctl/$op.log\" >>\"$log\"; fi\n"
	"if [ -f \"$ctl/$op.out\" ]; then cat \"$ctl/$op.out\"; fi\n"
	"if [ -f \"$ctl/$op.sh\" ]; then . \"$ctl/$op.sh\"; fi\n"
	"if [ -f \"$ctl/$op.exit\" ]; then exit \"$(cat \"$ctl/$op.exit\")\"; fi\n"
	"exit 0\n";

/* RunTimeRun (with the task's command, %@) or create/start; %1$s is the fake. */
#define RUN_CONF                                                                                   \
	"RunTimeRun=\"%1$s --root %%m/fake-%%U --log %%b/runtime.log run --node %%n "              \
	"--bundle %%b %%u.%%j.%%s.%%t %%@\"\n"                                                     \
	"RunTimeQuery=\"%1$s --root %%m/fake-%%U state %%u.%%j.%%s.%%t\"\n"                        \
	"RunTimeKill=\"%1$s --root %%m/fake-%%U kill %%u.%%j.%%s.%%t %%p KILL\"\n"                 \
	"RunTimeDelete=\"%1$s --root %%m/fake-%%U delete --force %%u.%%j.%%s.%%t\"\n"
#define CREATE_CONF                                                                                \
	"RunTimeCreate=\"%1$s --root %%m/fake-%%U --log %%b/runtime.log create --bundle %%b "      \
	"%%u.%%j.%%s.%%t\"\n"                                                                      \
	"RunTimeStart=\"%1$s --root %%m/fake-%%U --log %%b/runtime.log start %%u.%%j.%%s.%%t\"\n"  \
	"RunTimeQuery=\"%1$s --root %%m/fake-%%U --log %%b/runtime.log state %%u.%%j.%%s.%%t\"\n"  \
	"RunTimeKill=\"%1$s --root %%m/fake-%%U kill %%u.%%j.%%s.%%t KILL\"\n"                     \
	"RunTimeDelete=\"%1$s --root %%m/fake-%%U delete --force %%u.%%j.%%s.%%t\"\n"

#define TASK_ID 7
#define ID "alice.12.3.7" /* %u.%j.%s.%t */

static char *const runtime_env[] = {"PATH=/usr/bin:/bin", "MARK=for the runtime", NULL};

struct fixture {
	char *dir;    /* the test's temporary directory */
	char *fake;   /* dir/fake-runc */
	char *ctl;    /* dir/ctl: the fake's record and instructions */
	char *spool;  /* dir/spool: %m */
	char *root;   /* %m/fake-1000: the fake's --root */
	char *bundle; /* %m/task.7: %b */
	char *log;    /* %b/runtime.log */
	struct oci_conf *conf;
	struct pattern_vars vars;
	struct runtime rt;
	bool rt_ready;
	uint64_t waited_ns;
};

static int setup(void **state)
{
	struct fixture *f = dir_fixture_new(struct fixture);
	cleanup_free char *script = NULL;

	f->fake = xasprintf("%s/fake-runc", f->dir);
	f->ctl = xasprintf("%s/ctl", f->dir);
	f->spool = xasprintf("%s/spool", f->dir);
	f->root = xasprintf("%s/fake-1000", f->spool);
	f->bundle = xasprintf("%s/task.%d", f->spool, TASK_ID);
	f->log = xasprintf("%s/runtime.log", f->bundle);
	make_dir(f->dir, "ctl", 0700);
	make_dir(f->dir, "spool", 0700);
	make_dir(f->spool, "task.7", 0700);
	script = xasprintf(fake_runtime, f->ctl);
	write_executable(f->fake, NULL, script);
	f->vars = (struct pattern_vars){.user = "alice",
					.node = "node1",
					.spool = f->spool,
					.job_id = 12,
					.step_id = 3,
					.uid = 1000};
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	if (f->rt_ready)
		runtime_release(&f->rt);
	oci_conf_free(f->conf);
	free(f->fake);
	free(f->ctl);
	free(f->spool);
	free(f->root);
	free(f->bundle);
	free(f->log);
	dir_fixture_free(f);
	return 0;
}

/* Loads a configuration (format: RUN_CONF or CREATE_CONF) and makes f->rt for it. */
static struct runtime *runtime_for(struct fixture *f, const char *format, uint64_t *waited_ns)
{
	cleanup_free char *path = xasprintf("%s/oci.conf", f->dir);
	cleanup_free char *text = xasprintf(format, f->fake);
	cleanup_error oci_error_t err = NULL;

	write_text(path, NULL, text);
	assert_ok(oci_conf_load(path, &f->conf, &err), err);
	runtime_init(&f->rt, f->conf, &f->vars, f->bundle, TASK_ID, runtime_env, NULL, waited_ns);
	f->rt_ready = true;
	return &f->rt;
}

/* Tells the fake what to do: <ctl>/name. */
static void tell(struct fixture *f, const char *name, const char *text)
{
	write_text(f->ctl, name, text);
}

/* Fails unless the fake's calls, as one list of lines, are exactly want. */
static void assert_calls(struct fixture *f, const char *const *want)
{
	cleanup_free char *path = xasprintf("%s/calls", f->ctl);

	assert_file_lines(path, want);
}

/* What the fake wrote into <ctl>/name (to free), or NULL. */
static char *fake_wrote(struct fixture *f, const char *name)
{
	cleanup_free char *path = xasprintf("%s/%s", f->ctl, name);

	return read_text(path);
}

/* Expects runtime_command(op, words) to fail with exactly the error text want. */
static void expect_failure(struct runtime *rt, const char *op, char **words, enum proc_io io,
			   const char *want)
{
	cleanup_error oci_error_t err = NULL;

	assert_int_equal(runtime_command(rt, op, words, io, -1, &err), -1);
	assert_non_null(err);
	assert_string_equal(oci_error_text(err), want);
}

/* ---- templates into argv ------------------------------------------------------------------ */

/* Each template word is one argv word, whatever a pattern puts in it; nothing executes. */
static void templates_expand_into_exact_words(void **state)
{
	struct fixture *f = *state;
	cleanup_close int cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cleanup_free char *bundle = xasprintf("%s/my bundle/$(touch pwned)", f->dir);
	cleanup_free char *log = xasprintf("%s/runtime.log", bundle);
	cleanup_free char *pwned = xasprintf("%s/pwned", f->dir);
	cleanup_error oci_error_t err = NULL;
	char *task_argv[] = {"echo", "two words", "$HOME", "`id`", NULL};
	struct runtime *rt;
	int rc;

	make_dir(f->dir, "my bundle", 0700);
	make_dir(f->dir, "my bundle/$(touch pwned)", 0700);
	f->vars.argv = task_argv;
	runtime_for(f, RUN_CONF, NULL);
	runtime_release(&f->rt);
	runtime_init(&f->rt, f->conf, &f->vars, bundle, TASK_ID, runtime_env, NULL, NULL);
	rt = &f->rt;
	assert_string_equal(rt->log_path, log);

	/* where a shell would have created ./pwned */
	assert_true(cwd >= 0);
	assert_int_equal(chdir(f->dir), 0);
	rc = runtime_command(rt, "run", f->conf->runtime_run, PROC_IO_CAPTURE, -1, &err);
	assert_int_equal(fchdir(cwd), 0);
	assert_ok(rc, err);
	assert_calls(f,
		     WORDS(f->fake, "--root", f->root, "--log", log, "run", "--node", "node1",
			   "--bundle", bundle, ID, "echo", "two words", "$HOME", "`id`", "--end"));
	assert_false(path_exists(pwned));
}

static void kill_template_gets_the_pid(void **state)
{
	struct fixture *f = *state;
	struct runtime *rt = runtime_for(f, RUN_CONF, NULL);
	cleanup_error oci_error_t err = NULL;

	rt->vars.pid = 4321;
	assert_ok(runtime_command(rt, "kill", f->conf->runtime_kill, PROC_IO_CAPTURE, -1, &err),
		  err);
	assert_calls(f, WORDS(f->fake, "--root", f->root, "kill", ID, "4321", "KILL", "--end"));
}

static void missing_runtime_program(void **state)
{
	struct fixture *f = *state;
	struct runtime *rt = runtime_for(f, RUN_CONF, NULL);
	cleanup_error oci_error_t err = NULL, err2 = NULL;
	cleanup_free char *gone = xasprintf("%s/gone", f->dir);
	char *words[] = {gone, "create", "--bundle", "%b", NULL};
	pid_t pid = 0;

	assert_int_equal(runtime_command(rt, "create", words, PROC_IO_CAPTURE, -1, &err), -1);
	assert_error_has(err, gone);
	assert_int_equal(unlink(f->fake), 0);
	assert_int_equal(runtime_spawn_run(rt, &pid, &err2), -1);
	assert_error_has(err2, f->fake);
	assert_calls(f, WORDS(NULL));
}

/* ---- runtime_command: success and failure -------------------------------------------------- */

static void command_success_despite_logged_errors(void **state)
{
	struct fixture *f = *state;
	struct runtime *rt = runtime_for(f, CREATE_CONF, NULL);
	cleanup_error oci_error_t err = NULL;

	/* runc logs errors it recovers from: only the exit status counts */
	tell(f, "create.log", "{\"level\":\"error\",\"msg\":\"recovered\"}\n");
	tell(f, "create.out", "some output\n");
	assert_ok(runtime_command(rt, "create", f->conf->runtime_create, PROC_IO_CAPTURE, -1, &err),
		  err);
	assert_calls(f, WORDS(f->fake, "--root", f->root, "--log", f->log, "create", "--bundle",
			      f->bundle, ID, "--end"));
}

/* The runtime's own reason: the last error it logged (JSON lines), its first line. */
static void command_failure_tells_the_last_logged_error(void **state)
{
	struct fixture *f = *state;
	struct runtime *rt = runtime_for(f, CREATE_CONF, NULL);

	tell(f, "create.log",
	     "{\"level\":\"info\",\"msg\":\"starting\"}\n"
	     "not JSON at all\n"
	     "{\"level\":\"error\",\"msg\":\"an older error\"}\n"
	     "{\"level\":\"error\",\"msg\":\"exec: \\\"nope\\\": not found\\nsecond line\"}\n"
	     "{\"level\":\"warning\",\"msg\":\"a warning after it\"}\n"
	     "{\"msg\":\"no level\"}\n");
	tell(f, "create.out", "what it printed\n");
	tell(f, "create.exit", "1\n");
	expect_failure(rt, "create", f->conf->runtime_create, PROC_IO_CAPTURE,
		       "fake-runc create failed: exec: \"nope\": not found");

	/* fatal counts as an error; the log is the runtime's whole log, appended to */
	tell(f, "start.log", "{\"level\":\"fatal\",\"msg\":\"a fatal one\"}\n");
	tell(f, "start.exit", "2\n");
	expect_failure(rt, "start", f->conf->runtime_start, PROC_IO_CAPTURE,
		       "fake-runc start failed: a fatal one");
}

/* With PROC_IO_INHERIT (a container's create) nothing is captured; the log still tells. */
static void command_failure_with_inherited_stdio_reads_the_log(void **state)
{
	struct fixture *f = *state;
	struct runtime *rt = runtime_for(f, CREATE_CONF, NULL);

	tell(f, "create.log", "{\"level\":\"error\",\"msg\":\"no such image\"}\n");
	tell(f, "create.exit", "1\n");
	expect_failure(rt, "create", f->conf->runtime_create, PROC_IO_INHERIT,
		       "fake-runc create failed: no such image");
}

static void command_failure_tells_the_first_output_line(void **state)
{
	struct fixture *f = *state;
	struct runtime *rt = runtime_for(f, CREATE_CONF, NULL);

	tell(f, "create.out", "first line\nsecond line\n");
	tell(f, "create.exit", "1\n");
	expect_failure(rt, "create", f->conf->runtime_create, PROC_IO_CAPTURE,
		       "fake-runc create failed: first line");
	/* stderr counts as well */
	tell(f, "start.sh", "echo 'said on stderr' >&2\n");
	tell(f, "start.exit", "1\n");
	expect_failure(rt, "start", f->conf->runtime_start, PROC_IO_CAPTURE,
		       "fake-runc start failed: said on stderr");
}

static void command_failure_without_words_tells_the_status(void **state)
{
	struct fixture *f = *state;
	struct runtime *rt = runtime_for(f, CREATE_CONF, NULL);

	tell(f, "create.exit", "3\n");
	expect_failure(rt, "create", f->conf->runtime_create, PROC_IO_CAPTURE,
		       "fake-runc create failed with exit status 3");
	tell(f, "start.sh", "kill -KILL $$\n");
	expect_failure(rt, "start", f->conf->runtime_start, PROC_IO_CAPTURE,
		       "fake-runc start was killed by signal 9");
}

static void command_stdin_is_stdin_fd_or_dev_null(void **state)
{
	struct fixture *f = *state;
	struct runtime *rt = runtime_for(f, CREATE_CONF, NULL);
	cleanup_free char *input = xasprintf("%s/input", f->dir), *got = NULL, *got2 = NULL;
	cleanup_error oci_error_t err = NULL;
	cleanup_close int fd = -1;

	tell(f, "create.sh", "cat >\"$ctl/create.stdin\"\n");
	write_text(input, NULL, "\177ELF what the holder would be\n");
	fd = open(input, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_ok(runtime_command(rt, "create", f->conf->runtime_create, PROC_IO_CAPTURE, fd, &err),
		  err);
	got = fake_wrote(f, "create.stdin");
	assert_non_null(got);
	assert_string_equal(got, "\177ELF what the holder would be\n");

	assert_ok(runtime_command(rt, "create", f->conf->runtime_create, PROC_IO_CAPTURE, -1, &err),
		  err);
	got2 = fake_wrote(f, "create.stdin");
	assert_non_null(got2);
	assert_string_equal(got2, "");
}

/* ---- runtime_state_pid ------------------------------------------------------------------------
 */

static void state_pid_from_the_runtime_state(void **state)
{
	struct fixture *f = *state;
	struct runtime *rt = runtime_for(f, CREATE_CONF, NULL);
	cleanup_error oci_error_t err = NULL;
	pid_t pid = 0;

	tell(f, "state.out",
	     "{\n  \"ociVersion\": \"1.0.2\",\n  \"id\": \"" ID "\",\n  \"pid\": 4321,\n"
	     "  \"status\": \"created\",\n  \"bundle\": \"/b\",\n  \"rootfs\": \"/b/rootfs\"\n}\n");
	assert_ok(runtime_state_pid(rt, &pid, &err), err);
	assert_int_equal(pid, 4321);
	assert_calls(f, WORDS(f->fake, "--root", f->root, "--log", f->log, "state", ID, "--end"));
}

static void expect_state_error(struct fixture *f, const char *out, const char *want)
{
	cleanup_error oci_error_t err = NULL;
	pid_t pid = 0;

	tell(f, "state.out", out);
	assert_int_equal(runtime_state_pid(&f->rt, &pid, &err), -1);
	assert_error_has(err, want);
}

static void state_without_a_pid_is_an_error(void **state)
{
	struct fixture *f = *state;

	runtime_for(f, CREATE_CONF, NULL);
	expect_state_error(f, "{\"status\": \"stopped\"}",
			   "fake-runc state gave no pid: {\"status");
	expect_state_error(f, "{\"pid\": 0}", "fake-runc state gave no pid: {\"pid\": 0}");
	expect_state_error(f, "{\"pid\": -5}", "fake-runc state gave no pid: ");
	expect_state_error(f, "{\"pid\": \"4321\"}", "fake-runc state gave no pid: ");
	expect_state_error(f, "container not found", "gave no pid: container not found");
	expect_state_error(f, "", "fake-runc state gave no pid: ");
}

static void state_failure_is_the_runtime_error(void **state)
{
	struct fixture *f = *state;
	struct runtime *rt = runtime_for(f, CREATE_CONF, NULL);
	cleanup_error oci_error_t err = NULL;
	pid_t pid = 0;

	tell(f, "state.out", "{\"pid\": 4321}\n");
	tell(f, "state.log", "{\"level\":\"error\",\"msg\":\"container does not exist\"}\n");
	tell(f, "state.exit", "1\n");
	assert_int_equal(runtime_state_pid(rt, &pid, &err), -1);
	assert_string_equal(oci_error_text(err),
			    "fake-runc state failed: container does not exist");
}

/* ---- runtime_kill_delete -----------------------------------------------------------------------
 */

static void kill_delete_runs_both_in_order_whatever_happens(void **state)
{
	struct fixture *f = *state;
	struct runtime *rt = runtime_for(f, RUN_CONF, NULL);

	rt->vars.pid = 4321;
	tell(f, "kill.exit", "1\n");
	tell(f, "kill.out", "container not running\n");
	tell(f, "delete.exit", "1\n");
	runtime_kill_delete(rt);
	assert_calls(f, WORDS(f->fake, "--root", f->root, "kill", ID, "4321", "KILL", "--end",
			      f->fake, "--root", f->root, "delete", "--force", ID, "--end"));
}

/* RunTimeKill with %p, where the container's pid is not known: delete still runs. */
static void kill_delete_deletes_when_kill_cannot_expand(void **state)
{
	struct fixture *f = *state;
	struct runtime *rt = runtime_for(f, RUN_CONF, NULL);

	rt->vars.pid = 0;
	runtime_kill_delete(rt);
	assert_calls(f, WORDS(f->fake, "--root", f->root, "delete", "--force", ID, "--end"));
}

/* ---- runtime_spawn_run, runtime_run_error ------------------------------------------------------
 */

static void spawn_run_then_its_logged_error(void **state)
{
	struct fixture *f = *state;
	struct runtime *rt = runtime_for(f, RUN_CONF, NULL);
	cleanup_error oci_error_t err = NULL;
	cleanup_free char *ran_as = NULL, *env = NULL, *want_pid = NULL;
	pid_t pid = 0;
	int status;

	tell(f, "run.sh", "echo $$ >\"$ctl/run.pid\"; echo \"$MARK\" >\"$ctl/run.env\"\n");
	tell(f, "run.log", "{\"level\":\"error\",\"msg\":\"exec failed: no such file\"}\n");
	tell(f, "run.exit", "2\n");
	assert_ok(runtime_spawn_run(rt, &pid, &err), err);
	assert_true(pid > 0);
	status = wait_child(pid, 10000);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 2);
	/* the pid is the runtime's own: no shell in between */
	ran_as = fake_wrote(f, "run.pid");
	want_pid = xasprintf("%d\n", (int)pid);
	assert_non_null(ran_as);
	assert_string_equal(ran_as, want_pid);
	env = fake_wrote(f, "run.env");
	assert_non_null(env);
	assert_string_equal(env, "for the runtime\n");
	assert_calls(f, WORDS(f->fake, "--root", f->root, "--log", f->log, "run", "--node", "node1",
			      "--bundle", f->bundle, ID, "--end"));

	assert_int_equal(runtime_run_error(rt, &err), -1);
	assert_string_equal(oci_error_text(err), "fake-runc: exec failed: no such file");
}

/* A run that logged no error: its status is the container's, not a runtime failure. */
static void run_error_without_logged_error(void **state)
{
	struct fixture *f = *state;
	struct runtime *rt = runtime_for(f, RUN_CONF, NULL);
	cleanup_error oci_error_t err = NULL;
	pid_t pid = 0;
	int status;

	tell(f, "run.log", "{\"level\":\"warning\",\"msg\":\"only a warning\"}\n");
	tell(f, "run.exit", "42\n");
	assert_ok(runtime_spawn_run(rt, &pid, &err), err);
	status = wait_child(pid, 10000);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 42);
	assert_int_equal(runtime_run_error(rt, &err), 0);
	assert_null(err);
}

/* ---- waited_ns ----------------------------------------------------------------------------------
 */

static void waited_ns_accumulates_over_commands(void **state)
{
	struct fixture *f = *state;
	uint64_t waited = 1000;
	struct runtime *rt = runtime_for(f, CREATE_CONF, &waited);
	cleanup_error oci_error_t err = NULL;
	pid_t pid;

	/* 0.1 s each; counted with a margin for clocks that disagree by a little */
	tell(f, "create.sh", "sleep 0.1\n");
	tell(f, "start.sh", "sleep 0.1\n");
	tell(f, "start.exit", "1\n");
	tell(f, "state.sh", "sleep 0.1; echo '{\"pid\": 99}'\n");
	assert_ok(runtime_command(rt, "create", f->conf->runtime_create, PROC_IO_CAPTURE, -1, &err),
		  err);
	assert_true(waited >= 1000 + 80000000u);
	/* a failed command took its time as well */
	assert_int_equal(
		runtime_command(rt, "start", f->conf->runtime_start, PROC_IO_CAPTURE, -1, &err),
		-1);
	assert_true(waited >= 1000 + 160000000u);
	assert_ok(runtime_state_pid(rt, &pid, &err), err);
	assert_true(waited >= 1000 + 240000000u);
	assert_true(waited < 60000000000u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(templates_expand_into_exact_words),
		T(kill_template_gets_the_pid),
		T(missing_runtime_program),
		T(command_success_despite_logged_errors),
		T(command_failure_tells_the_last_logged_error),
		T(command_failure_with_inherited_stdio_reads_the_log),
		T(command_failure_tells_the_first_output_line),
		T(command_failure_without_words_tells_the_status),
		T(command_stdin_is_stdin_fd_or_dev_null),
		T(state_pid_from_the_runtime_state),
		T(state_without_a_pid_is_an_error),
		T(state_failure_is_the_runtime_error),
		T(kill_delete_runs_both_in_order_whatever_happens),
		T(kill_delete_deletes_when_kill_cannot_expand),
		T(spawn_run_then_its_logged_error),
		T(run_error_without_logged_error),
		T(waited_ns_accumulates_over_commands),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
