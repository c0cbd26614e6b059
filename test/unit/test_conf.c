/* conf/conf.c: the configuration file, its keys, its syntax and its error messages. */
#include "unit.h"

#include "conf/conf.h"

/* The smallest valid runtime section; tests append their own lines after it. */
#define RUNTIME                                                                                    \
	"RunTimeRun=\"/usr/sbin/runc --root %m/runc run --bundle %b %u.%j.%s.%t\"\n"               \
	"RunTimeKill=\"/usr/sbin/runc --root %m/runc kill %u.%j.%s.%t KILL\"\n"                    \
	"RunTimeDelete=\"/usr/sbin/runc --root %m/runc delete --force %u.%j.%s.%t\"\n"

#define WORDS(...) ((const char *const[]){__VA_ARGS__, NULL})

struct fixture {
	char *dir;
	char *path; /* dir/oci.conf */
	struct oci_conf *conf;
};

static int setup(void **state)
{
	struct fixture *f = dir_fixture_new(struct fixture);

	f->path = xasprintf("%s/oci.conf", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	oci_conf_free(f->conf);
	free(f->path);
	dir_fixture_free(f);
	return 0;
}

/* Writes text as the config file and loads it into f->conf; fails the test on error. */
static struct oci_conf *load(struct fixture *f, const char *text)
{
	cleanup_error oci_error_t err = NULL;

	oci_conf_free(f->conf);
	f->conf = NULL;
	write_text(f->path, NULL, text);
	assert_ok(oci_conf_load(f->path, &f->conf, &err), err);
	assert_non_null(f->conf);
	return f->conf;
}

/* Loads text expecting an error; checks that it names "file:line:" and contains sub. */
static void load_error(struct fixture *f, const char *text, unsigned line, const char *sub)
{
	cleanup_error oci_error_t err = NULL;
	struct oci_conf *conf = NULL;

	write_text(f->path, NULL, text);
	if (oci_conf_load(f->path, &conf, &err) == 0) {
		oci_conf_free(conf);
		fail_msg("config loaded without error, expected '%s'", sub);
	}
	assert_null(conf);
	if (line != 0) {
		cleanup_free char *where = xasprintf("%s:%u: ", f->path, line);
		assert_error_has(err, where);
	} else {
		assert_error_has(err, f->path);
	}
	assert_error_has(err, sub);
}

static void assert_strv_equal(char *const *got, const char *const *want)
{
	size_t i;

	assert_non_null(got);
	for (i = 0; want[i] != NULL; i++) {
		if (got[i] == NULL)
			fail_msg("word %zu missing, expected '%s'", i, want[i]);
		assert_string_equal(got[i], want[i]);
	}
	if (got[i] != NULL)
		fail_msg("unexpected extra word %zu '%s'", i, got[i]);
}

/* ---- the runtime keys ------------------------------------------------------------------- */

static void minimal_config_and_defaults(void **state)
{
	struct oci_conf *c = load(*state, RUNTIME);

	assert_strv_equal(c->runtime_run, WORDS("/usr/sbin/runc", "--root", "%m/runc", "run",
						"--bundle", "%b", "%u.%j.%s.%t"));
	assert_strv_equal(c->runtime_kill, WORDS("/usr/sbin/runc", "--root", "%m/runc", "kill",
						 "%u.%j.%s.%t", "KILL"));
	assert_strv_equal(c->runtime_delete, WORDS("/usr/sbin/runc", "--root", "%m/runc", "delete",
						   "--force", "%u.%j.%s.%t"));
	assert_null(c->runtime_create);
	assert_null(c->runtime_start);
	assert_null(c->runtime_query);
	/* defaults of everything unset */
	assert_string_equal(c->container_path, SPANK_OCI_DEFAULT_CONTAINER_PATH);
	assert_string_equal(c->container_path, "/run/spank-oci/%U/%j.%s");
	assert_string_equal(c->image_cache, "/var/cache/spank-oci/%U");
	assert_int_equal(c->create_env_file, ENV_FILE_DISABLED);
	assert_null(c->debug_flags);
	assert_false(c->disable_cleanup);
	assert_null(c->disable_hooks);
	assert_null(c->env_exclude.source);
	assert_false(conf_regex_matches(&c->env_exclude, "ANY=thing"));
	assert_false(c->ignore_file_config_json);
	assert_null(c->mount_spool_dir);
	assert_null(c->runtime_env_exclude.source);
	assert_null(c->srun_path);
	assert_null(c->srun_args);
	assert_int_equal(c->stdio_debug, LOG_LEVEL_UNSET);
	assert_int_equal(c->syslog_debug, LOG_LEVEL_UNSET);
	assert_int_equal(c->file_debug, LOG_LEVEL_UNSET);
	assert_int_equal(c->remap_root, REMAP_ROOT_AUTO);
	assert_string_equal(c->path, ((struct fixture *)*state)->path);
}

static void create_start_query_runtime(void **state)
{
	struct oci_conf *c = load(*state, "RunTimeCreate=\"/opt/crun create --bundle %b %u.%j\"\n"
					  "RunTimeStart=\"/opt/crun start %u.%j\"\n"
					  "RunTimeQuery=\"/opt/crun state %u.%j\"\n"
					  "RunTimeKill=\"/opt/crun kill %u.%j %p\"\n"
					  "RunTimeDelete=\"/opt/crun delete --force %u.%j %p\"\n");

	assert_null(c->runtime_run);
	assert_strv_equal(c->runtime_create,
			  WORDS("/opt/crun", "create", "--bundle", "%b", "%u.%j"));
	assert_strv_equal(c->runtime_start, WORDS("/opt/crun", "start", "%u.%j"));
	assert_strv_equal(c->runtime_query, WORDS("/opt/crun", "state", "%u.%j"));
	assert_strv_equal(c->runtime_kill, WORDS("/opt/crun", "kill", "%u.%j", "%p"));
	assert_strv_equal(c->runtime_delete,
			  WORDS("/opt/crun", "delete", "--force", "%u.%j", "%p"));
	assert_string_equal(oci_conf_runtime_name(c), "crun");
}

static void runtime_name_is_basename_of_first_word(void **state)
{
	struct oci_conf *c = load(*state, RUNTIME);

	assert_string_equal(oci_conf_runtime_name(c), "runc");
	c = load(*state, "RunTimeRun=\"crun run %b x\"\nRunTimeKill=k\nRunTimeDelete=d\n");
	assert_string_equal(oci_conf_runtime_name(c), "crun");
	c = load(*state, "RunTimeRun=\"'/opt/my rt/runsc' run %b x\"\nRunTimeKill=k\n"
			 "RunTimeDelete=d\n");
	assert_string_equal(oci_conf_runtime_name(c), "runsc");
}

static void runtime_command_errors(void **state)
{
	struct fixture *f = *state;

	load_error(f, RUNTIME "RunTimeQuery=\"/bin/rt state %x\"\n", 4, "unknown pattern %x");
	load_error(f, RUNTIME "RunTimeQuery=\"/bin/rt state %x\"\n", 4,
		   "'RunTimeQuery=\"/bin/rt state %x\"'");
	load_error(f, "RunTimeRun=\"/bin/rt run %b %p\"\nRunTimeKill=k\nRunTimeDelete=d\n", 1,
		   "%p is only for RunTimeKill and RunTimeDelete");
	load_error(f,
		   "# runtime\nRunTimeRun=\"/bin/rt run %b | tee /tmp/log\"\nRunTimeKill=k\n"
		   "RunTimeDelete=d\n",
		   2, "shell syntax '|'");
	load_error(f, "RunTimeRun=\"/bin/rt run %b; rm -rf /\"\n", 1, "shell syntax ';'");
	load_error(f, "RunTimeRun=\"/bin/rt run 'unterminated\"\n", 1, "unterminated quote");
	load_error(f, "RunTimeRun=\"\"\n", 1, "RunTimeRun is empty");
	load_error(f, "RunTimeRun=\"/bin/rt run %b\"\nRunTimeStart=\"/bin/rt start %@\"\n", 2,
		   "%@ is not allowed");
	load_error(f, RUNTIME "RunTimeQuery=\"/bin/rt state %p\"\n", 4, "%p is only for");
}

static void runtime_validation(void **state)
{
	struct fixture *f = *state;

	load_error(f, RUNTIME "RunTimeCreate=\"/bin/rt create %b x\"\n", 0,
		   "RunTimeRun and RunTimeCreate/RunTimeStart exclude each other");
	load_error(f, RUNTIME "RunTimeStart=\"/bin/rt start x\"\n", 0, "exclude each other");
	load_error(f, "RunTimeKill=k\nRunTimeDelete=d\n", 0, "no runtime");
	load_error(f, "", 0, "no runtime");
	load_error(f, "RunTimeCreate=c\nRunTimeQuery=q\nRunTimeKill=k\nRunTimeDelete=d\n", 0,
		   "RunTimeCreate and RunTimeStart go together");
	load_error(f, "RunTimeStart=s\nRunTimeQuery=q\nRunTimeKill=k\nRunTimeDelete=d\n", 0,
		   "RunTimeCreate and RunTimeStart go together");
	load_error(f, "RunTimeCreate=c\nRunTimeStart=s\nRunTimeKill=k\nRunTimeDelete=d\n", 0,
		   "RunTimeQuery is required");
	load_error(f, "RunTimeRun=r\nRunTimeDelete=d\n", 0, "RunTimeKill is required");
	load_error(f, "RunTimeRun=r\nRunTimeKill=k\n", 0, "RunTimeDelete is required");
	load_error(f, "RunTimeCreate=c\nRunTimeStart=s\nRunTimeQuery=q\nRunTimeKill=k\n", 0,
		   "RunTimeDelete is required");
}

/* ---- Slurm's other keys ----------------------------------------------------------------- */

static void container_path_key(void **state)
{
	struct fixture *f = *state;
	struct oci_conf *c = load(f, RUNTIME "ContainerPath=/scratch/oci-%U/%j.%s.%%\n");

	assert_string_equal(c->container_path, "/scratch/oci-%U/%j.%s.%%");
	load_error(f, RUNTIME "ContainerPath=scratch/%j\n", 4, "must be an absolute path");
	load_error(f, RUNTIME "ContainerPath=/scratch/%m\n", 4, "%m is not allowed");
	load_error(f, RUNTIME "ContainerPath=/scratch/%b\n", 4, "%b is not allowed");
	load_error(f, RUNTIME "ContainerPath=/scratch/%q\n", 4, "unknown pattern %q");
}

static void create_env_file_key(void **state)
{
	static const struct {
		const char *value;
		enum env_file_mode mode;
	} cases[] = {
		{"true", ENV_FILE_NULL},       {"null", ENV_FILE_NULL},
		{"NULL", ENV_FILE_NULL},       {"newline", ENV_FILE_NEWLINE},
		{"Newline", ENV_FILE_NEWLINE}, {"disabled", ENV_FILE_DISABLED},
		{"false", ENV_FILE_DISABLED},
	};
	struct fixture *f = *state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cleanup_free char *text = xasprintf("%s"
						    "CreateEnvFile=%s\n",
						    RUNTIME, cases[i].value);
		struct oci_conf *c;

		/* start from a different mode so that the assertion can fail */
		c = load(f, RUNTIME "CreateEnvFile=newline\n");
		assert_int_equal(c->create_env_file, ENV_FILE_NEWLINE);
		c = load(f, text);
		if (c->create_env_file != cases[i].mode)
			fail_msg("CreateEnvFile=%s gave mode %d, expected %d", cases[i].value,
				 c->create_env_file, cases[i].mode);
	}
	load_error(f, RUNTIME "CreateEnvFile=tab\n", 4, "CreateEnvFile takes null, newline");
}

