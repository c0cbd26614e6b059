#include "conf/conf.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/cleanup.h"
#include "conf/pattern.h"
#include "common/strv.h"
#include "common/xalloc.h"

/* Where the parser is, for error messages. */
struct parse_pos {
	const char *file;
	unsigned line;
	const char *text; /* the whole line, as written */
};

typedef int (*key_handler)(struct oci_conf *conf, const void *key, const char *value,
			   const struct parse_pos *pos, oci_error_t *err);

struct key_def {
	const char *name;
	key_handler handle;
	size_t offset;	/* of the field in struct oci_conf */
	unsigned allow; /* PATTERN_ALLOW_* for patterns and commands */
	bool repeatable;
};

#define FIELD(conf, def, type) ((type *)((char *)(conf) + (def)->offset))

static int fail_at(const struct parse_pos *pos, oci_error_t *err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail_at(const struct parse_pos *pos, oci_error_t *err, const char *fmt, ...)
{
	cleanup_free char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	return oci_error_make(err, 0, "%s:%u: %s: '%s'", pos->file, pos->line, msg ? msg : "error",
			      pos->text);
}

static int handle_pattern(struct oci_conf *conf, const void *key, const char *value,
			  const struct parse_pos *pos, oci_error_t *err)
{
	const struct key_def *def = key;
	cleanup_error oci_error_t perr = NULL;
	char **field = FIELD(conf, def, char *);

	if (*value != '/')
		return fail_at(pos, err, "%s must be an absolute path", def->name);
	if (pattern_check(value, def->allow, &perr) < 0)
		return fail_at(pos, err, "%s", oci_error_text(perr));
	*field = xstrdup(value);
	return 0;
}

static int handle_command(struct oci_conf *conf, const void *key, const char *value,
			  const struct parse_pos *pos, oci_error_t *err)
{
	const struct key_def *def = key;
	cleanup_error oci_error_t perr = NULL;
	cleanup_strv char **words = NULL;
	char ***field = FIELD(conf, def, char **);

	if (pattern_split(value, &words, &perr) < 0)
		return fail_at(pos, err, "%s: %s", def->name, oci_error_text(perr));
	if (words[0] == NULL)
		return fail_at(pos, err, "%s is empty", def->name);
	for (size_t i = 0; words[i] != NULL; i++) {
		if (pattern_check(words[i], def->allow, &perr) < 0)
			return fail_at(pos, err, "%s: %s", def->name, oci_error_text(perr));
	}
	*field = steal_pointer(&words);
	return 0;
}

static int parse_bool(const char *value, bool *out)
{
	static const char *const yes[] = {"true", "yes", "1", "on"};
	static const char *const no[] = {"false", "no", "0", "off"};

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(value, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(value, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

static int handle_bool(struct oci_conf *conf, const void *key, const char *value,
		       const struct parse_pos *pos, oci_error_t *err)
{
	const struct key_def *def = key;

	if (parse_bool(value, FIELD(conf, def, bool)) < 0)
		return fail_at(pos, err, "%s takes true or false", def->name);
	return 0;
}

static int handle_env_file(struct oci_conf *conf, const void *key, const char *value,
			   const struct parse_pos *pos, oci_error_t *err)
{
	(void)key;
	if (strcasecmp(value, "null") == 0 || strcasecmp(value, "true") == 0)
		conf->create_env_file = ENV_FILE_NULL;
	else if (strcasecmp(value, "newline") == 0)
		conf->create_env_file = ENV_FILE_NEWLINE;
	else if (strcasecmp(value, "disabled") == 0 || strcasecmp(value, "false") == 0)
		conf->create_env_file = ENV_FILE_DISABLED;
	else
		return fail_at(pos, err, "CreateEnvFile takes null, newline or disabled");
	return 0;
}

/* The mode value names: if_word for word, else if_true or if_false (parse_bool's), or -1. */
static int word_or_bool(const char *value, const char *word, int if_word, int if_true, int if_false)
{
	bool b;

	if (strcasecmp(value, word) == 0)
		return if_word;
	if (parse_bool(value, &b) == 0)
		return b ? if_true : if_false;
	return -1;
}

static int handle_remap_root(struct oci_conf *conf, const void *key, const char *value,
			     const struct parse_pos *pos, oci_error_t *err)
{
	int mode = word_or_bool(value, "auto", REMAP_ROOT_AUTO, REMAP_ROOT_YES, REMAP_ROOT_NO);

	(void)key;
	if (mode < 0)
		return fail_at(pos, err, "RemapRoot takes auto, true or false");
	conf->remap_root = mode;
	return 0;
}

static int handle_shared_container(struct oci_conf *conf, const void *key, const char *value,
				   const struct parse_pos *pos, oci_error_t *err)
{
	int mode = word_or_bool(value, "mpi", SHARED_MPI, SHARED_ALWAYS, SHARED_NEVER);

	(void)key;
	if (mode < 0)
		return fail_at(pos, err, "SharedContainer takes mpi, true or false");
	conf->shared_container = mode;
	return 0;
}

static int handle_root_overlay(struct oci_conf *conf, const void *key, const char *value,
			       const struct parse_pos *pos, oci_error_t *err)
{
	static const struct {
		const char *name;
		enum root_overlay mode;
	} modes[] = {{"auto", ROOT_OVERLAY_AUTO},
		     {"kernel", ROOT_OVERLAY_KERNEL},
		     {"fuse", ROOT_OVERLAY_FUSE},
		     {"off", ROOT_OVERLAY_OFF}};

	(void)key;
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		if (strcasecmp(value, modes[i].name) == 0) {
			conf->root_overlay = modes[i].mode;
			return 0;
		}
	}
	return fail_at(pos, err, "RootOverlay takes auto, kernel, fuse or off");
}

static int handle_program(struct oci_conf *conf, const void *key, const char *value,
			  const struct parse_pos *pos, oci_error_t *err)
{
	const struct key_def *def = key;
	char **field = FIELD(conf, def, char *);

	if (*value != '/')
		return fail_at(pos, err, "%s must be an absolute path", def->name);
	free(*field);
	*field = xstrdup(value);
	return 0;
}

static int handle_regex(struct oci_conf *conf, const void *key, const char *value,
			const struct parse_pos *pos, oci_error_t *err)
{
	const struct key_def *def = key;
	struct conf_regex *r = FIELD(conf, def, struct conf_regex);
	int rc = regcomp(&r->re, value, REG_EXTENDED | REG_NOSUB);

	if (rc != 0) {
		char msg[256];
		regerror(rc, &r->re, msg, sizeof(msg));
		return fail_at(pos, err, "%s is not an extended regular expression (%s)", def->name,
			       msg);
	}
	r->source = xstrdup(value);
	return 0;
}

/* The comma-separated items of value, blanks around them dropped, empty ones skipped. */
static char **split_list(const char *value)
{
	cleanup_free char *copy = xstrdup(value);
	char **list = xcalloc(1, sizeof(char *));
	size_t n = 0;
	char *save = NULL;

	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		while (isspace((unsigned char)*tok))
			tok++;
		for (char *end = tok + strlen(tok); end > tok && isspace((unsigned char)end[-1]);)
			*--end = '\0';
		if (*tok != '\0')
			strv_push(&list, &n, tok);
	}
	return list;
}

static const char *const hook_kinds[] = {"prestart",	   "createRuntime", "createContainer",
					 "startContainer", "poststart",	    "poststop"};

static int handle_hooks(struct oci_conf *conf, const void *key, const char *value,
			const struct parse_pos *pos, oci_error_t *err)
{
	cleanup_strv char **list = split_list(value);

	(void)key;
	for (size_t i = 0; list[i] != NULL; i++) {
		bool known = false;
		for (size_t k = 0; k < sizeof(hook_kinds) / sizeof(hook_kinds[0]); k++) {
			if (strcasecmp(list[i], hook_kinds[k]) == 0) {
				/* store the runtime-spec spelling */
				free(list[i]);
				list[i] = xstrdup(hook_kinds[k]);
				known = true;
			}
		}
		if (!known)
			return fail_at(pos, err,
				       "DisableHooks: unknown hook kind '%s' (known: prestart, "
				       "createRuntime, createContainer, startContainer, poststart, "
				       "poststop)",
				       list[i]);
	}
	conf->disable_hooks = steal_pointer(&list);
	return 0;
}

static int handle_list(struct oci_conf *conf, const void *key, const char *value,
		       const struct parse_pos *pos, oci_error_t *err)
{
	const struct key_def *def = key;

	(void)pos;
	(void)err;
	*FIELD(conf, def, char **) = split_list(value);
	return 0;
}

static int handle_log_level(struct oci_conf *conf, const void *key, const char *value,
			    const struct parse_pos *pos, oci_error_t *err)
{
	static const char *const names[] = {"quiet", "fatal",  "error",	 "info",   "verbose",
					    "debug", "debug2", "debug3", "debug4", "debug5"};
	const struct key_def *def = key;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcasecmp(value, names[i]) == 0) {
			*FIELD(conf, def, enum conf_log_level) = (enum conf_log_level)i;
			return 0;
		}
	}
	return fail_at(pos, err,
		       "%s takes a Slurm log level (quiet, fatal, error, info, verbose, debug, "
		       "debug2 .. debug5)",
		       def->name);
}

