/*
 * A container's terminal, relayed by the task's process: the runtime makes a pty in the
 * container (process.terminal) and sends its master over a unix socket (--console-socket);
 * the task's process copies between the task's own terminal (Slurm's pty: srun --pty,
 * salloc's interactive step) and that master. The task's terminal is raw meanwhile (the
 * container's pty does echo, and turns ^C into SIGINT for the container's foreground
 * group), and its window size reaches the container at the start and on every SIGWINCH.
 */
#ifndef SPANK_OCI_CONSOLE_H
#define SPANK_OCI_CONSOLE_H

#include <poll.h>
#include <stdbool.h>
#include <termios.h>

#include "common/error.h"

struct console {
	char *path;    /* the socket's path, or NULL: no relay */
	int listen_fd; /* where the runtime connects, -1 once it did */
	int conn_fd;   /* the runtime's connection, -1 once the master came */
	int master_fd; /* the container's pty master, -1 before it came or once closed */
	int in_fd;     /* the task's terminal: input (0) */
	int out_fd;    /* and output (1) */
	bool in_open;  /* input is still read */
	bool raw;      /* the task's terminal was made raw: saved holds how it was */
	struct termios saved;
};

#define CONSOLE_POLLFDS 2

/* No relay: console_pollfds gives nothing, console_finish does nothing. */
void console_init(struct console *c);

/* Listens at path (in the task's bundle directory) for the runtime's master. */
int console_listen(struct console *c, const char *path, oci_error_t *err);

/* Fills fds with what to wait for now (negative fds where nothing): CONSOLE_POLLFDS. */
void console_pollfds(const struct console *c, struct pollfd fds[CONSOLE_POLLFDS]);

/* After a poll of those fds: takes the runtime's master, or copies what came. */
void console_handle(struct console *c, const struct pollfd fds[CONSOLE_POLLFDS]);

/* The task's terminal changed size (SIGWINCH): the container's follows. */
void console_resize(const struct console *c);

/*
 * The container ended: the master that came without a wait is taken, what the container
 * wrote last reaches the task's terminal, the terminal is as it was, the socket is gone.
 * Safe to call twice.
 */
void console_finish(struct console *c);

#endif
