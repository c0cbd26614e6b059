#include "conf/options.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/strv.h"

const struct option_def oci_option_defs[OPTION_COUNT] = {
	[OPTION_MOUNTS] = {"container-mounts", "SRC:DST[:ro|rw][,...]",
			   "Bind SRC at DST in the container, read-write unless :ro (spank-oci)",
			   "SPANK_OCI_CONTAINER_MOUNTS"},
	[OPTION_MOUNT_HOME] = {"container-mount-home", NULL,
			       "Bind your home directory at the same path (spank-oci)",
			       "SPANK_OCI_CONTAINER_MOUNT_HOME"},
	[OPTION_NO_MOUNT_HOME] = {"no-container-mount-home", NULL,
				  "Do not bind your home directory (spank-oci)", NULL},
	[OPTION_WORKDIR] = {"container-workdir", "DIR",
			    "Working directory in the container (default: the task's if it "
			    "exists there, else the image's, else /) (spank-oci)",
			    "SPANK_OCI_CONTAINER_WORKDIR"},
	[OPTION_ENV] = {"container-env", "NAME[,...]",
			"These variables keep the task's values over the image's or "
			"bundle's (spank-oci)",
			"SPANK_OCI_CONTAINER_ENV"},
	[OPTION_REMAP_ROOT] = {"container-remap-root", NULL,
			       "Run as uid 0 in the container (mapped to you) (spank-oci)",
			       "SPANK_OCI_CONTAINER_REMAP_ROOT"},
	[OPTION_NO_REMAP_ROOT] = {"no-container-remap-root", NULL,
				  "Run as your own uid/gid in the container (default) (spank-oci)",
				  NULL},
	[OPTION_WRITABLE] = {"container-writable", NULL,
			     "Make the container's root file system writable (spank-oci)",
			     "SPANK_OCI_CONTAINER_WRITABLE"},
	[OPTION_READONLY] = {"container-readonly", NULL,
			     "Make the container's root file system read-only (spank-oci)", NULL},
	[OPTION_ENTRYPOINT] = {"container-entrypoint", NULL,
			       "Run the image's Entrypoint with the command as its arguments "
			       "(OCI images only) (spank-oci)",
			       "SPANK_OCI_CONTAINER_ENTRYPOINT"},
	[OPTION_SHARED] = {"container-shared", NULL,
			   "One container per node for the step's tasks, which join it "
			   "(needs the site's create/start runtime setup) (spank-oci)",
			   "SPANK_OCI_CONTAINER_SHARED"},
	[OPTION_NO_SHARED] = {"no-container-shared", NULL, "One container per task (spank-oci)",
			      NULL},
};

void oci_options_init(struct oci_options *o)
{
	*o = (struct oci_options){.mount_home = OPT_UNSET,
				  .remap_root = OPT_UNSET,
				  .writable = OPT_UNSET,
				  .entrypoint = OPT_UNSET,
				  .shared = OPT_UNSET};
}

void oci_options_release(struct oci_options *o)
{
	mounts_release(&o->mounts);
	free(o->workdir);
	strv_free(o->env);
	oci_options_init(o);
}

/* The pair a flag belongs to: the field, the value it sets, and the other flag. */
static int *flag_field(struct oci_options *o, enum option_id id, int *value, enum option_id *other)
{
	switch (id) {
	case OPTION_MOUNT_HOME:
	case OPTION_NO_MOUNT_HOME:
		*value = id == OPTION_MOUNT_HOME;
		*other = id == OPTION_MOUNT_HOME ? OPTION_NO_MOUNT_HOME : OPTION_MOUNT_HOME;
		return &o->mount_home;
	case OPTION_REMAP_ROOT:
	case OPTION_NO_REMAP_ROOT:
		*value = id == OPTION_REMAP_ROOT;
		*other = id == OPTION_REMAP_ROOT ? OPTION_NO_REMAP_ROOT : OPTION_REMAP_ROOT;
		return &o->remap_root;
	case OPTION_WRITABLE:
	case OPTION_READONLY:
		*value = id == OPTION_WRITABLE;
		*other = id == OPTION_WRITABLE ? OPTION_READONLY : OPTION_WRITABLE;
		return &o->writable;
	case OPTION_ENTRYPOINT:
		*value = 1;
		*other = OPTION_ENTRYPOINT;
		return &o->entrypoint;
	case OPTION_SHARED:
	case OPTION_NO_SHARED:
		*value = id == OPTION_SHARED;
		*other = id == OPTION_SHARED ? OPTION_NO_SHARED : OPTION_SHARED;
		return &o->shared;
	default:
		return NULL;
	}
}

