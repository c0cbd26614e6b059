/*
 * What a PMIx client in the container needs of Slurm's PMIx server (srun --mpi=pmix), as
 * enroot's slurm-pmi hook gives it: the step's server directory (PMIX_SERVER_TMPDIR,
 * SlurmdSpoolDir/pmix.JOB.STEP: the server's shared-memory store) and its application
 * directory (SLURM_PMIX_TMPDIR, else Slurm's TmpFS, else /tmp: spmix_appdir_UID_JOB.STEP)
 * bound at the same paths; and PMIX_MCA_ptl,
 * PMIX_MCA_psec and PMIX_MCA_gds set to the server's PMIX_PTL_MODULE, PMIX_SECURITY_MODE
 * and PMIX_GDS_MODULE, so that a client of another PMIx build speaks the server's way.
 * Only directories named for this job and step are bound, whatever the environment says.
 */
#ifndef SPANK_OCI_SPEC_PMIX_H
#define SPANK_OCI_SPEC_PMIX_H

#include <stdint.h>
#include <sys/types.h>

/*
 * The host directories of the step's PMIx server to bind (strv; NULL when none). tmp_fs:
 * Slurm's TmpFS on this node, or NULL.
 */
char **pmix_dirs(char *const *task_env, const char *tmp_fs, uid_t uid, uint32_t job_id,
		 uint32_t step_id);

/* Adds to env (a strv of length *len) the PMIX_MCA_* variables the server's call for. */
void pmix_env(char ***env, size_t *len);

#endif
