#include "launcher/shared/join.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "launcher/shared/seccomp.h"

extern char **environ;

ino_t join_mnt_ns_of(pid_t pid)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/ns/mnt", (int)pid);
	return stat(path, &st) == 0 ? st.st_ino : 0;
}

__attribute__((noreturn, format(printf, 1, 2))) static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("spank-oci: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	_exit(127);
}

static int open_ns(pid_t pid, const char *ns)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, ns);
	return open(path, O_RDONLY | O_CLOEXEC);
}

static void join_namespaces(const struct join_target *t)
{
	int user = open_ns(t->pid, "user"), mnt = open_ns(t->pid, "mnt");
	struct stat st;

	if (user < 0 || mnt < 0 || fstat(mnt, &st) < 0 || st.st_ino != t->mnt_ns)
		die("the step's shared container (pid %d) is gone", (int)t->pid);
	if (setns(user, CLONE_NEWUSER) < 0)
		die("cannot join the shared container's user namespace: %s", strerror(errno));
	if (setns(mnt, CLONE_NEWNS) < 0)
		die("cannot join the shared container's mount namespace: %s", strerror(errno));
	close(user);
	close(mnt);
}

/* process.capabilities, as bit masks (a name unknown here is ignored, as runc 1.1 does) */
struct cap_sets {
	uint64_t bounding, effective, permitted, inheritable, ambient;
};

static uint64_t cap_mask_of(json_t *caps, const char *set)
{
	json_t *name;
	uint64_t mask = 0;
	size_t i;

	json_array_foreach(json_object_get(caps, set), i, name)
	{
		cap_value_t cap;
		if (json_is_string(name) && cap_from_name(json_string_value(name), &cap) == 0 &&
		    cap >= 0 && cap < 64)
			mask |= UINT64_C(1) << cap;
	}
	return mask;
}

static struct cap_sets cap_sets_of(json_t *process)
{
	json_t *caps = json_object_get(process, "capabilities");

	return (struct cap_sets){.bounding = cap_mask_of(caps, "bounding"),
				 .effective = cap_mask_of(caps, "effective"),
				 .permitted = cap_mask_of(caps, "permitted"),
				 .inheritable = cap_mask_of(caps, "inheritable"),
				 .ambient = cap_mask_of(caps, "ambient")};
}

/* Keeps in the bounding set only what it names (up to the kernel's last capability). */
static void limit_bounding(uint64_t keep)
{
	for (int cap = 0; cap < 64; cap++) {
		if (keep & (UINT64_C(1) << cap))
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
			if (errno == EINVAL)
				break; /* past the kernel's last capability */
			die("cannot drop capability %d: %s", cap, strerror(errno));
		}
	}
}

/*
 * The effective, permitted, inheritable and ambient sets as the runtime gives them to the
 * container's process, after the change of user (PR_SET_KEEPCAPS kept the permitted set).
 */
static void set_capabilities(const struct cap_sets *s)
{
	const struct {
		cap_flag_t flag;
		uint64_t mask;
	} sets[] = {{CAP_EFFECTIVE, s->effective},
		    {CAP_PERMITTED, s->permitted},
		    {CAP_INHERITABLE, s->inheritable}};
	cap_t caps = cap_init();

	if (caps == NULL)
		die("out of memory");
	for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++)
		for (cap_value_t cap = 0; cap < 64; cap++)
			if ((sets[i].mask & (UINT64_C(1) << cap)) &&
			    cap_set_flag(caps, sets[i].flag, 1, &cap, CAP_SET) < 0)
				die("process.capabilities: capability %d is unknown here", cap);
	if (cap_set_proc(caps) < 0)
		die("cannot set the capabilities of process.capabilities: %s", strerror(errno));
	cap_free(caps);
	for (int cap = 0; cap < 64; cap++)
		if ((s->ambient & (UINT64_C(1) << cap)) &&
		    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
			die("cannot raise ambient capability %d (process.capabilities.ambient): %s",
			    cap, strerror(errno));
}

/*
 * Writes an LSM attribute of the next exec. Done before the task joins the container's
 * mount namespace: this /proc is the node's, the container's is the user's to replace
 * (CVE-2019-16884).
 */
static int write_attr(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t len = (ssize_t)strlen(value), n;

	if (fd < 0)
		return -1;
	n = write(fd, value, (size_t)len);
	close(fd);
	return n == len ? 0 : -1;
}

/*
 * process.apparmorProfile and process.selinuxLabel, applied at the exec as runc 1.1 and
 * crun apply them; like them, a node where the LSM is not enabled refuses the task.
 */
