#include "launcher/spec/pmix.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fsutil.h"
#include "common/strv.h"
#include "common/xalloc.h"

/* Where Slurm's PMIx plugin puts a client's directory when the environment does not say. */
#define DEFAULT_APPDIR_BASE "/tmp"

/* path, without trailing slashes, when its last component is exactly name. */
static char *named(const char *path, const char *name)
{
	size_t len = strlen(path), nlen = strlen(name);

	while (len > 1 && path[len - 1] == '/')
		len--;
	if (path[0] != '/' || len <= nlen || path[len - nlen - 1] != '/' ||
	    strncmp(path + len - nlen, name, nlen) != 0)
		return NULL;
	return xstrndup(path, len);
}

char **pmix_dirs(char *const *task_env, const char *tmp_fs, uid_t uid, uint32_t job_id,
		 uint32_t step_id)
{
	const char *server = strv_env_get(task_env, "PMIX_SERVER_TMPDIR");
	/* where Slurm's PMIx plugin makes client directories: as it chooses (mpi.conf aside) */
	const char *base = strv_env_get(task_env, "SLURM_PMIX_TMPDIR");
	char **dirs = NULL, *dir, name[64];
	size_t n = 0;

	if (server == NULL)
		return NULL; /* not a PMIx step */
	snprintf(name, sizeof(name), "pmix.%u.%u", job_id, step_id);
	dir = named(server, name);
	if (dir != NULL && fs_is_dir(dir))
		strv_push_owned(&dirs, &n, dir);
	else
		free(dir);
	snprintf(name, sizeof(name), "spmix_appdir_%u_%u.%u", (unsigned)uid, job_id, step_id);
	if (base == NULL || base[0] != '/')
		base = tmp_fs;
	dir = xasprintf("%s/%s", base != NULL && base[0] == '/' ? base : DEFAULT_APPDIR_BASE, name);
	if (fs_is_dir(dir))
		strv_push_owned(&dirs, &n, dir);
	else
		free(dir);
	return dirs;
}

void pmix_env(char ***env, size_t *len)
{
	static const char *const pairs[][2] = {{"PMIX_MCA_ptl", "PMIX_PTL_MODULE"},
					       {"PMIX_MCA_psec", "PMIX_SECURITY_MODE"},
					       {"PMIX_MCA_gds", "PMIX_GDS_MODULE"}};

	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		const char *server = strv_env_get(*env, pairs[i][1]);

		if (server != NULL && strv_env_get(*env, pairs[i][0]) == NULL)
			strv_push_owned(env, len, xasprintf("%s=%s", pairs[i][0], server));
	}
}
