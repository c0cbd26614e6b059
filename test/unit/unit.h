/* Small helpers shared by the unit tests: temporary directories, files, error checks. */
#ifndef SPANK_OCI_TEST_UNIT_H
#define SPANK_OCI_TEST_UNIT_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/xalloc.h"

/* Fails the test unless err is set and its text contains sub. */
#define assert_error_has(err, sub)                                                                 \
	do {                                                                                       \
		const char *text_ = oci_error_text(err);                                           \
		if ((err) == NULL)                                                                 \
			fail_msg("expected an error containing '%s', got none", (sub));            \
		if (strstr(text_, (sub)) == NULL)                                                  \
			fail_msg("error '%s' does not contain '%s'", text_, (sub));                \
	} while (0)

/* Fails the test with the error's text when rc is not 0. */
#define assert_ok(rc, err)                                                                         \
	do {                                                                                       \
		if ((rc) != 0)                                                                     \
			fail_msg("unexpected error: %s", oci_error_text(err));                     \
	} while (0)

/* A fresh private directory under /tmp, realpath'd; free() it after rm_tree(). */
static inline char *make_tmpdir(void)
{
	char tmpl[] = "/tmp/spank-oci-unit-XXXXXX";
	char *dir;

	assert_non_null(mkdtemp(tmpl));
	dir = realpath(tmpl, NULL);
	assert_non_null(dir);
	return dir;
}

static inline int rm_entry_(const char *p, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	if (type == FTW_DP)
		return rmdir(p);
	return unlink(p);
}

/* rm -rf, never following symlinks; independent of the code under test. */
static inline void rm_tree(const char *path)
{
	/* directories left without write permission by a test must still go */
	chmod(path, 0700);
	nftw(path, rm_entry_, 16, FTW_DEPTH | FTW_PHYS);
}