static bool valid_env_name(const char *s)
{
	if (!(isalpha((unsigned char)*s) || *s == '_'))
		return false;
	for (; *s != '\0'; s++) {
		if (!(isalnum((unsigned char)*s) || *s == '_'))
			return false;
	}
	return true;
}

static int parse_env_names(const char *arg, char ***out, oci_error_t *err)
{
	cleanup_free char *copy = strdup(arg);
	cleanup_strv char **names = calloc(1, sizeof(char *));
	size_t n = 0;
	char *save = NULL;

	if (copy == NULL || names == NULL)
		return oci_error_make(err, ENOMEM, "names");
	for (char *t = strtok_r(copy, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
		if (!valid_env_name(t))
			return oci_error_make(err, 0, "'%s' is not a variable name", t);
		if (strv_push(&names, &n, t) < 0)
			return oci_error_make(err, ENOMEM, "names");
	}
	if (n == 0)
		return oci_error_make(err, 0, "no variable name given");
	*out = steal_pointer(&names);
	return 0;
}

/* The value of a string option as it was first given, to tell a repetition. */
static bool same_strv(char **a, char **b)
{
	size_t i = 0;

	for (; a[i] != NULL && b[i] != NULL; i++) {
		if (strcmp(a[i], b[i]) != 0)
			return false;
	}
	return a[i] == NULL && b[i] == NULL;
}

static bool same_mounts(const struct mount_list *a, const struct mount_list *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++) {
		if (strcmp(a->v[i].src, b->v[i].src) != 0 ||
		    strcmp(a->v[i].dst, b->v[i].dst) != 0 || a->v[i].ro != b->v[i].ro)
			return false;
	}
	return true;
}

/* Parses a valued option; errors tell what is wrong with the value, not where it came from. */
static int parse_value(struct oci_options *o, enum option_id id, const char *arg, oci_error_t *err)
{
	if (arg == NULL || *arg == '\0')
		return oci_error_make(err, 0, "a value is needed");
	if (id == OPTION_MOUNTS) {
		struct mount_list parsed = {0};
		if (mounts_parse(arg, &parsed, err) < 0) {
			mounts_release(&parsed);
			return -1;
		}
		if (o->mounts_set && !same_mounts(&o->mounts, &parsed)) {
			mounts_release(&parsed);
			return oci_error_make(err, 0, "given twice with different values");
		}
		mounts_release(&o->mounts);
		o->mounts = parsed;
		o->mounts_set = true;
		return 0;
	}
	if (id == OPTION_WORKDIR) {
		if (arg[0] != '/')
			return oci_error_make(err, 0, "'%s' is not an absolute path", arg);
		if (o->workdir != NULL && strcmp(o->workdir, arg) != 0)
			return oci_error_make(err, 0, "given twice with different values");
		free(o->workdir);
		o->workdir = strdup(arg);
		return o->workdir ? 0 : oci_error_make(err, ENOMEM, "workdir");
	}
	if (id == OPTION_ENV) {
		char **names = NULL;
		if (parse_env_names(arg, &names, err) < 0)
			return -1;
		if (o->env != NULL && !same_strv(o->env, names)) {
			strv_free(names);
			return oci_error_make(err, 0, "given twice with different values");
		}
		strv_free(o->env);
		o->env = names;
		return 0;
	}
	return oci_error_make(err, EINVAL, "not a valued option");
}

/* The id that stands for the pair id belongs to. */
static enum option_id pair_key(enum option_id id)
{
	switch (id) {
	case OPTION_NO_MOUNT_HOME:
		return OPTION_MOUNT_HOME;
	case OPTION_NO_REMAP_ROOT:
		return OPTION_REMAP_ROOT;
	case OPTION_READONLY:
		return OPTION_WRITABLE;
	case OPTION_NO_SHARED:
		return OPTION_SHARED;
	default:
		return id;
	}
}

static bool is_set(const struct oci_options *o, enum option_id key)
{
	switch (key) {
	case OPTION_MOUNTS:
		return o->mounts_set;
	case OPTION_WORKDIR:
		return o->workdir != NULL;
	case OPTION_ENV:
		return o->env != NULL;
	case OPTION_MOUNT_HOME:
		return o->mount_home != OPT_UNSET;
	case OPTION_REMAP_ROOT:
		return o->remap_root != OPT_UNSET;
	case OPTION_WRITABLE:
		return o->writable != OPT_UNSET;
	case OPTION_ENTRYPOINT:
		return o->entrypoint != OPT_UNSET;
	case OPTION_SHARED:
		return o->shared != OPT_UNSET;
	default:
		return false;
	}
}

