/* The step sweep: what the step's tasks on this node left behind, removed as the user. */
#include <dirent.h>
#include <stdlib.h>

#include "common/cleanup.h"
#include "common/fsutil.h"
#include "common/strv.h"
#include "conf/conf.h"
#include "launcher/image/squashfs.h"
#include "launcher/launch.h"
#include "launcher/runtime/runtime.h"
#include "launcher/shared/shared.h"
#include "launcher/spool.h"

/* RunTimeKill and RunTimeDelete for the container of each task directory in spool. */
static void sweep_tasks(const struct oci_conf *conf, const struct pattern_vars *vars,
			const char *spool, char *const *env)
{
	cleanup_dir DIR *d = opendir(spool);
	struct dirent *e;

	while (d != NULL && (e = readdir(d)) != NULL) {
		cleanup_free char *bundle_dir = NULL;
		struct runtime rt;
		uint32_t task_id;

		if (!spool_task_of(e->d_name, &task_id))
			continue;
		bundle_dir = path_join(spool, e->d_name);
		runtime_init(&rt, conf, vars, bundle_dir, task_id, env, NULL, NULL);
		runtime_kill_delete(&rt);
		runtime_release(&rt);
	}
}

void launch_sweep(const struct oci_conf *conf, const struct pattern_vars *step_vars,
		  char *const *env)
{
	cleanup_free char *spool = NULL, *squashfs_root = NULL;
	cleanup_strv char **runtime_env = NULL;
	cleanup_error oci_error_t err = NULL;
	struct pattern_vars vars;
	struct shared_step step;

	if (spool_paths(conf, step_vars, &spool, NULL, &err) < 0)
		return;
	runtime_env = conf_env_without(env, &conf->runtime_env_exclude);
	vars = (struct pattern_vars){
		.node = step_vars->node,
		.user = step_vars->user,
		.job_id = step_vars->job_id,
		.step_id = step_vars->step_id,
		.uid = step_vars->uid,
		.spool = spool,
	};
	sweep_tasks(conf, &vars, spool, runtime_env);
	step = (struct shared_step){
		.conf = conf, .spool = spool, .vars = &vars, .env = runtime_env};
	shared_container_remove(&step);
	squashfs_root = spool_squashfs_mount(spool);
	squashfs_unmount(squashfs_root, runtime_env);
	if (!conf->disable_cleanup)
		fs_remove_tree(spool, &err);
}
