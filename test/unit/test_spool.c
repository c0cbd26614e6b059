/*
 * launcher/spool.c: the per-step directory %m and the tasks' directories in it, with the
 * shared lock that tells the last task of a step on the node.
 */
#include "unit.h"

#include <sys/file.h>

#include "conf/conf.h"
#include "launcher/spool.h"

struct fixture {
	char *dir;
	char *spool;  /* dir/spool-1000/12.3 (not created) */
	char *bundle; /* spool/task.0 */
	int fds[4];   /* spool fds and other opens to close, -1 when unused */
};

static int setup(void **state)
{
	struct fixture *f = dir_fixture_new(struct fixture);

	f->spool = xasprintf("%s/spool-1000/12.3", f->dir);
	f->bundle = xasprintf("%s/task.0", f->spool);
	for (size_t i = 0; i < sizeof(f->fds) / sizeof(f->fds[0]); i++)
		f->fds[i] = -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	for (size_t i = 0; i < sizeof(f->fds) / sizeof(f->fds[0]); i++)
		if (f->fds[i] >= 0)
			close(f->fds[i]);
	free(f->spool);
	free(f->bundle);
	dir_fixture_free(f);
	return 0;
}

static const struct pattern_vars step_vars = {
	.user = "alice", .node = "node1", .job_id = 12, .step_id = 3, .task_id = 5, .uid = 1000};

/* Another process's view of a lock: can it take the directory's lock as `op` right now? */
static bool lockable(const char *path, int op)
{
	cleanup_close int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	assert_true(fd >= 0);
	return flock(fd, op | LOCK_NB) == 0;
}

static void assert_private_dir(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		fail_msg("%s: %s", path, strerror(errno));
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(st.st_uid, geteuid());
}

/* ---- spool_paths ---------------------------------------------------------------------------- */

static void paths_from_container_path(void **state)
{
	struct fixture *f = *state;
	struct oci_conf conf = {.container_path = NULL};
	cleanup_free char *pattern = xasprintf("%s/%%u-%%U/%%n/%%j.%%s", f->dir);
	cleanup_free char *want = xasprintf("%s/alice-1000/node1/12.3", f->dir);
	cleanup_free char *want_bundle = xasprintf("%s/task.5", want);
	cleanup_free char *spool = NULL, *bundle = NULL, *spool2 = NULL;
	cleanup_error oci_error_t err = NULL;

	conf.container_path = pattern;
	assert_ok(spool_paths(&conf, &step_vars, &spool, &bundle, &err), err);
	assert_string_equal(spool, want);
	assert_string_equal(bundle, want_bundle);
	/* no bundle asked for: the step's directory only */
	assert_ok(spool_paths(&conf, &step_vars, &spool2, NULL, &err), err);
	assert_string_equal(spool2, want);
	/* paths only: nothing was created */
	assert_false(path_exists(want));
}

static void paths_default_container_path(void **state)
{
	struct oci_conf conf = {.container_path = SPANK_OCI_DEFAULT_CONTAINER_PATH};
	cleanup_free char *spool = NULL, *bundle = NULL;
	cleanup_error oci_error_t err = NULL;
	struct pattern_vars vars = step_vars;

	(void)state;
	vars.task_id = 4294967295u;
	assert_ok(spool_paths(&conf, &vars, &spool, &bundle, &err), err);
	assert_string_equal(spool, "/run/spank-oci/1000/12.3");
	assert_string_equal(bundle, "/run/spank-oci/1000/12.3/task.4294967295");
}

static void paths_error_names_container_path(void **state)
{
	struct oci_conf conf = {.container_path = "/tmp/%r/x"};
	cleanup_error oci_error_t err = NULL;
	char *spool = NULL, *bundle = NULL;

	(void)state;
	/* %r has no value for the step */
	assert_int_equal(spool_paths(&conf, &step_vars, &spool, &bundle, &err), -1);
	assert_error_has(err, "ContainerPath: ");
	assert_error_has(err, "%r");
	assert_null(spool);
	assert_null(bundle);
}

/* ---- spool_enter ---------------------------------------------------------------------------- */