static void debug_flags_key(void **state)
{
	struct oci_conf *c = load(*state, RUNTIME "DebugFlags=\"Steps, Network ,,JobContainer\"\n");

	assert_strv_equal(c->debug_flags, WORDS("Steps", "Network", "JobContainer"));
	c = load(*state, RUNTIME "DebugFlags=\n");
	assert_strv_equal(c->debug_flags, WORDS(NULL));
}

static void disable_hooks_key(void **state)
{
	struct fixture *f = *state;
	struct oci_conf *c =
		load(f, RUNTIME "DisableHooks=\"PRESTART, createruntime,CreateContainer,"
				"startcontainer , POSTSTART,poststop\"\n");

	/* stored in the runtime-spec spelling, whatever the case in the file */
	assert_strv_equal(c->disable_hooks, WORDS("prestart", "createRuntime", "createContainer",
						  "startContainer", "poststart", "poststop"));
	c = load(f, RUNTIME "DisableHooks=prestart\n");
	assert_strv_equal(c->disable_hooks, WORDS("prestart"));
	load_error(f, RUNTIME "DisableHooks=prestart,prestrat\n", 4,
		   "unknown hook kind 'prestrat'");
	load_error(f, RUNTIME "DisableHooks=poststop,prestart,bogus\n", 4, "'bogus'");
}

