#include "conf/options.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/strv.h"
#include "common/xalloc.h"

/* The offset of a member of struct oci_options, which must have the given type. */
#define FIELD(type, member)                                                                        \
	(offsetof(struct oci_options, member) +                                                    \
	 0 * sizeof(_Generic(((struct oci_options *)0)->member, type : 1)))
#define FLAG(member, value, pair) FIELD(int, member), OPTION_KIND_FLAG, value, pair
#define MOUNTS(member, self) FIELD(struct mount_list, member), OPTION_KIND_MOUNTS, 0, self
#define PATH(member, self) FIELD(char *, member), OPTION_KIND_PATH, 0, self
#define FILE_PATH(member, self) FIELD(char *, member), OPTION_KIND_FILE, 0, self
#define NAMES(member, self) FIELD(char **, member), OPTION_KIND_NAMES, 0, self

const struct option_def oci_option_defs[OPTION_COUNT] = {
	[OPTION_MOUNTS] = {"container-mounts", "SRC:DST[:ro|rw][,...]",
			   "Bind SRC at DST in the container, read-write unless :ro (spank-oci)",
			   "SPANK_OCI_CONTAINER_MOUNTS", MOUNTS(mounts, OPTION_MOUNTS)},
	[OPTION_MOUNT_HOME] = {"container-mount-home", NULL,
			       "Bind your home directory at the same path (spank-oci)",
			       "SPANK_OCI_CONTAINER_MOUNT_HOME",
			       FLAG(mount_home, OPT_ON, OPTION_NO_MOUNT_HOME)},
	[OPTION_NO_MOUNT_HOME] = {"no-container-mount-home", NULL,
				  "Do not bind your home directory (spank-oci)", NULL,
				  FLAG(mount_home, OPT_OFF, OPTION_MOUNT_HOME)},
	[OPTION_WORKDIR] = {"container-workdir", "DIR",
			    "Working directory in the container (default: the task's if it "
			    "exists there, else the image's, else /) (spank-oci)",
			    "SPANK_OCI_CONTAINER_WORKDIR", PATH(workdir, OPTION_WORKDIR)},
	[OPTION_ENV] = {"container-env", "NAME[,...]",
			"These variables keep the task's values over the image's or "
			"bundle's (spank-oci)",
			"SPANK_OCI_CONTAINER_ENV", NAMES(env, OPTION_ENV)},
	[OPTION_REMAP_ROOT] = {"container-remap-root", NULL,
			       "Run as uid 0 in the container (mapped to you) (spank-oci)",
			       "SPANK_OCI_CONTAINER_REMAP_ROOT",
			       FLAG(remap_root, OPT_ON, OPTION_NO_REMAP_ROOT)},
	[OPTION_NO_REMAP_ROOT] = {"no-container-remap-root", NULL,
				  "Run as your own uid/gid in the container (default) (spank-oci)",
				  NULL, FLAG(remap_root, OPT_OFF, OPTION_REMAP_ROOT)},
	[OPTION_WRITABLE] = {"container-writable", NULL,
			     "Make the container's root file system writable (spank-oci)",
			     "SPANK_OCI_CONTAINER_WRITABLE",
			     FLAG(writable, OPT_ON, OPTION_READONLY)},
	[OPTION_READONLY] = {"container-readonly", NULL,
			     "Make the container's root file system read-only (spank-oci)", NULL,
			     FLAG(writable, OPT_OFF, OPTION_WRITABLE)},
	[OPTION_ENTRYPOINT] = {"container-entrypoint", NULL,
			       "Run the image's Entrypoint with the command as its arguments "
			       "(OCI images only) (spank-oci)",
			       "SPANK_OCI_CONTAINER_ENTRYPOINT",
			       FLAG(entrypoint, OPT_ON, OPTION_ENTRYPOINT)},
	[OPTION_SHARED] = {"container-shared", NULL,
			   "One container per node for the step's tasks, which join it "
			   "(needs the site's create/start runtime setup) (spank-oci)",
			   "SPANK_OCI_CONTAINER_SHARED", FLAG(shared, OPT_ON, OPTION_NO_SHARED)},
	[OPTION_NO_SHARED] = {"no-container-shared", NULL, "One container per task (spank-oci)",
			      NULL, FLAG(shared, OPT_OFF, OPTION_SHARED)},
	[OPTION_SAVE] = {"container-save", "PATH",
			 "When the step ends, save the container's root file system as a "
			 "squashfs image at PATH (one container per step: one task, or "
			 "--container-shared on one node) (spank-oci)",
			 "SPANK_OCI_CONTAINER_SAVE", FILE_PATH(save, OPTION_SAVE)},
};

/* ---- the kinds of fields ------------------------------------------------------------------ */

/* Any field's value, to parse into before it replaces the field's. */
union option_value {
	int flag;
	struct mount_list mounts;
	char *path;
	char **names;
};

