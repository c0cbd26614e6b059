#include "userns.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <grp.h>
#include <sched.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../conf/cleanup.h"
#include "runtime.h"

int userns_subid_start(const char *file, const char *user, unsigned long id, unsigned long *start)
{
	cleanup_fclose FILE *f = fopen(file, "re");
	cleanup_free char *line = NULL;
	size_t cap = 0;
	char idtext[32];

	snprintf(idtext, sizeof(idtext), "%lu", id);
	while (f != NULL && getline(&line, &cap, f) >= 0) {
		char *save = NULL, *name = strtok_r(line, ":", &save);
		char *first = strtok_r(NULL, ":", &save), *count = strtok_r(NULL, ":\n", &save);

		if (name == NULL || first == NULL || count == NULL || strtoul(count, NULL, 10) < 1)
			continue;
		if (strcmp(name, user) == 0 || strcmp(name, idtext) == 0) {
			*start = strtoul(first, NULL, 10);
			return 0;
		}
	}
	return -1;
}

bool userns_lookup(const char *user, uid_t uid, gid_t gid, struct userns_map *m)
{
	*m = (struct userns_map){.uid = uid, .gid = gid};
	return userns_subid_start("/etc/subuid", user, uid, &m->subuid) == 0 &&
	       userns_subid_start("/etc/subgid", user, uid, &m->subgid) == 0;
}

int userns_child_enter(int ready_fd, int go_fd)
{
	char c = 0;

	if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0)
		return -1;
	if (write(ready_fd, &c, 1) != 1)
		return -1;
	close(ready_fd);
	if (read(go_fd, &c, 1) != 1) {
		errno = EPERM; /* the parent could not write the maps */
		return -1;
	}
	close(go_fd);
	if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
		return -1;
	return setgroups(0, NULL);
}

/* Starts newuidmap PID 0 ID 1 1 SUBID 1 (or newgidmap). */
static int spawn_map(const char *prog, pid_t child, unsigned long id, unsigned long sub,
		     char *const *env, pid_t *pid, oci_error_t *err)
{
	cleanup_free char *path = NULL;
	char pid_s[32], id_s[32], sub_s[32];
	char *argv[] = {(char *)prog, pid_s, "0", id_s, "1", "1", sub_s, "1", NULL};
	int rc;

	if (runtime_resolve(prog, env, &path, err) < 0)
		return -1;
	snprintf(pid_s, sizeof(pid_s), "%d", (int)child);
	snprintf(id_s, sizeof(id_s), "%lu", id);
	snprintf(sub_s, sizeof(sub_s), "%lu", sub);
	rc = posix_spawn(pid, path, NULL, NULL, argv, env);
	return rc == 0 ? 0 : oci_error_make(err, rc, "cannot run %s", path);
}

static int reap_status(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return -1;
	}
	return status;
}

int userns_parent_map(pid_t child, int ready_fd, const struct userns_map *m, char *const *env,
		      oci_error_t *err)
{
	static const char *const progs[2] = {"newuidmap", "newgidmap"};
	const unsigned long ids[2] = {m->uid, m->gid}, subs[2] = {m->subuid, m->subgid};
	pid_t pids[2] = {-1, -1};
	int status[2] = {-1, -1}, rc = 0;
	char c;

	if (read(ready_fd, &c, 1) != 1)
		return oci_error_make(err, errno ? errno : EPERM, "cannot make a user namespace");
	/* both at once: each is a setuid program of about half a millisecond */
	for (int i = 0; i < 2 && rc == 0; i++)
		rc = spawn_map(progs[i], child, ids[i], subs[i], env, &pids[i], err);
	for (int i = 0; i < 2; i++)
		if (pids[i] > 0)
			status[i] = reap_status(pids[i]);
	for (int i = 0; i < 2 && rc == 0; i++) {
		if (status[i] == -1 || !WIFEXITED(status[i]) || WEXITSTATUS(status[i]) != 0)
			rc = oci_error_make(err, 0, "%s %d 0 %lu 1 1 %lu 1 failed", progs[i],
					    (int)child, ids[i], subs[i]);
	}
	return rc;
}

int userns_run(const struct userns_map *m, char *const *env, void (*fn)(void *), void *arg,
	       oci_error_t *err)
{
	int ready[2], go[2], status;
	pid_t pid;

	if (pipe2(ready, O_CLOEXEC) < 0)
		return oci_error_make(err, errno, "pipe");
	if (pipe2(go, O_CLOEXEC) < 0) {
		close(ready[0]);
		close(ready[1]);
		return oci_error_make(err, errno, "pipe");
	}
	pid = fork();
	if (pid == 0) {
		close(ready[0]);
		close(go[1]);
		if (userns_child_enter(ready[1], go[0]) < 0)
			_exit(127);
		fn(arg);
		_exit(0);
	}
	close(ready[1]);
	close(go[0]);
	if (pid < 0 || userns_parent_map(pid, ready[0], m, env, err) < 0 ||
	    write(go[1], "g", 1) != 1) {
		if (pid > 0)
			kill(pid, SIGKILL);
		else
			oci_error_make(err, errno, "fork");
	}
	close(ready[0]);
	close(go[1]);
	while (pid > 0 && waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return pid > 0 && err != NULL && *err == NULL ? 0 : -1;
}
