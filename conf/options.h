/*
 * The user's container options (--container-mounts, --container-workdir, ...): parsed
 * from the command line or SPANK_OCI_CONTAINER_* variables, checked against the site's
 * policy (struct oci_conf), and merged with the site's defaults.
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
	OPTION_COUNT
};

struct option_def {
	const char *name;    /* on srun, sbatch and salloc, without "--" */
	const char *arginfo; /* NULL: a flag */
	const char *help;
	const char *env; /* the environment variable that sets it, or NULL (the pair's other) */
};

extern const struct option_def oci_option_defs[OPTION_COUNT];

struct oci_options {
	struct mount_list mounts; /* user's --container-mounts */
	int mount_home;		  /* enum opt_tristate, likewise below */
	int remap_root;
	int writable;
	int entrypoint;
	int shared;
	char *workdir; /* NULL: unset */
	char **env;    /* names whose host values win; NULL: unset */
	bool mounts_set;
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
 * checks the real paths again (oci_options_resolve).
 */
int oci_options_check(const struct oci_options *o, const struct oci_conf *conf, oci_error_t *err);

/* What a container gets: the user's options merged with the site's defaults. */
struct container_settings {
	struct mount_list mounts; /* site's, home, user's; sources are real paths */
	bool remap_root;	  /* uid 0 inside, asked for (by the user or RemapRoot=true) */
	int writable;		  /* enum opt_tristate: unset leaves it to the bundle */
	bool entrypoint;
	bool shared;   /* one container per step and node, joined by the tasks */
	char *workdir; /* NULL: the task's cwd, the image's WorkingDir, or "/" */
	char **env;    /* names whose host values win over the bundle's or image's */
};

/*
 * Merges and checks, as the job's user: every mount source must exist (its real path is
 * what the policy is checked on and what is mounted). home: the user's home directory.
 */
int oci_options_resolve(const struct oci_options *o, const struct oci_conf *conf, const char *home,
			struct container_settings *out, oci_error_t *err);
void container_settings_release(struct container_settings *s);

/* The policy test: is path (absolute, normalized) at or under prefix? */
bool path_has_prefix(const char *path, const char *prefix);

#endif