static void enter_creates_private_dirs_share_locked(void **state)
{
	struct fixture *f = *state;
	cleanup_error oci_error_t err = NULL;
	struct stat by_fd, by_path;
	int fd = -1;

	assert_ok(spool_enter(f->spool, f->bundle, &fd, &err), err);
	f->fds[0] = fd;
	assert_private_dir(f->spool);
	assert_private_dir(f->bundle);
	/* fd is %m itself, open only for this process's lifetime */
	assert_int_equal(fstat(fd, &by_fd), 0);
	assert_int_equal(stat(f->spool, &by_path), 0);
	assert_int_equal(by_fd.st_ino, by_path.st_ino);
	assert_int_equal(by_fd.st_dev, by_path.st_dev);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	/* held shared: other tasks enter, no one takes it exclusively */
	assert_true(lockable(f->spool, LOCK_SH));
	assert_false(lockable(f->spool, LOCK_EX));
}

static void enter_replaces_a_stale_task_dir(void **state)
{
	struct fixture *f = *state;
	cleanup_error oci_error_t err = NULL;
	cleanup_free char *stale = xasprintf("%s/stale", f->bundle);
	cleanup_free char *deep = xasprintf("%s/sub/deeper", f->bundle);
	cleanup_free char *other = xasprintf("%s/task.1", f->spool);
	cleanup_free char *other_file = xasprintf("%s/config.json", other);
	int fd = -1;

	/* what a killed task of the same ids left, next to another task's */
	make_dir(f->dir, "spool-1000", 0700);
	make_dir(f->dir, "spool-1000/12.3", 0700);
	make_dir(f->dir, "spool-1000/12.3/task.0", 0700);
	make_dir(f->dir, "spool-1000/12.3/task.0/sub", 0700);
	make_dir(f->dir, "spool-1000/12.3/task.0/sub/deeper", 0500);
	make_dir(f->dir, "spool-1000/12.3/task.1", 0700);
	write_text(stale, NULL, "from the killed task\n");
	write_text(other_file, NULL, "{}\n");

	assert_ok(spool_enter(f->spool, f->bundle, &fd, &err), err);
	f->fds[0] = fd;
	assert_private_dir(f->bundle);
	assert_false(path_exists(stale));
	assert_false(path_exists(deep));
	/* another task's directory is its own business */
	assert_true(path_exists(other_file));
}

static void enter_two_tasks_of_a_step(void **state)
{
	struct fixture *f = *state;
	cleanup_error oci_error_t err = NULL;
	cleanup_free char *bundle1 = xasprintf("%s/task.1", f->spool);

	assert_ok(spool_enter(f->spool, f->bundle, &f->fds[0], &err), err);
	assert_ok(spool_enter(f->spool, bundle1, &f->fds[1], &err), err);
	assert_private_dir(f->bundle);
	assert_private_dir(bundle1);
	assert_true(f->fds[0] != f->fds[1]);
}

/* %m must be the user's own and private: one that is not is refused, never used. */
static void enter_refuses_a_spool_open_to_others(void **state)
{
	struct fixture *f = *state;
	cleanup_error oci_error_t err = NULL;
	int fd = -1;

	assert_ok(spool_enter(f->spool, f->bundle, &f->fds[0], &err), err);
	assert_int_equal(chmod(f->spool, 0755), 0);
	assert_int_equal(spool_enter(f->spool, f->bundle, &fd, &err), -1);
	assert_int_equal(fd, -1);
	assert_error_has(err, f->spool);
	assert_error_has(err, "mode 0700");
}

/* ---- spool_is_last -------------------------------------------------------------------------- */

static void is_last_alone(void **state)
{
	struct fixture *f = *state;
	cleanup_error oci_error_t err = NULL;

	assert_ok(spool_enter(f->spool, f->bundle, &f->fds[0], &err), err);
	assert_true(spool_is_last(f->fds[0]));
	/* and then holds %m exclusively: a task entering now waits until it is removed */
	assert_false(lockable(f->spool, LOCK_SH));
}

