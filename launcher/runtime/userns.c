#include "launcher/runtime/userns.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <grp.h>
#include <sched.h>
#include <sys/mount.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/proc.h"

static int subid_start(const char *file, const char *user, unsigned long id, unsigned long *start)
{
	cleanup_fclose FILE *f = fopen(file, "re");
	cleanup_free char *line = NULL;
	size_t cap = 0;
	char idtext[32];

	snprintf(idtext, sizeof(idtext), "%lu", id);
	while (f != NULL && getline(&line, &cap, f) >= 0) {
		char *save = NULL, *name = strtok_r(line, ":", &save);
		char *first = strtok_r(NULL, ":", &save), *count = strtok_r(NULL, ":\n", &save);

		if (name == NULL || first == NULL || count == NULL ||
		    strtoul(count, NULL, 10) < 1 ||
		    first[strspn(first, "0123456789")] != '\0') /* a start that is no number */
			continue;
		if (strcmp(name, user) == 0 || strcmp(name, idtext) == 0) {
			*start = strtoul(first, NULL, 10);
			return 0;
		}
	}
	return -1;
}

bool userns_lookup(const char *subuid_file, const char *subgid_file, const char *user, uid_t uid,
		   gid_t gid, struct userns_map *m)
{
	*m = (struct userns_map){.uid = uid, .gid = gid};
	m->subids = subid_start(subuid_file, user, uid, &m->subuid) == 0 &&
		    subid_start(subgid_file, user, uid, &m->subgid) == 0;
	return m->subids;
}

/* Starts newuidmap PID 0 ID 1 [1 SUBID 1] (or newgidmap). */
static int spawn_map(const char *prog, pid_t child, unsigned long id, bool subids,
		     unsigned long sub, char *const *env, pid_t *pid, oci_error_t *err)
{
	cleanup_free char *path = NULL;
	char pid_s[32], id_s[32], sub_s[32];
	char *argv[] = {(char *)prog, pid_s, "0", id_s, "1", "1", sub_s, "1", NULL};
	int rc;

	if (proc_find_program(prog, env, &path, err) < 0)
		return -1;
	snprintf(pid_s, sizeof(pid_s), "%d", (int)child);
	snprintf(id_s, sizeof(id_s), "%lu", id);
	snprintf(sub_s, sizeof(sub_s), "%lu", sub);
	if (!subids)
		argv[5] = NULL;
	rc = posix_spawn(pid, path, NULL, NULL, argv, env);
	return rc == 0 ? 0 : oci_error_make(err, rc, "cannot run %s", path);
}

static int map_ids(pid_t child, int ready_fd, const struct userns_map *m, char *const *env,
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
		rc = spawn_map(progs[i], child, ids[i], m->subids, subs[i], env, &pids[i], err);
	for (int i = 0; i < 2; i++)
		if (pids[i] > 0 && proc_wait(pids[i], &status[i]) < 0)
			status[i] = -1;
	for (int i = 0; i < 2 && rc == 0; i++) {
		if (status[i] == -1 || !WIFEXITED(status[i]) || WEXITSTATUS(status[i]) != 0) {
			if (m->subids)
				rc = oci_error_make(err, 0, "%s %d 0 %lu 1 1 %lu 1 failed",
						    progs[i], (int)child, ids[i], subs[i]);
			else
				rc = oci_error_make(err, 0, "%s %d 0 %lu 1 failed", progs[i],
						    (int)child, ids[i]);
		}
	}
	return rc;
}

/* Two fds over a unix socket (SCM_RIGHTS). */
static int send_fds(int sock, const int fds[2])
{
	char byte = 0, buf[CMSG_SPACE(2 * sizeof(int))] = {0};
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	struct msghdr msg = {.msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = buf,
			     .msg_controllen = sizeof(buf)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(2 * sizeof(int));
	memcpy(CMSG_DATA(c), fds, 2 * sizeof(int));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -1;
}

static int recv_fds(int sock, int fds[2])
{
	char byte, buf[CMSG_SPACE(2 * sizeof(int))] = {0};
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	struct msghdr msg = {.msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = buf,
			     .msg_controllen = sizeof(buf)};
	struct cmsghdr *c;

	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1)
		return -1;
	c = CMSG_FIRSTHDR(&msg);
	if (c == NULL || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
	    c->cmsg_len != CMSG_LEN(2 * sizeof(int)))
		return -1;
	memcpy(fds, CMSG_DATA(c), 2 * sizeof(int));
	return 0;
}

/* What a child wrote on fd before it closed it, up to size - 1 bytes. */
static void read_said(int fd, char *buf, size_t size)
{
	size_t len = 0;
	ssize_t n;

	while (len + 1 < size &&
	       ((n = read(fd, buf + len, size - 1 - len)) > 0 || (n < 0 && errno == EINTR)))
		len += n > 0 ? (size_t)n : 0;
	buf[len] = '\0';
}

typedef int (*userns_fn)(void *arg, oci_error_t *err);

/*
 * In the child, once mapped: a mount namespace of the user namespace's own, whose mounts
 * receive the node's but never send any back; fn(arg) (if any) runs there; the fds of
 * both namespaces go to the parent, then what fn failed with, if it did.
 */
