/*
 * launcher/runtime/cgroup.c: parsing mountinfo and /proc/<pid>/cgroup, Slurm's cgroup/v2 step
 * directory, and, against the REAL cgroup2 file system, entering, killing and removing
 * cgroups.
 *
 * The real file system tests need root and a cgroup2 mount (found with cgroup2_mount
 * itself); without them they are skipped, saying why. Each one works in a tree of its own,
 * <mount>/spank-oci-unit-<pid>-<n>, which the teardown empties (SIGKILL to whatever is
 * left in it) and removes, also after a failure. The test process itself never moves:
 * processes that must enter a cgroup are forked children.
 */
#include "unit.h"

#include <dirent.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>

#include "common/proc.h"
#include "launcher/runtime/cgroup.h"

#define MAX_PIDS 16

struct fixture {
	char *tmp;	      /* private temporary directory for fake /proc files */
	char *mount;	      /* the cgroup2 mount point, NULL when there is none */
	char *skip_reason;    /* why the real file system tests cannot run here */
	char *root;	      /* <mount>/spank-oci-unit-<pid>-<n>, once created */
	pid_t pids[MAX_PIDS]; /* children (and adopted grandchildren) to kill and reap */
	bool subreaper;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	cleanup_error oci_error_t err = NULL;

	assert_non_null(f);
	f->tmp = make_tmpdir();
	if (cgroup2_mount("/proc/self/mountinfo", &f->mount, &err) < 0) {
		f->mount = NULL;
		f->skip_reason = xasprintf("no cgroup2 mount (%s)", oci_error_text(err));
	} else if (geteuid() != 0) {
		f->skip_reason = xasprintf("needs root to create cgroups under %s", f->mount);
	}
	*state = f;
	return 0;
}

/* ---- helpers for the real cgroup2 file system (independent of the code under test) ------ */

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000 * 1000};

	nanosleep(&ts, NULL);
}

/* SIGKILLs every process listed in dir and its descendants; returns how many were listed. */
static int kill_listed(const char *dir)
{
	cleanup_free char *procs = xasprintf("%s/cgroup.procs", dir);
	FILE *f = fopen(procs, "r");
	DIR *d = opendir(dir);
	struct dirent *e;
	int pid, n = 0;

	while (f != NULL && fscanf(f, "%d", &pid) == 1) {
		n++;
		if (pid > 0)
			kill(pid, SIGKILL);
	}
	if (f != NULL)
		fclose(f);
	while (d != NULL && (e = readdir(d)) != NULL) {
		cleanup_free char *sub = NULL;

		if (e->d_type != DT_DIR || strcmp(e->d_name, ".") == 0 ||
		    strcmp(e->d_name, "..") == 0)
			continue;
		sub = xasprintf("%s/%s", dir, e->d_name);
		n += kill_listed(sub);
	}
	if (d != NULL)
		closedir(d);
	return n;
}

static int rmdir_entry(const char *p, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	/* the interface files go with their directory */
	if (type == FTW_DP)
		rmdir(p);
	return 0;
}

/* Empties and removes a test tree; false if it is still there after a few seconds. */
static bool destroy_tree(const char *dir)
{
	for (int round = 0; round < 500 && path_exists(dir); round++) {
		kill_listed(dir);
		nftw(dir, rmdir_entry, 16, FTW_DEPTH | FTW_PHYS);
		if (path_exists(dir))
			sleep_ms(10);
	}
	return !path_exists(dir);
}

/* Waits (at most 5 s) for a child to end; false if it is still running. */
static bool reap(pid_t pid, int *status)
{
	for (int round = 0; round < 500; round++) {
		pid_t got = waitpid(pid, status, WNOHANG);

		/* ECHILD: already reaped (by a failed check), nothing left to wait for */
		if (got == pid || (got < 0 && errno == ECHILD))
			return true;
		sleep_ms(10);
	}
	return false;
}

/* A child that has not ended (not even a zombie); it is not reaped. */
static bool still_running(pid_t pid)
{
	siginfo_t info = {0};

	if (kill(pid, 0) < 0)
		return false;
	if (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) < 0)
		fail_msg("waitid(%d): %s", (int)pid, strerror(errno));
	return info.si_pid == 0;
}

