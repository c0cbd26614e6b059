#include "common/proc.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* The parent pid from /proc/<pid>/stat (the field after the parenthesised name). */
static pid_t parent_of(const char *pid)
{
	char path[320], buf[512];
	FILE *f;
	char *p;
	size_t n;
	int ppid = -1;

	snprintf(path, sizeof(path), "/proc/%s/stat", pid);
	f = fopen(path, "re");
	if (f == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (p == NULL || sscanf(p + 1, " %*c %d", &ppid) != 1)
		return -1;
	return ppid;
}

int reap_kill_descendants(pid_t root)
{
	pid_t tree[4096];
	size_t n = 1;
	int killed = 0;
	bool grew = true;

	tree[0] = root;
	/* grow the set of known descendants until a pass adds nothing */
	while (grew && n < sizeof(tree) / sizeof(tree[0])) {
		DIR *d = opendir("/proc");
		struct dirent *e;

		grew = false;
		while (d != NULL && (e = readdir(d)) != NULL &&
		       n < sizeof(tree) / sizeof(tree[0])) {
			pid_t pid, ppid;
			bool known = false;

			if (e->d_name[0] < '0' || e->d_name[0] > '9')
				continue;
			pid = (pid_t)atoi(e->d_name);
			ppid = parent_of(e->d_name);
			for (size_t i = 0; i < n && !known; i++)
				known = tree[i] == pid;
			for (size_t i = 0; i < n && !known; i++) {
				if (tree[i] == ppid) {
					tree[n++] = pid;
					grew = true;
					break;
				}
			}
		}
		if (d != NULL)
			closedir(d);
	}
	for (size_t i = 1; i < n; i++) {
		if (kill(tree[i], SIGKILL) == 0)
			killed++;
	}
	return killed;
}

int reap_wait(pid_t pid, int *status)
{
	while (waitpid(pid, status, 0) < 0) {
		if (errno != EINTR)
			return -1;
	}
	return 0;
}

void reap_kill_children(void)
{
	int status;

	for (;;) {
		pid_t pid = waitpid(-1, &status, WNOHANG);

		if (pid > 0 || (pid < 0 && errno == EINTR))
			continue;
		if (pid < 0)
			return; /* ECHILD: nothing left */
		/* children remain and live: kill them, then wait for one and look again */
		reap_kill_descendants(getpid());
		waitpid(-1, &status, 0);
	}
}
