/*
 * launcher/shared/seccomp.c: config.json's linux.seccomp as a libseccomp filter, for the
 * tasks that join a shared container. Each filter is loaded in a forked child (with
 * no_new_privs, as a joined task loads it), which then checks what its syscalls do.
 */
#include "unit.h"

#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "launcher/shared/seccomp.h"

struct filtered {
	const char *json;		     /* linux.seccomp */
	int (*check)(char *msg, size_t len); /* run under the filter */
};

/* In the child: loads the filter, then runs the check. */
static int load_and_check(void *arg, char *msg, size_t len)
{
	struct filtered *f = arg;
	json_error_t jerr;
	json_t *seccomp = json_loads(f->json, 0, &jerr);
	oci_error_t err = NULL;
	scmp_filter_ctx filter = NULL;
	int rc;

	if (seccomp == NULL) {
		snprintf(msg, len, "bad JSON in the test: %s", jerr.text);
		return 1;
	}
	if (seccomp_filter_of(seccomp, &filter, &err) < 0 || filter == NULL) {
		snprintf(msg, len, "no filter: %s", oci_error_text(err));
		return 1;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || (rc = seccomp_load(filter)) < 0) {
		snprintf(msg, len, "cannot load the filter: %s", strerror(errno));
		return 1;
	}
	return f->check(msg, len);
}

static void run_filtered(const char *json, int (*check)(char *msg, size_t len))
{
	struct filtered f = {json, check};

	check_in_child(load_and_check, &f, 5000);
}

/* syscall(...) must fail with want, or succeed when want is 0. */
static int expect_errno(const char *what, long rc, int want, char *msg, size_t len)
{
	int got = rc < 0 ? errno : 0;

	if (got == want)
		return 0;
	snprintf(msg, len, "%s: %s, expected %s", what, got ? strerror(got) : "succeeded",
		 want ? strerror(want) : "success");
	return 1;
}

static char tmp_dir[64];

static int mkdir_denied(char *msg, size_t len)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/denied", tmp_dir);
	if (expect_errno("mkdir", mkdir(path, 0700), EPERM, msg, len) != 0)
		return 1;
	/* what the profile does not name is allowed */
	return expect_errno("getpid", getpid() > 0 ? 0 : -1, 0, msg, len);
}

static void errno_rule_denies_syscall(void **state)
{
	char *dir = make_tmpdir();
	cleanup_free char *denied = xasprintf("%s/denied", dir);

	(void)state;
	snprintf(tmp_dir, sizeof(tmp_dir), "%s", dir);
	run_filtered("{\"defaultAction\": \"SCMP_ACT_ALLOW\","
		     " \"architectures\": [\"SCMP_ARCH_X86_64\", \"SCMP_ARCH_X86\","
		     "                     \"SCMP_ARCH_X32\"],"
		     " \"syscalls\": [{\"names\": [\"mkdir\", \"mkdirat\", \"no_such_call\"],"
		     "                 \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 1},"
		     "                {\"names\": [\"getpid\"], \"action\": \"SCMP_ACT_ALLOW\"}]}",
		     mkdir_denied);
	assert_false(path_exists(denied));
	rm_tree(dir);
	free(dir);
}

static int getpgid_by_argument(char *msg, size_t len)
{
	/* 111 and 222: two conditions on one index, either matches; 0 matches neither */
	if (expect_errno("getpgid(111)", getpgid(111), EDOM, msg, len) != 0 ||
	    expect_errno("getpgid(222)", getpgid(222), EDOM, msg, len) != 0 ||
	    expect_errno("getpgid(0)", getpgid(0), 0, msg, len) != 0)
		return 1;
	/* masked: O_CREAT in openat's flags is refused (EACCES), a plain open is not */
	if (expect_errno("openat(O_CREAT)", openat(AT_FDCWD, "/", O_RDONLY | O_CREAT, 0), EACCES,
			 msg, len) != 0 ||
	    expect_errno("openat(/)", openat(AT_FDCWD, "/", O_RDONLY), 0, msg, len) != 0)
		return 1;
	/* no errnoRet: EPERM */
	return expect_errno("umask", syscall(SYS_umask, 022), EPERM, msg, len);
}

