/*
 * launcher/shared/shared.c: shared mode's bookkeeping in %m/shared, against a fake runtime
 * (a shell script the tests write). Its create starts a real process, `sleep`, in the
 * background (not a child of the test: as a real container's is not the task's), its state
 * prints that pid, its kill SIGKILLs it; the teardown kills whatever is left of them.
 */
#include "unit.h"

#include <jansson.h>

#include "conf/conf.h"
#include "launcher/shared/holder.h"
#include "launcher/shared/shared.h"

#define WORDS(...) ((const char *const[]){__VA_ARGS__, NULL})

/*
 * The fake runtime. Each call appends its argv, one word a line, then "--end", to
 * <ctl>/calls. Its operation is its first argument among create, start, state, kill and
 * delete; for operation OP it appends <ctl>/OP.log to the file after --log, sources
 * <ctl>/OP.sh and exits with the number in <ctl>/OP.exit (0 without).
 */
static const char fake_runtime[] =
	"#!/bin/sh\n"
	"ctl='%s'\n"
	"printf '%%s\\n' \"$0\" \"$@\" --end >>\"$ctl/calls\"\n"
	"op= log= prev=\n"
	"for a in \"$@\"; do\n"
	"	case \"$prev\" in --log) log=$a ;; esac\n"
	"	case \"$a\" in create|start|state|kill|delete) [ -n \"$op\" ] || op=$a ;; esac\n"
	"	prev=$a\n"
	"done\n"
	"if [ -f \"$ctl/$op.log\" ] && [ -n \"$log\" ]; then cat \"$ctl/$op.log\" >>\"$log\"; fi\n"
	"if [ -f \"$ctl/$op.sh\" ]; then . \"$ctl/$op.sh\"; fi\n"
	"if [ -f \"$ctl/$op.exit\" ]; then exit \"$(cat \"$ctl/$op.exit\")\"; fi\n"
	"exit 0\n";

/* What the fake runtime does by default: a container that is a process to join. */
#define CREATE_SH                                                                                  \
	"cat >\"$ctl/create.stdin\"\n"                                                             \
	"sleep 30 </dev/null >/dev/null 2>&1 &\n"                                                  \
	"echo $! >\"$ctl/container.pid\"\n"                                                        \
	"echo $! >>\"$ctl/pids\"\n"
#define STATE_SH                                                                                   \
	"echo \"{\\\"ociVersion\\\": \\\"1.0.2\\\", \\\"pid\\\": $(cat \"$ctl/container.pid\"), "  \
	"\\\"status\\\": \\\"created\\\"}\"\n"
#define KILL_SH "kill -KILL \"$(cat \"$ctl/container.pid\")\"\n"

#define CONF                                                                                       \
	"RunTimeCreate=\"%1$s --root %%m/fake-%%U --log %%b/runtime.log create --bundle %%b "      \
	"%%u.%%j.%%s.%%t\"\n"                                                                      \
	"RunTimeStart=\"%1$s --root %%m/fake-%%U start %%u.%%j.%%s.%%t\"\n"                        \
	"RunTimeQuery=\"%1$s --root %%m/fake-%%U state %%u.%%j.%%s.%%t\"\n"                        \
	"RunTimeKill=\"%1$s --root %%m/fake-%%U kill %%u.%%j.%%s.%%t KILL\"\n"                     \
	"RunTimeDelete=\"%1$s --root %%m/fake-%%U delete --force %%u.%%j.%%s.%%t\"\n"              \
	"SharedContainer=true\n"

#define TASK_SPEC                                                                                  \
	"{\"ociVersion\": \"1.0.2\", \"process\": {\"terminal\": true, \"cwd\": \"/work\", "       \
	"\"args\": [\"/bin/task\", \"arg\"], \"env\": [\"A=1\"], \"user\": {\"uid\": 0, "          \
	"\"gid\": 0}}, \"root\": {\"path\": \"rootfs\"}, \"hostname\": \"c\"}"

static char *const runtime_env[] = {"PATH=/usr/bin:/bin", NULL};