static void is_last_not_while_another_task_holds_it(void **state)
{
	struct fixture *f = *state;
	cleanup_error oci_error_t err = NULL;
	int other;

	assert_ok(spool_enter(f->spool, f->bundle, &f->fds[0], &err), err);
	/* another task of the step, as spool_enter leaves it: an open %m, share-locked */
	other = open(f->spool, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(other >= 0);
	f->fds[1] = other;
	assert_int_equal(flock(other, LOCK_SH), 0);

	assert_false(spool_is_last(f->fds[0]));
	assert_true(lockable(f->spool, LOCK_SH)); /* nothing exclusive was left behind */

	close(other);
	f->fds[1] = -1;
	assert_true(spool_is_last(f->fds[0]));
}

/* Two tasks that leave together: the second one to ask is the last one. */
static void is_last_of_two_leaving_tasks(void **state)
{
	struct fixture *f = *state;
	cleanup_error oci_error_t err = NULL;
	cleanup_free char *bundle1 = xasprintf("%s/task.1", f->spool);

	assert_ok(spool_enter(f->spool, f->bundle, &f->fds[0], &err), err);
	assert_ok(spool_enter(f->spool, bundle1, &f->fds[1], &err), err);
	assert_false(spool_is_last(f->fds[0]));
	assert_true(spool_is_last(f->fds[1]));
}

/* ---- spool_task_of -------------------------------------------------------------------------- */

static void task_of_task_dir_names(void **state)
{
	static const struct {
		const char *name;
		uint32_t id;
	} good[] = {
		{"task.0", 0}, {"task.3", 3}, {"task.42", 42}, {"task.4294967295", 4294967295u}};
	static const char *const bad[] = {
		"task.",
		"task.x",
		"task.3x",
		"task.3 ",
		"task. 3",
		"task.-1",
		"task.+1",
		"task.0x10",
		"other",
		"task",
		"Task.3",
		"xtask.3",
		"task..3",
		"task.3.1",
		"",
		".",
		"..",
		"task.4294967296",		   /* one past UINT32_MAX */
		"task.99999999999999999999999999", /* past unsigned long */
		"squashfs-root",
		"shared",
		"shared.lock"};

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		uint32_t id = 12345;

		if (!spool_task_of(good[i].name, &id))
			fail_msg("'%s' is a task directory", good[i].name);
		assert_int_equal(id, good[i].id);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint32_t id = 12345;

		if (spool_task_of(bad[i], &id))
			fail_msg("'%s' taken for task %u", bad[i], id);
		assert_int_equal(id, 12345);
	}
}

/* What spool_paths names a task's directory, spool_task_of reads back. */
static void task_of_what_paths_make(void **state)
{
	struct oci_conf conf = {.container_path = "/s/%j.%s"};
	const uint32_t ids[] = {0, 1, 9, 10, 65535, 4294967295u};

	(void)state;
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		cleanup_free char *spool = NULL, *bundle = NULL;
		cleanup_error oci_error_t err = NULL;
		struct pattern_vars vars = step_vars;
		uint32_t id = 12345;

		vars.task_id = ids[i];
		assert_ok(spool_paths(&conf, &vars, &spool, &bundle, &err), err);
		assert_true(spool_task_of(strrchr(bundle, '/') + 1, &id));
		assert_int_equal(id, ids[i]);
	}
}

/* ---- squashfs paths ------------------------------------------------------------------------- */

static void squashfs_paths_in_spool(void **state)
{
	cleanup_free char *mount = spool_squashfs_mount("/dev/shm/spank-oci-1000/12.3");
	cleanup_free char *lock = spool_squashfs_lock("/dev/shm/spank-oci-1000/12.3");
	uint32_t id;

	(void)state;
	assert_string_equal(mount, "/dev/shm/spank-oci-1000/12.3/squashfs-root");
	assert_string_equal(lock, "/dev/shm/spank-oci-1000/12.3/squashfs.lock");
	/* never taken for a task's directory by the sweep */
	assert_false(spool_task_of(strrchr(mount, '/') + 1, &id));
	assert_false(spool_task_of(strrchr(lock, '/') + 1, &id));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(paths_from_container_path),
		cmocka_unit_test(paths_default_container_path),
		cmocka_unit_test(paths_error_names_container_path),
		T(enter_creates_private_dirs_share_locked),
		T(enter_replaces_a_stale_task_dir),
		T(enter_two_tasks_of_a_step),
		T(enter_refuses_a_spool_open_to_others),
		T(is_last_alone),
		T(is_last_not_while_another_task_holds_it),
		T(is_last_of_two_leaving_tasks),
		cmocka_unit_test(task_of_task_dir_names),
		cmocka_unit_test(task_of_what_paths_make),
		cmocka_unit_test(squashfs_paths_in_spool),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