/* A size in bytes, with an optional K, M, G or T (powers of 1024). */
int conf_parse_size(const char *value, unsigned long long *out)
{
	char *end = NULL;
	unsigned long long n;
	unsigned shift = 0;

	errno = 0;
	n = strtoull(value, &end, 10);
	if (errno != 0 || end == value || value[0] == '-')
		return -1;
	switch (*end) {
	case 'T':
	case 't':
		shift += 10;
		/* fallthrough */
	case 'G':
	case 'g':
		shift += 10;
		/* fallthrough */
	case 'M':
	case 'm':
		shift += 10;
		/* fallthrough */
	case 'K':
	case 'k':
		shift += 10;
		end++;
		break;
	default:
		break;
	}
	if (*end != '\0' || (shift && n > (~0ULL >> shift)))
		return -1;
	*out = n << shift;
	return 0;
}

static int handle_size(struct oci_conf *conf, const void *key, const char *value,
		       const struct parse_pos *pos, oci_error_t *err)
{
	const struct key_def *def = key;

	if (conf_parse_size(value, FIELD(conf, def, unsigned long long)) < 0)
		return fail_at(pos, err, "%s takes a size such as 500M or 20G (0: no limit)",
			       def->name);
	return 0;
}

/* A plain count (no suffix). */
static int handle_count(struct oci_conf *conf, const void *key, const char *value,
			const struct parse_pos *pos, oci_error_t *err)
{
	const struct key_def *def = key;
	char *end = NULL;

	errno = 0;
	*FIELD(conf, def, unsigned long long) = strtoull(value, &end, 10);
	if (errno != 0 || end == value || *end != '\0' || value[0] == '-')
		return fail_at(pos, err, "%s takes a number such as 1000000 (0: no limit)",
			       def->name);
	return 0;
}