/* What a bundle's own config.json may bring: mount types beside binds, and hooks. */
static void bundle_policy_keys(void **state)
{
	struct fixture *f = *state;
	struct oci_conf *c = load(f, RUNTIME);

	/* by default: pseudo file systems only, and no hooks */
	assert_strv_equal(c->allowed_bundle_mount_types,
			  WORDS("tmpfs", "devpts", "mqueue", "proc", "sysfs"));
	assert_true(c->bundle_mount_types_default);
	assert_false(c->bundle_hooks);
	c = load(f,
		 RUNTIME "AllowedBundleMountTypes=\"tmpfs, fuse.squashfuse\"\nBundleHooks=yes\n");
	assert_strv_equal(c->allowed_bundle_mount_types, WORDS("tmpfs", "fuse.squashfuse"));
	assert_false(c->bundle_mount_types_default);
	assert_true(c->bundle_hooks);
	/* an empty list: no type beside binds */
	c = load(f, RUNTIME "AllowedBundleMountTypes=\n");
	assert_strv_equal(c->allowed_bundle_mount_types, WORDS(NULL));
	assert_false(c->bundle_mount_types_default);
	load_error(f, RUNTIME "AllowedBundleMountTypes=tmpfs,bind\n", 4,
		   "AllowedBundleMountTypes: 'bind': a bundle's binds are checked against "
		   "AllowedMountPrefixes and DeniedMountPrefixes, not listed here");
	load_error(f, RUNTIME "AllowedBundleMountTypes=tmpfs,a/b\n", 4,
		   "AllowedBundleMountTypes: 'a/b' is not a file system type");
	load_error(f, RUNTIME "BundleHooks=sometimes\n", 4, "BundleHooks takes true or false");
}

