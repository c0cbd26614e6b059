/*
 * launcher/shared/join.c: a task joining a container's namespaces is confined as the
 * runtime confines the container's process (capabilities, no_new_privs, seccomp), or
 * refused where a setting cannot be applied. The "container" is a child in a user and
 * mount namespace of its own (needs root, else skipped); the joining task is another
 * child, whose stdout and stderr go to files.
 */
#include "unit.h"

#include <sched.h>
#include <signal.h>
#include <sys/wait.h>

#include "launcher/shared/join.h"

struct fixture {
	char *dir;
	pid_t container;
	struct join_target target;
};

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		fail_msg("%s: %s", path, strerror(errno));
	close(fd);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	int ready[2];
	char c;

	assert_non_null(f);
	f->dir = make_tmpdir();
	f->container = -1;
	*state = f;
	if (geteuid() != 0)
		return 0;
	assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
	f->container = fork();
	assert_true(f->container >= 0);
	if (f->container == 0) {
		if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0 || write(ready[1], "r", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(ready[1]);
	assert_int_equal(read(ready[0], &c, 1), 1);
	close(ready[0]);
	{
		cleanup_free char *uid_map = xasprintf("/proc/%d/uid_map", (int)f->container);
		cleanup_free char *gid_map = xasprintf("/proc/%d/gid_map", (int)f->container);

		write_file(uid_map, "0 0 100000\n");
		write_file(gid_map, "0 0 100000\n");
	}
	f->target =
		(struct join_target){.pid = f->container, .mnt_ns = join_mnt_ns_of(f->container)};
	assert_true(f->target.mnt_ns != 0);
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	if (f->container > 0) {
		kill(f->container, SIGKILL);
		waitpid(f->container, NULL, 0);
	}
	rm_tree(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

/* Runs join_exec with spec (JSON) in a child; its exit status, stdout and stderr. */
static int join(struct fixture *f, const char *spec_text, char **out, char **err_text)
{
	cleanup_free char *out_path = xasprintf("%s/stdout", f->dir);
	cleanup_free char *err_path = xasprintf("%s/stderr", f->dir);
	json_t *spec = json_loads(spec_text, 0, NULL);
	int status;
	pid_t pid;

	if (f->container < 0) {
		print_message("[ SKIP     ] needs root to make a user namespace to join\n");
		skip();
	}
	assert_non_null(spec);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int o = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int e = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
			_exit(126);
		join_exec(&f->target, spec);
	}
	status = wait_child(pid, 10000);
	json_decref(spec);
	*out = read_text(out_path);
	*err_text = read_text(err_path);
	assert_non_null(*out);
	assert_non_null(*err_text);
	return status;
}

#define PROBE                                                                                      \
	"\"args\": [\"/bin/sh\", \"-c\", \"grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|"        \
	"Seccomp):' /proc/self/status; mkdir /join-probe\"], "                                     \
	"\"env\": [\"PATH=/usr/bin:/bin\"], \"cwd\": \"/\", "                                      \
	"\"user\": {\"uid\": 1000, \"gid\": 1000, \"additionalGids\": [1001]}, "

#define CAPABILITIES                                                                               \
	"\"capabilities\": {\"bounding\": [\"CAP_CHOWN\", \"CAP_KILL\", "                          \
	"\"CAP_NET_BIND_SERVICE\"], \"permitted\": [\"CAP_CHOWN\", \"CAP_KILL\"], "                \
	"\"effective\": [\"CAP_KILL\"], \"inheritable\": [\"CAP_KILL\"], "                         \
	"\"ambient\": [\"CAP_KILL\"]}"

#define SECCOMP                                                                                    \
	"\"seccomp\": {\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": "         \
	"[\"mkdir\", \"mkdirat\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 1}]}"

static void joined_task_is_confined_as_the_container(void **state)
{
	struct fixture *f = *state;
	cleanup_free char *out = NULL, *err = NULL;
	int status = join(f,
			  "{\"process\": {" PROBE CAPABILITIES ", \"noNewPrivileges\": true}, "
			  "\"linux\": {" SECCOMP "}}",
			  &out, &err);

	if (!WIFEXITED(status) || WEXITSTATUS(status) != 1)
		fail_msg("status 0x%x, stderr: %s", status, err);
	/* after the exec, a user other than root keeps in its permitted set the ambient one */
	assert_string_equal(out, "CapInh:\t0000000000000020\n"
				 "CapPrm:\t0000000000000020\n"
				 "CapEff:\t0000000000000020\n"
				 "CapBnd:\t0000000000000421\n"
				 "CapAmb:\t0000000000000020\n"
				 "NoNewPrivs:\t1\n"
				 "Seccomp:\t2\n");
	/* refused by the profile (EPERM), not by the permissions of / (EACCES) */
	if (strstr(err, "Operation not permitted") == NULL)
		fail_msg("mkdir was not refused by the seccomp profile: %s", err);
}

/*
 * As root in the container (remapped root): the exec gives root the bounding set as
 * permitted and effective sets, as to the runtime's process; nothing beyond it.
 */
static void joined_root_has_the_bounding_set(void **state)
{
	struct fixture *f = *state;
	cleanup_free char *out = NULL, *err = NULL;
	int status =
		join(f,
		     "{\"process\": {\"args\": [\"/bin/sh\", \"-c\", \"grep -E "
		     "'^Cap(Prm|Eff)' /proc/self/status\"], \"cwd\": \"/\", \"user\": "
		     "{\"uid\": 0, \"gid\": 0}, \"capabilities\": {\"bounding\": [\"CAP_KILL\","
		     " \"CAP_CHOWN\"],"
		     " \"permitted\": [\"CAP_KILL\"], \"effective\": [\"CAP_KILL\"]}}}",
		     &out, &err);

	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("status 0x%x, stderr: %s", status, err);
	assert_string_equal(out, "CapPrm:\t0000000000000021\nCapEff:\t0000000000000021\n");
}

static bool lsm_enabled(const char *path)
{
	cleanup_free char *text = read_text(path);

	return text != NULL && (text[0] == 'Y' || strcmp(path, "/sys/fs/selinux/enforce") == 0);
}

static void expect_refused(struct fixture *f, const char *spec, const char *why)
{
	cleanup_free char *out = NULL, *err = NULL;
	int status = join(f, spec, &out, &err);

	if (!WIFEXITED(status) || WEXITSTATUS(status) != 127)
		fail_msg("status 0x%x, stdout: %s, stderr: %s", status, out, err);
	if (strstr(err, why) == NULL)
		fail_msg("stderr lacks '%s': %s", why, err);
	assert_string_equal(out, "");
}

/* Where the LSM is not enabled, a label is refused (runc 1.1 and crun 1.8 refuse it too). */
static void labels_the_node_cannot_apply_are_refused(void **state)
{
	struct fixture *f = *state;

	if (!lsm_enabled("/sys/module/apparmor/parameters/enabled"))
		expect_refused(
			f, "{\"process\": {" PROBE "\"apparmorProfile\": \"spank-oci-test\"}}",
			"spank-oci: process.apparmorProfile 'spank-oci-test': cannot apply it "
			"(is AppArmor enabled on this node?)");
	if (!lsm_enabled("/sys/fs/selinux/enforce"))
		expect_refused(
			f,
			"{\"process\": {" PROBE
			"\"selinuxLabel\": \"system_u:system_r:container_t:s0\"}}",
			"spank-oci: process.selinuxLabel 'system_u:system_r:container_t:s0': "
			"cannot apply it (is SELinux enabled on this node?)");
	expect_refused(f,
		       "{\"process\": {" PROBE
		       "\"noNewPrivileges\": true}, \"linux\": {\"seccomp\": "
		       "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": "
		       "[\"mkdir\"], \"action\": \"SCMP_ACT_NOTIFY\"}]}}}",
		       "spank-oci: linux.seccomp: SCMP_ACT_NOTIFY: a seccomp agent cannot listen");
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(joined_task_is_confined_as_the_container),
		T(joined_root_has_the_bounding_set),
		T(labels_the_node_cannot_apply_are_refused),
	};

	return cmocka_run_group_tests_name("join", tests, NULL, NULL);
}