struct fixture {
	char *dir;    /* the test's temporary directory */
	char *fake;   /* dir/fake-runc */
	char *ctl;    /* dir/ctl: the fake's record and instructions */
	char *spool;  /* dir/spool: %m */
	char *root;   /* %m/fake-1000: the fake's --root */
	char *shared; /* %m/shared: the shared container's bundle */
	struct oci_conf *conf;
	struct pattern_vars vars;
	struct shared_step step;
	uint64_t waited_ns;
	json_t *spec;
};

/* Tells the fake what to do: <ctl>/name. */
static void tell(struct fixture *f, const char *name, const char *text)
{
	write_text(f->ctl, name, text);
}

/* Loads CONF plus extra lines into f->conf. */
static void load_conf(struct fixture *f, const char *extra)
{
	cleanup_free char *path = xasprintf("%s/oci.conf", f->dir);
	cleanup_free char *text = xasprintf(CONF "%2$s", f->fake, extra);
	cleanup_error oci_error_t err = NULL;

	oci_conf_free(f->conf);
	f->conf = NULL;
	write_text(path, NULL, text);
	assert_ok(oci_conf_load(path, &f->conf, &err), err);
	f->step.conf = f->conf;
}

static int setup(void **state)
{
	struct fixture *f = dir_fixture_new(struct fixture);
	cleanup_free char *script = NULL;

	f->fake = xasprintf("%s/fake-runc", f->dir);
	f->ctl = xasprintf("%s/ctl", f->dir);
	f->spool = xasprintf("%s/spool", f->dir);
	f->root = xasprintf("%s/fake-1000", f->spool);
	f->shared = xasprintf("%s/shared", f->spool);
	make_dir(f->dir, "ctl", 0700);
	make_dir(f->dir, "spool", 0700);
	script = xasprintf(fake_runtime, f->ctl);
	write_executable(f->fake, NULL, script);
	tell(f, "create.sh", CREATE_SH);
	tell(f, "state.sh", STATE_SH);
	tell(f, "kill.sh", KILL_SH);
	f->vars = (struct pattern_vars){.user = "alice",
					.node = "node1",
					.spool = f->spool,
					.job_id = 12,
					.step_id = 3,
					.task_id = 2,
					.uid = 1000};
	f->step = (struct shared_step){.spool = f->spool,
				       .vars = &f->vars,
				       .env = runtime_env,
				       .userns = NULL,
				       .waited_ns = &f->waited_ns};
	load_conf(f, "");
	f->spec = json_loads(TASK_SPEC, 0, NULL);
	assert_non_null(f->spec);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	cleanup_free char *pids_path = xasprintf("%s/pids", f->ctl);
	cleanup_fclose FILE *pids = fopen(pids_path, "r");
	int pid;

	/* the containers' processes still there (and not some other process by now) */
	while (pids != NULL && fscanf(pids, "%d", &pid) == 1) {
		cleanup_free char *comm_path = xasprintf("/proc/%d/comm", pid);
		cleanup_free char *comm = read_text(comm_path);

		if (pid > 0 && comm != NULL && strcmp(comm, "sleep\n") == 0)
			kill(pid, SIGKILL);
	}
	json_decref(f->spec);
	oci_conf_free(f->conf);
	free(f->fake);
	free(f->ctl);
	free(f->spool);
	free(f->root);
	free(f->shared);
	dir_fixture_free(f);
	return 0;
}

/* ---- helpers ------------------------------------------------------------------------------- */

/* Fails unless the fake's calls since the last forget_calls are exactly want. */
static void assert_calls(struct fixture *f, const char *const *want)
{
	cleanup_free char *path = xasprintf("%s/calls", f->ctl);

	assert_file_lines(path, want);
}

static void forget_calls(struct fixture *f)
{
	cleanup_free char *path = xasprintf("%s/calls", f->ctl);

	unlink(path);
}

/* The pid the fake's last create started. */
static pid_t container_pid(struct fixture *f)
{
	cleanup_free char *path = xasprintf("%s/container.pid", f->ctl);
	cleanup_free char *text = read_text(path);

	assert_non_null(text);
	return (pid_t)atoi(text);
}

