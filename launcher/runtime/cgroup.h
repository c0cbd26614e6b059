/*
 * cgroup v2, through the kernel's files: where a process sits, a child cgroup for a
 * container, and killing everything in a subtree. (libcgroup is not used: see README,
 * "Why not libcgroup".)
 */
#ifndef SPANK_OCI_CGROUP_H
#define SPANK_OCI_CGROUP_H

#include <sys/types.h>

#include "common/error.h"

/* The cgroup2 mount point, from mountinfo (e.g. /proc/self/mountinfo). */
int cgroup2_mount(const char *mountinfo, char **mount, oci_error_t *err);

/* The "0::" path of a process (e.g. /proc/self/cgroup), relative to the cgroup2 mount. */
int cgroup2_path_of(const char *proc_cgroup, char **path, oci_error_t *err);

/*
 * Kills every process in dir and its descendants (cgroup.kill where the kernel has it,
 * else SIGKILL to each pid in cgroup.procs while the subtree is frozen, until all are
 * empty), waiting (bounded) until they are gone. Every directory under dir is opened
 * from its parent's fd, following no symlink. Returns the number of processes found.
 */
int cgroup2_kill_tree(const char *dir, oci_error_t *err);

/*
 * The step's cgroup of a slurmstepd in Slurm's cgroup/v2 layout, derived from its own
 * cgroup path (".../job_<job>/step_<step>/slurm"); NULL when the path is not that
 * layout for these ids (other plugins: nothing to do).
 */
char *cgroup2_slurm_step_dir(const char *mount, const char *self_path, unsigned job,
			     const char *step);

/*
 * CgroupPerContainer: a child of the calling task's cgroup for one container, where the
 * user may create one (Slurm's cgroup/v2 gives task_<n> to the user); fd -1 where not
 * (the container then stays in the task's cgroup, as by default). Removal kills what is
 * left in it first.
 */
struct cgroup2_container {
	char *path;
	int fd; /* O_PATH, for proc_cmd.cgroup_fd and proc_enter_cgroup; or -1 */
};

void cgroup2_container_make(const char *name, struct cgroup2_container *c);
void cgroup2_container_remove(struct cgroup2_container *c);

#endif
