/*
 * launcher/settings.c: the user's options merged with the site's defaults as the user,
 * on the real paths of the mount sources (the text checks are conf/options.c's).
 */
#include "unit.h"

#include "conf/conf.h"
#include "conf/options.h"
#include "launcher/settings.h"

#define RUNTIME                                                                                    \
	"RunTimeRun=\"/usr/sbin/runc --root %m/runc run --bundle %b %u.%j.%s.%t\"\n"               \
	"RunTimeKill=\"/usr/sbin/runc --root %m/runc kill %u.%j.%s.%t KILL\"\n"                    \
	"RunTimeDelete=\"/usr/sbin/runc --root %m/runc delete --force %u.%j.%s.%t\"\n"

/* Writes text as f->dir/oci.conf and loads it. */
static struct oci_conf *load_text(struct dir_fixture *f, const char *text)
{
	cleanup_error oci_error_t err = NULL;
	cleanup_free char *path = dir_fixture_at(f, "oci.conf");
	struct oci_conf *conf = NULL;

	write_text(path, NULL, text);
	assert_ok(oci_conf_load(path, &conf, &err), err);
	return conf;
}

/* Writes RUNTIME plus extra as f->dir/oci.conf and loads it. */
static struct oci_conf *load(struct dir_fixture *f, const char *extra)
{
	cleanup_free char *text = xasprintf("%s%s", RUNTIME, extra);

	return load_text(f, text);
}

static void set(struct oci_options *o, enum option_id id, const char *arg)
{
	cleanup_error oci_error_t err = NULL;

	assert_ok(oci_options_set(o, id, arg, false, &err), err);
}

/* settings_resolve must fail with an error containing sub (and leave out released). */
static void resolve_fails(const struct oci_options *o, const struct oci_conf *conf,
			  const char *home, const char *sub)
{
	cleanup_error oci_error_t err = NULL;
	struct container_settings s;

	assert_int_equal(settings_resolve(o, conf, home, false, &s, &err), -1);
	assert_error_has(err, sub);
	assert_int_equal(s.mounts.n, 0);
	assert_null(s.mounts.v);
	assert_null(s.workdir);
	assert_null(s.env);
}

static void sources_are_real_paths(void **state)
{
	struct dir_fixture *f = *state;
	cleanup_error oci_error_t err = NULL;
	cleanup_free char *target = dir_fixture_at(f, "target");
	cleanup_free char *link = dir_fixture_at(f, "link");
	cleanup_free char *arg =
		xasprintf("%s:/l:ro,%s/sub/../target/:/d,%s//target:/s", link, f->dir, f->dir);
	struct oci_conf *conf = load(f, "");
	struct container_settings s;
	struct oci_options o;

	make_dir(f->dir, "target", 0755);
	make_dir(f->dir, "sub", 0755);
	assert_int_equal(symlink(target, link), 0);
	oci_options_init(&o);
	set(&o, OPTION_MOUNTS, arg);
	assert_ok(settings_resolve(&o, conf, NULL, false, &s, &err), err);
	assert_int_equal(s.mounts.n, 3);
	for (size_t i = 0; i < s.mounts.n; i++)
		assert_string_equal(s.mounts.v[i].src, target);
	assert_string_equal(s.mounts.v[0].dst, "/l");
	assert_true(s.mounts.v[0].ro);
	assert_string_equal(s.mounts.v[1].dst, "/d");
	assert_false(s.mounts.v[1].ro);
	/* the user's own options are left as given */
	assert_string_equal(o.mounts.v[0].src, link);
	settings_release(&s);
	assert_int_equal(s.mounts.n, 0);
	assert_int_equal(s.writable, OPT_UNSET);
	oci_options_release(&o);
	oci_conf_free(conf);
}

