/*
 * conf/options.c and conf/mounts.c: the users' container options, their syntax errors,
 * the SPANK_OCI_CONTAINER_* variables, the site's policy and defaults.
 */
#include "unit.h"

#include "conf/conf.h"
#include "conf/options.h"

#define RUNTIME                                                                                    \
	"RunTimeRun=\"/usr/sbin/runc --root %m/runc run --bundle %b %u.%j.%s.%t\"\n"               \
	"RunTimeKill=\"/usr/sbin/runc --root %m/runc kill %u.%j.%s.%t KILL\"\n"                    \
	"RunTimeDelete=\"/usr/sbin/runc --root %m/runc delete --force %u.%j.%s.%t\"\n"

struct fixture {
	char *dir;
	struct oci_conf *conf;
	struct oci_options o;
	struct container_settings s;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->dir = make_tmpdir();
	oci_options_init(&f->o);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	oci_conf_free(f->conf);
	oci_options_release(&f->o);
	container_settings_release(&f->s);
	rm_tree(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

static struct oci_conf *load(struct fixture *f, const char *extra)
{
	cleanup_error oci_error_t err = NULL;
	cleanup_free char *path = xasprintf("%s/oci.conf", f->dir);
	cleanup_free char *text = xasprintf("%s%s", RUNTIME, extra);

	oci_conf_free(f->conf);
	f->conf = NULL;
	write_text(path, NULL, text);
	assert_ok(oci_conf_load(path, &f->conf, &err), err);
	return f->conf;
}

static void set_ok(struct fixture *f, enum option_id id, const char *arg)
{
	cleanup_error oci_error_t err = NULL;

	assert_ok(oci_options_set(&f->o, id, arg, false, &err), err);
}

static void set_fails(struct fixture *f, enum option_id id, const char *arg, const char *sub)
{
	cleanup_error oci_error_t err = NULL;

	assert_int_equal(oci_options_set(&f->o, id, arg, false, &err), -1);
	assert_error_has(err, sub);
}

static void mount_syntax(void **state)
{
	struct fixture *f = *state;

	set_ok(f, OPTION_MOUNTS, "/a:/b,/c:/d/:ro,/e://f//g:rw");
	assert_int_equal(f->o.mounts.n, 3);
	assert_string_equal(f->o.mounts.v[0].dst, "/b");
	assert_false(f->o.mounts.v[0].ro);
	assert_string_equal(f->o.mounts.v[1].dst, "/d");
	assert_true(f->o.mounts.v[1].ro);
	assert_string_equal(f->o.mounts.v[2].dst, "/f/g");
	oci_options_release(&f->o);
	set_fails(f, OPTION_MOUNTS, "/a", "--container-mounts: '/a': expected SRC:DST[:ro|rw]");
	set_fails(f, OPTION_MOUNTS, "a:/b", "the source must be an absolute path");
	set_fails(f, OPTION_MOUNTS, "/a:b", "the destination must be an absolute path");
	set_fails(f, OPTION_MOUNTS, "/a:/b:rx", "the mode must be ro or rw, not 'rx'");
	set_fails(f, OPTION_MOUNTS, "/a:/", "may not be /");
	set_fails(f, OPTION_MOUNTS, "/a:/x/../etc", "'.' or '..'");
	set_fails(f, OPTION_MOUNTS, "/a:/proc/x", "/proc, /sys or /dev");
	set_fails(f, OPTION_MOUNTS, ",", "no mount given");
	set_fails(f, OPTION_MOUNTS, "", "a value is needed");
}

static void other_values(void **state)
{
	struct fixture *f = *state;

	set_fails(f, OPTION_WORKDIR, "rel", "--container-workdir: 'rel' is not an absolute path");
	set_ok(f, OPTION_WORKDIR, "/w");
	set_fails(f, OPTION_ENV, "A,1B", "--container-env: '1B' is not a variable name");
	set_ok(f, OPTION_ENV, "A,_B1");
	assert_string_equal(f->o.env[1], "_B1");
	assert_null(f->o.env[2]);
}

static void pairs_and_repetitions(void **state)
{
	struct fixture *f = *state;

	set_ok(f, OPTION_REMAP_ROOT, NULL);
	set_ok(f, OPTION_REMAP_ROOT, NULL); /* the same twice is fine */
	set_fails(f, OPTION_NO_REMAP_ROOT, NULL,
		  "--container-remap-root and --no-container-remap-root exclude each other");
	set_ok(f, OPTION_READONLY, NULL);
	set_fails(f, OPTION_WRITABLE, NULL, "--container-readonly and --container-writable");
	set_ok(f, OPTION_NO_MOUNT_HOME, NULL);
	set_fails(f, OPTION_MOUNT_HOME, NULL, "exclude each other");
	set_ok(f, OPTION_MOUNTS, "/a:/b");
	set_ok(f, OPTION_MOUNTS, "/a:/b");
	set_fails(f, OPTION_MOUNTS, "/a:/c",
		  "--container-mounts: given twice with different values");
	set_ok(f, OPTION_WORKDIR, "/w");
	set_fails(f, OPTION_WORKDIR, "/v", "given twice");
	set_ok(f, OPTION_ENV, "A");
	set_fails(f, OPTION_ENV, "B", "given twice");
	assert_int_equal(f->o.remap_root, OPT_ON);
	assert_int_equal(f->o.writable, OPT_OFF);
	assert_int_equal(f->o.mount_home, OPT_OFF);
}

static void inherited_values_give_way(void **state)
{
	struct fixture *f = *state;
	cleanup_error oci_error_t err = NULL;

	/* the job's value first, then the step's own: the step's wins */
	assert_ok(oci_options_set(&f->o, OPTION_REMAP_ROOT, NULL, true, &err), err);
	assert_ok(oci_options_set(&f->o, OPTION_NO_REMAP_ROOT, NULL, false, &err), err);
	assert_int_equal(f->o.remap_root, OPT_OFF);
	/* the step's own first, then the job's: the step's stays */
	assert_ok(oci_options_set(&f->o, OPTION_MOUNTS, "/a:/own", false, &err), err);
	assert_ok(oci_options_set(&f->o, OPTION_MOUNTS, "/a:/job", true, &err), err);
	assert_string_equal(f->o.mounts.v[0].dst, "/own");
	assert_int_equal(f->o.mounts.n, 1);
}

static const char *table_getenv(void *ctx, const char *name)
{
	return strv_env_get(ctx, name);
}

static void environment_variables(void **state)
{
	struct fixture *f = *state;
	cleanup_error oci_error_t err = NULL, err2 = NULL;
	char *env[] = {"SPANK_OCI_CONTAINER_MOUNTS=/x:/y:ro",
		       "SPANK_OCI_CONTAINER_WORKDIR=/env",
		       "SPANK_OCI_CONTAINER_REMAP_ROOT=1",
		       "SPANK_OCI_CONTAINER_WRITABLE=0",
		       "SPANK_OCI_CONTAINER_ENV=",
		       NULL};
	char *bad[] = {"SPANK_OCI_CONTAINER_MOUNT_HOME=yes", NULL};
	char *badmount[] = {"SPANK_OCI_CONTAINER_MOUNTS=/x", NULL};

	/* the command line beats the variable */
	set_ok(f, OPTION_WORKDIR, "/cli");
	set_ok(f, OPTION_NO_REMAP_ROOT, NULL);
	assert_ok(oci_options_from_env(&f->o, table_getenv, env, &err), err);
	assert_string_equal(f->o.workdir, "/cli");
	assert_int_equal(f->o.remap_root, OPT_OFF);
	assert_int_equal(f->o.writable, OPT_OFF);
	assert_string_equal(f->o.mounts.v[0].src, "/x");
	assert_true(f->o.mounts.v[0].ro);
	assert_null(f->o.env); /* empty: unset */
	assert_int_equal(oci_options_from_env(&f->o, table_getenv, bad, &err2), -1);
	assert_error_has(err2, "SPANK_OCI_CONTAINER_MOUNT_HOME=yes: expected 0 or 1");
	oci_error_release(&err2);
	oci_options_release(&f->o);
	assert_int_equal(oci_options_from_env(&f->o, table_getenv, badmount, &err2), -1);
	assert_error_has(err2, "SPANK_OCI_CONTAINER_MOUNTS=/x: '/x': expected SRC:DST");
}

static void policy_keys_and_checks(void **state)
{
	struct fixture *f = *state;
	cleanup_error oci_error_t err = NULL, err2 = NULL;
	struct oci_conf *c = load(f, "AllowedMountPrefixes=/scratch/,/home\n"
				     "DeniedMountPrefixes=/home/secret\nAllowRemapRoot=false\n");

	assert_string_equal(c->allowed_mount_prefixes[0], "/scratch");
	set_ok(f, OPTION_MOUNTS, "/scratch/a:/a,/home/u:/u");
	assert_ok(oci_options_check(&f->o, c, &err), err);
	oci_options_release(&f->o);
	set_ok(f, OPTION_MOUNTS, "/scratchy:/a");
	assert_int_equal(oci_options_check(&f->o, c, &err), -1);
	assert_error_has(err, "mount source /scratchy is refused by the site policy: not under "
			      "AllowedMountPrefixes=/scratch,/home in");
	oci_options_release(&f->o);
	set_ok(f, OPTION_MOUNTS, "/home/secret/x:/a");
	assert_int_equal(oci_options_check(&f->o, c, &err2), -1);
	assert_error_has(err2, "(DeniedMountPrefixes=/home/secret in");
	oci_error_release(&err2);
	oci_options_release(&f->o);
	set_ok(f, OPTION_REMAP_ROOT, NULL);
	assert_int_equal(oci_options_check(&f->o, c, &err2), -1);
	assert_error_has(err2, "--container-remap-root is refused by the site policy "
			       "(AllowRemapRoot=false in");
	assert_true(path_has_prefix("/a/b", "/"));
	assert_true(path_has_prefix("/a", "/a"));
	assert_false(path_has_prefix("/ab", "/a"));
}

static void config_key_errors(void **state)
{
	struct fixture *f = *state;
	cleanup_free char *path = xasprintf("%s/oci.conf", f->dir);
	const char *bad[][2] = {{"ContainerMounts=/a\n", "ContainerMounts: '/a': expected"},
				{"AllowedMountPrefixes=rel\n", "'rel' is not an absolute path"},
				{"DeniedMountPrefixes=/a/../b\n", "may not contain . or .."},
				{"Writable=maybe\n", "Writable takes true or false"},
				{"MountHome=2\n", "MountHome takes true or false"}};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cleanup_error oci_error_t err = NULL;
		cleanup_free char *text = xasprintf("%s%s", RUNTIME, bad[i][0]);
		struct oci_conf *c = NULL;

		write_text(path, NULL, text);
		assert_int_equal(oci_conf_load(path, &c, &err), -1);
		assert_error_has(err, ":4: ");
		assert_error_has(err, bad[i][1]);
	}
	/* defaults */
	assert_true(load(f, "")->allow_remap_root);
	assert_int_equal(f->conf->writable, -1);
	assert_false(f->conf->mount_home);
	assert_int_equal(load(f, "Writable=false\n")->writable, 0);
}

static void resolve_merges_and_checks_real_paths(void **state)
{
	struct fixture *f = *state;
	cleanup_error oci_error_t err = NULL, err2 = NULL;
	cleanup_free char *site = xasprintf("ContainerMounts=%s:/site\nMountHome=true\n"
					    "DeniedMountPrefixes=%s/denied\nRemapRoot=true\n",
					    f->dir, f->dir);
	cleanup_free char *link = xasprintf("%s/link", f->dir);
	cleanup_free char *target = xasprintf("%s/denied", f->dir);
	cleanup_free char *user = xasprintf("%s:/u:ro", link);
	cleanup_free char *missing = xasprintf("%s/missing:/m", f->dir);

	make_dir(f->dir, "denied", 0755);
	assert_int_equal(symlink(target, link), 0);
	load(f, site);
	/* site mounts, then the home, then the user's; site defaults fill the rest */
	assert_ok(oci_options_resolve(&f->o, f->conf, "/tmp", &f->s, &err), err);
	assert_int_equal(f->s.mounts.n, 2);
	assert_string_equal(f->s.mounts.v[0].dst, "/site");
	assert_string_equal(f->s.mounts.v[1].dst, "/tmp");
	assert_true(f->s.remap_root);
	container_settings_release(&f->s);
	/* a link into a denied prefix is refused by its real path */
	set_ok(f, OPTION_MOUNTS, user);
	assert_int_equal(oci_options_resolve(&f->o, f->conf, "/tmp", &f->s, &err), -1);
	assert_error_has(err, "refused by the site policy (DeniedMountPrefixes=");
	assert_error_has(err, target);
	oci_options_release(&f->o);
	/* a source that does not exist is named */
	set_ok(f, OPTION_MOUNTS, missing);
	set_ok(f, OPTION_NO_MOUNT_HOME, NULL);
	set_ok(f, OPTION_NO_REMAP_ROOT, NULL);
	assert_int_equal(oci_options_resolve(&f->o, f->conf, "/tmp", &f->s, &err2), -1);
	assert_error_has(err2, "--container-mounts: mount source ");
	assert_error_has(err2, "/missing: No such file or directory");
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(mount_syntax),	  T(other_values),
		T(pairs_and_repetitions), T(inherited_values_give_way),
		T(environment_variables), T(policy_keys_and_checks),
		T(config_key_errors),	  T(resolve_merges_and_checks_real_paths),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
