/* spank-oci: the command line for admins and tests (check, spec, run, cache). */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/messages.h"
#include "conf/conf.h"
#include "conf/options.h"
#include "launcher/image/cache.h"
#include "launcher/launch.h"
#include "launcher/supervise.h"
#include "launcher/task.h"
#include "launcher/userdirs.h"
#include "common/xalloc.h"
#include "common/proc.h"
#include "common/stop.h"

extern char **environ;

static const char usage_main[] =
	"usage: spank-oci COMMAND [OPTIONS]\n"
	"\n"
	"Commands:\n"
	"  check  [--config FILE]                      validate the configuration\n"
	"  spec   --bundle B [--config FILE] [--tty] [--] CMD...\n"
	"                                              print the config.json a task gets\n"
	"  run    --bundle B [--config FILE] [--tty] [--] CMD...\n"
	"                                              run CMD in the container as a task would\n"
	"\n"
	"The configuration is FILE, else $SPANK_OCI_CONFIG, else " SPANK_OCI_DEFAULT_CONFIG ".\n"
	"spec and run take the container options from SPANK_OCI_CONTAINER_MOUNTS, _WORKDIR,\n"
	"_ENV, _MOUNT_HOME, _REMAP_ROOT, _WRITABLE and _ENTRYPOINT, as srun does.\n"
	"'spank-oci COMMAND --help' tells more.\n";

static const char usage_check[] =
	"usage: spank-oci check [--config FILE]\n"
	"\n"
	"Parses and validates the configuration, checks that the runtime programs exist,\n"
	"and warns when an oci.conf next to slurm.conf would make Slurm take --container\n"
	"over itself. Exits 0 when the configuration is usable.\n";

static const char usage_spec[] =
	"usage: spank-oci spec --bundle B [--config FILE] [--tty] [--] CMD...\n"
	"\n"
	"Prints the config.json that a task of the calling user running CMD in B would get\n"
	"(B: an OCI bundle directory or a root filesystem directory).\n";

static const char usage_run[] =
	"usage: spank-oci run --bundle B [--config FILE] [--tty] [--] CMD...\n"
	"\n"
	"Runs CMD in B with the configured runtime, as a Slurm task would, outside Slurm.\n"
	"Exits with the container's status (or dies by the same signal). Outside Slurm %%j\n"
	"is 0, which no Slurm job has, %%s is the pid of spank-oci and %%t is 0. The default\n"
	"ContainerPath lies in " SPANK_OCI_RUN_DIR "/<uid>, which slurmstepd makes at your first\n"
	"container step on the node; until then $XDG_RUNTIME_DIR/spank-oci/%%j.%%s replaces it.\n";

static const char usage_cache[] =
	"usage: spank-oci cache list [--config FILE]\n"
	"       spank-oci cache prune [--config FILE] [--all | --max-size SIZE]\n"
	"       spank-oci cache add [--config FILE] REF\n"
	"\n"
	"The calling user's unpacked images on this node (ImageCache). list prints one line\n"
	"per image: digest, size, last use, in-use or idle, where it came from. prune\n"
	"removes images no task uses, least recently used first, until the cache holds at\n"
	"most SIZE (default: ImageCacheSize), or every idle image with --all. add unpacks\n"
	"the image layout REF (DIR:tag, DIR@sha256:<digest> or DIR) as a task would, unless\n"
	"it is cached already, and prints its root filesystem's path.\n";

struct cli {
	const char *config;
	const char *bundle;
	int tty;
	char **argv;
};

static int fail(const char *what, oci_error_t err)
{
	fprintf(stderr, SPANK_OCI_PREFIX "%s%s%s\n", what ? what : "", what ? ": " : "",
		oci_error_text(err));
	return 1;
}