static void policy_on_real_paths(void **state)
{
	struct dir_fixture *f = *state;
	cleanup_free char *site = xasprintf("AllowedMountPrefixes=%s/allowed\n"
					    "DeniedMountPrefixes=%s/allowed/denied\n",
					    f->dir, f->dir);
	cleanup_free char *outside = dir_fixture_at(f, "outside");
	cleanup_free char *denied = dir_fixture_at(f, "allowed/denied");
	cleanup_free char *escape = dir_fixture_at(f, "allowed/escape");
	cleanup_free char *sneak = dir_fixture_at(f, "allowed/sneak");
	cleanup_free char *to_escape = xasprintf("%s:/x", escape);
	cleanup_free char *to_sneak = xasprintf("%s:/x", sneak);
	cleanup_free char *refused_real = xasprintf("%s (%s) is refused", escape, outside);
	cleanup_free char *denied_real = xasprintf("%s (%s) is refused", sneak, denied);
	struct oci_conf *conf = load(f, site);
	cleanup_error oci_error_t err = NULL;
	struct container_settings s;
	struct oci_options o;

	make_dir(f->dir, "allowed", 0755);
	make_dir(f->dir, "allowed/denied", 0755);
	make_dir(f->dir, "outside", 0755);
	assert_int_equal(symlink(outside, escape), 0);
	assert_int_equal(symlink(denied, sneak), 0);
	oci_options_init(&o);
	/* the text passes oci_options_check; the real path does not */
	set(&o, OPTION_MOUNTS, to_escape);
	assert_ok(oci_options_check(&o, conf, &err), err);
	resolve_fails(&o, conf, NULL, refused_real);
	resolve_fails(&o, conf, NULL, "not under AllowedMountPrefixes=");
	oci_options_release(&o);
	set(&o, OPTION_MOUNTS, to_sneak);
	assert_ok(oci_options_check(&o, conf, &err), err);
	resolve_fails(&o, conf, NULL, denied_real);
	resolve_fails(&o, conf, NULL, "--container-mounts: mount source");
	oci_options_release(&o);
	/* the text policy comes first, before any file is looked at */
	set(&o, OPTION_MOUNTS, "/nonexistent/x:/x");
	resolve_fails(&o, conf, NULL, "mount source /nonexistent/x is refused by the site policy");
	oci_options_release(&o);
	/* the site's MountHome is not checked against its own prefixes; the user's ask is */
	oci_conf_free(conf);
	conf = load(f, "MountHome=true\nAllowedMountPrefixes=/nonexistent\n");
	assert_ok(settings_resolve(&o, conf, outside, false, &s, &err), err);
	assert_int_equal(s.mounts.n, 1);
	assert_string_equal(s.mounts.v[0].dst, outside);
	settings_release(&s);
	set(&o, OPTION_MOUNT_HOME, NULL);
	resolve_fails(&o, conf, outside, "--container-mount-home: mount source");
	oci_options_release(&o);
	oci_conf_free(conf);
}

static void missing_sources_are_named(void **state)
{
	struct dir_fixture *f = *state;
	cleanup_free char *missing = dir_fixture_at(f, "missing");
	cleanup_free char *user = xasprintf("%s:/m", missing);
	cleanup_free char *site = xasprintf("ContainerMounts=%s:/site\n", missing);
	cleanup_free char *named = xasprintf("mount source %s: No such file or directory", missing);
	cleanup_free char *in_site = xasprintf("ContainerMounts in %s/oci.conf: ", f->dir);
	struct oci_conf *conf = load(f, "");
	struct oci_options o;

	oci_options_init(&o);
	set(&o, OPTION_MOUNTS, user);
	resolve_fails(&o, conf, NULL, "--container-mounts: ");
	resolve_fails(&o, conf, NULL, named);
	oci_options_release(&o);
	set(&o, OPTION_MOUNT_HOME, NULL);
	resolve_fails(&o, conf, missing, "--container-mount-home: ");
	resolve_fails(&o, conf, missing, named);
	oci_options_release(&o);
	oci_conf_free(conf);
	conf = load(f, site);
	resolve_fails(&o, conf, NULL, in_site);
	resolve_fails(&o, conf, NULL, named);
	oci_conf_free(conf);
}