/* The mount namespace of pid, 0 when it cannot be seen (gone). */
static ino_t mnt_ns(pid_t pid)
{
	cleanup_free char *path = xasprintf("/proc/%d/ns/mnt", (int)pid);
	struct stat st;

	return stat(path, &st) == 0 ? st.st_ino : 0;
}

/* Whether pid's namespaces are gone within 5 s (killed, if a zombie nobody reaps). */
static bool gone_soon(pid_t pid)
{
	const struct timespec pause_5ms = {.tv_nsec = 5000000};

	for (int i = 0; i < 1000 && mnt_ns(pid) != 0; i++)
		nanosleep(&pause_5ms, NULL);
	return mnt_ns(pid) == 0;
}

/* The numbers in %m/shared/name. */
static void read_numbers(struct fixture *f, const char *name, unsigned long long *a,
			 unsigned long long *b)
{
	cleanup_free char *path = xasprintf("%s/%s", f->shared, name);
	cleanup_free char *text = read_text(path);

	if (text == NULL)
		fail_msg("%s missing", path);
	if (sscanf(text, "%llu %llu", a, b) != 2)
		fail_msg("%s: '%s'", path, text);
}

static void get(struct fixture *f, struct join_target *t)
{
	cleanup_error oci_error_t err = NULL;

	*t = (struct join_target){0};
	assert_ok(shared_container_get(&f->step, f->spec, t, &err), err);
}

static void expect_get_error(struct fixture *f, const char *want)
{
	cleanup_error oci_error_t err = NULL;
	struct join_target t = {0};

	assert_int_equal(shared_container_get(&f->step, f->spec, &t, &err), -1);
	assert_error_has(err, want);
}

/* The bytes of the holder executable. */
static char *holder_bytes(size_t *len)
{
	cleanup_error oci_error_t err = NULL;
	cleanup_close int fd = holder_open(&err);
	struct stat st;
	char *buf;

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	*len = (size_t)st.st_size;
	buf = xcalloc(1, *len + 1);
	assert_int_equal(pread(fd, buf, *len, 0), (ssize_t)*len);
	return buf;
}

/* ---- shared_container_get -------------------------------------------------------------------- */