/* Writes text to dir/rel (rel may be NULL: dir is the file). */
static inline void write_text(const char *dir, const char *rel, const char *text)
{
	cleanup_free char *path = rel ? xasprintf("%s/%s", dir, rel) : xasprintf("%s", dir);
	FILE *f = fopen(path, "w");

	if (f == NULL)
		fail_msg("cannot create %s: %s", path, strerror(errno));
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* Reads a whole file; NULL if it cannot be opened. */
static inline char *read_text(const char *path)
{
	cleanup_fclose FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t cap = 0;
	FILE *mem;

	if (f == NULL)
		return NULL;
	mem = open_memstream(&buf, &cap);
	assert_non_null(mem);
	for (int c; (c = fgetc(f)) != EOF;)
		fputc(c, mem);
	fclose(mem);
	return buf;
}

/* Fails unless the file's lines (empty ones included) are exactly want, in order. */
static inline void assert_file_lines(const char *path, const char *const *want)
{
	cleanup_free char *text = read_text(path);
	char *line = text, *end;
	size_t i = 0;

	for (; line != NULL && (end = strchr(line, '\n')) != NULL; line = end + 1, i++) {
		*end = '\0';
		if (want[i] == NULL)
			fail_msg("%s: unexpected extra line %zu: '%s'", path, i, line);
		if (strcmp(line, want[i]) != 0)
			fail_msg("%s: line %zu is '%s', expected '%s'", path, i, line, want[i]);
	}
	if (want[i] != NULL)
		fail_msg("%s: line %zu missing, expected '%s'", path, i, want[i]);
}

/* mkdir dir/rel with the given mode (exactly: umask is undone with chmod). */
static inline void make_dir(const char *dir, const char *rel, mode_t mode)
{
	cleanup_free char *path = xasprintf("%s/%s", dir, rel);

	if (mkdir(path, mode) < 0)
		fail_msg("cannot create %s: %s", path, strerror(errno));
	assert_int_equal(chmod(path, mode), 0);
}

static inline bool path_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* A directory itself, not a symlink to one. */
static inline bool path_is_dir(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/*
 * The temporary directory of a test, in one place. A test that needs nothing else uses
 * dir_fixture_setup and dir_fixture_teardown with struct dir_fixture. A fixture with more
 * fields is any struct with a `char *dir` member:
 *
 *	struct fixture { char *dir; char *path; };
 *	setup:    f = dir_fixture_new(struct fixture); f->path = ...; *state = f;
 *	teardown: free(f->path); ...; dir_fixture_free(f);
 */
#define dir_fixture_new(type)                                                                      \
	({                                                                                         \
		type *new_ = xcalloc(1, sizeof(type));                                             \
		new_->dir = make_tmpdir();                                                         \
		new_;                                                                              \
	})

/* Removes the fixture's directory, then frees the fixture (its other fields freed first). */
#define dir_fixture_free(f) dir_fixture_free_((f), (f)->dir)

static inline void dir_fixture_free_(void *fixture, char *dir)
{
	rm_tree(dir);
	free(dir);
	free(fixture);
}

/* A fixture of one fresh private directory, for tests that need nothing else. */
struct dir_fixture {
	char *dir;
};

static inline int dir_fixture_setup(void **state)
{
	*state = dir_fixture_new(struct dir_fixture);
	return 0;
}

static inline int dir_fixture_teardown(void **state)
{
	struct dir_fixture *f = *state;

	dir_fixture_free(f);
	return 0;
}

/* f->dir/rel, to free(). */
static inline char *dir_fixture_at(struct dir_fixture *f, const char *rel)
{
	return xasprintf("%s/%s", f->dir, rel);
}

/* ---- child processes (for tests of what signals, reparents or changes a process) -------- */

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

/* Writes text to dir/rel (rel may be NULL) as an executable (mode 0755): a fake program. */
static inline void write_executable(const char *dir, const char *rel, const char *text)
{
	cleanup_free char *path = rel ? xasprintf("%s/%s", dir, rel) : xasprintf("%s", dir);

	write_text(path, NULL, text);
	assert_int_equal(chmod(path, 0755), 0);
}

/*
 * The wait status of the child pid, which must end within timeout_ms: one still running
 * then is SIGKILLed and reaped, and the test fails.
 */
static inline int wait_child(pid_t pid, int timeout_ms)
{
	const struct timespec pause_5ms = {.tv_nsec = 5000000};
	int status = 0;

	for (int waited = 0; waited <= timeout_ms; waited += 5) {
		pid_t got = waitpid(pid, &status, WNOHANG);

		if (got == pid)
			return status;
		if (got < 0 && errno != EINTR)
			fail_msg("waitpid(%d): %s", (int)pid, strerror(errno));
		nanosleep(&pause_5ms, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	fail_msg("child %d still running after %d ms: killed", (int)pid, timeout_ms);
	return -1;
}

/*
 * A check that must run in a process of its own: returns 0, or non-zero after writing
 * why into msg. It runs in a forked child (never use cmocka's assertions there), which
 * ends with _exit.
 */
typedef int (*child_check_fn)(void *arg, char *msg, size_t len);

/* Runs fn(arg) in a forked child; the test fails with its message unless it returns 0. */
static inline void check_in_child(child_check_fn fn, void *arg, int timeout_ms)
{
	char msg[1024] = "";
	ssize_t n, total = 0;
	int fds[2], status;
	pid_t pid;

	/* non-blocking: what the child left running may hold the pipe open */
	assert_int_equal(pipe2(fds, O_CLOEXEC | O_NONBLOCK), 0);
	fflush(NULL); /* nothing buffered is written twice */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int rc;

		close(fds[0]);
		fcntl(fds[1], F_SETFD, 0); /* survives what fn closes as exec would */
		alarm((unsigned)(timeout_ms / 1000 + 1));
		rc = fn(arg, msg, sizeof(msg));
		if (rc != 0 && write(fds[1], msg, strnlen(msg, sizeof(msg))) < 0)
			rc = 2;
		_exit(rc == 0 ? 0 : 1);
	}
	close(fds[1]);
	status = wait_child(pid, timeout_ms + 2000);
	while (total < (ssize_t)sizeof(msg) - 1 &&
	       (n = read(fds[0], msg + total, sizeof(msg) - 1 - (size_t)total)) > 0)
		total += n;
	msg[total] = '\0';
	close(fds[0]);
	if (WIFSIGNALED(status))
		fail_msg("the child was killed by signal %d%s%s", WTERMSIG(status),
			 *msg ? ": " : "", msg);
	if (WEXITSTATUS(status) != 0)
		fail_msg("%s", *msg ? msg : "the child failed without saying why");
}

#endif