static void track(struct fixture *f, pid_t pid)
{
	for (size_t i = 0; i < MAX_PIDS; i++) {
		if (f->pids[i] == 0) {
			f->pids[i] = pid;
			return;
		}
	}
	fail_msg("too many processes for the fixture");
}

/* Waits for a tracked child to end and forgets it (its pid may be reused afterwards). */
static int reap_tracked(struct fixture *f, pid_t pid)
{
	int status = 0;

	if (!reap(pid, &status))
		fail_msg("process %d is still running", (int)pid);
	for (size_t i = 0; i < MAX_PIDS; i++)
		if (f->pids[i] == pid)
			f->pids[i] = 0;
	return status;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	int rc = 0;

	for (size_t i = 0; i < MAX_PIDS; i++)
		if (f->pids[i] > 0)
			kill(f->pids[i], SIGKILL);
	if (f->root != NULL && !destroy_tree(f->root)) {
		print_message("teardown: cannot remove %s\n", f->root);
		rc = -1;
	}
	for (size_t i = 0; i < MAX_PIDS; i++) {
		if (f->pids[i] > 0 && !reap(f->pids[i], NULL)) {
			print_message("teardown: process %d did not end\n", (int)f->pids[i]);
			rc = -1;
		}
	}
	if (f->subreaper)
		prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0);
	rm_tree(f->tmp);
	free(f->tmp);
	free(f->mount);
	free(f->skip_reason);
	free(f->root);
	free(f);
	return rc;
}

/* Skips the test unless the real cgroup2 file system is usable; creates the test's tree. */
static void need_cgroup2(struct fixture *f)
{
	static unsigned n;

	if (f->skip_reason != NULL) {
		print_message("[ SKIP     ] %s\n", f->skip_reason);
		skip();
	}
	f->root = xasprintf("%s/spank-oci-unit-%d-%u", f->mount, (int)getpid(), ++n);
	if (mkdir(f->root, 0755) < 0) {
		int e = errno;
		char *root = f->root;

		f->root = NULL; /* not ours: teardown must leave it */
		fail_msg("cannot create cgroup %s: %s", root, strerror(e));
	}
}

/* mkdir root/rel, as a cgroup. */
static char *make_cgroup(struct fixture *f, const char *rel)
{
	char *path = xasprintf("%s/%s", f->root, rel);

	if (mkdir(path, 0755) < 0)
		fail_msg("cannot create cgroup %s: %s", path, strerror(errno));
	return path;
}

