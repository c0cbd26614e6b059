/* The supervisor is a child subreaper: what the container leaves behind comes back to it. */
#ifndef SPANK_OCI_REAP_H
#define SPANK_OCI_REAP_H

#include <sys/types.h>

/* Waits for the child pid through EINTR; *status may be NULL. 0, or -1 with errno. */
int reap_wait(pid_t pid, int *status);

/* Kills (SIGKILL) and reaps every remaining child until none is left. */
void reap_kill_children(void);

/* SIGKILLs every descendant of root (not root itself); returns how many. */
int reap_kill_descendants(pid_t root);

#endif