static void conditions_on_arguments(void **state)
{
	(void)state;
	run_filtered("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": ["
		     " {\"names\": [\"getpgid\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 33,"
		     "  \"args\": [{\"index\": 0, \"value\": 111, \"op\": \"SCMP_CMP_EQ\"},"
		     "             {\"index\": 0, \"value\": 222, \"op\": \"SCMP_CMP_EQ\"}]},"
		     " {\"names\": [\"openat\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 13,"
		     "  \"args\": [{\"index\": 2, \"value\": 64, \"valueTwo\": 64,"
		     "              \"op\": \"SCMP_CMP_MASKED_EQ\"}]},"
		     " {\"names\": [\"umask\"], \"action\": \"SCMP_ACT_ERRNO\"},"
		     " {\"names\": [\"getppid\"], \"action\": \"SCMP_ACT_ALLOW\"}]}",
		     getpgid_by_argument);
}

static int default_errno(char *msg, size_t len)
{
	if (expect_errno("getpgid(0)", getpgid(0), ENOSYS, msg, len) != 0)
		return 1;
	return expect_errno("getppid", getppid() > 0 ? 0 : -1, 0, msg, len);
}

/* defaultAction SCMP_ACT_ERRNO with defaultErrnoRet; what the child needs is allowed. */
static void default_action_with_errno(void **state)
{
	(void)state;
	run_filtered("{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\": 38,"
		     " \"syscalls\": [{\"names\": [\"getppid\", \"write\", \"exit\","
		     "   \"exit_group\", \"mmap\", \"munmap\", \"brk\", \"futex\", \"madvise\","
		     "   \"rt_sigprocmask\", \"rt_sigreturn\", \"close\", \"getpid\", \"gettid\", "
		     "\"sigaltstack\"],"
		     "  \"action\": \"SCMP_ACT_ALLOW\"},"
		     " {\"names\": [\"getpgid\"], \"action\": \"SCMP_ACT_ERRNO\","
		     "  \"errnoRet\": 38}]}",
		     default_errno);
}

static void expect_refused(const char *json, const char *why)
{
	json_t *seccomp = json_loads(json, 0, NULL);
	cleanup_error oci_error_t err = NULL;
	scmp_filter_ctx filter = (scmp_filter_ctx)&err;

	assert_non_null(seccomp);
	assert_int_equal(seccomp_filter_of(seccomp, &filter, &err), -1);
	assert_null(filter);
	assert_error_has(err, why);
	json_decref(seccomp);
}

static void what_cannot_be_applied_is_refused(void **state)
{
	(void)state;
	expect_refused(
		"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"listenerPath\": \"/run/agent\","
		" \"syscalls\": [{\"names\": [\"mkdir\"], \"action\": \"SCMP_ACT_NOTIFY\"}]}",
		"linux.seccomp: listenerPath: a seccomp agent cannot listen");
	expect_refused(
		"{\"defaultAction\": \"SCMP_ACT_ALLOW\","
		" \"syscalls\": [{\"names\": [\"mkdir\"], \"action\": \"SCMP_ACT_NOTIFY\"}]}",
		"linux.seccomp: SCMP_ACT_NOTIFY: a seccomp agent cannot listen");
	expect_refused("{\"defaultAction\": \"SCMP_ACT_SOMETIMES\"}",
		       "linux.seccomp: unknown action 'SCMP_ACT_SOMETIMES'");
	expect_refused("{}", "linux.seccomp: an action is missing");
	expect_refused(
		"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"architectures\": [\"SCMP_ARCH_Z80\"]}",
		"linux.seccomp: unknown architecture 'SCMP_ARCH_Z80'");
	expect_refused("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"architectures\": [\"x86_64\"]}",
		       "linux.seccomp: unknown architecture 'x86_64'");
	expect_refused(
		"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"flags\": [\"SECCOMP_FILTER_FLAG_NEW\"]}",
		"linux.seccomp: unknown flag 'SECCOMP_FILTER_FLAG_NEW'");
	expect_refused(
		"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"kill\"],"
		" \"action\": \"SCMP_ACT_ERRNO\", \"args\": [{\"index\": 6, \"value\": 1,"
		" \"op\": \"SCMP_CMP_EQ\"}]}]}",
		"linux.seccomp: argument index 6 is not 0 to 5");
	expect_refused(
		"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"kill\"],"
		" \"action\": \"SCMP_ACT_ERRNO\", \"args\": [{\"index\": 0, \"value\": 1,"
		" \"op\": \"SCMP_CMP_ABOUT\"}]}]}",
		"linux.seccomp: unknown operator 'SCMP_CMP_ABOUT'");
	expect_refused("{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\": -1}",
		       "linux.seccomp: errnoRet -1 is not an errno value");
}

/* No linux.seccomp: no filter. Flags and the default action repeated in a rule are fine. */
static void none_and_harmless(void **state)
{
	cleanup_error oci_error_t err = NULL;
	scmp_filter_ctx filter = (scmp_filter_ctx)&err;
	json_t *seccomp;

	(void)state;
	assert_ok(seccomp_filter_of(NULL, &filter, &err), err);
	assert_null(filter);
	seccomp = json_loads(
		"{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\": 1,"
		" \"flags\": [\"SECCOMP_FILTER_FLAG_LOG\", \"SECCOMP_FILTER_FLAG_TSYNC\"],"
		" \"syscalls\": [{\"names\": [\"mkdir\"], \"action\": \"SCMP_ACT_ERRNO\"},"
		"  {\"names\": [\"read\"], \"action\": \"SCMP_ACT_LOG\"}]}",
		0, NULL);
	assert_ok(seccomp_filter_of(seccomp, &filter, &err), err);
	assert_non_null(filter);
	seccomp_release(filter);
	json_decref(seccomp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(errno_rule_denies_syscall),
		cmocka_unit_test(conditions_on_arguments),
		cmocka_unit_test(default_action_with_errno),
		cmocka_unit_test(what_cannot_be_applied_is_refused),
		cmocka_unit_test(none_and_harmless),
	};

	return cmocka_run_group_tests_name("seccomp", tests, NULL, NULL);
}
