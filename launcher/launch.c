#include "launcher/launch.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fsutil.h"
#include "common/messages.h"
#include "common/proc.h"
#include "common/stop.h"
#include "common/strv.h"
#include "common/xalloc.h"
#include "conf/options.h"
#include "launcher/identity.h"
#include "launcher/image/bundle.h"
#include "launcher/image/squashfs.h"
#include "launcher/root/root.h"
#include "launcher/settings.h"
#include "launcher/runtime/cgroup.h"
#include "launcher/runtime/console.h"
#include "launcher/runtime/runtime.h"
#include "launcher/runtime/userns.h"
#include "launcher/shared/join.h"
#include "launcher/shared/shared.h"
#include "launcher/spec/litter.h"
#include "launcher/spec/mpi.h"
#include "launcher/spec/spec.h"
#include "launcher/spool.h"
#include "launcher/supervise.h"

struct launch {
	const struct oci_conf *conf;
	const struct oci_task *task;
	struct pattern_vars vars;
	char *spool;	   /* %m: the per-step directory */
	char *spool_dest;  /* MountSpoolDir expanded, or NULL */
	char *bundle_dir;  /* %b: the generated per-task bundle, inside %m */
	char *config_path; /* %b/config.json */
	char *pid_path;	   /* %b/pid: where RunTimeRun should write the main pid */
	char *env_file;	   /* %e, or NULL */
	char **runtime_env;
	struct oci_bundle *bundle;
	struct container_settings settings; /* the user's options merged with the site's */
	struct identity identity;
	struct userns userns; /* the task's namespace, where the runtime runs */
	bool in_userns;	      /* the runtime runs there (an overlay root, or runc's own ids) */
	struct container_root root; /* the task's container's root (shared mode: the step's) */
	struct runtime runtime;	    /* the task's own container's commands */
	struct console console;	    /* its terminal, where spank-oci relays it */
	bool state_may_remain;	    /* the runtime may have left state behind */
	int spool_fd;		    /* %m, share-locked while the task lives; -1 before prepare */
	struct litter_list litter;  /* mount points the runtime may create in the rootfs */
	struct cgroup2_container cgroup; /* CgroupPerContainer */
	json_t *spec;			 /* the task's config.json, once prepared */
	uint64_t waited_ns;		 /* in the runtime's and the container's processes */
};

/* A count Slurm gives the step (0 when there is none: outside Slurm). */
static unsigned long step_count(const struct oci_task *t, const char *name)
{
	const char *v = strv_env_get(t->env, name);

	return v != NULL ? strtoul(v, NULL, 10) : 0;
}

/*
 * --container-save: one container for the step (one task, or shared mode on one node),
 * whose root is an overlay; a relative path counts from the task's working directory.
 */
static int check_save(struct launch *l, oci_error_t *err)
{
	unsigned long tasks = step_count(l->task, "SLURM_STEP_NUM_TASKS");
	unsigned long nodes = step_count(l->task, "SLURM_STEP_NUM_NODES");
	char *path = l->settings.save;

	if (path[0] != '/') {
		if (l->task->cwd == NULL || l->task->cwd[0] != '/')
			return oci_error_make(err, 0,
					      "--container-save=%s: a relative path, and the task "
					      "has no working directory",
					      path);
		l->settings.save = path_join(l->task->cwd, path);
		free(path);
		path = l->settings.save;
	}
	if (l->conf->root_overlay == ROOT_OVERLAY_OFF)
		return oci_error_make(err, 0,
				      "--container-save needs the container's root on an overlay "
				      "(RootOverlay=off in %s)",
				      l->conf->path);
	if (nodes > 1)
		return oci_error_make(err, 0,
				      "--container-save: the step runs a container on each of its "
				      "%lu nodes, which would all save to %s: run it on one node",
				      nodes, path);
	if (tasks > 1 && !l->settings.shared)
		return oci_error_make(
			err, 0,
			"--container-save: the step's %lu tasks run a container each, "
			"which would all save to %s: use --container-shared, or one task",
			tasks, path);
	return 0;
}