static void get_creates_starts_and_records_the_container(void **state)
{
	struct fixture *f = *state;
	cleanup_free char *config_path = xasprintf("%s/config.json", f->shared);
	cleanup_free char *log = xasprintf("%s/runtime.log", f->shared);
	cleanup_free char *stdin_path = xasprintf("%s/create.stdin", f->ctl);
	cleanup_free char *lock = xasprintf("%s/shared.lock", f->spool);
	cleanup_free char *holder = NULL, *fed = NULL;
	unsigned long long creator, zero, pid, ino;
	struct join_target t;
	json_t *config, *process;
	struct stat st;
	size_t holder_len, fed_len;

	get(f, &t);

	/* the target: the container's first process and its mount namespace */
	assert_int_equal(t.pid, container_pid(f));
	assert_true(t.mnt_ns != 0);
	assert_int_equal(t.mnt_ns, mnt_ns(t.pid));
	read_numbers(f, "target", &pid, &ino);
	assert_int_equal(pid, t.pid);
	assert_int_equal(ino, t.mnt_ns);
	read_numbers(f, "creator", &creator, &zero);
	assert_int_equal(creator, 2);

	/* create, state, start, as the creating task (%t) with %b = %m/shared */
	assert_calls(f, WORDS(f->fake, "--root", f->root, "--log", log, "create", "--bundle",
			      f->shared, "alice.12.3.2", "--end", f->fake, "--root", f->root,
			      "state", "alice.12.3.2", "--end", f->fake, "--root", f->root, "start",
			      "alice.12.3.2", "--end"));
	/* create's stdin was the holder, for the container's /proc/self/fd/0 */
	holder = holder_bytes(&holder_len);
	fed = read_text(stdin_path);
	assert_non_null(fed);
	assert_int_equal(stat(stdin_path, &st), 0);
	fed_len = (size_t)st.st_size;
	assert_int_equal(fed_len, holder_len);
	assert_memory_equal(fed, holder, holder_len);

	/* the step's config.json: the task's, with the holder as its process */
	config = json_load_file(config_path, 0, NULL);
	assert_non_null(config);
	process = json_object_get(config, "process");
	assert_int_equal(json_array_size(json_object_get(process, "args")), 1);
	assert_string_equal(json_string_value(json_array_get(json_object_get(process, "args"), 0)),
			    HOLDER_EXEC_PATH);
	assert_string_equal(HOLDER_EXEC_PATH, "/proc/self/fd/0");
	assert_true(json_is_false(json_object_get(process, "terminal")));
	assert_string_equal(json_string_value(json_object_get(process, "cwd")), "/");
	assert_string_equal(json_string_value(json_array_get(json_object_get(process, "env"), 0)),
			    "A=1");
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(config, "root"), "path")),
		"rootfs");
	assert_string_equal(json_string_value(json_object_get(config, "hostname")), "c");
	json_decref(config);
	/* the task's own spec is left as it was */
	process = json_object_get(f->spec, "process");
	assert_true(json_is_true(json_object_get(process, "terminal")));
	assert_string_equal(json_string_value(json_object_get(process, "cwd")), "/work");
	assert_int_equal(json_array_size(json_object_get(process, "args")), 2);

	assert_int_equal(lstat(f->shared, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_true(path_exists(lock));
	assert_true(f->waited_ns > 0);
}

static void get_again_joins_the_same_container(void **state)
{
	struct fixture *f = *state;
	struct join_target first, second;
	unsigned long long creator, zero;

	get(f, &first);
	forget_calls(f);
	f->vars.task_id = 5; /* another task of the step */
	get(f, &second);
	assert_calls(f, WORDS(NULL));
	assert_int_equal(second.pid, first.pid);
	assert_int_equal(second.mnt_ns, first.mnt_ns);
	read_numbers(f, "creator", &creator, &zero);
	assert_int_equal(creator, 2);
}

/* A container whose process died is deleted (as its creator made it) and made again. */
static void get_replaces_a_dead_container(void **state)
{
	struct fixture *f = *state;
	cleanup_free char *log = xasprintf("%s/runtime.log", f->shared);
	unsigned long long creator, zero;
	struct join_target first, second;

	get(f, &first);
	assert_int_equal(kill(first.pid, SIGKILL), 0);
	assert_true(gone_soon(first.pid));
	forget_calls(f);
	f->vars.task_id = 5;
	get(f, &second);
	assert_calls(f, WORDS(f->fake, "--root", f->root, "kill", "alice.12.3.2", "KILL", "--end",
			      f->fake, "--root", f->root, "delete", "--force", "alice.12.3.2",
			      "--end", f->fake, "--root", f->root, "--log", log, "create",
			      "--bundle", f->shared, "alice.12.3.5", "--end", f->fake, "--root",
			      f->root, "state", "alice.12.3.5", "--end", f->fake, "--root", f->root,
			      "start", "alice.12.3.5", "--end"));
	assert_true(second.pid != first.pid);
	assert_int_equal(second.pid, container_pid(f));
	assert_int_equal(second.mnt_ns, mnt_ns(second.pid));
	read_numbers(f, "creator", &creator, &zero);
	assert_int_equal(creator, 5);
}

static void get_create_failure_leaves_nothing(void **state)
{
	struct fixture *f = *state;
	cleanup_free char *log = xasprintf("%s/runtime.log", f->shared);

	tell(f, "create.sh", "cat >/dev/null\n");
	tell(f, "create.log", "{\"level\":\"error\",\"msg\":\"rootfs: no such directory\"}\n");
	tell(f, "create.exit", "1\n");
	expect_get_error(f, "fake-runc create failed: rootfs: no such directory");
	/* its state and files go, with the creator's id */
	assert_calls(f, WORDS(f->fake, "--root", f->root, "--log", log, "create", "--bundle",
			      f->shared, "alice.12.3.2", "--end", f->fake, "--root", f->root,
			      "kill", "alice.12.3.2", "KILL", "--end", f->fake, "--root", f->root,
			      "delete", "--force", "alice.12.3.2", "--end"));
	assert_false(path_exists(f->shared));
}

static void get_state_without_pid_is_an_error(void **state)
{
	struct fixture *f = *state;
	cleanup_free char *log = xasprintf("%s/runtime.log", f->shared);
	pid_t pid;

	tell(f, "state.sh", "echo '{\"status\": \"stopped\"}'\n");
	expect_get_error(f, "fake-runc state gave no pid");
	pid = container_pid(f);
	/* never started; killed and deleted */
	assert_calls(f, WORDS(f->fake, "--root", f->root, "--log", log, "create", "--bundle",
			      f->shared, "alice.12.3.2", "--end", f->fake, "--root", f->root,
			      "state", "alice.12.3.2", "--end", f->fake, "--root", f->root, "kill",
			      "alice.12.3.2", "KILL", "--end", f->fake, "--root", f->root, "delete",
			      "--force", "alice.12.3.2", "--end"));
	assert_true(gone_soon(pid));
	assert_false(path_exists(f->shared));
}

/* A first process that ended before it could be joined: an error, and nothing stays. */
static void get_container_that_ended_at_once(void **state)
{
	struct fixture *f = *state;

	/* the pid of a process that has ended and been reaped */
	tell(f, "create.sh", "cat >/dev/null; true & wait $!; echo $! >\"$ctl/container.pid\"\n");
	expect_get_error(f, "ended before it could be joined");
	assert_false(path_exists(f->shared));
}

/* ---- shared_container_remove ------------------------------------------------------------------
 */

static void remove_kills_and_deletes_as_the_creator(void **state)
{
	struct fixture *f = *state;
	cleanup_free char *lock = xasprintf("%s/shared.lock", f->spool);
	struct join_target t;

	get(f, &t);
	forget_calls(f);
	f->vars.task_id = 5; /* the last task to leave is another one */
	shared_container_remove(&f->step);
	assert_calls(f, WORDS(f->fake, "--root", f->root, "kill", "alice.12.3.2", "KILL", "--end",
			      f->fake, "--root", f->root, "delete", "--force", "alice.12.3.2",
			      "--end"));
	assert_true(gone_soon(t.pid));
	assert_false(path_exists(f->shared));
}

/* DisableCleanup=true keeps the files (not the container); a later get starts afresh. */
static void remove_keeps_the_files_with_disable_cleanup(void **state)
{
	struct fixture *f = *state;
	cleanup_free char *config = xasprintf("%s/config.json", f->shared);
	cleanup_free char *stale = xasprintf("%s/left-by-debugging", f->shared);
	struct join_target t, again;

	load_conf(f, "DisableCleanup=true\n");
	get(f, &t);
	forget_calls(f);
	shared_container_remove(&f->step);
	assert_calls(f, WORDS(f->fake, "--root", f->root, "kill", "alice.12.3.2", "KILL", "--end",
			      f->fake, "--root", f->root, "delete", "--force", "alice.12.3.2",
			      "--end"));
	assert_true(gone_soon(t.pid));
	assert_true(path_exists(config));

	write_text(stale, NULL, "x\n");
	get(f, &again);
	assert_int_equal(again.mnt_ns, mnt_ns(again.pid));
	assert_true(path_exists(config));
	assert_false(path_exists(stale));
}

static void remove_without_a_container(void **state)
{
	struct fixture *f = *state;

	shared_container_remove(&f->step);
	assert_calls(f, WORDS(NULL));
	/* files without a creator (it died before it wrote it): no runtime call, files go */
	make_dir(f->spool, "shared", 0700);
	write_text(f->shared, "config.json", "{}\n");
	shared_container_remove(&f->step);
	assert_calls(f, WORDS(NULL));
	assert_false(path_exists(f->shared));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(get_creates_starts_and_records_the_container),
		T(get_again_joins_the_same_container),
		T(get_replaces_a_dead_container),
		T(get_create_failure_leaves_nothing),
		T(get_state_without_pid_is_an_error),
		T(get_container_that_ended_at_once),
		T(remove_kills_and_deletes_as_the_creator),
		T(remove_keeps_the_files_with_disable_cleanup),
		T(remove_without_a_container),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
