#include "launcher/runtime/console.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/xalloc.h"

/* How long the end waits for more of what the container wrote, after the last of it. */
#define DRAIN_IDLE_MS 100

void console_init(struct console *c)
{
	*c = (struct console){
		.listen_fd = -1,
		.conn_fd = -1,
		.master_fd = -1,
		.in_fd = STDIN_FILENO,
		.out_fd = STDOUT_FILENO,
	};
}

int console_listen(struct console *c, const char *path, oci_error_t *err)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(addr.sun_path))
		return oci_error_make(err, 0,
				      "the terminal's socket %s is longer than a unix socket's "
				      "path may be (%zu): a shorter ContainerPath would do",
				      path, sizeof(addr.sun_path) - 1);
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return oci_error_make(err, errno, "the terminal's socket");
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 1) < 0) {
		int saved = errno;
		close(fd);
		return oci_error_make(err, saved, "the terminal's socket %s", path);
	}
	c->listen_fd = fd;
	c->path = xstrdup(path);
	c->in_open = true;
	return 0;
}

void console_pollfds(const struct console *c, struct pollfd fds[CONSOLE_POLLFDS])
{
	int from = c->listen_fd >= 0 ? c->listen_fd : c->conn_fd >= 0 ? c->conn_fd : c->master_fd;

	fds[0] = (struct pollfd){.fd = from, .events = POLLIN};
	fds[1] = (struct pollfd){.fd = c->master_fd >= 0 && c->in_open ? c->in_fd : -1,
				 .events = POLLIN};
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Copies what from has now to to; false when from is done (end or error). */
static bool copy_some(int from, int to)
{
	char buf[4096];
	ssize_t n;

	do
		n = read(from, buf, sizeof(buf));
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		return true;
	if (n <= 0)
		return false;
	write_all(to, buf, (size_t)n);
	return true;
}

void console_resize(const struct console *c)
{
	struct winsize ws;

	if (c->master_fd >= 0 && ioctl(c->in_fd, TIOCGWINSZ, &ws) == 0)
		ioctl(c->master_fd, TIOCSWINSZ, &ws);
}

/* The master came: the task's terminal goes raw, and the container's gets its size. */
static void relay_begin(struct console *c)
{
	struct termios raw;

	if (tcgetattr(c->in_fd, &c->saved) == 0) {
		raw = c->saved;
		cfmakeraw(&raw);
		c->raw = tcsetattr(c->in_fd, TCSANOW, &raw) == 0;
	}
	console_resize(c);
}

/* The runtime's message: a name (runc), or a byte (crun), and the master as SCM_RIGHTS. */
static void receive_master(struct console *c)
{
	char data[256];
	char control[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {.iov_base = data, .iov_len = sizeof(data)};
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = control,
		.msg_controllen = sizeof(control),
	};
	struct cmsghdr *cmsg;
	ssize_t n;

	do
		n = recvmsg(c->conn_fd, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		return; /* not yet */
	close_fd(&c->conn_fd);
	cmsg = n > 0 ? CMSG_FIRSTHDR(&msg) : NULL;
	if (cmsg == NULL || cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS ||
	    cmsg->cmsg_len != CMSG_LEN(sizeof(int)))
		return; /* the runtime gave up: it says why itself */
	memcpy(&c->master_fd, CMSG_DATA(cmsg), sizeof(int));
	relay_begin(c);
}

static void accept_runtime(struct console *c)
{
	int fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (fd < 0)
		return;
	close_fd(&c->listen_fd);
	c->conn_fd = fd;
	receive_master(c);
}

void console_handle(struct console *c, const struct pollfd fds[CONSOLE_POLLFDS])
{
	if (fds[0].fd >= 0 && fds[0].revents != 0) {
		if (fds[0].fd == c->listen_fd)
			accept_runtime(c);
		else if (fds[0].fd == c->conn_fd)
			receive_master(c);
		else if (fds[0].fd == c->master_fd && !copy_some(c->master_fd, c->out_fd))
			close_fd(&c->master_fd); /* the container's side is closed */
	}
	if (fds[1].fd >= 0 && fds[1].revents != 0 && c->master_fd >= 0 &&
	    !copy_some(c->in_fd, c->master_fd))
		c->in_open = false; /* the task's terminal hung up */
}

void console_finish(struct console *c)
{
	if (c->path == NULL)
		return;
	/* a master sent while nobody waited (create, then the container ended at once) */
	if (c->listen_fd >= 0)
		accept_runtime(c);
	if (c->conn_fd >= 0)
		receive_master(c);
	while (c->master_fd >= 0) {
		struct pollfd p = {.fd = c->master_fd, .events = POLLIN};
		int n = poll(&p, 1, DRAIN_IDLE_MS);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || !copy_some(c->master_fd, c->out_fd))
			break;
	}
	close_fd(&c->master_fd);
	close_fd(&c->conn_fd);
	close_fd(&c->listen_fd);
	if (c->raw)
		tcsetattr(c->in_fd, TCSANOW, &c->saved);
	c->raw = false;
	unlink(c->path);
	free(c->path);
	c->path = NULL;
}