/* The user's options with the site's defaults and policy, and the identity, as the user. */
static int apply_options(struct launch *l, const char *bundle_path, oci_error_t *err)
{
	struct oci_options none;
	const char *why;

	oci_options_init(&none);
	if (settings_resolve(l->task->options ? l->task->options : &none, l->conf, l->task->home,
			     mpi_step(l->task->env), &l->settings, err) < 0)
		return -1;
	if (l->settings.entrypoint && !l->bundle->is_image)
		return oci_error_make(
			err, 0,
			"--container-entrypoint needs an OCI image: %s is a bundle or "
			"root filesystem directory, which has no Entrypoint",
			bundle_path);
	if (l->settings.writable == OPT_ON && l->bundle->squashfs != NULL &&
	    l->conf->root_overlay == ROOT_OVERLAY_OFF)
		return oci_error_make(err, 0,
				      "--container-writable: %s is a squashfs image, which is "
				      "read-only without an overlay (RootOverlay=off in %s)",
				      bundle_path, l->conf->path);
	if (l->settings.save != NULL && check_save(l, err) < 0)
		return -1;
	if (identity_choose(l->conf, l->task, l->settings.remap_root,
			    /* an overlay's mounter (the user) reads the squashfs for runc */
			    l->bundle->squashfs != NULL &&
				    l->conf->root_overlay == ROOT_OVERLAY_OFF,
			    &l->identity, err) < 0)
		return -1;
	why = mpi_refusal(l->task->env, l->identity.kind == IDENTITY_REMAP_ROOT);
	return why != NULL ? oci_error_make(err, 0, "%s", why) : 0;
}

/* Paths and patterns of the task, and the bundle or image opened. */
static int open_task(struct launch *l, const char *bundle_path, oci_error_t *err)
{
	const struct oci_conf *conf = l->conf;
	const struct oci_task *task = l->task;
	const struct cache_limits limits = cache_limits_of(conf);
	cleanup_free char *image_cache = NULL;

	l->vars = (struct pattern_vars){
		.node = task->node,
		.user = task->user,
		.job_id = task->job_id,
		.step_id = task->step_id,
		.task_id = task->task_id,
		.uid = task->uid,
		.argv = task->argv,
	};
	if (spool_paths(conf, &l->vars, &l->spool, &l->bundle_dir, err) < 0)
		return -1;
	l->vars.spool = l->spool;
	l->vars.bundle = l->bundle_dir;
	if (conf->mount_spool_dir != NULL &&
	    pattern_expand_word(conf->mount_spool_dir, &l->vars, &l->spool_dest, err) < 0)
		return oci_error_wrap(err, "MountSpoolDir");
	l->config_path = path_join(l->bundle_dir, "config.json");
	l->pid_path = path_join(l->bundle_dir, "pid");
	if (conf->create_env_file != ENV_FILE_DISABLED)
		l->env_file = path_join(l->bundle_dir, "environment");
	l->vars.env_file = l->env_file;
	l->runtime_env = conf_env_without(task->env, &conf->runtime_env_exclude);
	if (pattern_expand_word(conf->image_cache, &l->vars, &image_cache, err) < 0)
		return oci_error_wrap(err, "ImageCache");
	if (bundle_open(bundle_path, conf->ignore_file_config_json, image_cache, &limits,
			&l->bundle, err) < 0)
		return -1;
	if (l->bundle->squashfs != NULL)
		l->bundle->rootfs = spool_squashfs_mount(l->spool);
	return 0;
}

/* The container's root, over the image: the task's own, or in shared mode the step's. */
static void init_root(struct launch *l)
{
	cleanup_free char *shared_dir = shared_dir_of(l->spool);

	container_root_init(&l->root, l->conf, l->bundle->rootfs,
			    l->settings.shared ? shared_dir : l->bundle_dir);
	l->root.outlives_task = l->settings.shared;
	l->vars.rootfs = container_root_path(&l->root);
}