static void merges_with_the_sites_defaults(void **state)
{
	struct dir_fixture *f = *state;
	cleanup_error oci_error_t err = NULL;
	cleanup_free char *site = xasprintf("ContainerMounts=%1$s:/site,%1$s:/both:ro\n"
					    "MountHome=true\nRemapRoot=true\nWritable=false\n",
					    f->dir);
	cleanup_free char *user = xasprintf("%s/a:/both,%s/a:/mine", f->dir, f->dir);
	cleanup_free char *a = dir_fixture_at(f, "a");
	struct oci_conf *conf = load(f, site);
	struct container_settings s;
	struct oci_options o;

	make_dir(f->dir, "a", 0755);
	oci_options_init(&o);
	/* the site's defaults where the user says nothing */
	assert_ok(settings_resolve(&o, conf, "/tmp", false, &s, &err), err);
	assert_int_equal(s.mounts.n, 3);
	assert_string_equal(s.mounts.v[0].dst, "/site");
	assert_string_equal(s.mounts.v[1].dst, "/both");
	assert_string_equal(s.mounts.v[2].dst, "/tmp"); /* the home, after the site's */
	assert_true(s.remap_root);
	assert_int_equal(s.writable, OPT_OFF);
	assert_false(s.entrypoint);
	assert_false(s.shared);
	assert_null(s.workdir);
	assert_null(s.env);
	settings_release(&s);
	/* the user's own win; a later mount at the same destination replaces an earlier one */
	set(&o, OPTION_MOUNTS, user);
	set(&o, OPTION_NO_MOUNT_HOME, NULL);
	set(&o, OPTION_NO_REMAP_ROOT, NULL);
	set(&o, OPTION_WRITABLE, NULL);
	set(&o, OPTION_ENTRYPOINT, NULL);
	set(&o, OPTION_WORKDIR, "/w");
	set(&o, OPTION_ENV, "A,B");
	assert_ok(settings_resolve(&o, conf, "/tmp", false, &s, &err), err);
	assert_int_equal(s.mounts.n, 3);
	assert_string_equal(s.mounts.v[1].dst, "/both");
	assert_string_equal(s.mounts.v[1].src, a);
	assert_false(s.mounts.v[1].ro);
	assert_string_equal(s.mounts.v[2].dst, "/mine");
	assert_false(s.remap_root);
	assert_int_equal(s.writable, OPT_ON);
	assert_true(s.entrypoint);
	assert_string_equal(s.workdir, "/w");
	assert_string_equal(s.env[1], "B");
	assert_null(s.env[2]);
	settings_release(&s);
	/* a shared container needs the create/start runtime setup */
	set(&o, OPTION_SHARED, NULL);
	resolve_fails(&o, conf, NULL,
		      "--container-shared: the site's runtime setup has no "
		      "RunTimeCreate");
	oci_options_release(&o);
	oci_conf_free(conf);
	/* and remapping root, when the site forbids it, before anything else */
	conf = load(f, "AllowRemapRoot=false\n");
	set(&o, OPTION_REMAP_ROOT, NULL);
	resolve_fails(&o, conf, NULL, "--container-remap-root is refused by the site policy");
	oci_options_release(&o);
	oci_conf_free(conf);
}

/*
 * Shared mode for one step, under the runtime setup text: the option (OPTION_COUNT: none),
 * else SharedContainer (mpi: MPI steps only).
 */
static bool shared_for(struct dir_fixture *f, const char *extra, enum option_id opt, bool mpi)
{
	cleanup_error oci_error_t err = NULL;
	struct oci_conf *conf = load_text(f, extra);
	struct container_settings s;
	struct oci_options o;
	bool shared;

	oci_options_init(&o);
	if (opt != OPTION_COUNT)
		set(&o, opt, NULL);
	assert_ok(settings_resolve(&o, conf, NULL, mpi, &s, &err), err);
	shared = s.shared;
	settings_release(&s);
	oci_options_release(&o);
	oci_conf_free(conf);
	return shared;
}

static void mpi_steps_are_shared_by_default(void **state)
{
	struct dir_fixture *f = *state;
	const char *create = "RunTimeCreate=\"/usr/sbin/runc create --bundle %b %u.%j.%s.%t\"\n"
			     "RunTimeStart=\"/usr/sbin/runc start %u.%j.%s.%t\"\n"
			     "RunTimeQuery=\"/usr/sbin/runc state %u.%j.%s.%t\"\n"
			     "RunTimeKill=\"/usr/sbin/runc kill %u.%j.%s.%t KILL\"\n"
			     "RunTimeDelete=\"/usr/sbin/runc delete --force %u.%j.%s.%t\"\n";
	cleanup_free char *never = xasprintf("%sSharedContainer=false\n", create);
	cleanup_free char *mpi = xasprintf("%sSharedContainer=mpi\n", create);
	cleanup_free char *always = xasprintf("%sSharedContainer=true\n", create);

	/* the default (mpi): shared for srun --mpi, per task otherwise */
	assert_true(shared_for(f, create, OPTION_COUNT, true));
	assert_false(shared_for(f, create, OPTION_COUNT, false));
	assert_true(shared_for(f, mpi, OPTION_COUNT, true));
	/* without RunTimeCreate a site has per-task containers only, MPI or not */
	assert_false(shared_for(f, RUNTIME, OPTION_COUNT, true));
	/* the site's choice, then the user's */
	assert_false(shared_for(f, never, OPTION_COUNT, true));
	assert_true(shared_for(f, always, OPTION_COUNT, false));
	assert_false(shared_for(f, create, OPTION_NO_SHARED, true));
	assert_true(shared_for(f, never, OPTION_SHARED, false));
}

#define T(name) cmocka_unit_test_setup_teardown(name, dir_fixture_setup, dir_fixture_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(sources_are_real_paths),	    T(policy_on_real_paths),
		T(missing_sources_are_named),	    T(merges_with_the_sites_defaults),
		T(mpi_steps_are_shared_by_default),
	};

	return cmocka_run_group_tests_name("settings", tests, NULL, NULL);
}