/* Writes pid to dir/cgroup.procs. */
static void move_to(const char *dir, pid_t pid)
{
	cleanup_free char *procs = xasprintf("%s/cgroup.procs", dir);
	cleanup_free char *text = xasprintf("%d", (int)pid);
	int fd = open(procs, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		fail_msg("%s: %s", procs, strerror(errno));
	n = write(fd, text, strlen(text));
	if (n != (ssize_t)strlen(text)) {
		int e = errno;

		close(fd);
		fail_msg("cannot move %d into %s: %s", (int)pid, dir, strerror(e));
	}
	close(fd);
}

/* The pids in dir/cgroup.procs (at most max); returns how many. */
static size_t read_procs(const char *dir, pid_t *pids, size_t max)
{
	cleanup_free char *procs = xasprintf("%s/cgroup.procs", dir);
	cleanup_free char *text = read_text(procs);
	char *p = text, *end;
	size_t n = 0;

	if (text == NULL)
		fail_msg("cannot read %s: %s", procs, strerror(errno));
	for (long v; (v = strtol(p, &end, 10)), end != p; p = end) {
		if (n < max)
			pids[n] = (pid_t)v;
		n++;
	}
	return n;
}

/* Fails unless dir/cgroup.procs lists exactly the given pids (in any order). */
static void assert_procs(const char *dir, const pid_t *want, size_t nwant)
{
	pid_t got[MAX_PIDS];
	size_t n = read_procs(dir, got, MAX_PIDS);

	if (n != nwant)
		fail_msg("%s/cgroup.procs lists %zu processes, expected %zu", dir, n, nwant);
	for (size_t i = 0; i < nwant; i++) {
		bool found = false;

		for (size_t j = 0; j < n; j++)
			found = found || got[j] == want[i];
		if (!found)
			fail_msg("%s/cgroup.procs does not list %d", dir, (int)want[i]);
	}
}

/* Fails unless dir/cgroup.events says "populated <value>". */
static void assert_populated(const char *dir, int value)
{
	cleanup_free char *events = xasprintf("%s/cgroup.events", dir);
	cleanup_free char *text = read_text(events);
	cleanup_free char *want = xasprintf("populated %d\n", value);

	if (text == NULL)
		fail_msg("cannot read %s: %s", events, strerror(errno));
	if (strstr(text, want) == NULL)
		fail_msg("%s does not say 'populated %d':\n%s", events, value, text);
}

enum proc_kind {
	PAUSING,     /* pause() forever */
	SLEEPING,    /* exec /bin/sleep 300 */
	DOUBLE_FORK, /* fork a pausing grandchild, then exit: the grandchild is an orphan */
};

/*
 * Forks a child, moves it into cgroup (from here, by writing its pid to cgroup.procs) and
 * only then lets it go on, so that whatever it forks starts in that cgroup too. For
 * DOUBLE_FORK, returns the orphaned grandchild (reparented to this process, a subreaper),
 * the intermediate child having been reaped.
 */
static pid_t start_in(struct fixture *f, const char *cgroup, enum proc_kind kind)
{
	int go[2], back[2];
	pid_t pid, grandchild = -1;
	int status = 0;
	char c = 'g';

	assert_int_equal(pipe2(go, O_CLOEXEC), 0);
	assert_int_equal(pipe2(back, O_CLOEXEC), 0);
	if (kind == DOUBLE_FORK && !f->subreaper) {
		assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0);
		f->subreaper = true;
	}
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(go[1]);
		close(back[0]);
		if (read(go[0], &c, 1) != 1)
			_exit(2);
		switch (kind) {
		case PAUSING:
			for (;;)
				pause();
		case SLEEPING:
			execl("/bin/sleep", "sleep", "300", (char *)NULL);
			_exit(127);
		case DOUBLE_FORK:
			grandchild = fork();
			if (grandchild == 0) {
				for (;;)
					pause();
			}
			_exit(write(back[1], &grandchild, sizeof(grandchild)) ==
						      (ssize_t)sizeof(grandchild) &&
					      grandchild > 0
				      ? 0
				      : 3);
		}
		_exit(4);
	}
	track(f, pid);
	close(go[0]);
	close(back[1]);
	move_to(cgroup, pid);
	assert_int_equal(write(go[1], &c, 1), 1);
	close(go[1]);
	if (kind == DOUBLE_FORK) {
		ssize_t n = read(back[0], &grandchild, sizeof(grandchild));

		close(back[0]);
		status = reap_tracked(f, pid);
		if (n != (ssize_t)sizeof(grandchild) || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			fail_msg("the double-forking child failed (status 0x%x)", status);
		track(f, grandchild);
		return grandchild;
	}
	close(back[0]);
	return pid;
}

/*
 * Runs fn in a forked child (which may move itself); fails with the child's message unless
 * it returns 0. The child never returns into cmocka.
 */
typedef int (*child_fn)(struct fixture *f, const char *arg, char *msg, size_t len);

static void run_in_child(struct fixture *f, child_fn fn, const char *arg)
{
	char msg[1024] = "";
	int fds[2], status = 0;
	ssize_t n, total = 0;
	pid_t pid;

	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int rc;

		close(fds[0]);
		rc = fn(f, arg, msg, sizeof(msg));
		if (rc != 0 && write(fds[1], msg, strlen(msg)) < 0)
			rc = 2;
		_exit(rc);
	}
	track(f, pid);
	close(fds[1]);
	while (total < (ssize_t)sizeof(msg) - 1 &&
	       (n = read(fds[0], msg + total, sizeof(msg) - 1 - total)) > 0)
		total += n;
	msg[total] = '\0';
	close(fds[0]);
	status = reap_tracked(f, pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("child failed (status 0x%x): %s", status, msg);
}