int launch_new(const struct oci_conf *conf, const struct oci_task *task, const char *bundle_path,
	       struct launch **out, oci_error_t *err)
{
	struct launch *l = xcalloc(1, sizeof(*l));

	l->conf = conf;
	l->task = task;
	l->spool_fd = -1;
	l->cgroup.fd = -1;
	l->userns.fd = -1;
	console_init(&l->console);
	if (open_task(l, bundle_path, err) < 0 || apply_options(l, bundle_path, err) < 0) {
		launch_free(l);
		return -1;
	}
	init_root(l);
	l->in_userns =
		l->identity.kind == IDENTITY_OWN_SUBIDS || conf->root_overlay != ROOT_OVERLAY_OFF;
	userns_init(&l->userns, &l->identity.userns, l->runtime_env);
	runtime_init(&l->runtime, conf, &l->vars, l->bundle_dir, task->task_id, l->runtime_env,
		     l->in_userns ? &l->userns : NULL, &l->waited_ns);
	*out = l;
	return 0;
}

const char *launch_notice(const struct launch *l)
{
	return l->identity.notice;
}

int launch_spec(struct launch *l, json_t **spec, oci_error_t *err)
{
	cleanup_strv char **notices = NULL;
	struct spec_input in = {
		.conf = l->conf,
		.bundle = l->bundle,
		.task = l->task,
		.spool = l->spool,
		.spool_dest = l->spool_dest,
		.identity = l->identity.kind,
		.in_userns = l->in_userns,
		.root_path = container_root_path(&l->root),
		.settings = &l->settings,
		.notices = &notices,
	};
	int rc = spec_build(&in, spec, err);

	for (size_t i = 0; notices != NULL && notices[i] != NULL; i++)
		fprintf(stderr, SPANK_OCI_PREFIX "%s\n", notices[i]); /* the task's stderr */
	return rc;
}

static int write_env_file(struct launch *l, json_t *spec, oci_error_t *err)
{
	json_t *env = json_object_get(json_object_get(spec, "process"), "env"), *v;
	char sep = l->conf->create_env_file == ENV_FILE_NEWLINE ? '\n' : '\0';
	cleanup_free char *data = NULL;
	size_t len = 0, i;
	FILE *mem = open_memstream(&data, &len);

	if (mem == NULL)
		return oci_error_make(err, errno, "environment file");
	json_array_foreach(env, i, v)
	{
		const char *entry = json_string_value(v);
		if (sep == '\n' && strchr(entry, '\n') != NULL)
			continue; /* as Slurm does: such variables are dropped */
		fputs(entry, mem);
		fputc(sep, mem);
	}
	if (fclose(mem) != 0)
		return oci_error_make(err, errno, "environment file");
	return fs_write_file(l->env_file, data, len, err);
}

/*
 * What the runtime may create in the root filesystem for us: mount points (spool, batch
 * script, ContainerMounts, home, --container-mounts) and --container-workdir.
 */
static int note_litter(struct launch *l, oci_error_t *err)
{
	const char *rootfs = l->bundle->rootfs;

	if (l->spool_dest != NULL && litter_list_note(&l->litter, rootfs, l->spool_dest, err) < 0)
		return -1;
	if (l->task->batch_script != NULL &&
	    litter_list_note(&l->litter, rootfs, l->task->batch_script, err) < 0)
		return -1;
	for (size_t i = 0; i < l->settings.mounts.n; i++) {
		if (litter_list_note(&l->litter, rootfs, l->settings.mounts.v[i].dst, err) < 0)
			return -1;
	}
	if (l->settings.workdir != NULL &&
	    litter_list_note(&l->litter, rootfs, l->settings.workdir, err) < 0)
		return -1;
	return 0;
}