static int child_namespaces(int sock, userns_fn fn, void *arg)
{
	oci_error_t err = NULL;
	int fds[2];

	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
		return -1;
	fds[0] = open("/proc/self/ns/user", O_RDONLY | O_CLOEXEC);
	fds[1] = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
	if (fds[0] < 0 || fds[1] < 0)
		return -1;
	if (fn != NULL && fn(arg, &err) < 0) {
		const char *text = oci_error_text(err);

		if (send_fds(sock, fds) < 0)
			return -1;
		(void)!write(sock, text, strlen(text));
		return 1;
	}
	return send_fds(sock, fds);
}

/*
 * The child that makes the namespaces sends their fds: under slurmstepd the task (and so
 * the child) is not dumpable, so the parent may not open /proc/CHILD/ns/user itself. fn,
 * if not NULL, runs in that child as uid 0 of the new namespaces (one fork for both);
 * the namespaces are kept (fds[]) whether it fails or not.
 */
static int make(const struct userns_map *m, char *const *env, int fds[2], userns_fn fn, void *arg,
		oci_error_t *err)
{
	int sv[2], rc = -1, status = 0;
	char go = 'g', said[1024];
	pid_t pid;

	fds[0] = fds[1] = -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return oci_error_make(err, errno, "socketpair");
	pid = fork();
	if (pid < 0) {
		oci_error_make(err, errno, "fork");
		goto out;
	}
	if (pid == 0) {
		char c = 0;
		int child_rc;

		close(sv[0]);
		if (unshare(CLONE_NEWUSER) < 0 || write(sv[1], &c, 1) != 1 ||
		    read(sv[1], &c, 1) != 1)
			_exit(1);
		child_rc = child_namespaces(sv[1], fn, arg);
		_exit(child_rc == 0 ? 0 : child_rc == 1 ? 2 : 1);
	}
	close(sv[1]);
	sv[1] = -1;
	if (map_ids(pid, sv[0], m, env, err) == 0) {
		if (write(sv[0], &go, 1) == 1 && recv_fds(sv[0], fds) == 0)
			rc = 0;
		else
			rc = oci_error_make(err, errno ? errno : EPROTO,
					    "no user and mount namespace from its child");
	}
	if (rc == 0 && fn != NULL)
		read_said(sv[0], said, sizeof(said)); /* until the child ends */
	close(sv[0]);				      /* the child ends, if it waits still */
	sv[0] = -1;
	proc_wait(pid, &status);
	if (rc == 0 && fn != NULL && (!WIFEXITED(status) || WEXITSTATUS(status) != 0))
		rc = oci_error_make(err, 0, "%s",
				    *said ? said : "a child in the task's user namespace failed");
out:
	for (int i = 0; i < 2; i++)
		if (sv[i] >= 0)
			close(sv[i]);
	return rc;
}

void userns_init(struct userns *u, const struct userns_map *m, char *const *env)
{
	*u = (struct userns){.map = *m, .env = env, .fd = -1, .mnt_fd = -1};
}

int userns_fds(struct userns *u, int *fd, int *mnt_fd, oci_error_t *err)
{
	if (u->fd < 0) {
		int fds[2];

		if (make(&u->map, u->env, fds, NULL, NULL, err) < 0)
			return -1;
		u->fd = fds[0];
		u->mnt_fd = fds[1];
	}
	*fd = u->fd;
	*mnt_fd = u->mnt_fd;
	return 0;
}

void userns_release(struct userns *u)
{
	if (u->fd >= 0)
		close(u->fd);
	if (u->mnt_fd >= 0)
		close(u->mnt_fd);
	u->fd = u->mnt_fd = -1;
}

int userns_run(struct userns *u, int (*fn)(void *arg, oci_error_t *err), void *arg,
	       oci_error_t *err)
{
	char said[1024];
	int status, fd, mnt_fd, pipe_fds[2];
	pid_t pid;

	if (u->fd < 0) {
		/* not made yet: fn runs in the child that makes it */
		int fds[2], rc = make(&u->map, u->env, fds, fn, arg, err);

		u->fd = fds[0];
		u->mnt_fd = fds[1];
		return rc;
	}
	if (userns_fds(u, &fd, &mnt_fd, err) < 0)
		return -1;
	if (pipe2(pipe_fds, O_CLOEXEC) < 0)
		return oci_error_make(err, errno, "pipe");
	pid = fork();
	if (pid < 0) {
		close(pipe_fds[0]);
		close(pipe_fds[1]);
		return oci_error_make(err, errno, "fork");
	}
	if (pid == 0) {
		oci_error_t child_err = NULL;
		const char *text;

		close(pipe_fds[0]);
		if (proc_enter_userns(fd, mnt_fd) < 0)
			oci_error_make(&child_err, errno, "cannot enter the task's user namespace");
		else if (fn(arg, &child_err) == 0)
			_exit(0);
		text = oci_error_text(child_err);
		(void)!write(pipe_fds[1], text, strlen(text));
		_exit(1);
	}
	close(pipe_fds[1]);
	read_said(pipe_fds[0], said, sizeof(said));
	close(pipe_fds[0]);
	if (proc_wait(pid, &status) < 0)
		return oci_error_make(err, errno, "waiting for a user namespace");
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	return oci_error_make(err, 0, "%s",
			      *said ? said : "a child in the task's user namespace failed");
}