static void boolean_keys(void **state)
{
	static const char *const yes[] = {"true", "True", "yes", "1", "on", "ON"};
	static const char *const no[] = {"false", "FALSE", "no", "0", "off"};
	struct fixture *f = *state;

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		cleanup_free char *text = xasprintf("%s"
						    "DisableCleanup=%s\nIgnoreFileConfigJson=%s\n",
						    RUNTIME, yes[i], yes[i]);
		struct oci_conf *c = load(f, text);

		if (!c->disable_cleanup || !c->ignore_file_config_json)
			fail_msg("'%s' did not read as true", yes[i]);
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		cleanup_free char *text = xasprintf("%s"
						    "DisableCleanup=%s\nIgnoreFileConfigJson=%s\n",
						    RUNTIME, no[i], no[i]);
		struct oci_conf *c = load(f, text);

		if (c->disable_cleanup || c->ignore_file_config_json)
			fail_msg("'%s' did not read as false", no[i]);
	}
	load_error(f, RUNTIME "DisableCleanup=maybe\n", 4, "DisableCleanup takes true or false");
	load_error(f, RUNTIME "IgnoreFileConfigJson=\n", 4,
		   "IgnoreFileConfigJson takes true or false");
}

static void env_exclude_keys(void **state)
{
	struct fixture *f = *state;
	struct oci_conf *c = load(f, RUNTIME "EnvExclude=\"^(SLURM_CONF|SECRET)=\"\n"
					     "RunTimeEnvExclude=^LD_PRELOAD=\n");

	assert_string_equal(c->env_exclude.source, "^(SLURM_CONF|SECRET)=");
	assert_true(conf_regex_matches(&c->env_exclude, "SECRET=x"));
	assert_true(conf_regex_matches(&c->env_exclude, "SLURM_CONF=/etc/slurm/slurm.conf"));
	assert_true(conf_regex_matches(&c->env_exclude, "SECRET="));
	assert_false(conf_regex_matches(&c->env_exclude, "MY_SECRET=x"));
	assert_false(conf_regex_matches(&c->env_exclude, "SECRETS=x"));
	assert_false(conf_regex_matches(&c->env_exclude, "SLURM_CONF_SERVER=x"));
	assert_false(conf_regex_matches(&c->env_exclude, "PATH=SECRET=x"));

	assert_string_equal(c->runtime_env_exclude.source, "^LD_PRELOAD=");
	assert_true(conf_regex_matches(&c->runtime_env_exclude, "LD_PRELOAD=/x.so"));
	assert_false(conf_regex_matches(&c->runtime_env_exclude, "LD_LIBRARY_PATH=/x"));
	assert_false(conf_regex_matches(&c->env_exclude, "LD_PRELOAD=/x.so"));

	/* matching is against the whole NAME=value entry */
	c = load(f, RUNTIME "EnvExclude==secret$\n");
	assert_true(conf_regex_matches(&c->env_exclude, "ANY=secret"));
	assert_false(conf_regex_matches(&c->env_exclude, "ANY=secrets"));

	load_error(f, RUNTIME "EnvExclude=\"((\"\n", 4,
		   "EnvExclude is not an extended regular expression");
	load_error(f, RUNTIME "RunTimeEnvExclude=\"[a-\"\n", 4,
		   "RunTimeEnvExclude is not an extended regular expression");
}

