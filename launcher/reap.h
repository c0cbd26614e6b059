/* The supervisor is a child subreaper: what the container leaves behind comes back to it. */
#ifndef SPANK_OCI_REAP_H
#define SPANK_OCI_REAP_H

/* Kills (SIGKILL) and reaps every remaining child until none is left. */
void reap_kill_children(void);

#endif
