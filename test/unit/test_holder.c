/* Shared mode's holder: the sealed, read-only memfd and the program it holds. */
#include "unit.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>

#include "launcher/shared/holder.h"

static void holder_fd_is_a_sealed_read_only_executable(void **state)
{
	cleanup_error oci_error_t err = NULL;
	int fd = holder_open(&err), flags, seals;
	unsigned char magic[4] = {0};

	(void)state;
	assert_true(fd >= 0);
	flags = fcntl(fd, F_GETFL);
	assert_int_equal(flags & O_ACCMODE, O_RDONLY);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	seals = fcntl(fd, F_GET_SEALS);
	assert_true(seals & F_SEAL_WRITE);
	assert_true(seals & F_SEAL_SEAL);
	assert_int_equal(pread(fd, magic, sizeof(magic), 0), 4);
	assert_memory_equal(magic, "\177ELF", 4);
	close(fd);
}

static bool still_running(pid_t pid)
{
	const struct timespec pause_50ms = {.tv_nsec = 50000000};
	int status;

	nanosleep(&pause_50ms, NULL);
	return waitpid(pid, &status, WNOHANG) == 0;
}

/* Run the way the runtime runs it: as the process's stdin, through /proc/self/fd/0. */
static void holder_waits_through_step_signals_until_killed(void **state)
{
	cleanup_error oci_error_t err = NULL;
	int fd = holder_open(&err), status;
	pid_t pid;

	(void)state;
	assert_true(fd >= 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char *argv[] = {HOLDER_EXEC_PATH, NULL}, *env[] = {NULL};
		if (dup2(fd, 0) < 0)
			_exit(126);
		execve(HOLDER_EXEC_PATH, argv, env);
		_exit(127);
	}
	close(fd);
	assert_true(still_running(pid));
	/* what scancel --signal or srun's forwarding sends to every process of a step */
	kill(pid, SIGTERM);
	kill(pid, SIGUSR1);
	kill(pid, SIGINT);
	kill(pid, SIGHUP);
	assert_true(still_running(pid));
	kill(pid, SIGKILL); /* what RunTimeKill sends */
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(holder_fd_is_a_sealed_read_only_executable),
		cmocka_unit_test(holder_waits_through_step_signals_until_killed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
