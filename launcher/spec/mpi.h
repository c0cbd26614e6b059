/*
 * MPI steps (srun --mpi=X, or MpiDefault): which they are, and what Open MPI in a per-task
 * container needs. Per-task containers are separate user namespaces, where the kernel
 * refuses one rank's process_vm_readv of another (CMA, Open MPI's single-copy transport
 * between the ranks of a node); Open MPI 4.1 sees that but its fallback hangs, so a
 * per-task container of an MPI step gets OMPI_MCA_btl_vader_single_copy_mechanism=none
 * (copy through the shared-memory segments) unless the user set it. Shared mode, the
 * default for MPI steps, keeps CMA: its ranks share one user namespace.
 */
#ifndef SPANK_OCI_SPEC_MPI_H
#define SPANK_OCI_SPEC_MPI_H

#include <stdbool.h>
#include <stddef.h>

/* Whether the task's environment is an MPI step's (SLURM_MPI_TYPE set, not "none"). */
bool mpi_step(char *const *task_env);

/*
 * Why the MPI step of task_env cannot run in a container, or NULL when it can. uid0_inside:
 * the container's process would be uid 0 (mapped to the user). PMI-2 (srun --mpi=pmi2)
 * is not offered (README, "MPI"); Slurm's PMIx server accepts only clients whose uid is
 * the job's, which uid 0 inside is not.
 */
const char *mpi_refusal(char *const *task_env, bool uid0_inside);

/*
 * Adds to env (a strv of length *len: the container's) what Open MPI needs in a per-task
 * container of an MPI step (task_env: the task's own).
 */
void mpi_per_task_env(char *const *task_env, char ***env, size_t *len);

#endif