static int parse_args(int argc, char **argv, struct cli *cli, const char *usage, bool want_cmd)
{
	static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
					     {"bundle", required_argument, NULL, 'b'},
					     {"tty", no_argument, NULL, 't'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	int c;

	cli->config = getenv("SPANK_OCI_CONFIG");
	if (cli->config == NULL || *cli->config == '\0')
		cli->config = SPANK_OCI_DEFAULT_CONFIG;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+c:b:th", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			cli->config = optarg;
			break;
		case 'b':
			if (!want_cmd)
				goto bad;
			cli->bundle = optarg;
			break;
		case 't':
			cli->tty = 1;
			break;
		case 'h':
			fputs(usage, stdout);
			exit(0);
		default:
			goto bad;
		}
	}
	cli->argv = argv + optind;
	if (want_cmd && (cli->bundle == NULL || cli->argv[0] == NULL)) {
		fprintf(stderr, SPANK_OCI_PREFIX "%s\n",
			cli->bundle == NULL ? "--bundle is required" : "no command given");
		goto bad;
	}
	if (!want_cmd && cli->argv[0] != NULL) {
		fprintf(stderr, SPANK_OCI_PREFIX "unexpected argument '%s'\n", cli->argv[0]);
		goto bad;
	}
	return 0;
bad:
	fputs(usage, stderr);
	return -1;
}

static void warn_native_oci_conf(void)
{
	const char *slurm_conf = getenv("SLURM_CONF");
	cleanup_free char *copy = strdup(slurm_conf ? slurm_conf : "/etc/slurm/slurm.conf");
	cleanup_free char *oci = NULL;

	if (copy == NULL || asprintf(&oci, "%s/oci.conf", dirname(copy)) < 0)
		return;
	if (access(oci, F_OK) == 0)
		fprintf(stderr,
			SPANK_OCI_PREFIX
			"warning: %s exists: Slurm then handles --container itself and "
			"spank-oci never sees it; remove it and keep this configuration "
			"elsewhere\n",
			oci);
}

static int cmd_check(int argc, char **argv)
{
	struct cli cli = {0};
	struct oci_conf *conf = NULL;
	cleanup_error oci_error_t err = NULL;
	int rc = 0;

	if (parse_args(argc, argv, &cli, usage_check, false) < 0)
		return 2;
	if (oci_conf_load(cli.config, &conf, &err) < 0)
		return fail(NULL, err);
	char **const commands[] = {conf->runtime_run,	conf->runtime_create, conf->runtime_start,
				   conf->runtime_query, conf->runtime_kill,   conf->runtime_delete};
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		cleanup_free char *path = NULL;
		cleanup_error oci_error_t rerr = NULL;

		if (commands[i] != NULL &&
		    proc_find_program(commands[i][0], environ, &path, &rerr) < 0)
			rc = fail(cli.config, rerr);
	}
	warn_native_oci_conf();
	if (rc == 0)
		printf("%s: ok (runtime %s, %s)\n", cli.config, oci_conf_runtime_name(conf),
		       conf->runtime_run ? "RunTimeRun" : "RunTimeCreate/RunTimeStart");
	oci_conf_free(conf);
	return rc;
}

/* The calling user's task, as Slurm would describe it (job 0, step: our pid). */
static int self_task(struct oci_task *t, struct cli *cli, char *cwd, size_t cwdlen, char *node,
		     size_t nodelen, oci_error_t *err)
{
	struct passwd *pw = getpwuid(getuid());
	int n;

	if (pw == NULL)
		return oci_error_make(err, errno ? errno : ENOENT, "no passwd entry for uid %u",
				      (unsigned)getuid());
	*t = (struct oci_task){
		.uid = getuid(),
		.gid = getgid(),
		.user = pw->pw_name,
		.home = pw->pw_dir,
		/* ids no Slurm job has (its job ids start at 1): a run never meets a task's files
		 */
		.job_id = 0,
		.step_id = (uint32_t)getpid(),
		.argv = cli->argv,
		.env = environ,
		.shell = pw->pw_shell,
		.tty = cli->tty,
	};
	if (t->tty)
		task_terminal_size(t);
	n = getgroups(0, NULL);
	if (n > 0) {
		t->gids = calloc((size_t)n, sizeof(gid_t));
		if (t->gids == NULL)
			return oci_error_make(err, ENOMEM, "groups");
		t->ngids = (size_t)getgroups(n, t->gids);
	}
	if (getcwd(cwd, cwdlen) != NULL)
		t->cwd = cwd;
	task_node_name(node, nodelen);
	t->node = node;
	return 0;
}

static const char *env_getter(void *ctx, const char *name)
{
	(void)ctx;
	return getenv(name);
}

