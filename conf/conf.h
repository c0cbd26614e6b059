/*
 * The spank-oci configuration file: Slurm's oci.conf syntax and keys, with Slurm's
 * meanings, plus spank-oci's own keys (see oci.conf.example).
 */
#ifndef SPANK_OCI_CONF_H
#define SPANK_OCI_CONF_H

#include <regex.h>
#include <stdbool.h>

#include "common/error.h"
#include "conf/mounts.h"

#define SPANK_OCI_DEFAULT_CONFIG "/etc/slurm/spank-oci.conf"
/*
 * Root-owned parents of the users' own directories <parent>/<uid>, which slurmstepd makes
 * (launcher/userdirs.h): no other user can take those names, as anyone can in /dev/shm
 * or /tmp. The defaults of ContainerPath and ImageCache lie in them.
 */
#define SPANK_OCI_RUN_DIR "/run/spank-oci"
#define SPANK_OCI_CACHE_DIR "/var/cache/spank-oci"
#define SPANK_OCI_DEFAULT_CONTAINER_PATH SPANK_OCI_RUN_DIR "/%U/%j.%s"
#define SPANK_OCI_DEFAULT_IMAGE_CACHE SPANK_OCI_CACHE_DIR "/%U"

enum env_file_mode { ENV_FILE_DISABLED, ENV_FILE_NULL, ENV_FILE_NEWLINE };
enum remap_root { REMAP_ROOT_AUTO, REMAP_ROOT_YES, REMAP_ROOT_NO };
/* SharedContainer: for MPI steps only (the default), always, or never */
enum shared_container { SHARED_MPI, SHARED_ALWAYS, SHARED_NEVER };
/* RootOverlay: how the container's root is layered over the image (launcher/root/). */
enum root_overlay { ROOT_OVERLAY_AUTO, ROOT_OVERLAY_KERNEL, ROOT_OVERLAY_FUSE, ROOT_OVERLAY_OFF };

/* Slurm's log levels, for StdIODebug, SyslogDebug and FileDebug. */
enum conf_log_level {
	LOG_LEVEL_UNSET = -1,
	LOG_LEVEL_QUIET = 0,
	LOG_LEVEL_FATAL,
	LOG_LEVEL_ERROR,
	LOG_LEVEL_INFO,
	LOG_LEVEL_VERBOSE,
	LOG_LEVEL_DEBUG,
	LOG_LEVEL_DEBUG2,
	LOG_LEVEL_DEBUG3,
	LOG_LEVEL_DEBUG4,
	LOG_LEVEL_DEBUG5
};

struct conf_regex {
	char *source; /* NULL when unset */
	regex_t re;
};

struct oci_conf {
	char *path;

	/* Slurm's keys */
	char *container_path; /* pattern for the per-step directory (%m) */
	enum env_file_mode create_env_file;
	char **debug_flags;
	bool disable_cleanup;
	char **disable_hooks; /* hook kinds removed from config.json */
	struct conf_regex env_exclude;
	bool ignore_file_config_json;
	char *mount_spool_dir; /* pattern; NULL: %m at its own path */
	char **runtime_create, **runtime_delete, **runtime_kill, **runtime_query, **runtime_run,
		**runtime_start; /* split words, NULL when unset */
	struct conf_regex runtime_env_exclude;
	char *srun_path;
	char **srun_args;
	enum conf_log_level stdio_debug, syslog_debug, file_debug;

	/* spank-oci's own keys */
	enum remap_root remap_root;
	enum root_overlay root_overlay; /* RootOverlay (default auto) */
	char *root_overlay_fuse;	/* RootOverlayFuse: fuse-overlayfs, or NULL: in PATH */
	bool cgroup_per_container;	/* a child cgroup of the task's for each container */
	/* when the step's tasks on a node join one container (shared mode) by default */
	enum shared_container shared_container;
	char *image_cache; /* pattern: where images are unpacked, per user and node */
	unsigned long long image_cache_size; /* bytes; 0: no limit */
	/* what one image may unpack to (a decompression bomb stops there); 0: no limit */
	unsigned long long image_unpack_max_size;    /* bytes of file data */
	unsigned long long image_unpack_max_entries; /* tar entries, all layers */

	/* defaults and policy for the users' container options */
	struct mount_list container_mounts; /* ContainerMounts: everyone's binds */
	bool mount_home;		    /* MountHome */
	char **allowed_mount_prefixes;	    /* NULL: any source (unless denied) */
	char **denied_mount_prefixes;
	bool allow_remap_root; /* AllowRemapRoot (default true) */
	/* what a bundle's own config.json may bring (launcher/spec/policy.c) */
	char **allowed_bundle_mount_types; /* AllowedBundleMountTypes: types other than binds */
	bool bundle_mount_types_default;   /* ... are SPANK_OCI_DEFAULT_BUNDLE_MOUNT_TYPES */
	bool bundle_hooks;		   /* BundleHooks: run the bundle's hooks (default false) */
	int writable; /* Writable: -1 unset (the bundle's own, images read-only) */
};

/*
 * AllowedBundleMountTypes when unset: file systems with no host path behind them (what they
 * show is the container's own, or what /proc, /sys and /dev already show).
 */
#define SPANK_OCI_DEFAULT_BUNDLE_MOUNT_TYPES "tmpfs,devpts,mqueue,proc,sysfs"

/* ImageUnpackMaxSize and ImageUnpackMaxEntries when unset: far above any real image. */
#define SPANK_OCI_DEFAULT_UNPACK_MAX_SIZE (64ULL << 30)
#define SPANK_OCI_DEFAULT_UNPACK_MAX_ENTRIES 10000000ULL

/* Parses and validates path. Errors name file:line and the offending text. */
int oci_conf_load(const char *path, struct oci_conf **conf, oci_error_t *err);
void oci_conf_free(struct oci_conf *conf);

/* True when name=value (an environment entry) matches the regex. */
bool conf_regex_matches(const struct conf_regex *r, const char *entry);

/* A copy of env without the entries that match exclude (or have no '='); never NULL. */
char **conf_env_without(char *const *env, const struct conf_regex *exclude);

/* A size in bytes, with an optional K, M, G or T suffix (powers of 1024). */
int conf_parse_size(const char *value, unsigned long long *out);

/* The runtime's program name (first word of RunTimeRun or RunTimeCreate). */
const char *oci_conf_runtime_name(const struct oci_conf *conf);

#endif
