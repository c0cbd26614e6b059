/* What the launcher needs to know of one task: who, which step, what to run, where. */
#ifndef SPANK_OCI_TASK_H
#define SPANK_OCI_TASK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct oci_options;

struct oci_task {
	uid_t uid;
	gid_t gid;
	gid_t *gids; /* supplementary groups */
	size_t ngids;
	const char *user;
	const char *home;
	uint32_t job_id, step_id, task_id;
	const char *node;
	const char *tmp_fs; /* Slurm's TmpFS on this node (PMIx client directories), or NULL */
	char *const *argv;
	char *const *env;
	const char *cwd;
	const char *shell;	   /* the user's login shell (passwd), or NULL */
	bool tty;		   /* stdin and stdout are a terminal: the container gets one */
	unsigned short rows, cols; /* its size, or 0 */
	bool interactive;	   /* Slurm's interactive step (salloc, use_interactive_step) */
	const char *batch_script;  /* host path bound read-only at the same path, or NULL */
	const struct oci_options *options; /* the user's container options, or NULL */
};

/* This node's short host name (up to the first dot), for %n outside Slurm's own name. */
void task_node_name(char *buf, size_t len);

/* rows and cols of t: the size of the terminal on stdin, if it is one. */
void task_terminal_size(struct oci_task *t);

#endif
