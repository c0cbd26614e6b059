/*
 * conf/options.c and conf/mounts.c: the users' container options, their syntax errors,
 * the SPANK_OCI_CONTAINER_* variables, the site's policy and defaults, and the table of
 * options (oci_option_defs) every code path reads. The merge on real paths is
 * test_settings.c's.
 */
#include "unit.h"

#include <ctype.h>

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
};

static int setup(void **state)
{
	struct fixture *f = dir_fixture_new(struct fixture);

	oci_options_init(&f->o);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	oci_conf_free(f->conf);
	oci_options_release(&f->o);
	dir_fixture_free(f);
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

/* ---- the table of options ---------------------------------------------------------------- */

/* What each row must name, written out independently of the table. */
static const struct {
	enum option_id id;
	size_t field;
	enum option_kind kind;
	int value;
} expected_rows[] = {
	{OPTION_MOUNTS, offsetof(struct oci_options, mounts), OPTION_KIND_MOUNTS, 0},
	{OPTION_MOUNT_HOME, offsetof(struct oci_options, mount_home), OPTION_KIND_FLAG, OPT_ON},
	{OPTION_NO_MOUNT_HOME, offsetof(struct oci_options, mount_home), OPTION_KIND_FLAG, OPT_OFF},
	{OPTION_WORKDIR, offsetof(struct oci_options, workdir), OPTION_KIND_PATH, 0},
	{OPTION_ENV, offsetof(struct oci_options, env), OPTION_KIND_NAMES, 0},
	{OPTION_REMAP_ROOT, offsetof(struct oci_options, remap_root), OPTION_KIND_FLAG, OPT_ON},
	{OPTION_NO_REMAP_ROOT, offsetof(struct oci_options, remap_root), OPTION_KIND_FLAG, OPT_OFF},
	{OPTION_WRITABLE, offsetof(struct oci_options, writable), OPTION_KIND_FLAG, OPT_ON},
	{OPTION_READONLY, offsetof(struct oci_options, writable), OPTION_KIND_FLAG, OPT_OFF},
	{OPTION_ENTRYPOINT, offsetof(struct oci_options, entrypoint), OPTION_KIND_FLAG, OPT_ON},
	{OPTION_SHARED, offsetof(struct oci_options, shared), OPTION_KIND_FLAG, OPT_ON},
	{OPTION_NO_SHARED, offsetof(struct oci_options, shared), OPTION_KIND_FLAG, OPT_OFF},
	{OPTION_SAVE, offsetof(struct oci_options, save), OPTION_KIND_FILE, 0},
};

/* A valid argument for an option of this kind (NULL for a flag). */
static const char *sample_arg(enum option_kind kind)
{
	switch (kind) {
	case OPTION_KIND_MOUNTS:
		return "/src:/dst";
	case OPTION_KIND_PATH:
		return "/work";
	case OPTION_KIND_FILE:
		return "out.sqsh";
	case OPTION_KIND_NAMES:
		return "NAME";
	default:
		return NULL;
	}
}

/* Whether the field at offset (of that kind) has a value. */
static bool field_is_set(const struct oci_options *o, size_t field, enum option_kind kind)
{
	const char *at = (const char *)o + field;

	switch (kind) {
	case OPTION_KIND_MOUNTS:
		return ((const struct mount_list *)at)->n > 0;
	case OPTION_KIND_PATH:
	case OPTION_KIND_FILE:
	case OPTION_KIND_NAMES:
		return *(void *const *)at != NULL;
	case OPTION_KIND_FLAG:
		return *(const int *)at != OPT_UNSET;
	default:
		fail_msg("unknown kind %d", (int)kind);
		return false;
	}
}

static void every_option_reachable_from_its_row(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(sizeof(expected_rows) / sizeof(expected_rows[0]), OPTION_COUNT);
	for (size_t i = 0; i < OPTION_COUNT; i++) {
		enum option_id id = expected_rows[i].id;
		const struct option_def *d = &oci_option_defs[id];

		assert_int_equal(d->field, expected_rows[i].field);
		assert_int_equal(d->kind, expected_rows[i].kind);
		if (d->kind == OPTION_KIND_FLAG)
			assert_int_equal(d->value, expected_rows[i].value);
		assert_non_null(d->name);
		assert_non_null(d->help);
		/* spank/options.c registers a value for exactly the valued kinds */
		assert_int_equal(d->arginfo != NULL, d->kind != OPTION_KIND_FLAG);

		/* a fresh set of options has nothing set */
		for (int other = 0; other < OPTION_COUNT; other++)
			assert_false(field_is_set(&f->o, oci_option_defs[other].field,
						  oci_option_defs[other].kind));
		set_ok(f, id, sample_arg(d->kind));
		/* its own field, and only that one, is set */
		for (int other = 0; other < OPTION_COUNT; other++) {
			const struct option_def *od = &oci_option_defs[other];
			assert_int_equal(field_is_set(&f->o, od->field, od->kind),
					 od->field == d->field);
		}
		if (d->kind == OPTION_KIND_FLAG)
			assert_int_equal(*(int *)((char *)&f->o + d->field), d->value);
		oci_options_release(&f->o);
	}
	/* each kind through a named field */
	set_ok(f, OPTION_WORKDIR, "/work");
	assert_string_equal(f->o.workdir, "/work");
	set_ok(f, OPTION_MOUNTS, "/src:/dst");
	assert_string_equal(f->o.mounts.v[0].dst, "/dst");
	set_ok(f, OPTION_ENV, "NAME");
	assert_string_equal(f->o.env[0], "NAME");
	set_ok(f, OPTION_NO_SHARED, NULL);
	assert_int_equal(f->o.shared, OPT_OFF);
	set_fails(f, OPTION_COUNT, NULL, "option");
}

static void pairs_exclude_each_other(void **state)
{
	struct fixture *f = *state;
	size_t pairs = 0;

	for (int id = 0; id < OPTION_COUNT; id++) {
		const struct option_def *d = &oci_option_defs[id];
		const struct option_def *p = &oci_option_defs[d->pair];
		cleanup_free char *msg = NULL;

		/* a pair is symmetric, on one field, the two values */
		assert_int_equal(p->pair, id);
		assert_int_equal(p->field, d->field);
		if ((int)d->pair == id)
			continue;
		pairs++;
		assert_int_equal(d->kind, OPTION_KIND_FLAG);
		assert_int_equal(p->value, d->value == OPT_ON ? OPT_OFF : OPT_ON);
		msg = xasprintf("--%s and --%s exclude each other", d->name, p->name);
		set_ok(f, (enum option_id)id, NULL);
		set_ok(f, (enum option_id)id, NULL); /* the same twice is fine */
		set_fails(f, d->pair, NULL, msg);
		oci_options_release(&f->o);
	}
	assert_int_equal(pairs, 8); /* mount home, remap root, writable, shared: both ways */
}

static void pairs_share_the_inherited_slot(void **state)
{
	struct fixture *f = *state;

	for (int id = 0; id < OPTION_COUNT; id++) {
		const struct option_def *d = &oci_option_defs[id];
		cleanup_error oci_error_t err = NULL;

		if ((int)d->pair == id)
			continue;
		/* the job's value, then the step's own other: the step's wins, silently */
		assert_ok(oci_options_set(&f->o, (enum option_id)id, NULL, true, &err), err);
		assert_ok(oci_options_set(&f->o, d->pair, NULL, false, &err), err);
		assert_int_equal(*(int *)((char *)&f->o + d->field),
				 oci_option_defs[d->pair].value);
		/* and the job's again changes nothing */
		assert_ok(oci_options_set(&f->o, (enum option_id)id, NULL, true, &err), err);
		assert_int_equal(*(int *)((char *)&f->o + d->field),
				 oci_option_defs[d->pair].value);
		oci_options_release(&f->o);
	}
}

/* "container-mount-home" -> "SPANK_OCI_CONTAINER_MOUNT_HOME" */
static char *env_name_of(const char *option)
{
	char *name = xasprintf("SPANK_OCI_%s", option);

	for (char *p = name; *p != '\0'; p++)
		*p = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
	return name;
}

static void env_names_and_values(void **state)
{
	struct fixture *f = *state;
	size_t named = 0;

	for (int id = 0; id < OPTION_COUNT; id++) {
		const struct option_def *d = &oci_option_defs[id];
		cleanup_error oci_error_t err = NULL, err2 = NULL;
		cleanup_free char *want = env_name_of(d->name);
		cleanup_free char *entry = NULL, *bad = NULL, *off = NULL;

		if (d->env == NULL) {
			/* the second of a pair: its first has the variable (0 for this one) */
			assert_true((int)d->pair < id);
			assert_non_null(oci_option_defs[d->pair].env);
			continue;
		}
		named++;
		assert_string_equal(d->env, want);
		/* the variable sets the same field as the option */
		entry = xasprintf("%s=%s", d->env,
				  d->kind == OPTION_KIND_FLAG ? "1" : sample_arg(d->kind));
		{
			char *env[] = {entry, NULL};
			assert_ok(oci_options_from_env(&f->o, table_getenv, env, &err), err);
		}
		for (int other = 0; other < OPTION_COUNT; other++) {
			const struct option_def *od = &oci_option_defs[other];
			assert_int_equal(field_is_set(&f->o, od->field, od->kind),
					 od->field == d->field);
		}
		if (d->kind == OPTION_KIND_FLAG)
			assert_int_equal(*(int *)((char *)&f->o + d->field), OPT_ON);
		oci_options_release(&f->o);
		/* errors name the variable and its value */
		if (d->kind == OPTION_KIND_FILE)
			continue; /* any path is one (an empty variable is unset) */
		bad = xasprintf("%s=%s", d->env, d->kind == OPTION_KIND_FLAG ? "2" : "1x");
		{
			char *env[] = {bad, NULL};
			assert_int_equal(oci_options_from_env(&f->o, table_getenv, env, &err2), -1);
			assert_error_has(err2, bad);
		}
		oci_options_release(&f->o);
		if (d->kind != OPTION_KIND_FLAG)
			continue;
		/* 0 is the pair's other value */
		off = xasprintf("%s=0", d->env);
		{
			char *env[] = {off, NULL};
			oci_error_release(&err);
			assert_ok(oci_options_from_env(&f->o, table_getenv, env, &err), err);
		}
		assert_int_equal(*(int *)((char *)&f->o + d->field), OPT_OFF);
		oci_options_release(&f->o);
	}
	assert_int_equal(named, 9);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(mount_syntax),
		T(other_values),
		T(pairs_and_repetitions),
		T(inherited_values_give_way),
		T(environment_variables),
		T(policy_keys_and_checks),
		T(config_key_errors),
		T(every_option_reachable_from_its_row),
		T(pairs_exclude_each_other),
		T(pairs_share_the_inherited_slot),
		T(env_names_and_values),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