struct kind_ops {
	size_t size; /* of the field */
	bool (*is_set)(const void *field);
	void (*unset)(void *field);
	/* Parses non-empty text into an unset value; on error the value stays unset. */
	int (*parse)(const char *text, void *value, oci_error_t *err);
	bool (*same)(const void *a, const void *b);
};

static bool flag_is_set(const void *field)
{
	return *(const int *)field != OPT_UNSET;
}

static void flag_unset(void *field)
{
	*(int *)field = OPT_UNSET;
}

/* SPANK_OCI_CONTAINER_X=0|1 (a flag on the command line takes no value). */
static int flag_parse(const char *text, void *value, oci_error_t *err)
{
	if (strcmp(text, "1") == 0)
		*(int *)value = OPT_ON;
	else if (strcmp(text, "0") == 0)
		*(int *)value = OPT_OFF;
	else
		return oci_error_make(err, 0, "expected 0 or 1");
	return 0;
}

static bool flag_same(const void *a, const void *b)
{
	return *(const int *)a == *(const int *)b;
}

static bool mounts_is_set(const void *field)
{
	return ((const struct mount_list *)field)->n > 0; /* a parsed value has a mount */
}

static void mounts_unset(void *field)
{
	mounts_release(field);
}

static int mounts_parse_value(const char *text, void *value, oci_error_t *err)
{
	if (mounts_parse(text, value, err) < 0) {
		mounts_release(value);
		return -1;
	}
	return 0;
}

static bool mounts_same(const void *va, const void *vb)
{
	const struct mount_list *a = va, *b = vb;

	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++) {
		if (strcmp(a->v[i].src, b->v[i].src) != 0 ||
		    strcmp(a->v[i].dst, b->v[i].dst) != 0 || a->v[i].ro != b->v[i].ro)
			return false;
	}
	return true;
}

static bool pointer_is_set(const void *field)
{
	return *(void *const *)field != NULL;
}

static void path_unset(void *field)
{
	free(*(char **)field);
	*(char **)field = NULL;
}

static int path_parse(const char *text, void *value, oci_error_t *err)
{
	if (text[0] != '/')
		return oci_error_make(err, 0, "'%s' is not an absolute path", text);
	*(char **)value = xstrdup(text);
	return 0;
}

/* Any path; the launcher takes a relative one from the task's working directory. */
static int file_parse(const char *text, void *value, oci_error_t *err)
{
	if (text[0] == '\0')
		return oci_error_make(err, 0, "an empty path");
	*(char **)value = xstrdup(text);
	return 0;
}

static bool path_same(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b) == 0;
}