static void apply_labels(json_t *process)
{
	const char *profile = json_string_value(json_object_get(process, "apparmorProfile"));
	const char *label = json_string_value(json_object_get(process, "selinuxLabel"));

	if (profile != NULL && profile[0] != '\0') {
		cleanup_free char *value = NULL;

		if (asprintf(&value, "exec %s", profile) < 0)
			die("out of memory");
		if (write_attr("/proc/self/attr/apparmor/exec", value) < 0 &&
		    (errno != ENOENT || write_attr("/proc/self/attr/exec", value) < 0))
			die("process.apparmorProfile '%s': cannot apply it (is AppArmor enabled "
			    "on this node?): %s",
			    profile, strerror(errno));
	}
	if (label != NULL && label[0] != '\0' && write_attr("/proc/self/attr/exec", label) < 0)
		die("process.selinuxLabel '%s': cannot apply it (is SELinux enabled on this "
		    "node?): %s",
		    label, strerror(errno));
}

static void load_seccomp(scmp_filter_ctx filter)
{
	int rc = seccomp_load(filter);

	if (rc < 0)
		die("cannot load the seccomp filter of linux.seccomp: %s", strerror(-rc));
	seccomp_release(filter);
}

static void become_user(json_t *process)
{
	json_t *user = json_object_get(process, "user"),
	       *gids = json_object_get(user, "additionalGids");
	uid_t uid = (uid_t)json_integer_value(json_object_get(user, "uid"));
	gid_t gid = (gid_t)json_integer_value(json_object_get(user, "gid"));
	cleanup_free gid_t *groups = calloc(json_array_size(gids) + 1, sizeof(gid_t));
	json_t *g;
	size_t i;

	json_array_foreach(gids, i, g) groups[i] = (gid_t)json_integer_value(g);
	/* refused where the runtime denied setgroups (single-id mappings): as in the runtime */
	if (groups != NULL && setgroups(json_array_size(gids), groups) < 0 && errno != EPERM)
		die("setgroups: %s", strerror(errno));
	if (setresgid(gid, gid, gid) < 0)
		die("cannot become gid %u in the container: %s", (unsigned)gid, strerror(errno));
	if (setresuid(uid, uid, uid) < 0)
		die("cannot become uid %u in the container: %s", (unsigned)uid, strerror(errno));
}

static char **strings_of(json_t *array)
{
	char **v = calloc(json_array_size(array) + 1, sizeof(char *));
	json_t *s;
	size_t i;

	if (v == NULL)
		die("out of memory");
	json_array_foreach(array, i, s) v[i] = (char *)json_string_value(s);
	return v;
}

/*
 * In runc's order: labels, user and capabilities, no_new_privs, and the seccomp filter
 * last before the exec (first, while CAP_SYS_ADMIN is there, without no_new_privs).
 */
void join_exec(const struct join_target *t, json_t *spec)
{
	json_t *process = json_object_get(spec, "process");
	const char *cwd = json_string_value(json_object_get(process, "cwd"));
	char **args = strings_of(json_object_get(process, "args"));
	bool no_new_privs = json_is_true(json_object_get(process, "noNewPrivileges"));
	struct cap_sets caps = cap_sets_of(process);
	cleanup_error oci_error_t err = NULL;
	scmp_filter_ctx filter = NULL;

	if (args[0] == NULL)
		die("no command to run");
	if (seccomp_filter_of(json_object_get(json_object_get(spec, "linux"), "seccomp"), &filter,
			      &err) < 0)
		die("%s", oci_error_text(err));
	apply_labels(process);
	join_namespaces(t);
	if (chdir(cwd ? cwd : "/") < 0)
		die("cannot change to %s in the container: %s", cwd ? cwd : "/", strerror(errno));
	if (filter != NULL && !no_new_privs)
		load_seccomp(filter);
	limit_bounding(caps.bounding);
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		die("prctl(PR_SET_KEEPCAPS): %s", strerror(errno));
	become_user(process);
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		die("prctl(PR_SET_KEEPCAPS): %s", strerror(errno));
	set_capabilities(&caps);
	if (no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		die("prctl(PR_SET_NO_NEW_PRIVS): %s", strerror(errno));
	/*
	 * Nothing the task had open goes in: an fd of a host directory would reach host paths
	 * outside the container's mount namespace (the pattern of CVE-2024-21626).
	 */
	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		die("close_range: %s", strerror(errno));
	/* execvp searches the PATH of the container's environment */
	environ = strings_of(json_object_get(process, "env"));
	if (filter != NULL && no_new_privs)
		load_seccomp(filter);
	execvp(args[0], args);
	die("cannot run %s in the container: %s", args[0], strerror(errno));
}