static int launch_prepare(struct launch *l, oci_error_t *err)
{
	json_t *spec = NULL;
	int rc = -1;

	if (spool_enter(l->spool, l->bundle_dir, &l->spool_fd, err) < 0)
		return -1;
	if (l->bundle->squashfs != NULL) {
		cleanup_free char *lock = spool_squashfs_lock(l->spool);

		if (squashfs_mount(l->bundle->squashfs, l->bundle->rootfs, lock, l->runtime_env,
				   err) < 0)
			return oci_error_wrap(err, "squashfs image %s", l->bundle->squashfs);
	}
	if (launch_spec(l, &spec, err) < 0)
		return -1;
	/* shared mode: the tasks run no container of their own (shared.c writes the step's) */
	if (!l->settings.shared && spec_write(spec, l->config_path, err) < 0)
		goto out;
	if (l->env_file != NULL && write_env_file(l, spec, err) < 0)
		goto out;
	/* without an overlay, what the runtime makes in the image is removed after it */
	if (l->conf->root_overlay == ROOT_OVERLAY_OFF && note_litter(l, err) < 0)
		goto out;
	if (!l->settings.shared &&
	    container_root_mount(&l->root, &l->userns, spec, l->runtime_env, err) < 0) {
		oci_error_wrap(err, "the container's root over %s", l->bundle->rootfs);
		goto out;
	}
	l->spec = json_incref(spec);
	rc = 0;
out:
	json_decref(spec);
	return rc;
}

/* The step's side of this task, for the shared container's runtime commands. */
static struct shared_step shared_step_of(struct launch *l)
{
	return (struct shared_step){
		.conf = l->conf,
		.spool = l->spool,
		.vars = &l->vars,
		.env = l->runtime_env,
		.userns = l->runtime.userns,
		.root = &l->root,
		.waited_ns = &l->waited_ns,
	};
}

/*
 * A task at a terminal whose runtime hands the container's terminal to spank-oci (op's
 * template: see runtime_takes_console): the socket it sends it to, in the task's bundle.
 */
static int relay_console(struct launch *l, char **words, const char *op, oci_error_t *err)
{
	cleanup_free char *path = NULL;

	if (!l->task->tty || !runtime_takes_console(words, op))
		return 0;
	path = path_join(l->bundle_dir, "console.sock");
	if (console_listen(&l->console, path, err) < 0)
		return -1;
	l->runtime.console_socket = l->console.path;
	return 0;
}

/* RunTimeCreate + RunTimeStart, then the container's init, reparented to us, to its end. */
static int run_create_start(struct launch *l, int *wstatus, oci_error_t *err)
{
	pid_t pid = 0;
	uint64_t started;

	if (relay_console(l, l->conf->runtime_create, "create", err) < 0)
		return -1;
	l->state_may_remain = true;
	if (runtime_command(&l->runtime, "create", l->conf->runtime_create, PROC_IO_INHERIT, -1,
			    err) < 0 ||
	    runtime_state_pid(&l->runtime, &pid, err) < 0)
		return -1;
	l->runtime.vars.pid = pid;
	if (runtime_command(&l->runtime, "start", l->conf->runtime_start, PROC_IO_CAPTURE, -1,
			    err) < 0)
		return -1;
	started = proc_now_ns();
	if (supervise_container(pid, &l->console, wstatus, err) < 0)
		return -1;
	console_finish(&l->console);
	l->waited_ns += proc_now_ns() - started;
	return 0;
}

/* RunTimeRun to its end: the runtime forwards signals (it is in the task's group). */
static int run_run(struct launch *l, int *wstatus, oci_error_t *err)
{
	uint64_t started;
	pid_t pid;
	int rc;

	if (relay_console(l, l->conf->runtime_run, "run", err) < 0 ||
	    runtime_spawn_run(&l->runtime, &pid, err) < 0)
		return -1;
	started = proc_now_ns();
	l->state_may_remain = true;
	rc = supervise_runtime(pid, l->pid_path, &l->console, wstatus, err);
	console_finish(&l->console);
	l->waited_ns += proc_now_ns() - started;
	if (rc == 0 && WIFEXITED(*wstatus) && WEXITSTATUS(*wstatus) != 0)
		rc = runtime_run_error(&l->runtime, err);
	/* runc run and crun run delete their own state when they end normally */
	if (rc == 0 && WIFEXITED(*wstatus)) {
		l->state_may_remain = false;
		*wstatus = supervise_status_of_run(*wstatus);
	}
	return rc;
}