static void names_unset(void *field)
{
	strv_free(*(char ***)field);
	*(char ***)field = NULL;
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

static int names_parse(const char *text, void *value, oci_error_t *err)
{
	cleanup_free char *copy = xstrdup(text);
	cleanup_strv char **names = xcalloc(1, sizeof(char *));
	size_t n = 0;
	char *save = NULL;

	for (char *t = strtok_r(copy, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
		if (!valid_env_name(t))
			return oci_error_make(err, 0, "'%s' is not a variable name", t);
		strv_push(&names, &n, t);
	}
	if (n == 0)
		return oci_error_make(err, 0, "no variable name given");
	*(char ***)value = steal_pointer(&names);
	return 0;
}

static bool names_same(const void *va, const void *vb)
{
	char *const *a = *(char **const *)va, *const *b = *(char **const *)vb;
	size_t i = 0;

	for (; a[i] != NULL && b[i] != NULL; i++) {
		if (strcmp(a[i], b[i]) != 0)
			return false;
	}
	return a[i] == NULL && b[i] == NULL;
}

static const struct kind_ops kinds[OPTION_KIND_COUNT] = {
	[OPTION_KIND_FLAG] = {sizeof(int), flag_is_set, flag_unset, flag_parse, flag_same},
	[OPTION_KIND_MOUNTS] = {sizeof(struct mount_list), mounts_is_set, mounts_unset,
				mounts_parse_value, mounts_same},
	[OPTION_KIND_PATH] = {sizeof(char *), pointer_is_set, path_unset, path_parse, path_same},
	[OPTION_KIND_FILE] = {sizeof(char *), pointer_is_set, path_unset, file_parse, path_same},
	[OPTION_KIND_NAMES] = {sizeof(char **), pointer_is_set, names_unset, names_parse,
			       names_same},
};

/* ---- the options, through their rows ------------------------------------------------------ */

static void *field_of(const struct oci_options *o, const struct option_def *d)
{
	return (char *)o + d->field;
}

/* The id that stands for the pair id belongs to (its inherited[] slot). */
static enum option_id pair_key(enum option_id id)
{
	return oci_option_defs[id].pair < id ? oci_option_defs[id].pair : id;
}

void oci_options_init(struct oci_options *o)
{
	*o = (struct oci_options){0};
	for (int id = 0; id < OPTION_COUNT; id++)
		kinds[oci_option_defs[id].kind].unset(field_of(o, &oci_option_defs[id]));
}

void oci_options_release(struct oci_options *o)
{
	for (int id = 0; id < OPTION_COUNT; id++)
		kinds[oci_option_defs[id].kind].unset(field_of(o, &oci_option_defs[id]));
	oci_options_init(o);
}

/*
 * Parses text as the value of d's field; a value already there must be the same. Errors
 * tell what is wrong with the value, not where it came from.
 */
static int set_value(struct oci_options *o, const struct option_def *d, const char *text,
		     oci_error_t *err)
{
	const struct kind_ops *k = &kinds[d->kind];
	void *field = field_of(o, d);
	union option_value parsed;

	if (text == NULL || *text == '\0')
		return oci_error_make(err, 0, "a value is needed");
	memset(&parsed, 0, sizeof(parsed));
	k->unset(&parsed);
	if (k->parse(text, &parsed, err) < 0)
		return -1;
	if (k->is_set(field) && !k->same(field, &parsed)) {
		k->unset(&parsed);
		return oci_error_make(err, 0, "given twice with different values");
	}
	k->unset(field);
	memcpy(field, &parsed, k->size);
	return 0;
}

int oci_options_set(struct oci_options *o, enum option_id id, const char *arg, bool inherited,
		    oci_error_t *err)
{
	const struct option_def *d;
	const struct kind_ops *k;
	enum option_id key;
	void *field;

	if ((unsigned)id >= OPTION_COUNT)
		return oci_error_make(err, EINVAL, "option %d", (int)id);
	d = &oci_option_defs[id];
	k = &kinds[d->kind];
	field = field_of(o, d);
	key = pair_key(id);
	if (k->is_set(field) && o->inherited[key] != inherited) {
		if (inherited)
			return 0; /* the step's own value stays */
		k->unset(field);  /* the step's own value replaces the job's */
	}
	o->inherited[key] = inherited;
	if (d->kind != OPTION_KIND_FLAG) {
		if (set_value(o, d, arg, err) < 0)
			return oci_error_wrap(err, "--%s", d->name);
		return 0;
	}
	if (k->is_set(field) && *(int *)field != d->value)
		return oci_error_make(err, 0, "--%s and --%s exclude each other",
				      oci_option_defs[d->pair].name, d->name);
	*(int *)field = d->value;
	return 0;
}

int oci_options_from_env(struct oci_options *o, options_getenv_fn getenv_fn, void *ctx,
			 oci_error_t *err)
{
	for (int id = 0; id < OPTION_COUNT; id++) {
		const struct option_def *d = &oci_option_defs[id];
		const char *value;

		if (d->env == NULL || (value = getenv_fn(ctx, d->env)) == NULL || *value == '\0')
			continue; /* an empty variable is unset */
		if (kinds[d->kind].is_set(field_of(o, d)))
			continue; /* the command line wins */
		if (set_value(o, d, value, err) < 0)
			return oci_error_wrap(err, "%s=%s", d->env, value);
	}
	return 0;
}

/* ---- the site's policy -------------------------------------------------------------------- */

bool path_has_prefix(const char *path, const char *prefix)
{
	size_t n = strlen(prefix);

	if (strcmp(prefix, "/") == 0)
		return path[0] == '/';
	return strncmp(path, prefix, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* The mount source policy: deny wins, then an allow list (if any) must match. */
int oci_options_check_source(const struct oci_conf *conf, const char *given, const char *real,
			     oci_error_t *err)
{
	const char *shown_real = real && strcmp(real, given) != 0 ? real : NULL;
	cleanup_free char *list = NULL; /* AllowedMountPrefixes, for the error */

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
	for (size_t i = 0; conf->allowed_mount_prefixes[i]; i++) {
		char *longer = xasprintf("%s%s%s", list ? list : "", i ? "," : "",
					 conf->allowed_mount_prefixes[i]);
		free(list);
		list = longer;
	}
	return oci_error_make(err, 0,
			      "mount source %s%s%s%s is refused by the site policy: not "
			      "under AllowedMountPrefixes=%s in %s",
			      given, shown_real ? " (" : "", shown_real ? shown_real : "",
			      shown_real ? ")" : "", list ? list : "", conf->path);
}

int oci_options_check(const struct oci_options *o, const struct oci_conf *conf, oci_error_t *err)
{
	if (o->remap_root == OPT_ON && !conf->allow_remap_root)
		return oci_error_make(err, 0,
				      "--container-remap-root is refused by the site policy "
				      "(AllowRemapRoot=false in %s)",
				      conf->path);
	for (size_t i = 0; i < o->mounts.n; i++) {
		if (oci_options_check_source(conf, o->mounts.v[i].src, o->mounts.v[i].src, err) < 0)
			return -1;
	}
	return 0;
}