/* conf_env_without: the entries that do not match, in order; an empty vector, never NULL. */
static void env_without_filters(void **state)
{
	struct fixture *f = *state;
	struct oci_conf *c = load(f, RUNTIME "EnvExclude=^SECRET=\n");
	char *const env[] = {"A=1", "SECRET=x", "NOEQUALS", "B=", NULL};
	char *const only_secret[] = {"SECRET=y", NULL};
	cleanup_strv char **kept = conf_env_without(env, &c->env_exclude);
	cleanup_strv char **none = conf_env_without(only_secret, &c->env_exclude);
	cleanup_strv char **from_null = conf_env_without(NULL, &c->env_exclude);

	assert_strv_equal(kept, WORDS("A=1", "B="));
	assert_strv_equal(none, WORDS(NULL));
	assert_strv_equal(from_null, WORDS(NULL));
}

static void log_level_keys(void **state)
{
	static const char *const names[] = {"quiet", "fatal",  "error",	 "info",   "verbose",
					    "debug", "debug2", "debug3", "debug4", "debug5"};
	struct fixture *f = *state;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		/* each key gets a different level so that a swapped field would show */
		size_t j = (i + 3) % 10, k = (i + 7) % 10;
		cleanup_free char *text = xasprintf("%s"
						    "StdIODebug=%s\nSyslogDebug=%s\nFileDebug=%s\n",
						    RUNTIME, names[i], names[j], names[k]);
		struct oci_conf *c = load(f, text);

		assert_int_equal(c->stdio_debug, (int)LOG_LEVEL_QUIET + (int)i);
		assert_int_equal(c->syslog_debug, (int)LOG_LEVEL_QUIET + (int)j);
		assert_int_equal(c->file_debug, (int)LOG_LEVEL_QUIET + (int)k);
	}
	{
		struct oci_conf *c = load(f, RUNTIME "stdiodebug=DEBUG2\n");
		assert_int_equal(c->stdio_debug, LOG_LEVEL_DEBUG2);
		assert_int_equal(c->syslog_debug, LOG_LEVEL_UNSET);
	}
	load_error(f, RUNTIME "StdIODebug=loud\n", 4, "StdIODebug takes a Slurm log level");
	load_error(f, RUNTIME "SyslogDebug=debug6\n", 4, "SyslogDebug takes a Slurm log level");
	load_error(f, RUNTIME "FileDebug=3\n", 4, "FileDebug takes a Slurm log level");
}