/*
 * Shared mode: the task joins the step's container on this node (created by the first
 * task) in a child of its own, which keeps the task's stdio, environment and cgroup; the
 * child's status is the task's, exactly. Signals reach the child directly: it is in the
 * task's process group.
 */
static int run_joined(struct launch *l, const struct join_target *target, int *wstatus,
		      oci_error_t *err)
{
	uint64_t started = proc_now_ns();
	pid_t pid = fork();

	if (pid < 0)
		return oci_error_make(err, errno, "fork");
	if (pid == 0) {
		for (int sig = 1; sig < NSIG; sig++)
			signal(sig, SIG_DFL);
		if (l->cgroup.fd >= 0 && proc_enter_cgroup(l->cgroup.fd) < 0) {
			fprintf(stderr,
				SPANK_OCI_PREFIX "cannot enter the container's cgroup: %s\n",
				strerror(errno));
			_exit(127);
		}
		join_exec(target, l->spec);
	}
	if (proc_wait(pid, wstatus) < 0)
		return oci_error_make(err, errno, "waiting for the task in the container");
	l->waited_ns += proc_now_ns() - started;
	return 0;
}

static int launch_run(struct launch *l, int *wstatus, oci_error_t *err)
{
	struct join_target target;
	struct shared_step step = shared_step_of(l);
	int rc;

	*wstatus = 1 << 8; /* exit status 1 until the container says otherwise */
	/* before becoming a subreaper: the shared container's first process must not be ours */
	if (l->settings.shared && shared_container_get(&step, l->spec, &target, err) < 0)
		return -1;
	if (supervise_begin(err) < 0)
		return -1;
	/* from here the signals are the container's; one that came before stops the task */
	if (stop_requested())
		return stop_error(err, "before the container started");
	if (l->conf->cgroup_per_container) {
		cleanup_free char *name = xasprintf("spank-oci.%u.%u.%u", l->vars.job_id,
						    l->vars.step_id, l->vars.task_id);
		cgroup2_container_make(name, &l->cgroup);
		l->runtime.cgroup_fd = l->cgroup.fd;
	}
	if (l->settings.shared)
		rc = run_joined(l, &target, wstatus, err);
	else if (l->conf->runtime_run != NULL)
		rc = run_run(l, wstatus, err);
	else
		rc = run_create_start(l, wstatus, err);
	supervise_end();
	cgroup2_container_remove(&l->cgroup);
	l->runtime.cgroup_fd = -1;
	if (rc < 0 && WIFEXITED(*wstatus) && WEXITSTATUS(*wstatus) == 0)
		*wstatus = 1 << 8;
	return rc;
}

/* The step's squashfs mount goes with its last task on the node (or the sweep). */
static void unmount_squashfs(const char *spool, char *const *env)
{
	cleanup_free char *mountpoint = spool_squashfs_mount(spool);

	squashfs_unmount(mountpoint, env);
}

static int remove_litter(void *arg, oci_error_t *err)
{
	struct launch *l = arg;

	(void)err;
	litter_list_remove(&l->litter, l->bundle->rootfs);
	return 0;
}

/* --container-save=PATH: the task's container's root, once it has ended, or the step's. */
static int save_root(struct launch *l, oci_error_t *err)
{
	if (container_root_save(&l->root, &l->userns, l->settings.save, l->task->uid, l->task->gid,
				l->runtime_env, err) < 0)
		return oci_error_wrap(err, "--container-save=%s", l->settings.save);
	return 0;
}

