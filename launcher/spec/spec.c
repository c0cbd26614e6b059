#include "launcher/spec/spec.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fsutil.h"
#include "common/strv.h"
#include "common/text.h"
#include "common/xalloc.h"
#include "launcher/spec/env.h"
#include "launcher/spec/mpi.h"
#include "launcher/spec/pmix.h"
#include "launcher/spec/policy.h"
#include "launcher/spec/shell.h"

#define OCI_VERSION "1.0.2"

/* json_object_set_new, checked: value NULL (a failed json_pack) is an error too. */
static int set_new(json_t *obj, const char *key, json_t *value, oci_error_t *err)
{
	if (json_object_set_new(obj, key, value) < 0)
		return oci_error_make(err, 0, "cannot build config.json: %s", key);
	return 0;
}

/* json_array_append_new, checked the same way. */
static int append_new(json_t *array, json_t *value, const char *what, oci_error_t *err)
{
	if (json_array_append_new(array, value) < 0)
		return oci_error_make(err, 0, "cannot build config.json: %s", what);
	return 0;
}

/* JSON strings are UTF-8: anything else is refused, named, its bytes escaped. */
static int check_utf8(const char *s, const char *what, oci_error_t *err)
{
	cleanup_free char *shown = NULL;

	if (text_is_utf8(s))
		return 0;
	shown = text_escape(s);
	return oci_error_make(err, 0, "%s is not valid UTF-8: %s", what, shown);
}

bool spec_runtime_needs_root_mapped(const struct oci_conf *conf)
{
	/* runc 1.1.5 rootless refuses a config without uid 0 mapped */
	return strcmp(oci_conf_runtime_name(conf), "runc") == 0;
}

/* Does path exist inside rootfs, resolving symlinks as the container would? */
static bool exists_in_root(const char *rootfs, const char *path)
{
	cleanup_close int root = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	cleanup_close int fd = root >= 0 ? fs_open_in_root(root, path, O_PATH) : -1;

	return fd >= 0;
}