static void mount_spool_dir_key(void **state)
{
	struct fixture *f = *state;
	struct oci_conf *c = load(f, RUNTIME "MountSpoolDir=/var/run/slurm-oci/%j\n");

	assert_string_equal(c->mount_spool_dir, "/var/run/slurm-oci/%j");
	load_error(f, RUNTIME "MountSpoolDir=run/oci\n", 4, "must be an absolute path");
	load_error(f, RUNTIME "MountSpoolDir=/run/%b\n", 4, "%b is not allowed");
}

static void srun_keys(void **state)
{
	struct fixture *f = *state;
	struct oci_conf *c = load(f, "SrunArgs=--mpi=none\n" RUNTIME "SrunPath=/usr/bin/srun\n"
				     "SrunArgs=\"--export ALL\"\nsrunargs=-v\n");

	assert_string_equal(c->srun_path, "/usr/bin/srun");
	assert_strv_equal(c->srun_args, WORDS("--mpi=none", "--export ALL", "-v"));
	load_error(f, RUNTIME "SrunPath=srun\n", 4, "SrunPath must be an absolute path");
	load_error(f, RUNTIME "SrunPath=/a\nSrunPath=/b\n", 5,
		   "SrunPath is set again (first set on line 4)");
}

static void remap_root_key(void **state)
{
	static const struct {
		const char *value;
		enum remap_root mode;
	} cases[] = {
		{"auto", REMAP_ROOT_AUTO}, {"AUTO", REMAP_ROOT_AUTO}, {"true", REMAP_ROOT_YES},
		{"yes", REMAP_ROOT_YES},   {"false", REMAP_ROOT_NO},  {"0", REMAP_ROOT_NO},
	};
	struct fixture *f = *state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cleanup_free char *text = xasprintf("RemapRoot=%s\n%s", cases[i].value, RUNTIME);
		struct oci_conf *c = load(f, text);

		if (c->remap_root != cases[i].mode)
			fail_msg("RemapRoot=%s gave %d, expected %d", cases[i].value, c->remap_root,
				 cases[i].mode);
	}
	load_error(f, "RemapRoot=sometimes\n" RUNTIME, 1, "RemapRoot takes auto, true or false");
}

/* ---- syntax ----------------------------------------------------------------------------- */

static void keys_are_case_insensitive(void **state)
{
	struct oci_conf *c = load(*state, "runtimerun=\"/bin/rt run %b\"\n"
					  "RUNTIMEKILL=\"/bin/rt kill\"\n"
					  "runTimeDelete=\"/bin/rt delete\"\n"
					  "disablecleanup=TRUE\nremaproot=False\n"
					  "containerpath=/x/%j\n");

	assert_strv_equal(c->runtime_run, WORDS("/bin/rt", "run", "%b"));
	assert_strv_equal(c->runtime_kill, WORDS("/bin/rt", "kill"));
	assert_strv_equal(c->runtime_delete, WORDS("/bin/rt", "delete"));
	assert_true(c->disable_cleanup);
	assert_int_equal(c->remap_root, REMAP_ROOT_NO);
	assert_string_equal(c->container_path, "/x/%j");
}