/* Shared mode: the step's container is saved by the last task on the node, once it ended. */
static int save_shared_root(struct launch *l, oci_error_t *err)
{
	struct shared_step step = shared_step_of(l);

	shared_container_stop(&step);
	return save_root(l, err);
}

/*
 * Removes runtime state and generated files; safe to call twice. save: the container ran,
 * and --container-save asks for its root (the only thing here that can fail).
 */
static int launch_cleanup(struct launch *l, bool save, oci_error_t *save_err)
{
	cleanup_error oci_error_t err = NULL;
	int rc = 0;

	if (l->state_may_remain) {
		runtime_kill_delete(&l->runtime);
		l->state_may_remain = false;
	}
	save = save && l->settings.save != NULL;
	if (save && !l->settings.shared)
		rc = save_root(l, save_err);
	if (!l->settings.shared)
		container_root_remove(&l->root, &l->userns);
	/* in a namespace of its own, runc made them as the subordinate id: remove them there */
	if (l->identity.kind != IDENTITY_OWN_SUBIDS)
		remove_litter(l, &err);
	else if (l->litter.n > 0)
		userns_run(&l->userns, remove_litter, l, &err);
	litter_list_release(&l->litter);
	/* the task's namespace, and with it its overlay, goes now (shared mode: its holder's) */
	if (!l->settings.shared)
		userns_release(&l->userns);
	if (save && l->settings.shared && l->spool_fd >= 0 && spool_is_last(l->spool_fd))
		rc = save_shared_root(l, save_err);
	if (l->conf->disable_cleanup || l->spool_fd < 0)
		return rc;
	fs_remove_tree(l->bundle_dir, &err);
	/* the last task of the step on this node removes %m (runtime root and all) */
	if (spool_is_last(l->spool_fd)) {
		struct shared_step step = shared_step_of(l);

		shared_container_remove(&step);
		unmount_squashfs(l->spool, l->runtime_env);
		fs_remove_tree(l->spool, &err);
	}
	close(l->spool_fd);
	l->spool_fd = -1;
	return rc;
}

void launch_free(struct launch *l)
{
	if (l == NULL)
		return;
	console_finish(&l->console); /* the task's terminal as it was, whatever happened */
	runtime_release(&l->runtime);
	container_root_release(&l->root);
	userns_release(&l->userns);
	identity_release(&l->identity);
	cgroup2_container_remove(&l->cgroup);
	litter_list_release(&l->litter);
	free(l->spool);
	free(l->spool_dest);
	free(l->bundle_dir);
	free(l->config_path);
	free(l->pid_path);
	free(l->env_file);
	strv_free(l->runtime_env);
	if (l->spool_fd >= 0)
		close(l->spool_fd);
	json_decref(l->spec);
	settings_release(&l->settings);
	bundle_free(l->bundle);
	free(l);
}

int launch_task(const struct oci_conf *conf, const struct oci_task *task, const char *bundle_path,
		const struct timing_mark *start, int *wstatus, oci_error_t *err)
{
	struct launch *l = NULL;
	int rc;

	*wstatus = 1 << 8;
	if (launch_new(conf, task, bundle_path, &l, err) < 0)
		return -1;
	if (launch_notice(l) != NULL && task->task_id == 0) {
		fprintf(stderr, SPANK_OCI_PREFIX "%s\n", launch_notice(l)); /* once per step */
		fflush(stderr);
	}
	rc = launch_prepare(l, err);
	if (rc < 0)
		oci_error_wrap(err, "cannot set up the container");
	else
		rc = launch_run(l, wstatus, err);
	if (launch_cleanup(l, rc == 0, err) < 0) {
		rc = -1;
		*wstatus = 1 << 8;
	}
	if (rc == 0 && timing_wanted(task->env))
		timing_report(task->task_id, start, l->waited_ns);
	launch_free(l);
	return rc;
}