static void unset(struct oci_options *o, enum option_id key)
{
	switch (key) {
	case OPTION_MOUNTS:
		mounts_release(&o->mounts);
		o->mounts_set = false;
		break;
	case OPTION_WORKDIR:
		free(o->workdir);
		o->workdir = NULL;
		break;
	case OPTION_ENV:
		strv_free(o->env);
		o->env = NULL;
		break;
	case OPTION_MOUNT_HOME:
		o->mount_home = OPT_UNSET;
		break;
	case OPTION_REMAP_ROOT:
		o->remap_root = OPT_UNSET;
		break;
	case OPTION_WRITABLE:
		o->writable = OPT_UNSET;
		break;
	case OPTION_ENTRYPOINT:
		o->entrypoint = OPT_UNSET;
		break;
	case OPTION_SHARED:
		o->shared = OPT_UNSET;
		break;
	default:
		break;
	}
}

int oci_options_set(struct oci_options *o, enum option_id id, const char *arg, bool inherited,
		    oci_error_t *err)
{
	enum option_id other, key = pair_key(id);
	int value, *field;

	if ((unsigned)id >= OPTION_COUNT)
		return oci_error_make(err, EINVAL, "option %d", (int)id);
	if (is_set(o, key) && o->inherited[key] != inherited) {
		if (inherited)
			return 0; /* the step's own value stays */
		unset(o, key);	  /* the step's own value replaces the job's */
	}
	o->inherited[key] = inherited;
	field = flag_field(o, id, &value, &other);
	if (field == NULL) {
		if (parse_value(o, id, arg, err) < 0)
			return oci_error_wrap(err, "--%s", oci_option_defs[id].name);
		return 0;
	}
	if (*field != OPT_UNSET && *field != value)
		return oci_error_make(err, 0, "--%s and --%s exclude each other",
				      oci_option_defs[other].name, oci_option_defs[id].name);
	*field = value;
	return 0;
}

/* SPANK_OCI_CONTAINER_X=0|1 for a pair of flags. */
static int env_flag(int *field, const char *value, oci_error_t *err)
{
	if (*field != OPT_UNSET)
		return 0; /* the command line wins */
	if (strcmp(value, "1") == 0)
		*field = OPT_ON;
	else if (strcmp(value, "0") == 0)
		*field = OPT_OFF;
	else
		return oci_error_make(err, 0, "expected 0 or 1");
	return 0;
}

int oci_options_from_env(struct oci_options *o, options_getenv_fn getenv_fn, void *ctx,
			 oci_error_t *err)
{
	for (int id = 0; id < OPTION_COUNT; id++) {
		const char *var = oci_option_defs[id].env, *value;
		enum option_id other;
		int flag_value, *field, rc;

		if (var == NULL || (value = getenv_fn(ctx, var)) == NULL || *value == '\0')
			continue; /* an empty variable is unset */
		field = flag_field(o, (enum option_id)id, &flag_value, &other);
		if (field != NULL)
			rc = env_flag(field, value, err);
		else if ((id == OPTION_MOUNTS && o->mounts_set) ||
			 (id == OPTION_WORKDIR && o->workdir != NULL) ||
			 (id == OPTION_ENV && o->env != NULL))
			continue; /* the command line wins */
		else
			rc = parse_value(o, (enum option_id)id, value, err);
		if (rc < 0)
			return oci_error_wrap(err, "%s=%s", var, value);
	}
	return 0;
}