static void comments_and_blank_lines(void **state)
{
	struct oci_conf *c = load(*state, "# a comment\n"
					  "\n"
					  "   \t \n"
					  "   # an indented comment with Key=Value\n"
					  "RunTimeRun=\"/bin/rt run %b\" # trailing comment\n"
					  "RunTimeKill=/bin/rt-kill#no space\n"
					  "RunTimeDelete=\"/bin/rt delete\"\n"
					  "EnvExclude=\"^A#B=\" # the first # is quoted\n"
					  "#DisableCleanup=true\n"
					  "  DebugFlags=Steps  \n");

	assert_strv_equal(c->runtime_run, WORDS("/bin/rt", "run", "%b"));
	assert_strv_equal(c->runtime_kill, WORDS("/bin/rt-kill"));
	assert_string_equal(c->env_exclude.source, "^A#B=");
	assert_true(conf_regex_matches(&c->env_exclude, "A#B=1"));
	assert_false(c->disable_cleanup);
	assert_strv_equal(c->debug_flags, WORDS("Steps"));
}

static void several_keys_on_one_line(void **state)
{
	struct oci_conf *c = load(*state, "RunTimeRun=\"/bin/rt run %b\" RunTimeKill=/bin/kill\t"
					  "RunTimeDelete=\"/bin/rt delete\" DisableCleanup=yes\n");

	assert_strv_equal(c->runtime_run, WORDS("/bin/rt", "run", "%b"));
	assert_strv_equal(c->runtime_kill, WORDS("/bin/kill"));
	assert_strv_equal(c->runtime_delete, WORDS("/bin/rt", "delete"));
	assert_true(c->disable_cleanup);
}

static void quoted_values_with_escapes(void **state)
{
	/* in the file: RunTimeRun="/bin/rt --label \"a b\" run %b" and
	 * EnvExclude="^Q=\"a\\.b\"$" */
	struct oci_conf *c = load(*state, "RunTimeRun=\"/bin/rt --label \\\"a b\\\" run %b\"\n"
					  "RunTimeKill=k\nRunTimeDelete=d\n"
					  "EnvExclude=\"^Q=\\\"a\\\\.b\\\"$\"\n");

	assert_strv_equal(c->runtime_run, WORDS("/bin/rt", "--label", "a b", "run", "%b"));
	assert_string_equal(c->env_exclude.source, "^Q=\"a\\.b\"$");
	assert_true(conf_regex_matches(&c->env_exclude, "Q=\"a.b\""));
	assert_false(conf_regex_matches(&c->env_exclude, "Q=\"axb\""));
}

static void syntax_errors_name_file_line_and_text(void **state)
{
	struct fixture *f = *state;

	load_error(f, RUNTIME "\nBogus=1\n", 5, "unknown key 'Bogus'");
	load_error(f, RUNTIME "\nBogus=1\n", 5, "'Bogus=1'");
	load_error(f, RUNTIME "RunTimeQuery /bin/q\n", 4, "expected Key=Value");
	load_error(f, RUNTIME "RunTimeQuery /bin/q\n", 4, "'RunTimeQuery /bin/q'");
	load_error(f, RUNTIME "=value\n", 4, "expected Key=Value");
	load_error(f, RUNTIME "DisableCleanup = true\n", 4, "expected Key=Value");
	load_error(f, RUNTIME "DisableCleanup=true garbage\n", 4, "expected Key=Value");
	load_error(f, "# one\nRunTimeKill=a\n" RUNTIME, 4,
		   "RunTimeKill is set again (first set on line 2)");
	load_error(f, RUNTIME "runtimekill=b # again\n", 4, "'runtimekill=b # again'");
	load_error(f, RUNTIME "EnvExclude=\"^A\n", 4, "unterminated double quote");
	load_error(f, RUNTIME "EnvExclude=\"^A\\\"\n", 4, "unterminated double quote");
	load_error(f, RUNTIME "EnvExclude=\"^A\"B\n", 4, "text after the closing double quote");
	load_error(f, RUNTIME "EnvExclude=\"^A\"B\n", 4, "'EnvExclude=\"^A\"B'");
}

