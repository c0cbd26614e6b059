/*
 * The user's container options (--container-mounts, --container-workdir, ...): parsed
 * from the command line or SPANK_OCI_CONTAINER_* variables and checked against the site's
 * policy (struct oci_conf), on the text as given. The launcher merges them with the site's
 * defaults on the real paths (launcher/settings.h).
 */
#ifndef SPANK_OCI_OPTIONS_H
#define SPANK_OCI_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

#include "conf/conf.h"
#include "common/error.h"

enum opt_tristate { OPT_UNSET = -1, OPT_OFF = 0, OPT_ON = 1 };

enum option_id {
	OPTION_MOUNTS,
	OPTION_MOUNT_HOME,
	OPTION_NO_MOUNT_HOME,
	OPTION_WORKDIR,
	OPTION_ENV,
	OPTION_REMAP_ROOT,
	OPTION_NO_REMAP_ROOT,
	OPTION_WRITABLE,
	OPTION_READONLY,
	OPTION_ENTRYPOINT,
	OPTION_SHARED,
	OPTION_NO_SHARED,
	OPTION_SAVE,
	OPTION_COUNT
};

/* What an option's field holds, and how its text (argument or variable) is read. */
enum option_kind {
	OPTION_KIND_FLAG,   /* int, enum opt_tristate: set to the row's value; "0" or "1" */
	OPTION_KIND_MOUNTS, /* struct mount_list: SRC:DST[:ro|rw][,...] (n == 0: unset) */
	OPTION_KIND_PATH,   /* char *: an absolute path (NULL: unset) */
	OPTION_KIND_FILE,   /* char *: a path, relative to the task's working directory */
	OPTION_KIND_NAMES,  /* char **: variable names NAME[,...] (NULL: unset) */
	OPTION_KIND_COUNT
};

/*
 * One option, the only place that describes it: the command line, the variables, the
 * pairs and the inherited values are all read from these rows.
 */
struct option_def {
	const char *name;    /* on srun, sbatch and salloc, without "--" */
	const char *arginfo; /* NULL: a flag */
	const char *help;
	const char *env; /* the environment variable that sets it, or NULL (the pair's other) */
	size_t field;	 /* offsetof its field in struct oci_options */
	enum option_kind kind; /* the field's type */
	int value;	       /* OPTION_KIND_FLAG: what the option sets (OPT_ON or OPT_OFF) */
	enum option_id pair;   /* the option that sets the same field the other way, or itself */
};

extern const struct option_def oci_option_defs[OPTION_COUNT];

struct oci_options {
	struct mount_list mounts; /* user's --container-mounts */
	int mount_home;		  /* enum opt_tristate, likewise below */
	int remap_root;
	int writable;
	int entrypoint;
	int shared;
	char *workdir;		      /* NULL: unset */
	char *save;		      /* --container-save; NULL: unset */
	char **env;		      /* names whose host values win; NULL: unset */
	bool inherited[OPTION_COUNT]; /* by the pair's first id: the value was inherited */
};

void oci_options_init(struct oci_options *o);
void oci_options_release(struct oci_options *o);

/*
 * Sets one option from the command line (arg: its value, NULL for a flag). Bad syntax,
 * the two options of a pair together, or one option twice with different values are
 * errors naming the option. inherited: the value came from the job (options given to
 * sbatch or salloc reach its steps): the step's own options replace it, silently.
 */
int oci_options_set(struct oci_options *o, enum option_id id, const char *arg, bool inherited,
		    oci_error_t *err);

/*
 * Fills what the command line left unset from SPANK_OCI_CONTAINER_* variables, read with
 * getenv_fn(ctx, name) (NULL: unset). Errors name the variable.
 */
typedef const char *(*options_getenv_fn)(void *ctx, const char *name);
int oci_options_from_env(struct oci_options *o, options_getenv_fn getenv_fn, void *ctx,
			 oci_error_t *err);

/*
 * The site policy on the user's requests, on the text as given (no file system access):
 * remapping root, and mount sources against Allowed/DeniedMountPrefixes. The launcher
 * checks the real paths again (settings_resolve, with oci_options_check_source).
 */
int oci_options_check(const struct oci_options *o, const struct oci_conf *conf, oci_error_t *err);

/*
 * Allowed/DeniedMountPrefixes on one mount source: real is the path checked (absolute,
 * normalized), given the one the user wrote (both are named in the error when they differ).
 */
int oci_options_check_source(const struct oci_conf *conf, const char *given, const char *real,
			     oci_error_t *err);

/* The policy test: is path (absolute, normalized) at or under prefix? */
bool path_has_prefix(const char *path, const char *prefix);

#endif
