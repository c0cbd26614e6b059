#include "launcher/shared/join.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"

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

/* Keeps in the bounding set only what the process's capabilities name (as runc does). */
static void limit_capabilities(json_t *process)
{
	json_t *bounding = json_object_get(json_object_get(process, "capabilities"), "bounding");
	bool keep[CAP_LAST_CAP + 1] = {false};
	json_t *name;
	size_t i;

	json_array_foreach(bounding, i, name)
	{
		cap_value_t cap;
		if (json_is_string(name) && cap_from_name(json_string_value(name), &cap) == 0 &&
		    cap >= 0 && cap <= CAP_LAST_CAP)
			keep[cap] = true;
	}
	for (int cap = 0; cap <= CAP_LAST_CAP; cap++)
		if (!keep[cap] && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			die("cannot drop capability %d: %s", cap, strerror(errno));
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

void join_exec(const struct join_target *t, json_t *process)
{
	const char *cwd = json_string_value(json_object_get(process, "cwd"));
	char **args = strings_of(json_object_get(process, "args"));

	join_namespaces(t);
	if (chdir(cwd ? cwd : "/") < 0)
		die("cannot change to %s in the container: %s", cwd ? cwd : "/", strerror(errno));
	limit_capabilities(process);
	become_user(process);
	if (json_is_true(json_object_get(process, "noNewPrivileges")) &&
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		die("prctl(PR_SET_NO_NEW_PRIVS): %s", strerror(errno));
	if (args[0] == NULL)
		die("no command to run");
	/*
	 * Nothing the task had open goes in: an fd of a host directory would reach host paths
	 * outside the container's mount namespace (the pattern of CVE-2024-21626).
	 */
	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		die("close_range: %s", strerror(errno));
	/* execvp searches the PATH of the container's environment */
	environ = strings_of(json_object_get(process, "env"));
	execvp(args[0], args);
	die("cannot run %s in the container: %s", args[0], strerror(errno));
}