static int handle_srun_path(struct oci_conf *conf, const void *key, const char *value,
			    const struct parse_pos *pos, oci_error_t *err)
{
	(void)key;
	if (*value != '/')
		return fail_at(pos, err, "SrunPath must be an absolute path");
	conf->srun_path = xstrdup(value);
	return 0;
}

static int handle_srun_arg(struct oci_conf *conf, const void *key, const char *value,
			   const struct parse_pos *pos, oci_error_t *err)
{
	size_t n = strv_len(conf->srun_args);

	(void)key;
	(void)pos;
	(void)err;
	strv_push(&conf->srun_args, &n, value);
	return 0;
}

static int handle_mounts(struct oci_conf *conf, const void *key, const char *value,
			 const struct parse_pos *pos, oci_error_t *err)
{
	cleanup_error oci_error_t perr = NULL;

	(void)key;
	if (mounts_parse(value, &conf->container_mounts, &perr) < 0)
		return fail_at(pos, err, "ContainerMounts: %s", oci_error_text(perr));
	return 0;
}

/* Comma-separated absolute path prefixes; a trailing '/' is dropped ("/" stays). */
static int handle_prefixes(struct oci_conf *conf, const void *key, const char *value,
			   const struct parse_pos *pos, oci_error_t *err)
{
	const struct key_def *def = key;
	cleanup_strv char **list = split_list(value);

	for (size_t i = 0; list[i] != NULL; i++) {
		size_t n = strlen(list[i]);
		if (list[i][0] != '/')
			return fail_at(pos, err, "%s: '%s' is not an absolute path", def->name,
				       list[i]);
		if (strstr(list[i], "/../") != NULL || strstr(list[i], "/./") != NULL ||
		    (n >= 3 && strcmp(list[i] + n - 3, "/..") == 0))
			return fail_at(pos, err, "%s: '%s' may not contain . or ..", def->name,
				       list[i]);
		while (n > 1 && list[i][n - 1] == '/')
			list[i][--n] = '\0';
	}
	*FIELD(conf, def, char **) = steal_pointer(&list);
	return 0;
}