/* The task's argv as a JSON array; an argument that is not UTF-8 is refused. */
static json_t *args_to_json(char *const *argv, oci_error_t *err)
{
	json_t *a = json_array();

	if (a == NULL) {
		oci_error_make(err, ENOMEM, "process.args");
		return NULL;
	}
	for (size_t i = 0; argv != NULL && argv[i] != NULL; i++) {
		cleanup_free char *what = xasprintf("argument %zu of the task", i + 1);

		if (check_utf8(argv[i], what, err) < 0 ||
		    append_new(a, json_string(argv[i]), "process.args", err) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

/* Options for a bind mount; read-only binds repeat the source's nosuid/nodev/noexec. */
static json_t *bind_mount(const char *src, const char *dst, bool ro, bool recursive,
			  oci_error_t *err)
{
	static const struct {
		unsigned long flag;
		const char *option;
	} flags[] = {{ST_NOSUID, "nosuid"}, {ST_NODEV, "nodev"}, {ST_NOEXEC, "noexec"}};
	struct statvfs vfs;
	json_t *opts, *m;

	if (check_utf8(src, "mount source", err) < 0 ||
	    check_utf8(dst, "mount destination", err) < 0)
		return NULL;
	opts = json_pack("[s]", recursive ? "rbind" : "bind");
	if (opts == NULL || (ro && append_new(opts, json_string("ro"), "mounts", err) < 0))
		goto fail;
	for (size_t i = 0; ro && statvfs(src, &vfs) == 0 && i < sizeof(flags) / sizeof(flags[0]);
	     i++) {
		if ((vfs.f_flag & flags[i].flag) &&
		    append_new(opts, json_string(flags[i].option), "mounts", err) < 0)
			goto fail;
	}
	m = json_pack("{s:s, s:s, s:s, s:o}", "destination", dst, "type", "bind", "source", src,
		      "options", opts);
	if (m == NULL)
		oci_error_make(err, 0, "cannot build config.json: mounts");
	return m;
fail:
	json_decref(opts);
	oci_error_make(err, 0, "cannot build config.json: mounts");
	return NULL;
}

/* A read-only root filesystem gets tmpfs where programs expect to write (if there). */
static int add_writable_places(const char *rootfs, json_t *mounts, oci_error_t *err)
{
	static const char *const places[][2] = {
		{"/tmp", "mode=1777"}, {"/var/tmp", "mode=1777"}, {"/run", "mode=755"}};

	for (size_t i = 0; i < sizeof(places) / sizeof(places[0]); i++) {
		if (!exists_in_root(rootfs, places[i][0]))
			continue;
		if (append_new(mounts,
			       json_pack("{s:s, s:s, s:s, s:[s,s,s]}", "destination", places[i][0],
					 "type", "tmpfs", "source", "tmpfs", "options", "nosuid",
					 "nodev", places[i][1]),
			       "mounts", err) < 0)
			return -1;
	}
	return 0;
}

static bool root_readonly(const struct spec_input *in);

static int add_pmix_mounts(const struct oci_task *t, json_t *mounts, oci_error_t *err)
{
	cleanup_strv char **dirs = pmix_dirs(t->env, t->tmp_fs, t->uid, t->job_id, t->step_id);

	for (size_t i = 0; dirs != NULL && dirs[i] != NULL; i++) {
		if (append_new(mounts, bind_mount(dirs[i], dirs[i], false, false, err), "mounts",
			       err) < 0)
			return -1;
	}
	return 0;
}

static int build_mounts(const struct spec_input *in, json_t *spec, oci_error_t *err)
{
	json_t *old = json_object_get(spec, "mounts"), *mounts, *m;
	size_t i;

	mounts = json_pack("[o,o,o]", bind_mount("/proc", "/proc", false, true, err),
			   bind_mount("/sys", "/sys", true, true, err),
			   bind_mount("/dev", "/dev", false, true, err));
	if (mounts == NULL)
		return oci_error_make(err, ENOMEM, "mounts");
	json_array_foreach(old, i, m)
	{
		const char *dst = json_string_value(json_object_get(m, "destination"));
		/* our namespaces share the host's /proc, /sys and /dev: drop the bundle's */
		if (dst == NULL || mounts_host_owned_destination(dst))
			continue;
		/* the site's mount policy holds for the bundle's own mounts too */
		if (spec_policy_bundle_mount(in->conf, in->bundle->path, m, err) < 0) {
			json_decref(mounts);
			return -1;
		}
		if (json_array_append(mounts, m) < 0)
			goto fail;
	}
	/*
	 * A terminal's pty is bound over /dev/console by the runtime, which first opens it
	 * for writing: the host's is root's, so the container's starts as the host's
	 * /dev/null (which anyone may open).
	 */
	if (in->task->tty &&
	    append_new(mounts, bind_mount("/dev/null", "/dev/console", false, false, err), "mounts",
		       err) < 0)
		goto fail;
	if (in->spool != NULL && in->spool_dest != NULL &&
	    append_new(mounts, bind_mount(in->spool, in->spool_dest, false, false, err), "mounts",
		       err) < 0)
		goto fail;
	if (in->task->batch_script != NULL &&
	    append_new(mounts,
		       bind_mount(in->task->batch_script, in->task->batch_script, true, false, err),
		       "mounts", err) < 0)
		goto fail;
	/* an image's read-only root keeps the usual writable places */
	if ((in->bundle->is_image || in->bundle->squashfs) && root_readonly(in) &&
	    add_writable_places(in->bundle->rootfs, mounts, err) < 0)
		goto fail;
	/* srun --mpi=pmix: the step's PMIx server's directories */
	if (add_pmix_mounts(in->task, mounts, err) < 0)
		goto fail;
	/* ContainerMounts, the home directory, --container-mounts: in that order */
	for (i = 0; in->settings != NULL && i < in->settings->mounts.n; i++) {
		const struct mount_request *r = &in->settings->mounts.v[i];
		if (append_new(mounts, bind_mount(r->src, r->dst, r->ro, true, err), "mounts",
			       err) < 0)
			goto fail;
	}
	return set_new(spec, "mounts", mounts, err);
fail:
	json_decref(mounts);
	return oci_error_make(err, 0, "cannot build config.json: mounts");
}

/* in_userns: the runtime runs as uid 0 of the task's namespace, which is the user */
static json_t *id_mapping(enum spec_identity identity, unsigned id, bool in_userns)
{
	json_int_t user = in_userns ? 0 : (json_int_t)id;

	switch (identity) {
	case IDENTITY_OWN:
		return json_pack("[{s:I, s:I, s:i}]", "containerID", (json_int_t)id, "hostID", user,
				 "size", 1);
	case IDENTITY_OWN_SUBIDS:
		/* counted in the runtime's own namespace: 0 is the user, 1 a subordinate id */
		return json_pack("[{s:I, s:i, s:i}, {s:i, s:i, s:i}]", "containerID",
				 (json_int_t)id, "hostID", 0, "size", 1, "containerID", 0, "hostID",
				 1, "size", 1);
	default:
		return json_pack("[{s:i, s:I, s:i}]", "containerID", 0, "hostID", user, "size", 1);
	}
}

static int build_linux(const struct spec_input *in, json_t *spec, oci_error_t *err)
{
	json_t *linux = json_object_get(spec, "linux");
	const struct oci_task *t = in->task;

	if (!json_is_object(linux)) {
		linux = json_object();
		if (set_new(spec, "linux", linux, err) < 0)
			return -1;
	}
	/* the container stays in the task's cgroup and under Slurm's limits */
	json_object_del(linux, "cgroupsPath");
	json_object_del(linux, "resources");
	/* these need namespaces or privileges the task does not have */
	json_object_del(linux, "sysctl");
	json_object_del(linux, "devices");
	json_object_del(linux, "maskedPaths");
	json_object_del(linux, "readonlyPaths");
	if (set_new(linux, "namespaces",
		    json_pack("[{s:s},{s:s}]", "type", "user", "type", "mount"), err) < 0 ||
	    set_new(linux, "uidMappings", id_mapping(in->identity, t->uid, in->in_userns), err) <
		    0 ||
	    set_new(linux, "gidMappings", id_mapping(in->identity, t->gid, in->in_userns), err) < 0)
		return -1;
	return 0;
}

static json_t *default_spec(void)
{
	return json_pack("{s:s, s:{s:[s,s,s], s:[s,s,s], s:[s,s,s]}}", "ociVersion", OCI_VERSION,
			 "capabilities", "bounding", "CAP_AUDIT_WRITE", "CAP_KILL",
			 "CAP_NET_BIND_SERVICE", "effective", "CAP_AUDIT_WRITE", "CAP_KILL",
			 "CAP_NET_BIND_SERVICE", "permitted", "CAP_AUDIT_WRITE", "CAP_KILL",
			 "CAP_NET_BIND_SERVICE");
}

/* The working directory: --container-workdir, the task's, the image's, or "/". */
static const char *process_cwd(const struct spec_input *in)
{
	const struct oci_task *t = in->task;

	if (in->settings != NULL && in->settings->workdir != NULL)
		return in->settings->workdir; /* --container-workdir */
	if (t->cwd != NULL && t->cwd[0] == '/' && exists_in_root(in->bundle->rootfs, t->cwd))
		return t->cwd;
	if (in->bundle->workdir != NULL)
		return in->bundle->workdir; /* the image's WorkingDir */
	return "/";
}

static int build_process(const struct spec_input *in, json_t *spec, json_t *caps, oci_error_t *err)
{
	const struct oci_task *t = in->task;
	const struct container_settings *set = in->settings;
	json_t *process = json_object_get(spec, "process"), *user, *args;
	cleanup_strv char **env = NULL, **shell = NULL;
	const char *cwd = process_cwd(in);
	size_t env_len;

	if (!json_is_object(process)) {
		process = json_object();
		if (set_new(spec, "process", process, err) < 0)
			return -1;
	}
	if (spec_env_merge(in->conf, t->env, json_object_get(process, "env"), set ? set->env : NULL,
			   &env, err) < 0)
		return -1;
	env_len = strv_len(env);
	pmix_env(&env, &env_len);
	if (set == NULL || !set->shared)
		mpi_per_task_env(t->env, &env, &env_len);
	if (check_utf8(cwd, "the working directory", err) < 0)
		return -1;
	user = in->identity == IDENTITY_REMAP_ROOT
		       ? json_pack("{s:i, s:i}", "uid", 0, "gid", 0)
		       : json_pack("{s:I, s:I}", "uid", (json_int_t)t->uid, "gid",
				   (json_int_t)t->gid);
	if (set_new(process, "user", user, err) < 0)
		return -1;
	if (shell_for_image(in->bundle->rootfs, t, &shell, err) < 0)
		return -1;
	args = args_to_json(shell != NULL ? shell : t->argv, err);
	if (args == NULL)
		return -1;
	if (set != NULL && set->entrypoint) {
		/* --container-entrypoint: the image's Entrypoint, then the task's argv */
		json_t *with = json_deep_copy(in->bundle->entrypoint ? in->bundle->entrypoint
								     : json_array());
		if (with == NULL || json_array_extend(with, args) < 0) {
			json_decref(with);
			json_decref(args);
			return oci_error_make(err, ENOMEM, "process");
		}
		json_decref(args);
		args = with;
	}
	if (set_new(process, "terminal", json_boolean(t->tty), err) < 0 ||
	    set_new(process, "args", args, err) < 0 ||
	    set_new(process, "env", spec_env_json(env, in->notices), err) < 0 ||
	    set_new(process, "cwd", json_string(cwd), err) < 0 ||
	    set_new(process, "noNewPrivileges", json_true(), err) < 0)
		return -1;
	/* the task keeps the limits Slurm gave it */
	json_object_del(process, "rlimits");
	/* a terminal starts with the size of the task's (later ones follow: console.c) */
	json_object_del(process, "consoleSize");
	if (t->tty && t->rows > 0 && t->cols > 0 &&
	    set_new(process, "consoleSize",
		    json_pack("{s:I, s:I}", "height", (json_int_t)t->rows, "width",
			      (json_int_t)t->cols),
		    err) < 0)
		return -1;
	if (json_object_get(process, "capabilities") == NULL && caps != NULL &&
	    json_object_set(process, "capabilities", caps) < 0)
		return oci_error_make(err, 0, "cannot build config.json: capabilities");
	return 0;
}

/*
 * --container-writable/--container-readonly, else Writable in the configuration, else
 * the bundle's own root.readonly; an image's root (the user's shared image cache) is
 * read-only unless asked otherwise.
 */
static bool root_readonly(const struct spec_input *in)
{
	if (in->settings != NULL && in->settings->writable != OPT_UNSET)
		return in->settings->writable == OPT_OFF;
	if (in->bundle->is_image || in->bundle->readonly)
		return true;
	return json_is_true(
		json_object_get(json_object_get(in->bundle->config, "root"), "readonly"));
}

int spec_build(const struct spec_input *in, json_t **out, oci_error_t *err)
{
	json_t *spec, *defaults = default_spec();
	const char *root_path = in->root_path != NULL ? in->root_path : in->bundle->rootfs;
	int rc = 0;

	if (defaults == NULL)
		return oci_error_make(err, ENOMEM, "config.json");
	spec = in->bundle->config ? json_deep_copy(in->bundle->config) : json_object();
	if (spec == NULL) {
		json_decref(defaults);
		return oci_error_make(err, ENOMEM, "config.json");
	}
	if (!json_is_string(json_object_get(spec, "ociVersion")))
		rc = set_new(spec, "ociVersion", json_string(OCI_VERSION), err);
	if (rc == 0)
		rc = check_utf8(root_path, "the root filesystem's path", err);
	if (rc == 0)
		rc = set_new(
			spec, "root",
			json_pack("{s:s, s:b}", "path", root_path, "readonly", root_readonly(in)),
			err);
	/* no UTS namespace: the container has the node's hostname */
	json_object_del(spec, "hostname");
	json_object_del(spec, "domainname");
	if (rc == 0)
		rc = build_process(in, spec, json_object_get(defaults, "capabilities"), err);
	if (rc == 0)
		rc = build_mounts(in, spec, err);
	if (rc == 0)
		rc = build_linux(in, spec, err);
	json_decref(defaults);
	if (rc < 0) {
		json_decref(spec);
		return -1;
	}
	/* DisableHooks and BundleHooks; the notice once per step (task 0) */
	spec_policy_hooks(in->conf, spec, in->task->task_id == 0 ? in->notices : NULL);
	*out = spec;
	return 0;
}

int spec_write(json_t *spec, const char *path, oci_error_t *err)
{
	cleanup_free char *text = json_dumps(spec, JSON_COMPACT);

	if (text == NULL)
		return oci_error_make(err, ENOMEM, "%s", path);
	return fs_write_file(path, text, strlen(text), err);
}