/* The 0:: path in /proc/self/cgroup, read without the code under test; malloc'd. */
static char *self_cgroup2_path(void)
{
	FILE *f = fopen("/proc/self/cgroup", "r");
	char *line = NULL, *path = NULL;
	size_t cap = 0;

	while (f != NULL && getline(&line, &cap, f) >= 0) {
		if (strncmp(line, "0::", 3) == 0) {
			line[strcspn(line, "\n")] = '\0';
			path = strdup(line + 3);
			break;
		}
	}
	free(line);
	if (f != NULL)
		fclose(f);
	return path;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* ---- cgroup2_mount ---------------------------------------------------------------------- */

static char *fake_file(struct fixture *f, const char *name, const char *text)
{
	char *path = xasprintf("%s/%s", f->tmp, name);

	write_text(path, NULL, text);
	return path;
}

static void expect_mount(struct fixture *f, const char *text, const char *want)
{
	cleanup_error oci_error_t err = NULL;
	cleanup_free char *path = fake_file(f, "mountinfo", text), *mount = NULL;

	assert_ok(cgroup2_mount(path, &mount, &err), err);
	assert_string_equal(mount, want);
}

static void mount_hybrid(void **state)
{
	/* v1 hierarchies, decoys, and cgroup2 with optional fields before " - " */
	expect_mount(
		*state,
		"22 1 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw\n"
		"31 23 0:28 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs "
		"ro,mode=755\n"
		"32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime shared:10 - cgroup cgroup rw,cpu\n"
		"33 31 0:30 / /sys/fs/cgroup2-v1 rw,relatime shared:11 - cgroup cgroup2 "
		"rw,name=cgroup2\n"
		"34 31 0:31 / /mnt/cgroup2 rw,relatime - tmpfs cgroup2 rw\n"
		"40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime shared:13 - cgroup cgroup "
		"rw,xattr,name=systemd\n"
		"41 31 0:38 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:5 "
		"master:1 - cgroup2 cgroup2 rw,nsdelegate\n"
		"42 23 0:39 / /sys/kernel/tracing rw,relatime shared:14 - tracefs tracefs rw\n",
		"/sys/fs/cgroup/unified");
}

static void mount_unified(void **state)
{
	/* no optional fields, last line without a newline */
	expect_mount(
		*state,
		"25 1 0:23 / / rw,relatime - overlay overlay rw\n"
		"30 25 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 "
		"rw,nsdelegate,memory_recursiveprot",
		"/sys/fs/cgroup");
}

/* mountinfo escapes " \t\n\\" in the mount point as \ooo: they are decoded. */
static void mount_escaped_mount_point(void **state)
{
	expect_mount(*state, "41 31 0:38 / /mnt/my\\040cgroup rw shared:5 - cgroup2 cgroup2 rw\n",
		     "/mnt/my cgroup");
}

static void mount_none(void **state)
{
	struct fixture *f = *state;
	cleanup_error oci_error_t err = NULL, err2 = NULL;
	cleanup_free char *path = fake_file(
		f, "mountinfo",
		"32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime shared:10 - cgroup cgroup rw,cpu\n"
		"40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup "
		"rw,name=systemd\n");
	cleanup_free char *empty = fake_file(f, "empty", "");
	char *mount = NULL;

	assert_int_equal(cgroup2_mount(path, &mount, &err), -1);
	assert_null(mount);
	assert_error_has(err, "no cgroup2");
	assert_int_equal(cgroup2_mount(empty, &mount, &err2), -1);
	assert_null(mount);
	assert_error_has(err2, "no cgroup2");
}

static void mount_missing_file(void **state)
{
	struct fixture *f = *state;
	cleanup_error oci_error_t err = NULL;
	cleanup_free char *path = xasprintf("%s/no/such/mountinfo", f->tmp);
	char *mount = NULL;

	assert_int_equal(cgroup2_mount(path, &mount, &err), -1);
	assert_null(mount);
	assert_error_has(err, path);
	assert_error_has(err, "No such file or directory");
}

/* ---- cgroup2_path_of -------------------------------------------------------------------- */

static void expect_path_of(struct fixture *f, const char *text, const char *want)
{
	cleanup_error oci_error_t err = NULL;
	cleanup_free char *path = fake_file(f, "cgroup", text), *got = NULL;

	assert_ok(cgroup2_path_of(path, &got, &err), err);
	assert_string_equal(got, want);
}

static void path_of_hybrid(void **state)
{
	expect_path_of(*state,
		       "12:pids:/user.slice/user-1000.slice\n"
		       "4:memory:/0::/decoy\n"
		       "1:name=systemd:/user.slice/user-1000.slice/session-1.scope\n"
		       "0::/a/b/c\n",
		       "/a/b/c");
	/* unified: the only line, without a newline */
	expect_path_of(*state, "0::/a/b/c", "/a/b/c");
	/* the root cgroup */
	expect_path_of(*state, "1:name=systemd:/x\n0::/\n", "/");
}

static void path_of_no_v2_line(void **state)
{
	struct fixture *f = *state;
	cleanup_error oci_error_t err = NULL, err2 = NULL;
	cleanup_free char *path =
		fake_file(f, "cgroup", "12:pids:/user.slice\n1:name=systemd:/user.slice\n");
	cleanup_free char *missing = xasprintf("%s/no-such-pid/cgroup", f->tmp);
	char *got = NULL;

	assert_int_equal(cgroup2_path_of(path, &got, &err), -1);
	assert_null(got);
	assert_error_has(err, path);
	assert_error_has(err, "0::");
	assert_int_equal(cgroup2_path_of(missing, &got, &err2), -1);
	assert_null(got);
	assert_error_has(err2, missing);
}

/* ---- cgroup2_slurm_step_dir ------------------------------------------------------------- */

static void expect_step_dir(const char *self, unsigned job, const char *step, const char *want)
{
	cleanup_free char *got = cgroup2_slurm_step_dir("/sys/fs/cgroup", self, job, step);

	if (want == NULL && got != NULL)
		fail_msg("'%s' (job %u, step %s) gave '%s', expected NULL", self, job, step, got);
	if (want != NULL && got == NULL)
		fail_msg("'%s' (job %u, step %s) gave NULL, expected '%s'", self, job, step, want);
	if (want != NULL)
		assert_string_equal(got, want);
}

static void slurm_step_dir_matches(void **state)
{
	(void)state;
	expect_step_dir("/system.slice/slurmstepd.scope/job_12/step_3/slurm", 12, "3",
			"/sys/fs/cgroup/system.slice/slurmstepd.scope/job_12/step_3");
	expect_step_dir("/system.slice/slurmstepd.scope/job_12/step_batch/slurm", 12, "batch",
			"/sys/fs/cgroup/system.slice/slurmstepd.scope/job_12/step_batch");
	expect_step_dir("/system.slice/slurmstepd.scope/job_12/step_interactive/slurm", 12,
			"interactive",
			"/sys/fs/cgroup/system.slice/slurmstepd.scope/job_12/step_interactive");
	/* directly under the mount */
	expect_step_dir("/job_12/step_3/slurm", 12, "3", "/sys/fs/cgroup/job_12/step_3");
}

static void slurm_step_dir_rejects(void **state)
{
	(void)state;
	/* wrong job, wrong step */
	expect_step_dir("/s/job_13/step_3/slurm", 12, "3", NULL);
	expect_step_dir("/s/job_12/step_4/slurm", 12, "3", NULL);
	expect_step_dir("/s/job_12/step_batch/slurm", 12, "3", NULL);
	expect_step_dir("/s/job_12/step_3/slurm", 12, "batch", NULL);
	/* only a prefix or suffix of the ids */
	expect_step_dir("/s/job_123/step_3/slurm", 12, "3", NULL);
	expect_step_dir("job_123/step_3/slurm", 12, "3", NULL);
	expect_step_dir("/s/job_112/step_3/slurm", 12, "3", NULL);
	expect_step_dir("/s/myjob_12/step_3/slurm", 12, "3", NULL);
	expect_step_dir("/s/job_12/mystep_3/slurm", 12, "3", NULL);
	expect_step_dir("/s/job_12/step_13/slurm", 12, "3", NULL);
	expect_step_dir("/s/job_12/step_31/slurm", 12, "3", NULL);
	/* not the slurmstepd's own cgroup */
	expect_step_dir("/s/job_12/step_3/user/task_0", 12, "3", NULL);
	expect_step_dir("/s/job_12/step_3", 12, "3", NULL);
	expect_step_dir("/x/job_12/step_3/slurmd", 12, "3", NULL);
	expect_step_dir("/x/job_12/step_3/slurm/sub", 12, "3", NULL);
	expect_step_dir("/", 12, "3", NULL);
	expect_step_dir("", 12, "3", NULL);
}

/* ---- cgroup2_kill_tree (real cgroup2) --------------------------------------------------- */

static void kill_tree_kills_subtree_only(void **state)
{
	struct fixture *f = *state;
	cleanup_error oci_error_t err = NULL;
	cleanup_free char *job = NULL, *step = NULL, *user = NULL, *task = NULL, *child = NULL;
	cleanup_free char *slurm = NULL;
	pid_t in_task[3], in_child[2], bystander;
	int rc;

	need_cgroup2(f);
	job = make_cgroup(f, "job_1");
	step = make_cgroup(f, "job_1/step_0");
	user = make_cgroup(f, "job_1/step_0/user");
	task = make_cgroup(f, "job_1/step_0/user/task_0");
	child = make_cgroup(f, "job_1/step_0/user/task_0/child");
	slurm = make_cgroup(f, "job_1/step_0/slurm");

	in_task[0] = start_in(f, task, SLEEPING);
	in_task[1] = start_in(f, task, PAUSING);
	in_task[2] = start_in(f, task, DOUBLE_FORK);
	in_child[0] = start_in(f, child, SLEEPING);
	in_child[1] = start_in(f, child, PAUSING);
	bystander = start_in(f, slurm, PAUSING);
	assert_procs(task, in_task, 3);
	assert_procs(child, in_child, 2);
	assert_procs(slurm, &bystander, 1);
	assert_populated(user, 1);

	rc = cgroup2_kill_tree(user, &err);
	if (rc < 0)
		fail_msg("cgroup2_kill_tree: %s", oci_error_text(err));
	assert_int_equal(rc, 5);

	/* every process of the subtree died of SIGKILL, the orphan included */
	for (size_t i = 0; i < 3; i++) {
		int status = reap_tracked(f, in_task[i]);

		if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
			fail_msg("process %d in task_0 ended with status 0x%x", (int)in_task[i],
				 status);
	}
	for (size_t i = 0; i < 2; i++) {
		int status = reap_tracked(f, in_child[i]);

		if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
			fail_msg("process %d in child ended with status 0x%x", (int)in_child[i],
				 status);
	}
	errno = 0;
	assert_int_equal(kill(in_task[2], 0), -1);
	assert_int_equal(errno, ESRCH);
	assert_procs(user, NULL, 0);
	assert_procs(task, NULL, 0);
	assert_procs(child, NULL, 0);
	assert_populated(user, 0);

	/* the sibling step_0/slurm was not touched */
	assert_true(still_running(bystander));
	assert_procs(slurm, &bystander, 1);
	assert_populated(step, 1);

	/* again, on the now empty subtree: nothing found */
	rc = cgroup2_kill_tree(user, &err);
	if (rc < 0)
		fail_msg("cgroup2_kill_tree: %s", oci_error_text(err));
	assert_int_equal(rc, 0);
	assert_true(still_running(bystander));
}

/* ---- cgroup2_kill_tree without cgroup.kill (a fake cgroup directory) ------------------- */

/*
 * A kernel before 5.14 for one cgroup, played by a process: dir/cgroup.procs lists its
 * child (the victim), cgroup.freeze is a FIFO it reads, and cgroup.events says
 * "frozen 1" once it has read a 1. In dir/log it writes "freeze" when it reads a 1
 * while the victim lives, "killed <signal>" when the victim dies (cgroup.procs is then
 * emptied), and "thaw" when it reads a 0. It ends once the victim is dead and the last
 * byte read was 0, or after 10 s.
 */
static void replace_file(const char *dir, const char *name, const char *text)
{
	cleanup_free char *tmp = xasprintf("%s/.%s", dir, name);
	cleanup_free char *path = xasprintf("%s/%s", dir, name);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text) ||
	    rename(tmp, path) < 0)
		_exit(90);
	close(fd);
}