/* File system type names (as mount(8) -t takes them); binds are not a type here. */
static int handle_mount_types(struct oci_conf *conf, const void *key, const char *value,
			      const struct parse_pos *pos, oci_error_t *err)
{
	cleanup_strv char **list = split_list(value);

	(void)key;
	for (size_t i = 0; list[i] != NULL; i++) {
		if (strcmp(list[i], "bind") == 0 || strcmp(list[i], "rbind") == 0)
			return fail_at(
				pos, err,
				"AllowedBundleMountTypes: '%s': a bundle's binds are checked "
				"against AllowedMountPrefixes and DeniedMountPrefixes, not listed "
				"here",
				list[i]);
		if (strspn(list[i], "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
				    "._-") != strlen(list[i]))
			return fail_at(pos, err,
				       "AllowedBundleMountTypes: '%s' is not a file system type",
				       list[i]);
	}
	strv_free(conf->allowed_bundle_mount_types);
	conf->allowed_bundle_mount_types = steal_pointer(&list);
	conf->bundle_mount_types_default = false;
	return 0;
}

static int handle_tristate(struct oci_conf *conf, const void *key, const char *value,
			   const struct parse_pos *pos, oci_error_t *err)
{
	const struct key_def *def = key;
	bool b;

	if (parse_bool(value, &b) < 0)
		return fail_at(pos, err, "%s takes true or false", def->name);
	*FIELD(conf, def, int) = b ? 1 : 0;
	return 0;
}

#define OFF(field) offsetof(struct oci_conf, field)
#define CMD (PATTERN_ALLOW_SPOOL | PATTERN_ALLOW_BUNDLE)

