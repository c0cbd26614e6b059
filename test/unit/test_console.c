/*
 * launcher/runtime/console.c: the relay between the task's terminal and the pty master a
 * runtime sends over --console-socket (sent here as runc and crun send it).
 */
#include "unit.h"

#include <poll.h>
#include <pty.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>

#include "launcher/runtime/console.h"

struct pty {
	int master, slave;
};

static struct pty open_pty(unsigned short rows, unsigned short cols)
{
	struct winsize ws = {.ws_row = rows, .ws_col = cols};
	struct pty p;

	assert_int_equal(openpty(&p.master, &p.slave, NULL, NULL, &ws), 0);
	return p;
}

static struct winsize size_of(int fd)
{
	struct winsize ws;

	assert_int_equal(ioctl(fd, TIOCGWINSZ, &ws), 0);
	return ws;
}

/* What a runtime does: connects to the socket and sends the master with a name. */
static void send_master(const char *path, int master)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	char control[CMSG_SPACE(sizeof(int))] = {0};
	char name[] = "/dev/ptmx";
	struct iovec iov = {.iov_base = name, .iov_len = sizeof(name)};
	struct msghdr msg = {.msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = control,
			     .msg_controllen = sizeof(control)};
	struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
	cleanup_close int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	strcpy(addr.sun_path, path);
	assert_int_equal(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cmsg), &master, sizeof(int));
	assert_true(sendmsg(fd, &msg, 0) > 0);
}

/* Runs the relay until nothing more happens for 100 ms. */
static void relay_a_while(struct console *c)
{
	for (;;) {
		struct pollfd fds[CONSOLE_POLLFDS];

		console_pollfds(c, fds);
		if (poll(fds, CONSOLE_POLLFDS, 100) <= 0)
			return;
		console_handle(c, fds);
	}
}

/* Reads what fd has within 1 s, as a string. */
static char *read_some(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char buf[256];
	ssize_t n = 0;

	if (poll(&p, 1, 1000) == 1)
		n = read(fd, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	return xstrdup(buf);
}

static void relays_both_ways_with_size_and_raw_mode(void **state)
{
	struct dir_fixture *f = *state;
	cleanup_free char *path = dir_fixture_at(f, "console.sock");
	cleanup_free char *typed = NULL, *echo = NULL, *shown = NULL;
	cleanup_error oci_error_t err = NULL;
	struct pty task = open_pty(30, 100), container = open_pty(24, 80);
	struct termios before, during, after;
	struct winsize ws = {.ws_row = 45, .ws_col = 132};
	struct console c;

	console_init(&c);
	c.in_fd = c.out_fd = task.slave; /* the task's terminal: Slurm's pty */
	assert_int_equal(tcgetattr(task.slave, &before), 0);
	assert_true((before.c_lflag & ICANON) && (before.c_lflag & ECHO));
	assert_ok(console_listen(&c, path, &err), err);
	send_master(path, container.master);
	close(container.master);
	relay_a_while(&c);

	/* the container's terminal got the task's size; the task's is raw */
	assert_int_equal(size_of(container.slave).ws_row, 30);
	assert_int_equal(size_of(container.slave).ws_col, 100);
	assert_int_equal(tcgetattr(task.slave, &during), 0);
	assert_false(during.c_lflag & (ICANON | ECHO | ISIG));

	/* typed at the task's terminal: reaches the container's */
	assert_int_equal(write(task.master, "ls\r", 3), 3);
	relay_a_while(&c);
	typed = read_some(container.slave);
	assert_string_equal(typed, "ls\n"); /* the container's line discipline: \r to \n */
	/* and it echoed what was typed, as the only echo */
	echo = read_some(task.master);
	assert_string_equal(echo, "ls\r\n");

	/* what the container prints: shown at the task's terminal */
	assert_int_equal(write(container.slave, "hi", 2), 2);
	relay_a_while(&c);
	shown = read_some(task.master);
	assert_string_equal(shown, "hi");

	/* the window changes size (SIGWINCH): the container's follows */
	assert_int_equal(ioctl(task.master, TIOCSWINSZ, &ws), 0);
	console_resize(&c);
	assert_int_equal(size_of(container.slave).ws_row, 45);
	assert_int_equal(size_of(container.slave).ws_col, 132);

	/* the container ends: the task's terminal is as it was, the socket gone */
	close(container.slave);
	console_finish(&c);
	assert_int_equal(tcgetattr(task.slave, &after), 0);
	assert_true((after.c_lflag & ICANON) && (after.c_lflag & ECHO));
	assert_false(path_exists(path));
	console_finish(&c); /* twice is harmless */
	close(task.master);
	close(task.slave);
}

static void what_the_container_wrote_last_is_shown(void **state)
{
	struct dir_fixture *f = *state;
	cleanup_free char *path = dir_fixture_at(f, "console.sock");
	cleanup_free char *shown = NULL;
	cleanup_error oci_error_t err = NULL;
	struct pty task = open_pty(24, 80), container = open_pty(24, 80);
	struct console c;

	console_init(&c);
	c.in_fd = c.out_fd = task.slave;
	assert_ok(console_listen(&c, path, &err), err);
	/* the runtime sent the master and the container wrote and ended, unseen yet */
	send_master(path, container.master);
	close(container.master);
	assert_int_equal(write(container.slave, "bye", 3), 3);
	close(container.slave);
	console_finish(&c);
	shown = read_some(task.master);
	assert_string_equal(shown, "bye");
	close(task.master);
	close(task.slave);
}

static void a_socket_path_too_long_is_refused(void **state)
{
	char path[200];
	cleanup_error oci_error_t err = NULL;
	struct console c;

	(void)state;
	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	console_init(&c);
	assert_int_equal(console_listen(&c, path, &err), -1);
	assert_error_has(err, "a shorter ContainerPath would do");
	console_finish(&c);
}

#define T(name) cmocka_unit_test_setup_teardown(name, dir_fixture_setup, dir_fixture_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(relays_both_ways_with_size_and_raw_mode),
		T(what_the_container_wrote_last_is_shown),
		T(a_socket_path_too_long_is_refused),
	};

	return cmocka_run_group_tests_name("console", tests, NULL, NULL);
}