static void nonexistent_file(void **state)
{
	struct fixture *f = *state;
	cleanup_error oci_error_t err = NULL;
	cleanup_free char *path = xasprintf("%s/missing.conf", f->dir);
	struct oci_conf *conf = NULL;

	assert_int_equal(oci_conf_load(path, &conf, &err), -1);
	assert_null(conf);
	assert_error_has(err, path);
	assert_error_has(err, "No such file or directory");
	assert_int_equal(err->status, ENOENT);

	/* a directory is no config file either */
	oci_error_release(&err);
	assert_int_equal(oci_conf_load(f->dir, &conf, &err), -1);
	assert_null(conf);
	assert_error_has(err, f->dir);
}

/* The example shipped with the sources must stay a valid configuration. */
static void example_config_is_valid(void **state)
{
	cleanup_error oci_error_t err = NULL;
	struct fixture *f = *state;

	assert_ok(oci_conf_load("oci.conf.example", &f->conf, &err), err);
	assert_string_equal(oci_conf_runtime_name(f->conf), "runc");
	assert_non_null(f->conf->runtime_run);
	assert_string_equal(f->conf->runtime_run[0], "/usr/sbin/runc");
	assert_null(f->conf->runtime_create);
	assert_null(f->conf->runtime_start);
	assert_non_null(f->conf->runtime_kill);
	assert_non_null(f->conf->runtime_delete);
	assert_string_equal(f->conf->container_path, SPANK_OCI_DEFAULT_CONTAINER_PATH);
}

/* ImageUnpackMaxSize (a size) and ImageUnpackMaxEntries (a count): bounds of an unpack. */
static void image_unpack_limit_keys(void **state)
{
	struct fixture *f = *state;
	struct oci_conf *c = load(f, RUNTIME);

	assert_int_equal(c->image_unpack_max_size, 64ULL << 30);
	assert_int_equal(c->image_unpack_max_entries, 10000000);
	c = load(f, RUNTIME "ImageUnpackMaxSize=2G\nImageUnpackMaxEntries=500000\n");
	assert_int_equal(c->image_unpack_max_size, 2ULL << 30);
	assert_int_equal(c->image_unpack_max_entries, 500000);
	c = load(f, RUNTIME "ImageUnpackMaxSize=0\nImageUnpackMaxEntries=0\n");
	assert_int_equal(c->image_unpack_max_size, 0);
	assert_int_equal(c->image_unpack_max_entries, 0);
	load_error(f, RUNTIME "ImageUnpackMaxSize=lots\n", 4, "ImageUnpackMaxSize takes a size");
	load_error(f, RUNTIME "ImageUnpackMaxEntries=10M\n", 4,
		   "ImageUnpackMaxEntries takes a number");
	load_error(f, RUNTIME "ImageUnpackMaxEntries=-1\n", 4,
		   "ImageUnpackMaxEntries takes a number");
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(minimal_config_and_defaults),
		T(create_start_query_runtime),
		T(runtime_name_is_basename_of_first_word),
		T(runtime_command_errors),
		T(runtime_validation),
		T(container_path_key),
		T(create_env_file_key),
		T(debug_flags_key),
		T(disable_hooks_key),
		T(bundle_policy_keys),
		T(boolean_keys),
		T(env_exclude_keys),
		T(env_without_filters),
		T(log_level_keys),
		T(mount_spool_dir_key),
		T(srun_keys),
		T(remap_root_key),
		T(keys_are_case_insensitive),
		T(comments_and_blank_lines),
		T(several_keys_on_one_line),
		T(quoted_values_with_escapes),
		T(syntax_errors_name_file_line_and_text),
		T(nonexistent_file),
		T(example_config_is_valid),
		T(image_unpack_limit_keys),
	};

	return cmocka_run_group_tests_name("conf", tests, NULL, NULL);
}