static const struct key_def keys[] = {
	{"ContainerPath", handle_pattern, OFF(container_path), 0, false},
	{"CreateEnvFile", handle_env_file, 0, 0, false},
	{"DebugFlags", handle_list, OFF(debug_flags), 0, false},
	{"DisableCleanup", handle_bool, OFF(disable_cleanup), 0, false},
	{"DisableHooks", handle_hooks, 0, 0, false},
	{"EnvExclude", handle_regex, OFF(env_exclude), 0, false},
	{"FileDebug", handle_log_level, OFF(file_debug), 0, false},
	{"IgnoreFileConfigJson", handle_bool, OFF(ignore_file_config_json), 0, false},
	{"MountSpoolDir", handle_pattern, OFF(mount_spool_dir), PATTERN_ALLOW_SPOOL, false},
	{"RunTimeCreate", handle_command, OFF(runtime_create), CMD | PATTERN_ALLOW_ARGV, false},
	{"RunTimeDelete", handle_command, OFF(runtime_delete), CMD | PATTERN_ALLOW_PID, false},
	{"RunTimeEnvExclude", handle_regex, OFF(runtime_env_exclude), 0, false},
	{"RunTimeKill", handle_command, OFF(runtime_kill), CMD | PATTERN_ALLOW_PID, false},
	{"RunTimeQuery", handle_command, OFF(runtime_query), CMD, false},
	{"RunTimeRun", handle_command, OFF(runtime_run), CMD | PATTERN_ALLOW_ARGV, false},
	{"RunTimeStart", handle_command, OFF(runtime_start), CMD, false},
	{"SrunArgs", handle_srun_arg, 0, 0, true},
	{"SrunPath", handle_srun_path, 0, 0, false},
	{"StdIODebug", handle_log_level, OFF(stdio_debug), 0, false},
	{"SyslogDebug", handle_log_level, OFF(syslog_debug), 0, false},
	/* spank-oci's own keys */
	{"RemapRoot", handle_remap_root, 0, 0, false},
	{"RootOverlay", handle_root_overlay, 0, 0, false},
	{"RootOverlayFuse", handle_program, OFF(root_overlay_fuse), 0, false},
	{"CgroupPerContainer", handle_bool, OFF(cgroup_per_container), 0, false},
	{"SharedContainer", handle_shared_container, 0, 0, false},
	{"ImageCache", handle_pattern, OFF(image_cache), 0, false},
	{"ImageCacheSize", handle_size, OFF(image_cache_size), 0, false},
	{"ImageUnpackMaxSize", handle_size, OFF(image_unpack_max_size), 0, false},
	{"ImageUnpackMaxEntries", handle_count, OFF(image_unpack_max_entries), 0, false},
	/* defaults and policy for the users' container options */
	{"ContainerMounts", handle_mounts, 0, 0, false},
	{"MountHome", handle_bool, OFF(mount_home), 0, false},
	{"AllowedMountPrefixes", handle_prefixes, OFF(allowed_mount_prefixes), 0, false},
	{"DeniedMountPrefixes", handle_prefixes, OFF(denied_mount_prefixes), 0, false},
	{"AllowRemapRoot", handle_bool, OFF(allow_remap_root), 0, false},
	{"AllowedBundleMountTypes", handle_mount_types, 0, 0, false},
	{"BundleHooks", handle_bool, OFF(bundle_hooks), 0, false},
	{"Writable", handle_tristate, OFF(writable), 0, false},
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

/* Reads one value starting at *p (quoted or bare); advances *p. */
static int read_value(char **p, char **value, const struct parse_pos *pos, oci_error_t *err)
{
	char *s = *p, *out;

	if (*s != '"') {
		char *end = s;
		while (*end != '\0' && !isspace((unsigned char)*end))
			end++;
		*value = xstrndup(s, end - s);
		*p = end;
		return 0;
	}
	out = *value = xmalloc(strlen(s) + 1);
	for (s++; *s != '"'; s++) {
		if (*s == '\0') {
			free(*value);
			*value = NULL;
			return fail_at(pos, err, "unterminated double quote");
		}
		if (*s == '\\' && (s[1] == '"' || s[1] == '\\'))
			s++;
		*out++ = *s;
	}
	*out = '\0';
	*p = s + 1;
	if (**p != '\0' && !isspace((unsigned char)**p)) {
		free(*value);
		*value = NULL;
		return fail_at(pos, err, "text after the closing double quote");
	}
	return 0;
}

/* Cuts a '#' comment that is not inside double quotes. */
static void strip_comment(char *line)
{
	bool quoted = false;

	for (char *p = line; *p != '\0'; p++) {
		if (*p == '\\' && quoted && p[1] != '\0')
			p++;
		else if (*p == '"')
			quoted = !quoted;
		else if (*p == '#' && !quoted) {
			*p = '\0';
			return;
		}
	}
}

static int parse_line(struct oci_conf *conf, char *line, const struct parse_pos *pos,
		      bool seen[NKEYS], unsigned lines[NKEYS], oci_error_t *err)
{
	char *p = line;

	strip_comment(line);
	while (true) {
		const struct key_def *def = NULL;
		cleanup_free char *value = NULL;
		char *key = NULL;
		size_t i;

		while (isspace((unsigned char)*p))
			p++;
		if (*p == '\0')
			return 0;
		key = p;
		while (isalnum((unsigned char)*p) || *p == '_')
			p++;
		if (p == key || *p != '=')
			return fail_at(pos, err, "expected Key=Value");
		*p++ = '\0';
		for (i = 0; i < NKEYS; i++) {
			if (strcasecmp(key, keys[i].name) == 0) {
				def = &keys[i];
				break;
			}
		}
		if (def == NULL)
			return fail_at(pos, err, "unknown key '%s'", key);
		if (seen[i] && !def->repeatable)
			return fail_at(pos, err, "%s is set again (first set on line %u)",
				       def->name, lines[i]);
		if (read_value(&p, &value, pos, err) < 0)
			return -1;
		if (def->handle(conf, def, value, pos, err) < 0)
			return -1;
		seen[i] = true;
		lines[i] = pos->line;
	}
}

static int validate(struct oci_conf *conf, oci_error_t *err)
{
	const char *f = conf->path;

	if (conf->runtime_run != NULL && (conf->runtime_create || conf->runtime_start))
		return oci_error_make(err, 0,
				      "%s: RunTimeRun and RunTimeCreate/RunTimeStart exclude each "
				      "other: set either RunTimeRun or RunTimeCreate+RunTimeStart",
				      f);
	if (conf->runtime_run == NULL) {
		if (conf->runtime_create == NULL && conf->runtime_start == NULL)
			return oci_error_make(
				err, 0,
				"%s: no runtime: set RunTimeRun, or RunTimeCreate and "
				"RunTimeStart",
				f);
		if (conf->runtime_create == NULL || conf->runtime_start == NULL)
			return oci_error_make(err, 0,
					      "%s: RunTimeCreate and RunTimeStart go together", f);
		if (conf->runtime_query == NULL)
			return oci_error_make(err, 0,
					      "%s: RunTimeQuery is required with RunTimeCreate and "
					      "RunTimeStart",
					      f);
	}
	if (conf->shared_container == SHARED_ALWAYS && conf->runtime_create == NULL)
		return oci_error_make(err, 0,
				      "%s: SharedContainer needs RunTimeCreate, RunTimeStart and "
				      "RunTimeQuery (the tasks join a created container)",
				      f);
	if (conf->runtime_kill == NULL)
		return oci_error_make(err, 0, "%s: RunTimeKill is required", f);
	if (conf->runtime_delete == NULL)
		return oci_error_make(err, 0, "%s: RunTimeDelete is required", f);
	return 0;
}

int oci_conf_load(const char *path, struct oci_conf **out, oci_error_t *err)
{
	cleanup_fclose FILE *f = NULL;
	cleanup_free char *line = NULL;
	struct oci_conf *conf = NULL;
	bool seen[NKEYS] = {false};
	unsigned lines[NKEYS] = {0};
	size_t cap = 0;
	struct parse_pos pos = {.file = path};

	conf = xcalloc(1, sizeof(*conf));
	conf->stdio_debug = conf->syslog_debug = conf->file_debug = LOG_LEVEL_UNSET;
	conf->allow_remap_root = true;
	conf->writable = -1;
	conf->image_unpack_max_size = SPANK_OCI_DEFAULT_UNPACK_MAX_SIZE;
	conf->image_unpack_max_entries = SPANK_OCI_DEFAULT_UNPACK_MAX_ENTRIES;
	conf->path = xstrdup(path);
	f = fopen(path, "re");
	if (f == NULL) {
		oci_error_make(err, errno, "cannot read config %s", path);
		goto fail;
	}
	while (getline(&line, &cap, f) >= 0) {
		cleanup_free char *text = NULL;

		pos.line++;
		line[strcspn(line, "\n")] = '\0';
		pos.text = text = xstrdup(line);
		if (parse_line(conf, line, &pos, seen, lines, err) < 0)
			goto fail;
	}
	if (ferror(f)) {
		oci_error_make(err, EIO, "cannot read config %s", path);
		goto fail;
	}
	if (conf->container_path == NULL)
		conf->container_path = xstrdup(SPANK_OCI_DEFAULT_CONTAINER_PATH);
	if (conf->image_cache == NULL)
		conf->image_cache = xstrdup(SPANK_OCI_DEFAULT_IMAGE_CACHE);
	if (conf->allowed_bundle_mount_types == NULL) {
		conf->allowed_bundle_mount_types = split_list(SPANK_OCI_DEFAULT_BUNDLE_MOUNT_TYPES);
		conf->bundle_mount_types_default = true;
	}
	if (validate(conf, err) < 0)
		goto fail;
	*out = conf;
	return 0;
fail:
	oci_conf_free(conf);
	return -1;
}

static void conf_regex_free(struct conf_regex *r)
{
	if (r->source != NULL) {
		regfree(&r->re);
		free(r->source);
	}
}

void oci_conf_free(struct oci_conf *conf)
{
	if (conf == NULL)
		return;
	free(conf->path);
	free(conf->container_path);
	free(conf->image_cache);
	strv_free(conf->debug_flags);
	strv_free(conf->disable_hooks);
	conf_regex_free(&conf->env_exclude);
	free(conf->mount_spool_dir);
	strv_free(conf->runtime_create);
	strv_free(conf->runtime_delete);
	strv_free(conf->runtime_kill);
	strv_free(conf->runtime_query);
	strv_free(conf->runtime_run);
	strv_free(conf->runtime_start);
	conf_regex_free(&conf->runtime_env_exclude);
	free(conf->srun_path);
	strv_free(conf->srun_args);
	free(conf->root_overlay_fuse);
	mounts_release(&conf->container_mounts);
	strv_free(conf->allowed_mount_prefixes);
	strv_free(conf->denied_mount_prefixes);
	strv_free(conf->allowed_bundle_mount_types);
	free(conf);
}

bool conf_regex_matches(const struct conf_regex *r, const char *entry)
{
	return r->source != NULL && regexec(&r->re, entry, 0, NULL, 0) == 0;
}

char **conf_env_without(char *const *env, const struct conf_regex *exclude)
{
	char **out = xcalloc(1, sizeof(char *));
	size_t n = 0;

	for (size_t i = 0; env != NULL && env[i] != NULL; i++) {
		if (strchr(env[i], '=') != NULL && !conf_regex_matches(exclude, env[i]))
			strv_push(&out, &n, env[i]);
	}
	return out;
}

const char *oci_conf_runtime_name(const struct oci_conf *conf)
{
	char **cmd = conf->runtime_run ? conf->runtime_run : conf->runtime_create;
	const char *slash;

	if (cmd == NULL || cmd[0] == NULL)
		return "runtime";
	slash = strrchr(cmd[0], '/');
	return slash ? slash + 1 : cmd[0];
}