bool path_has_prefix(const char *path, const char *prefix)
{
	size_t n = strlen(prefix);

	if (strcmp(prefix, "/") == 0)
		return path[0] == '/';
	return strncmp(path, prefix, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* The mount source policy: deny wins, then an allow list (if any) must match. */
static int check_source(const struct oci_conf *conf, const char *given, const char *real,
			oci_error_t *err)
{
	const char *shown_real = real && strcmp(real, given) != 0 ? real : NULL;

	for (size_t i = 0; conf->denied_mount_prefixes && conf->denied_mount_prefixes[i]; i++) {
		if (path_has_prefix(real, conf->denied_mount_prefixes[i]))
			return oci_error_make(err, 0,
					      "mount source %s%s%s%s is refused by the site policy "
					      "(DeniedMountPrefixes=%s in %s)",
					      given, shown_real ? " (" : "",
					      shown_real ? shown_real : "", shown_real ? ")" : "",
					      conf->denied_mount_prefixes[i], conf->path);
	}
	if (conf->allowed_mount_prefixes == NULL)
		return 0;
	for (size_t i = 0; conf->allowed_mount_prefixes[i]; i++) {
		if (path_has_prefix(real, conf->allowed_mount_prefixes[i]))
			return 0;
	}
	{
		cleanup_free char *list = NULL;
		size_t len = 0;
		FILE *mem = open_memstream(&list, &len);

		for (size_t i = 0; mem && conf->allowed_mount_prefixes[i]; i++)
			fprintf(mem, "%s%s", i ? "," : "", conf->allowed_mount_prefixes[i]);
		if (mem)
			fclose(mem);
		return oci_error_make(err, 0,
				      "mount source %s%s%s%s is refused by the site policy: not "
				      "under AllowedMountPrefixes=%s in %s",
				      given, shown_real ? " (" : "", shown_real ? shown_real : "",
				      shown_real ? ")" : "", list ? list : "", conf->path);
	}
}

int oci_options_check(const struct oci_options *o, const struct oci_conf *conf, oci_error_t *err)
{
	if (o->remap_root == OPT_ON && !conf->allow_remap_root)
		return oci_error_make(err, 0,
				      "--container-remap-root is refused by the site policy "
				      "(AllowRemapRoot=false in %s)",
				      conf->path);
	for (size_t i = 0; i < o->mounts.n; i++) {
		if (check_source(conf, o->mounts.v[i].src, o->mounts.v[i].src, err) < 0)
			return -1;
	}
	return 0;
}

/* A mount source as the user sees it: it must exist; its real path is used. */
static int add_resolved(struct mount_list *out, const struct mount_request *m,
			const struct oci_conf *conf, bool check_policy, oci_error_t *err)
{
	cleanup_free char *real = realpath(m->src, NULL);

	if (real == NULL)
		return oci_error_make(err, errno, "mount source %s", m->src);
	if (check_policy && check_source(conf, m->src, real, err) < 0)
		return -1;
	/* a later mount at the same destination replaces an earlier one */
	for (size_t i = 0; i < out->n; i++) {
		if (strcmp(out->v[i].dst, m->dst) == 0) {
			char *copy = strdup(real);
			if (copy == NULL)
				return oci_error_make(err, ENOMEM, "mounts");
			free(out->v[i].src);
			out->v[i].src = copy;
			out->v[i].ro = m->ro;
			return 0;
		}
	}
	if (mounts_add(out, real, m->dst, m->ro) < 0)
		return oci_error_make(err, ENOMEM, "mounts");
	return 0;
}

int oci_options_resolve(const struct oci_options *o, const struct oci_conf *conf, const char *home,
			struct container_settings *out, oci_error_t *err)
{
	bool mount_home = o->mount_home == OPT_UNSET ? conf->mount_home : o->mount_home == OPT_ON;

	*out = (struct container_settings){.writable = OPT_UNSET};
	if (oci_options_check(o, conf, err) < 0)
		goto fail;
	for (size_t i = 0; i < conf->container_mounts.n; i++) {
		if (add_resolved(&out->mounts, &conf->container_mounts.v[i], conf, false, err) <
		    0) {
			oci_error_wrap(err, "ContainerMounts in %s", conf->path);
			goto fail;
		}
	}
	if (mount_home && home != NULL && home[0] == '/') {
		struct mount_request m = {.src = (char *)home, .dst = (char *)home};
		/* the site's MountHome is not checked against its own prefixes */
		if (add_resolved(&out->mounts, &m, conf, o->mount_home == OPT_ON, err) < 0) {
			oci_error_wrap(err, "--container-mount-home");
			goto fail;
		}
	}
	for (size_t i = 0; i < o->mounts.n; i++) {
		if (add_resolved(&out->mounts, &o->mounts.v[i], conf, true, err) < 0) {
			oci_error_wrap(err, "--container-mounts");
			goto fail;
		}
	}
	out->remap_root = o->remap_root == OPT_UNSET ? conf->remap_root == REMAP_ROOT_YES
						     : o->remap_root == OPT_ON;
	out->writable = o->writable != OPT_UNSET ? o->writable : conf->writable;
	out->entrypoint = o->entrypoint == OPT_ON;
	out->shared = o->shared == OPT_UNSET ? conf->shared_container : o->shared == OPT_ON;
	if (out->shared && conf->runtime_create == NULL) {
		oci_error_make(err, 0,
			       "--container-shared: the site's runtime setup has no RunTimeCreate "
			       "(one container per task only)");
		goto fail;
	}
	if (o->workdir != NULL && (out->workdir = strdup(o->workdir)) == NULL) {
		oci_error_make(err, ENOMEM, "workdir");
		goto fail;
	}
	if (o->env != NULL && (out->env = strv_dup(o->env)) == NULL) {
		oci_error_make(err, ENOMEM, "env");
		goto fail;
	}
	return 0;
fail:
	container_settings_release(out);
	return -1;
}

void container_settings_release(struct container_settings *s)
{
	mounts_release(&s->mounts);
	free(s->workdir);
	strv_free(s->env);
	*s = (struct container_settings){.writable = OPT_UNSET};
}