static void log_line(const char *dir, const char *line)
{
	cleanup_free char *path = xasprintf("%s/log", dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

	if (fd < 0 || write(fd, line, strlen(line)) != (ssize_t)strlen(line))
		_exit(91);
	close(fd);
}

static void fake_kernel(const char *dir, int ready)
{
	cleanup_free char *fifo = xasprintf("%s/cgroup.freeze", dir);
	cleanup_free char *procs = NULL;
	pid_t victim = fork();
	int fd, status;
	bool dead = false;
	char last = '0';

	if (victim == 0) {
		for (;;)
			pause();
	}
	procs = xasprintf("%d\n", (int)victim);
	replace_file(dir, "cgroup.procs", procs);
	replace_file(dir, "cgroup.events", "populated 1\nfrozen 0\n");
	fd = open(fifo, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 || write(ready, "r", 1) != 1)
		_exit(92);
	for (int i = 0; i < 10000 && !(dead && last == '0'); i++) {
		char c;

		while (read(fd, &c, 1) == 1) {
			last = c;
			if (c == '1' && !dead)
				log_line(dir, "freeze\n");
			if (c == '0')
				log_line(dir, "thaw\n");
			replace_file(dir, "cgroup.events",
				     c == '1' ? "populated 1\nfrozen 1\n"
					      : "populated 1\nfrozen 0\n");
		}
		if (!dead && waitpid(victim, &status, WNOHANG) == victim) {
			cleanup_free char *line = xasprintf(
				"killed %d\n", WIFSIGNALED(status) ? WTERMSIG(status) : -1);

			dead = true;
			log_line(dir, line);
			replace_file(dir, "cgroup.procs", "");
		}
		sleep_ms(1);
	}
	if (!dead)
		kill(victim, SIGKILL);
	_exit(dead ? 0 : 93);
}

static void kill_tree_without_cgroup_kill_freezes_first(void **state)
{
	struct fixture *f = *state;
	cleanup_error oci_error_t err = NULL;
	cleanup_free char *dir = xasprintf("%s/fake-cgroup", f->tmp);
	cleanup_free char *fifo = xasprintf("%s/cgroup.freeze", dir);
	cleanup_free char *log = xasprintf("%s/log", dir), *text = NULL;
	int ready[2], status, rc;
	pid_t kernel;
	char c;

	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
	kernel = fork();
	assert_true(kernel >= 0);
	if (kernel == 0) {
		close(ready[0]);
		fake_kernel(dir, ready[1]);
	}
	track(f, kernel);
	close(ready[1]);
	assert_int_equal(read(ready[0], &c, 1), 1);
	close(ready[0]);

	rc = cgroup2_kill_tree(dir, &err);
	if (rc < 0)
		fail_msg("cgroup2_kill_tree: %s", oci_error_text(err));
	assert_int_equal(rc, 1);
	status = reap_tracked(f, kernel);
	text = read_text(log);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("the fake kernel ended with status 0x%x; its log:\n%s", status,
			 text ? text : "(none)");
	/*
	 * frozen before anything was killed, killed with SIGKILL, thawed (the fake kernel
	 * notices the death and the thaw in either order: it ended on a 0)
	 */
	if (text == NULL || strncmp(text, "freeze\n", 7) != 0 ||
	    strstr(text, "killed 9\n") == NULL || strstr(text, "thaw\n") == NULL)
		fail_msg("not frozen, then killed and thawed:\n%s", text ? text : "(none)");
}

/* ---- cgroup2_container_make and cgroup2_container_remove (real cgroup2) ----------------- */

/* In a child: moves itself into root/name (without the code under test). */
static int move_self(struct fixture *f, const char *name, char *msg, size_t len)
{
	cleanup_free char *procs = xasprintf("%s/%s/cgroup.procs", f->root, name);
	cleanup_free char *pid = xasprintf("%d", (int)getpid());
	cleanup_close int fd = open(procs, O_WRONLY | O_CLOEXEC);

	if (fd < 0 || write(fd, pid, strlen(pid)) != (ssize_t)strlen(pid)) {
		snprintf(msg, len, "cannot move into %s: %s", procs, strerror(errno));
		return 1;
	}
	return 0;
}

/*
 * In a child in root/task: the container's cgroup is task/<name>; a process started in it
 * (through its fd, as the runtime starts) is there; removing it kills that process and
 * removes the cgroup with whatever the container nested in it.
 */
static int container_in_task(struct fixture *f, const char *task, char *msg, size_t len)
{
	cleanup_free char *want = xasprintf("%s/%s/spank-oci.1.2.3", f->root, task);
	cleanup_free char *inner = xasprintf("%s/inner", want);
	cleanup_free char *nested = xasprintf("%s/deeper", inner);
	cleanup_free char *tail =
		xasprintf("/%s/%s/spank-oci.1.2.3", strrchr(f->root, '/') + 1, task);
	struct cgroup2_container c;
	int ready[2];
	pid_t pid;
	char byte;

	if (move_self(f, task, msg, len) != 0)
		return 1;
	cgroup2_container_make("spank-oci.1.2.3", &c);
	if (c.fd < 0 || c.path == NULL || strcmp(c.path, want) != 0) {
		snprintf(msg, len, "container cgroup '%s' (fd %d), expected '%s'",
			 c.path ? c.path : "(none)", c.fd, want);
		return 1;
	}
	if (pipe(ready) < 0)
		return 1;
	pid = fork();
	if (pid == 0) {
		cleanup_free char *path = NULL;

		if (proc_enter_cgroup(c.fd) < 0 || (path = self_cgroup2_path()) == NULL ||
		    !ends_with(path, tail))
			_exit(3);
		if (write(ready[1], "r", 1) != 1)
			_exit(4);
		for (;;)
			pause();
	}
	close(ready[1]);
	if (pid < 0 || read(ready[0], &byte, 1) != 1) {
		snprintf(msg, len, "the process did not start in %s", want);
		return 1;
	}
	close(ready[0]);
	/* the container's own nested cgroups (a runtime may make them) go too */
	if (mkdir(inner, 0755) < 0 || mkdir(nested, 0755) < 0) {
		snprintf(msg, len, "cannot nest cgroups in %s: %s", want, strerror(errno));
		return 1;
	}
	cgroup2_container_remove(&c);
	if (c.fd != -1 || c.path != NULL || path_exists(want)) {
		snprintf(msg, len, "%s is still there after removal", want);
		return 1;
	}
	if (waitpid(pid, NULL, WNOHANG) != pid && kill(pid, 0) == 0) {
		snprintf(msg, len, "the container's process %d outlived its cgroup", (int)pid);
		return 1;
	}
	/* removing twice is harmless */
	cgroup2_container_remove(&c);
	return 0;
}

static void container_cgroup_made_and_removed(void **state)
{
	struct fixture *f = *state;
	cleanup_free char *task = NULL;

	need_cgroup2(f);
	task = make_cgroup(f, "task_0");
	run_in_child(f, container_in_task, "task_0");
	assert_true(path_exists(task));
	assert_procs(task, NULL, 0);
}

/* Where the cgroup cannot be made, the container stays in the task's cgroup: fd -1. */
static int container_not_made(struct fixture *f, const char *task, char *msg, size_t len)
{
	struct cgroup2_container c;

	if (move_self(f, task, msg, len) != 0)
		return 1;
	cgroup2_container_make("missing/child", &c);
	if (c.fd != -1 || c.path != NULL) {
		snprintf(msg, len, "a cgroup under a missing parent gave fd %d", c.fd);
		return 1;
	}
	cgroup2_container_remove(&c);
	return 0;
}

static void container_cgroup_not_possible(void **state)
{
	struct fixture *f = *state;

	need_cgroup2(f);
	free(make_cgroup(f, "task_1"));
	run_in_child(f, container_not_made, "task_1");
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(mount_hybrid),
		T(mount_unified),
		T(mount_escaped_mount_point),
		T(mount_none),
		T(mount_missing_file),
		T(path_of_hybrid),
		T(path_of_no_v2_line),
		T(slurm_step_dir_matches),
		T(slurm_step_dir_rejects),
		T(kill_tree_kills_subtree_only),
		T(kill_tree_without_cgroup_kill_freezes_first),
		T(container_cgroup_made_and_removed),
		T(container_cgroup_not_possible),
	};

	return cmocka_run_group_tests_name("cgroup", tests, NULL, NULL);
}