/* "%s does not exist: ..." for a user's own directory that only slurmstepd makes. */
static int no_userdir(const char *dir, const char *instead, oci_error_t *err)
{
	return oci_error_make(err, 0,
			      "%s does not exist: slurmstepd makes it when a container step of "
			      "yours starts on this node; outside Slurm set %s",
			      dir, instead);
}

/*
 * Outside Slurm nobody makes the user's own directory the default ContainerPath lies in
 * (slurmstepd makes it, as root, at a container step's start): $XDG_RUNTIME_DIR/spank-oci
 * (the user's, made at login) takes its place, else run says what to do.
 */
static int cli_container_path(struct oci_conf *conf, bool need, oci_error_t *err)
{
	cleanup_free char *missing =
		userdirs_missing(conf->container_path, SPANK_OCI_RUN_DIR, getuid());
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	char *path, *p;

	if (missing == NULL)
		return 0;
	if (xdg == NULL || xdg[0] != '/')
		return need ? no_userdir(missing,
					 "XDG_RUNTIME_DIR, or ContainerPath in a configuration "
					 "of your own (--config)",
					 err)
			    : 0;
	/* a pattern: % in the directory's name stays itself */
	p = path = xmalloc(2 * strlen(xdg) + sizeof("/spank-oci/%j.%s"));
	for (const char *c = xdg; *c != '\0'; c++) {
		if (*c == '%')
			*p++ = '%';
		*p++ = *c;
	}
	strcpy(p, "/spank-oci/%j.%s");
	free(conf->container_path);
	conf->container_path = path;
	return 0;
}

/* Prints the config.json the task would get. */
static int print_spec(const struct oci_conf *conf, const struct oci_task *task, const char *bundle,
		      oci_error_t *err)
{
	struct launch *l = NULL;
	cleanup_free char *text = NULL;
	json_t *spec = NULL;

	if (launch_new(conf, task, bundle, &l, err) < 0)
		return -1;
	if (launch_notice(l) != NULL)
		fprintf(stderr, SPANK_OCI_PREFIX "%s\n", launch_notice(l));
	if (launch_spec(l, &spec, err) == 0)
		text = json_dumps(spec, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(spec);
	launch_free(l);
	if (text == NULL)
		return -1;
	puts(text);
	return 0;
}

static int cmd_spec_or_run(int argc, char **argv, bool run)
{
	struct oci_options options;
	struct cli cli = {0};
	struct oci_conf *conf = NULL;
	cleanup_error oci_error_t err = NULL;
	struct oci_task task = {0};
	char cwd[PATH_MAX], node[256];
	int wstatus = 1 << 8, rc = 1;
	bool ran = false;
	struct timing_mark start;

	if (parse_args(argc, argv, &cli, run ? usage_run : usage_spec, true) < 0)
		return 2;
	if (run && geteuid() == 0) {
		fprintf(stderr,
			SPANK_OCI_PREFIX "run: refusing to run a container as root: "
					 "containers are rootless, run it as the job's user\n");
		return 1;
	}
	oci_options_init(&options);
	if (self_task(&task, &cli, cwd, sizeof(cwd), node, sizeof(node), &err) < 0 ||
	    oci_options_from_env(&options, env_getter, NULL, &err) < 0 ||
	    oci_conf_load(cli.config, &conf, &err) < 0 || cli_container_path(conf, run, &err) < 0) {
		fail(NULL, err);
		goto out;
	}
	task.options = &options;
	timing_mark(&start); /* as in a task: the configuration is the step's */
	if (!run) {
		rc = print_spec(conf, &task, cli.bundle, &err) < 0 ? fail(NULL, err) : 0;
	} else {
		ran = true;
		if (launch_task(conf, &task, cli.bundle, &start, &wstatus, &err) < 0)
			fail(NULL, err);
	}
out:
	oci_conf_free(conf);
	oci_options_release(&options);
	free(task.gids);
	if (ran)
		supervise_exit_like(wstatus);
	return rc;
}

/* Unpacks ref into the cache (unless it is there) and prints its rootfs. */
static int cache_add(const char *dir, const char *ref, const struct cache_limits *limits,
		     oci_error_t *err)
{
	cleanup_free char *rootfs = NULL;
	cleanup_close int in_use_fd = -1;
	json_t *config = NULL;

	stop_catch(); /* Ctrl-C or SIGTERM stops the unpack, which then leaves nothing */
	if (cache_get(dir, ref, limits, &rootfs, &config, &in_use_fd, err) < 0)
		return -1;
	json_decref(config);
	puts(rootfs);
	return 0;
}

static int cmd_cache(int argc, char **argv)
{
	static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
					     {"all", no_argument, NULL, 'a'},
					     {"max-size", required_argument, NULL, 'm'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	const char *config = getenv("SPANK_OCI_CONFIG"), *action = argc > 1 ? argv[1] : "";
	struct oci_conf *conf = NULL;
	cleanup_error oci_error_t err = NULL;
	cleanup_free char *dir = NULL;
	struct passwd *pw = getpwuid(getuid());
	struct pattern_vars vars = {.uid = getuid(), .user = pw ? pw->pw_name : NULL};
	unsigned long long max = 0;
	bool all = false, have_max = false;
	char node[256] = "localhost";
	int c, rc;

	if (strcmp(action, "--help") == 0 || strcmp(action, "-h") == 0) {
		fputs(usage_cache, stdout);
		return 0;
	}
	if (strcmp(action, "list") != 0 && strcmp(action, "prune") != 0 &&
	    strcmp(action, "add") != 0) {
		fputs(usage_cache, stderr);
		return 2;
	}
	if (config == NULL || *config == '\0')
		config = SPANK_OCI_DEFAULT_CONFIG;
	optind = 2;
	while ((c = getopt_long(argc, argv, "c:am:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'a':
			all = true;
			break;
		case 'm':
			if (conf_parse_size(optarg, &max) < 0) {
				fprintf(stderr, SPANK_OCI_PREFIX "--max-size: not a size: %s\n",
					optarg);
				return 2;
			}
			have_max = true;
			break;
		case 'h':
			fputs(usage_cache, stdout);
			return 0;
		default:
			fputs(usage_cache, stderr);
			return 2;
		}
	}
	if ((strcmp(action, "add") == 0) != (optind == argc - 1) ||
	    (strcmp(action, "add") == 0 && (all || have_max))) {
		fputs(usage_cache, stderr);
		return 2;
	}
	task_node_name(node, sizeof(node));
	vars.node = node;
	if (oci_conf_load(config, &conf, &err) < 0)
		return fail(NULL, err);
	if (pattern_expand_word(conf->image_cache, &vars, &dir, &err) < 0) {
		oci_conf_free(conf);
		return fail("ImageCache", err);
	}
	if (strcmp(action, "add") == 0) {
		cleanup_free char *missing =
			userdirs_missing(conf->image_cache, SPANK_OCI_CACHE_DIR, getuid());

		if (missing != NULL) {
			no_userdir(missing, "ImageCache in a configuration of your own (--config)",
				   &err);
			oci_conf_free(conf);
			return fail(NULL, err);
		}
	}
	if (strcmp(action, "add") == 0) {
		const struct cache_limits limits = cache_limits_of(conf);
		rc = cache_add(dir, argv[optind], &limits, &err);
	} else if (strcmp(action, "list") == 0)
		rc = cache_list(dir, stdout, &err);
	else
		rc = cache_prune(dir, have_max ? max : conf->image_cache_size,
				 all || (!have_max && conf->image_cache_size == 0), stdout, &err);
	oci_conf_free(conf);
	return rc < 0 ? fail(NULL, err) : 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage_main, stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		fputs(usage_main, stdout);
		return 0;
	}
	if (strcmp(argv[1], "check") == 0)
		return cmd_check(argc - 1, argv + 1);
	if (strcmp(argv[1], "spec") == 0)
		return cmd_spec_or_run(argc - 1, argv + 1, false);
	if (strcmp(argv[1], "run") == 0)
		return cmd_spec_or_run(argc - 1, argv + 1, true);
	if (strcmp(argv[1], "cache") == 0)
		return cmd_cache(argc - 1, argv + 1);
	fprintf(stderr, SPANK_OCI_PREFIX "unknown command '%s'\n\n%s", argv[1], usage_main);
	return 2;
}
