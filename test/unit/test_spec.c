/*
 * launcher/spec/spec.c: the config.json of one task, for a bundle with its own config.json and
 * for a bare root filesystem. The whole result is compared with golden files
 * (UPDATE_GOLDEN=1 rewrites them); the rules are also asserted one by one below.
 */
#include "unit.h"

#include <jansson.h>
#include <sys/statvfs.h>

#include "common/text.h"
#include "conf/conf.h"
#include "launcher/image/bundle.h"
#include "launcher/spec/env.h"
#include "launcher/spec/spec.h"

#define GOLDEN_DIR "test/unit/golden"

/* Resembles `runc spec --rootless`, plus what the task must not inherit. */
static const char bundle_config[] =
	"{\n"
	"  \"ociVersion\": \"1.0.2-dev\",\n"
	"  \"process\": {\n"
	"    \"terminal\": true,\n"
	"    \"consoleSize\": {\"height\": 24, \"width\": 80},\n"
	"    \"user\": {\"uid\": 0, \"gid\": 0},\n"
	"    \"args\": [\"sh\"],\n"
	"    \"env\": [\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\",\n"
	"            \"TERM=xterm\", \"BUNDLE_ONLY=1\", \"HOME=/bundlehome\"],\n"
	"    \"cwd\": \"/\",\n"
	"    \"capabilities\": {\n"
	"      \"bounding\": [\"CAP_AUDIT_WRITE\", \"CAP_KILL\"],\n"
	"      \"effective\": [\"CAP_AUDIT_WRITE\", \"CAP_KILL\"],\n"
	"      \"permitted\": [\"CAP_AUDIT_WRITE\", \"CAP_KILL\"],\n"
	"      \"ambient\": [\"CAP_AUDIT_WRITE\", \"CAP_KILL\"]\n"
	"    },\n"
	"    \"rlimits\": [{\"type\": \"RLIMIT_NOFILE\", \"hard\": 1024, \"soft\": 1024}],\n"
	"    \"noNewPrivileges\": false\n"
	"  },\n"
	"  \"root\": {\"path\": \"rootfs\", \"readonly\": true},\n"
	"  \"hostname\": \"runc\",\n"
	"  \"mounts\": [\n"
	"    {\"destination\": \"/proc\", \"type\": \"proc\", \"source\": \"proc\"},\n"
	"    {\"destination\": \"/dev\", \"type\": \"tmpfs\", \"source\": \"tmpfs\",\n"
	"     \"options\": [\"nosuid\", \"strictatime\", \"mode=755\", \"size=65536k\"]},\n"
	"    {\"destination\": \"/dev/pts\", \"type\": \"devpts\", \"source\": \"devpts\",\n"
	"     \"options\": [\"nosuid\", \"noexec\", \"newinstance\", \"ptmxmode=0666\"]},\n"
	"    {\"destination\": \"/dev/shm\", \"type\": \"tmpfs\", \"source\": \"shm\",\n"
	"     \"options\": [\"nosuid\", \"noexec\", \"nodev\", \"mode=1777\"]},\n"
	"    {\"destination\": \"/dev/mqueue\", \"type\": \"mqueue\", \"source\": \"mqueue\",\n"
	"     \"options\": [\"nosuid\", \"noexec\", \"nodev\"]},\n"
	"    {\"destination\": \"/sys\", \"type\": \"none\", \"source\": \"/sys\",\n"
	"     \"options\": [\"rbind\", \"nosuid\", \"noexec\", \"nodev\", \"ro\"]},\n"
	"    {\"destination\": \"/sys/fs/cgroup\", \"type\": \"cgroup\", \"source\": \"cgroup\",\n"
	"     \"options\": [\"nosuid\", \"noexec\", \"nodev\", \"relatime\", \"ro\"]},\n"
	"    {\"destination\": \"/scratch\", \"type\": \"bind\", \"source\": \"scratch\",\n"
	"     \"options\": [\"rbind\", \"rw\"]}\n"
	"  ],\n"
	"  \"linux\": {\n"
	"    \"uidMappings\": [{\"containerID\": 0, \"hostID\": 1000, \"size\": 1}],\n"
	"    \"gidMappings\": [{\"containerID\": 0, \"hostID\": 1000, \"size\": 1}],\n"
	"    \"namespaces\": [{\"type\": \"pid\"}, {\"type\": \"ipc\"}, {\"type\": \"uts\"},\n"
	"                   {\"type\": \"mount\"}, {\"type\": \"user\"}, {\"type\": "
	"\"network\"}],\n"
	"    \"maskedPaths\": [\"/proc/acpi\", \"/proc/kcore\", \"/sys/firmware\"],\n"
	"    \"readonlyPaths\": [\"/proc/bus\", \"/proc/sys\"],\n"
	"    \"cgroupsPath\": \"/escape\",\n"
	"    \"resources\": {\"memory\": {\"limit\": 1}},\n"
	"    \"sysctl\": {\"net.ipv4.ip_forward\": \"1\"}\n"
	"  },\n"
	"  \"hooks\": {\n"
	"    \"prestart\": [{\"path\": \"/usr/bin/netns-setup\", \"args\": [\"netns-setup\"]}],\n"
	"    \"poststop\": [{\"path\": \"/usr/bin/cleanup\", \"args\": [\"cleanup\", \"-v\"]}]\n"
	"  }\n"
	"}\n";

static const char conf_text[] =
	"RunTimeRun=\"/usr/sbin/runc --root %m/runc run --bundle %b %u.%j.%s.%t\"\n"
	"RunTimeKill=\"/usr/sbin/runc --root %m/runc kill %u.%j.%s.%t KILL\"\n"
	"RunTimeDelete=\"/usr/sbin/runc --root %m/runc delete --force %u.%j.%s.%t\"\n"
	"DisableHooks=prestart\n"
	"BundleHooks=true\n"
	"EnvExclude=\"^SECRET=\"\n";

static char *const task_argv[] = {"printenv", "A B", NULL};
static char *const task_env[] = {"PATH=/usr/bin:/bin", "HOME=/home/alice", "SLURM_JOB_ID=42",
				 "SECRET=x", NULL};

static const struct oci_task base_task = {
	.uid = 1234,
	.gid = 5678,
	.user = "alice",
	.home = "/home/alice",
	.job_id = 42,
	.step_id = 3,
	.task_id = 7,
	.node = "n1",
	.argv = task_argv,
	.env = task_env,
	.cwd = "/work",
	.tty = false,
	.batch_script = NULL,
};

struct fixture {
	char *dir;
	struct oci_conf *conf;
	struct oci_bundle *bundle; /* dir/bundle: config.json and rootfs/ */
	struct oci_bundle *rootfs; /* dir/rootfs: a bare root filesystem */
	struct oci_task task;
	json_t *spec;
	const struct container_settings *settings; /* the user's options, or NULL */
};

static int setup(void **state)
{
	cleanup_error oci_error_t err = NULL;
	cleanup_free char *conf_path = NULL, *bundle = NULL, *rootfs = NULL;
	struct fixture *f = dir_fixture_new(struct fixture);

	f->task = base_task;
	conf_path = xasprintf("%s/oci.conf", f->dir);
	write_text(conf_path, NULL, conf_text);
	assert_ok(oci_conf_load(conf_path, &f->conf, &err), err);

	make_dir(f->dir, "bundle", 0755);
	make_dir(f->dir, "bundle/rootfs", 0755);
	make_dir(f->dir, "bundle/rootfs/bin", 0755);
	make_dir(f->dir, "bundle/rootfs/etc", 0755);
	make_dir(f->dir, "bundle/rootfs/work", 0755);
	make_dir(f->dir, "bundle/scratch", 0755);
	write_text(f->dir, "bundle/config.json", bundle_config);
	make_dir(f->dir, "rootfs", 0755);
	make_dir(f->dir, "rootfs/bin", 0755);
	make_dir(f->dir, "rootfs/etc", 0755);

	bundle = xasprintf("%s/bundle", f->dir);
	rootfs = xasprintf("%s/rootfs", f->dir);
	assert_ok(bundle_open(bundle, false, "/nonexistent-image-cache", 0, &f->bundle, &err), err);
	assert_ok(bundle_open(rootfs, false, "/nonexistent-image-cache", 0, &f->rootfs, &err), err);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	json_decref(f->spec);
	bundle_free(f->bundle);
	bundle_free(f->rootfs);
	oci_conf_free(f->conf);
	dir_fixture_free(f);
	return 0;
}

static json_t *build(struct fixture *f, const struct oci_bundle *bundle, bool remap_root)
{
	cleanup_error oci_error_t err = NULL;
	struct spec_input in = {
		.conf = f->conf,
		.bundle = bundle,
		.task = &f->task,
		.identity = remap_root ? IDENTITY_REMAP_ROOT : IDENTITY_OWN,
		.settings = f->settings,
	};

	json_decref(f->spec);
	f->spec = NULL;
	assert_ok(spec_build(&in, &f->spec, &err), err);
	assert_non_null(f->spec);
	return f->spec;
}

/* Follows a dotted path of object keys ("process.user.uid"); NULL when absent. */
static json_t *jget(json_t *root, const char *path)
{
	cleanup_free char *copy = strdup(path);
	char *save = NULL;

	assert_non_null(copy);
	for (char *k = strtok_r(copy, ".", &save); k != NULL && root != NULL;
	     k = strtok_r(NULL, ".", &save))
		root = json_object_get(root, k);
	return root;
}

static const char *jstr(json_t *root, const char *path)
{
	json_t *v = jget(root, path);

	if (!json_is_string(v))
		fail_msg("%s is not a string", path);
	return json_string_value(v);
}

static json_int_t jint(json_t *root, const char *path)
{
	json_t *v = jget(root, path);

	if (!json_is_integer(v))
		fail_msg("%s is not an integer", path);
	return json_integer_value(v);
}

/* Fails unless the JSON array at path holds exactly the strings of want. */
static void assert_jstrings(json_t *root, const char *path, const char *const *want)
{
	json_t *a = jget(root, path);
	size_t n = 0;

	if (!json_is_array(a))
		fail_msg("%s is not an array", path);
	for (; want[n] != NULL; n++) {
		const char *got = json_string_value(json_array_get(a, n));
		if (got == NULL || strcmp(got, want[n]) != 0)
			fail_msg("%s[%zu] is '%s', expected '%s'", path, n, got ? got : "(none)",
				 want[n]);
	}
	if (json_array_size(a) != n)
		fail_msg("%s has %zu entries, expected %zu", path, json_array_size(a), n);
}

#define STRINGS(...) ((const char *const[]){__VA_ARGS__, NULL})

static json_t *find_mount(json_t *spec, const char *dest)
{
	size_t i;
	json_t *m;

	json_array_foreach(json_object_get(spec, "mounts"), i, m)
	{
		if (strcmp(json_string_value(json_object_get(m, "destination")), dest) == 0)
			return m;
	}
	return NULL;
}

/* The options a read-only bind of src gets: "ro" and the flags src is mounted with. */
static json_t *ro_bind_options(const char *recursive, const char *src)
{
	struct statvfs vfs;
	json_t *opts = json_pack("[s,s]", recursive, "ro");

	assert_int_equal(statvfs(src, &vfs), 0);
	if (vfs.f_flag & ST_NOSUID)
		json_array_append_new(opts, json_string("nosuid"));
	if (vfs.f_flag & ST_NODEV)
		json_array_append_new(opts, json_string("nodev"));
	if (vfs.f_flag & ST_NOEXEC)
		json_array_append_new(opts, json_string("noexec"));
	return opts;
}

static void assert_json_equal(json_t *got, json_t *want, const char *what)
{
	if (!json_equal(got, want)) {
		cleanup_free char *g = json_dumps(got, JSON_SORT_KEYS | JSON_COMPACT);
		cleanup_free char *w = json_dumps(want, JSON_SORT_KEYS | JSON_COMPACT);
		fail_msg("%s is %s, expected %s", what, g ? g : "(null)", w ? w : "(null)");
	}
}

/* The rules every generated config.json follows, whatever the bundle. */
static void assert_common_rules(struct fixture *f, json_t *spec, const struct oci_bundle *b,
				bool remap_root)
{
	json_t *m, *want;
	unsigned long inside_uid = remap_root ? 0 : f->task.uid;
	unsigned long inside_gid = remap_root ? 0 : f->task.gid;

	/* the process is the task */
	assert_jstrings(spec, "process.args", STRINGS("printenv", "A B"));
	assert_true(json_is_false(jget(spec, "process.terminal")));
	assert_true(json_is_true(jget(spec, "process.noNewPrivileges")));
	assert_int_equal(jint(spec, "process.user.uid"), inside_uid);
	assert_int_equal(jint(spec, "process.user.gid"), inside_gid);
	assert_null(jget(spec, "process.rlimits"));
	assert_null(jget(spec, "process.consoleSize"));
	assert_non_null(jget(spec, "process.capabilities.bounding"));

	/* the root filesystem, by absolute path */
	assert_string_equal(jstr(spec, "root.path"), b->rootfs);
	assert_true(jstr(spec, "root.path")[0] == '/');

	/* the node's hostname: no UTS namespace */
	assert_null(jget(spec, "hostname"));

	/* only user and mount namespaces, one id mapped: the user's own */
	assert_json_equal(jget(spec, "linux.namespaces"),
			  want = json_pack("[{s:s},{s:s}]", "type", "user", "type", "mount"),
			  "linux.namespaces");
	json_decref(want);
	assert_json_equal(jget(spec, "linux.uidMappings"),
			  want = json_pack("[{s:I,s:I,s:i}]", "containerID", (json_int_t)inside_uid,
					   "hostID", (json_int_t)1234, "size", 1),
			  "linux.uidMappings");
	json_decref(want);
	assert_json_equal(jget(spec, "linux.gidMappings"),
			  want = json_pack("[{s:I,s:I,s:i}]", "containerID", (json_int_t)inside_gid,
					   "hostID", (json_int_t)5678, "size", 1),
			  "linux.gidMappings");
	json_decref(want);

	/* Slurm's cgroup and limits stay; nothing that needs privileges */
	assert_null(jget(spec, "linux.cgroupsPath"));
	assert_null(jget(spec, "linux.resources"));
	assert_null(jget(spec, "linux.sysctl"));
	assert_null(jget(spec, "linux.maskedPaths"));
	assert_null(jget(spec, "linux.readonlyPaths"));
	assert_null(jget(spec, "linux.devices"));

	/* /proc, /sys and /dev are the host's, first, recursively bound */
	m = json_array_get(json_object_get(spec, "mounts"), 0);
	assert_json_equal(m,
			  want = json_pack("{s:s,s:s,s:s,s:[s]}", "destination", "/proc", "type",
					   "bind", "source", "/proc", "options", "rbind"),
			  "mounts[0]");
	json_decref(want);
	m = json_array_get(json_object_get(spec, "mounts"), 1);
	assert_json_equal(m,
			  want = json_pack("{s:s,s:s,s:s,s:o}", "destination", "/sys", "type",
					   "bind", "source", "/sys", "options",
					   ro_bind_options("rbind", "/sys")),
			  "mounts[1]");
	json_decref(want);
	m = json_array_get(json_object_get(spec, "mounts"), 2);
	assert_json_equal(m,
			  want = json_pack("{s:s,s:s,s:s,s:[s]}", "destination", "/dev", "type",
					   "bind", "source", "/dev", "options", "rbind"),
			  "mounts[2]");
	json_decref(want);
}

/* ---- golden files ----------------------------------------------------------------------- */

static char *replace_all(const char *text, const char *from, const char *to)
{
	char *out = NULL;
	size_t cap = 0, n = strlen(from);
	FILE *mem = open_memstream(&out, &cap);
	const char *p;

	assert_non_null(mem);
	while ((p = strstr(text, from)) != NULL) {
		fwrite(text, 1, (size_t)(p - text), mem);
		fputs(to, mem);
		text = p + n;
	}
	fputs(text, mem);
	fclose(mem);
	return out;
}

/*
 * The whole spec, as text that does not depend on the machine: the temporary directory
 * becomes @TMP@, and the mount flags that the read-only /sys bind copies from the host's
 * /sys (asserted separately against statvfs) are left out.
 */
static char *golden_text(struct fixture *f, json_t *spec)
{
	json_t *copy = json_deep_copy(spec);
	json_t *sys = find_mount(copy, "/sys"), *opts = json_object_get(sys, "options");
	cleanup_free char *text = NULL;
	char *out;

	assert_non_null(opts);
	for (size_t i = json_array_size(opts); i-- > 0;) {
		const char *o = json_string_value(json_array_get(opts, i));
		if (strcmp(o, "nosuid") == 0 || strcmp(o, "nodev") == 0 || strcmp(o, "noexec") == 0)
			json_array_remove(opts, i);
	}
	text = json_dumps(copy, JSON_SORT_KEYS | JSON_INDENT(2));
	json_decref(copy);
	assert_non_null(text);
	out = replace_all(text, f->dir, "@TMP@");
	assert_null(strstr(out, "/tmp/spank-oci-unit-"));
	return out;
}

static void compare_golden(struct fixture *f, json_t *spec, const char *name)
{
	cleanup_free char *path = xasprintf(GOLDEN_DIR "/%s", name);
	cleanup_free char *got = golden_text(f, spec), *want = NULL;
	const char *update = getenv("UPDATE_GOLDEN");

	if (update != NULL && strcmp(update, "1") == 0) {
		cleanup_free char *with_nl = xasprintf("%s\n", got);
		mkdir(GOLDEN_DIR, 0755);
		write_text(path, NULL, with_nl);
		print_message("wrote %s\n", path);
		return;
	}
	want = read_text(path);
	if (want == NULL)
		fail_msg("cannot read %s (run from the repository root; UPDATE_GOLDEN=1 writes it)",
			 path);
	if (strlen(want) > 0 && want[strlen(want) - 1] == '\n')
		want[strlen(want) - 1] = '\0';
	if (strcmp(got, want) != 0) {
		print_error("--- %s\n%s\n--- generated\n%s\n", path, want, got);
		fail_msg("the generated config.json differs from %s", path);
	}
}

/* A bundle with its own config.json; the runc default: uid 0 inside. */
static void bundle_spec_golden(void **state)
{
	struct fixture *f = *state;
	json_t *spec = build(f, f->bundle, true), *m;
	cleanup_free char *rootfs = xasprintf("%s/bundle/rootfs", f->dir);
	cleanup_free char *scratch = xasprintf("%s/bundle/scratch", f->dir);

	assert_common_rules(f, spec, f->bundle, true);
	assert_string_equal(f->bundle->rootfs, rootfs);
	/* the bundle's ociVersion and capabilities stay */
	assert_string_equal(jstr(spec, "ociVersion"), "1.0.2-dev");
	assert_jstrings(spec, "process.capabilities.ambient",
			STRINGS("CAP_AUDIT_WRITE", "CAP_KILL"));
	/* the task's environment, minus EnvExclude; the bundle's variables win */
	assert_jstrings(spec, "process.env",
			STRINGS("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
				"HOME=/bundlehome", "SLURM_JOB_ID=42", "TERM=xterm",
				"BUNDLE_ONLY=1"));
	/* /work exists in this rootfs */
	assert_string_equal(jstr(spec, "process.cwd"), "/work");
	/* root.readonly comes from the bundle */
	assert_true(json_is_true(jget(spec, "root.readonly")));
	/* the bundle's /proc, /sys and /dev* mounts give way to the host's; /scratch stays,
	 * its source (relative: in the bundle) by its real path */
	assert_int_equal(json_array_size(json_object_get(spec, "mounts")), 4);
	m = find_mount(spec, "/scratch");
	assert_non_null(m);
	assert_string_equal(jstr(m, "source"), scratch);
	assert_jstrings(m, "options", STRINGS("rbind", "rw"));
	assert_null(find_mount(spec, "/dev/pts"));
	assert_null(find_mount(spec, "/dev/shm"));
	assert_null(find_mount(spec, "/dev/mqueue"));
	assert_null(find_mount(spec, "/sys/fs/cgroup"));
	assert_string_equal(jstr(find_mount(spec, "/proc"), "type"), "bind");
	/* DisableHooks=prestart */
	assert_null(jget(spec, "hooks.prestart"));
	assert_string_equal(jstr(json_array_get(jget(spec, "hooks.poststop"), 0), "path"),
			    "/usr/bin/cleanup");

	compare_golden(f, spec, "spec_bundle.json");
}

/* A bare root filesystem; uid and gid of the user inside. */
static void rootfs_spec_golden(void **state)
{
	struct fixture *f = *state;
	json_t *spec = build(f, f->rootfs, false);
	cleanup_free char *rootfs = xasprintf("%s/rootfs", f->dir);

	assert_null(f->rootfs->config);
	assert_common_rules(f, spec, f->rootfs, false);
	assert_string_equal(f->rootfs->rootfs, rootfs);
	assert_jstrings(spec, "process.env",
			STRINGS("PATH=/usr/bin:/bin", "HOME=/home/alice", "SLURM_JOB_ID=42"));
	/* there is no /work in this rootfs */
	assert_string_equal(jstr(spec, "process.cwd"), "/");
	assert_false(json_is_true(jget(spec, "root.readonly")));
	/* a complete spec: version, default capabilities, only the host's mounts */
	assert_string_equal(jstr(spec, "ociVersion"), "1.0.2");
	assert_jstrings(spec, "process.capabilities.bounding",
			STRINGS("CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"));
	assert_int_equal(json_array_size(json_object_get(spec, "mounts")), 3);
	assert_null(jget(spec, "hooks"));

	compare_golden(f, spec, "spec_rootfs.json");
}

/* ---- the rules, bundle kind by bundle kind ---------------------------------------------- */

static void bundle_without_remap_root(void **state)
{
	struct fixture *f = *state;
	json_t *spec = build(f, f->bundle, false);

	assert_common_rules(f, spec, f->bundle, false);
	assert_int_equal(jint(spec, "process.user.uid"), 1234);
	assert_int_equal(jint(spec, "process.user.gid"), 5678);
	assert_int_equal(jint(json_array_get(jget(spec, "linux.uidMappings"), 0), "containerID"),
			 1234);
}

static void rootfs_with_remap_root(void **state)
{
	struct fixture *f = *state;
	json_t *spec = build(f, f->rootfs, true);

	assert_common_rules(f, spec, f->rootfs, true);
	assert_int_equal(jint(spec, "process.user.uid"), 0);
	assert_int_equal(jint(spec, "process.user.gid"), 0);
	assert_int_equal(jint(json_array_get(jget(spec, "linux.gidMappings"), 0), "hostID"), 5678);
}

static void cwd_must_exist_in_rootfs(void **state)
{
	struct fixture *f = *state;
	cleanup_free char *link = xasprintf("%s/bundle/rootfs/wlink", f->dir);
	cleanup_free char *hostlink = xasprintf("%s/bundle/rootfs/hostlink", f->dir);
	cleanup_free char *hostdir = xasprintf("%s/rootfs", f->dir);

	f->task.cwd = "/nonexistent";
	assert_string_equal(jstr(build(f, f->bundle, true), "process.cwd"), "/");
	f->task.cwd = "work";
	assert_string_equal(jstr(build(f, f->bundle, true), "process.cwd"), "/");
	f->task.cwd = NULL;
	assert_string_equal(jstr(build(f, f->bundle, true), "process.cwd"), "/");
	f->task.cwd = "/work";
	assert_string_equal(jstr(build(f, f->bundle, true), "process.cwd"), "/work");
	f->task.cwd = "/etc";
	assert_string_equal(jstr(build(f, f->rootfs, true), "process.cwd"), "/etc");

	/* symlinks resolve inside the rootfs, as in the container */
	assert_int_equal(symlink("/work", link), 0);
	f->task.cwd = "/wlink";
	assert_string_equal(jstr(build(f, f->bundle, true), "process.cwd"), "/wlink");
	/* an absolute target that exists on the host only does not count */
	assert_int_equal(symlink(hostdir, hostlink), 0);
	f->task.cwd = "/hostlink";
	assert_string_equal(jstr(build(f, f->bundle, true), "process.cwd"), "/");
	/* nor does a way out with .. */
	f->task.cwd = "/../../../../../../tmp";
	assert_string_equal(jstr(build(f, f->bundle, true), "process.cwd"), "/");
}

static void terminal_follows_the_task(void **state)
{
	struct fixture *f = *state;

	f->task.tty = true;
	assert_true(json_is_true(jget(build(f, f->rootfs, true), "process.terminal")));
	f->task.tty = false;
	assert_true(json_is_false(jget(build(f, f->bundle, true), "process.terminal")));
}

static void spool_and_batch_script_mounts(void **state)
{
	struct fixture *f = *state;
	cleanup_error oci_error_t err = NULL;
	cleanup_free char *script = xasprintf("%s/slurm_script", f->dir);
	struct spec_input in = {
		.conf = f->conf,
		.bundle = f->bundle,
		.task = &f->task,
		.spool = "/tmp/spank-oci-1234/42.3",
		.spool_dest = "/var/run/slurm-oci",
		.identity = IDENTITY_REMAP_ROOT,
	};
	json_t *m, *want;

	write_text(script, NULL, "#!/bin/sh\n");
	f->task.batch_script = script;
	assert_ok(spec_build(&in, &f->spec, &err), err);
	/* host mounts, /scratch, then ours */
	assert_int_equal(json_array_size(json_object_get(f->spec, "mounts")), 6);
	m = json_array_get(json_object_get(f->spec, "mounts"), 4);
	assert_json_equal(m,
			  want = json_pack("{s:s,s:s,s:s,s:[s]}", "destination",
					   "/var/run/slurm-oci", "type", "bind", "source",
					   "/tmp/spank-oci-1234/42.3", "options", "bind"),
			  "spool mount");
	json_decref(want);
	m = json_array_get(json_object_get(f->spec, "mounts"), 5);
	assert_json_equal(m,
			  want = json_pack("{s:s,s:s,s:s,s:o}", "destination", script, "type",
					   "bind", "source", script, "options",
					   ro_bind_options("bind", script)),
			  "batch script mount");
	json_decref(want);

	/* without MountSpoolDir the spool is not bound */
	f->task.batch_script = NULL;
	in.spool_dest = NULL;
	json_decref(f->spec);
	f->spec = NULL;
	assert_ok(spec_build(&in, &f->spec, &err), err);
	assert_int_equal(json_array_size(json_object_get(f->spec, "mounts")), 4);
}

/* Only /proc, /sys and /dev themselves and what is below them are the host's. */
static void only_host_owned_mounts_are_dropped(void **state)
{
	struct fixture *f = *state;
	cleanup_error oci_error_t err = NULL;
	cleanup_free char *path = xasprintf("%s/other", f->dir);
	struct oci_bundle *b = NULL;
	json_t *spec;

	make_dir(f->dir, "other", 0755);
	make_dir(f->dir, "other/rootfs", 0755);
	write_text(path, "config.json",
		   "{\"ociVersion\": \"1.0.2\", \"mounts\": ["
		   "{\"destination\": \"/proc/sys/fs/binfmt_misc\", \"type\": \"binfmt_misc\","
		   " \"source\": \"binfmt\"},"
		   "{\"destination\": \"/device\", \"type\": \"bind\", \"source\": \"/usr\"},"
		   "{\"destination\": \"/system\", \"type\": \"bind\", \"source\": \"/tmp\"},"
		   "{\"destination\": \"/process\", \"type\": \"bind\", \"source\": \"/\"},"
		   "{\"destination\": \"/dev/fuse\", \"type\": \"bind\", \"source\": \"/dev/fuse\"}"
		   "], \"hooks\": {\"prestart\": [{\"path\": \"/bin/true\"}]}}");
	assert_ok(bundle_open(path, false, "/nonexistent-image-cache", 0, &b, &err), err);
	spec = build(f, b, true);
	bundle_free(b);
	assert_int_equal(json_array_size(json_object_get(spec, "mounts")), 6);
	assert_non_null(find_mount(spec, "/device"));
	assert_non_null(find_mount(spec, "/system"));
	assert_non_null(find_mount(spec, "/process"));
	assert_null(find_mount(spec, "/dev/fuse"));
	assert_null(find_mount(spec, "/proc/sys/fs/binfmt_misc"));
	/* with its only kind disabled, "hooks" goes away */
	assert_null(jget(spec, "hooks"));
	/* a bundle without process gets the defaults */
	assert_jstrings(spec, "process.capabilities.effective",
			STRINGS("CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"));
	assert_jstrings(spec, "process.env",
			STRINGS("PATH=/usr/bin:/bin", "HOME=/home/alice", "SLURM_JOB_ID=42"));
}

/* ---- spec_env_merge ----------------------------------------------------------------------- */

static void expect_env_keep(const struct oci_conf *conf, char *const *task_env, const char *image,
			    char *const *keep, const char *const *want)
{
	cleanup_error oci_error_t err = NULL;
	cleanup_strv char **env = NULL;
	json_error_t jerr;
	json_t *image_env = image ? json_loads(image, 0, &jerr) : NULL;
	size_t i;

	if (image != NULL && image_env == NULL)
		fail_msg("bad test JSON: %s", jerr.text);
	assert_ok(spec_env_merge(conf, task_env, image_env, keep, &env, &err), err);
	json_decref(image_env);
	for (i = 0; want[i] != NULL; i++) {
		if (env[i] == NULL || strcmp(env[i], want[i]) != 0)
			fail_msg("env[%zu] is '%s', expected '%s'", i, env[i] ? env[i] : "(end)",
				 want[i]);
	}
	if (env[i] != NULL)
		fail_msg("unexpected env[%zu] '%s'", i, env[i]);
}

static void expect_env(const struct oci_conf *conf, char *const *task_env, const char *image,
		       const char *const *want)
{
	expect_env_keep(conf, task_env, image, NULL, want);
}

static void spec_env_rules(void **state)
{
	struct fixture *f = *state;
	char *const task[] = {"A=task", "SECRET=1", "NOEQUALS", "B=", "SECRETARY=ok", NULL};
	char *const none[] = {NULL};

	/* the image wins and fills gaps, excluded and malformed entries go */
	expect_env(f->conf, task, "[\"A=image\", \"C=image\", \"B=image\", \"JUNK\", 5, \"D=d\"]",
		   STRINGS("A=image", "B=image", "SECRETARY=ok", "C=image", "D=d"));
	/* --container-env: the task's values of those names win */
	expect_env_keep(f->conf, task, "[\"A=image\", \"C=image\", \"B=image\"]",
			(char *const[]){"A", "C", NULL},
			STRINGS("A=task", "B=image", "SECRETARY=ok", "C=image"));
	/* no image environment */
	expect_env(f->conf, task, NULL, STRINGS("A=task", "B=", "SECRETARY=ok"));
	/* no task environment: the image's as it is */
	expect_env(f->conf, none, "[\"PATH=/bin\", \"TERM=xterm\"]",
		   STRINGS("PATH=/bin", "TERM=xterm"));
	expect_env(f->conf, NULL, "[]", STRINGS(NULL));
	/* a name that is a prefix of another is a different name */
	expect_env_keep(f->conf, (char *const[]){"AB=1", NULL}, "[\"A=2\", \"ABC=3\", \"AB=4\"]",
			(char *const[]){"AB", NULL}, STRINGS("AB=1", "A=2", "ABC=3"));
	expect_env_keep(f->conf, (char *const[]){"AB=1", NULL}, "[\"AB=4\"]",
			(char *const[]){"A", "ABC", NULL}, STRINGS("AB=4"));
}

static void runtime_needing_root_mapped(void **state)
{
	struct fixture *f = *state;
	char **saved = f->conf->runtime_run;
	char *crun[] = {"/usr/bin/crun", "run", NULL};
	bool runc, other;

	runc = spec_runtime_needs_root_mapped(f->conf);
	f->conf->runtime_run = crun;
	other = spec_runtime_needs_root_mapped(f->conf);
	f->conf->runtime_run = saved;
	assert_true(runc);
	assert_false(other);
}

/* ---- the user's options ------------------------------------------------------------------ */

static void settings_mounts_workdir_and_writability(void **state)
{
	struct fixture *f = *state;
	struct container_settings set = {.writable = OPT_UNSET};
	json_t *spec, *m, *want;

	mounts_add(&set.mounts, "/usr", "/data", true);
	mounts_add(&set.mounts, f->dir, "/scratch", false);
	set.workdir = strdup("/nowhere");
	f->settings = &set;
	spec = build(f, f->bundle, false);
	/* after the bundle's own mounts, in order; read-only repeats the source's flags */
	m = json_array_get(json_object_get(spec, "mounts"),
			   json_array_size(json_object_get(spec, "mounts")) - 2);
	assert_json_equal(m,
			  want = json_pack("{s:s,s:s,s:s,s:o}", "destination", "/data", "type",
					   "bind", "source", "/usr", "options",
					   ro_bind_options("rbind", "/usr")),
			  "the ro mount");
	json_decref(want);
	m = json_array_get(json_object_get(spec, "mounts"),
			   json_array_size(json_object_get(spec, "mounts")) - 1);
	assert_json_equal(m,
			  want = json_pack("{s:s,s:s,s:s,s:[s]}", "destination", "/scratch", "type",
					   "bind", "source", f->dir, "options", "rbind"),
			  "the rw mount");
	json_decref(want);
	/* --container-workdir wins over the task's cwd, even where it does not exist yet */
	assert_string_equal(jstr(spec, "process.cwd"), "/nowhere");
	/* writability: the bundle's own root.readonly unless asked */
	assert_true(json_is_true(jget(spec, "root.readonly")));
	set.writable = OPT_ON;
	assert_true(json_is_false(jget(build(f, f->bundle, false), "root.readonly")));
	set.writable = OPT_OFF;
	assert_true(json_is_true(jget(build(f, f->rootfs, false), "root.readonly")));
	set.writable = OPT_UNSET;
	assert_true(json_is_false(jget(build(f, f->rootfs, false), "root.readonly")));
	f->settings = NULL;
	settings_release(&set);
}

static void entrypoint_prepends_the_images(void **state)
{
	struct fixture *f = *state;
	struct container_settings set = {.writable = OPT_UNSET, .entrypoint = true};
	struct oci_bundle image = *f->rootfs;

	image.is_image = true;
	image.entrypoint = json_pack("[s,s]", "/bin/entry", "--flag");
	f->settings = &set;
	assert_jstrings(build(f, &image, false), "process.args",
			STRINGS("/bin/entry", "--flag", "printenv", "A B"));
	/* an image is read-only unless asked otherwise */
	assert_true(json_is_true(jget(f->spec, "root.readonly")));
	set.entrypoint = false;
	assert_jstrings(build(f, &image, false), "process.args", STRINGS("printenv", "A B"));
	json_decref(image.entrypoint);
	f->settings = NULL;
}

static void own_identity_through_subids(void **state)
{
	struct fixture *f = *state;
	cleanup_error oci_error_t err = NULL;
	json_t *want;
	struct spec_input in = {.conf = f->conf,
				.bundle = f->rootfs,
				.task = &f->task,
				.identity = IDENTITY_OWN_SUBIDS};

	assert_ok(spec_build(&in, &f->spec, &err), err);
	assert_int_equal(jint(f->spec, "process.user.uid"), 1234);
	assert_int_equal(jint(f->spec, "process.user.gid"), 5678);
	/* in the runtime's namespace 0 is the user and 1 a subordinate id */
	assert_json_equal(jget(f->spec, "linux.uidMappings"),
			  want = json_pack("[{s:i,s:i,s:i},{s:i,s:i,s:i}]", "containerID", 1234,
					   "hostID", 0, "size", 1, "containerID", 0, "hostID", 1,
					   "size", 1),
			  "linux.uidMappings");
	json_decref(want);
	assert_int_equal(jint(json_array_get(jget(f->spec, "linux.gidMappings"), 0), "containerID"),
			 5678);
}

/* ---- text that is not UTF-8 (JSON cannot hold it) ------------------------------------------ */

/* spec_build must fail, with exactly this message. */
static void expect_refused(struct fixture *f, const char *want)
{
	cleanup_error oci_error_t err = NULL;
	json_t *spec = NULL;
	struct spec_input in = {.conf = f->conf,
				.bundle = f->bundle,
				.task = &f->task,
				.identity = IDENTITY_OWN,
				.settings = f->settings};
	int rc = spec_build(&in, &spec, &err);

	json_decref(spec);
	if (rc == 0)
		fail_msg("config.json was built; expected '%s'", want);
	assert_string_equal(oci_error_text(err), want);
}

static void utf8_checks_and_escapes(void **state)
{
	cleanup_free char *shown = text_escape("caf\xe9\\ \n\x7f\xc3\xa9");

	(void)state;
	assert_string_equal(shown, "caf\\xe9\\\\ \\x0a\\x7f\\xc3\\xa9");
	assert_true(text_is_utf8(""));
	assert_true(text_is_utf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
	assert_false(text_is_utf8("caf\xe9"));
	assert_false(text_is_utf8("\xc3"));		/* cut short */
	assert_false(text_is_utf8("\xc0\xaf"));		/* overlong '/' */
	assert_false(text_is_utf8("\xe0\x80\xaf"));	/* overlong '/' */
	assert_false(text_is_utf8("\xed\xa0\x80"));	/* a surrogate */
	assert_false(text_is_utf8("\xf4\x90\x80\x80")); /* beyond U+10FFFF */
}

/* An argument that is not UTF-8 is refused (it once ran the bundle's own args, rc 0). */
static void non_utf8_argument_is_refused(void **state)
{
	struct fixture *f = *state;

	f->task.argv = (char *[]){"/bin/echo", "caf\xe9", NULL};
	expect_refused(f, "argument 2 of the task is not valid UTF-8: caf\\xe9");
}

/* A variable that is not UTF-8 is left out, with one notice; the others pass. */
static void non_utf8_variable_is_left_out(void **state)
{
	struct fixture *f = *state;
	cleanup_error oci_error_t err = NULL;
	cleanup_strv char **notices = NULL;
	struct spec_input in = {.conf = f->conf,
				.bundle = f->rootfs,
				.task = &f->task,
				.identity = IDENTITY_OWN,
				.notices = &notices};

	f->task.env = (char *[]){"PATH=/usr/bin", "BAD=caf\xe9", "GOOD=1",
				 "B\xe9"
				 "D=x",
				 NULL};
	assert_ok(spec_build(&in, &f->spec, &err), err);
	assert_jstrings(f->spec, "process.env", STRINGS("PATH=/usr/bin", "GOOD=1"));
	assert_int_equal(strv_len(notices), 2);
	assert_string_equal(notices[0], "notice: the environment variable BAD is not valid "
					"UTF-8: the container runs without it");
	assert_string_equal(notices[1], "notice: the environment variable B\\xe9D is not valid "
					"UTF-8: the container runs without it");
	/* the bundle's own variables stay; the task's bad one is named once */
	json_decref(f->spec);
	f->spec = NULL;
	strv_free(notices);
	notices = NULL;
	f->task.env = (char *[]){"BAD=caf\xe9", "GOOD=1", NULL};
	in.bundle = f->bundle;
	assert_ok(spec_build(&in, &f->spec, &err), err);
	assert_jstrings(f->spec, "process.env",
			STRINGS("GOOD=1",
				"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
				"TERM=xterm", "BUNDLE_ONLY=1", "HOME=/bundlehome"));
	assert_int_equal(strv_len(notices), 1);
}

/* A working directory or a mount that is not UTF-8 is refused, never dropped. */
static void non_utf8_cwd_and_mounts_are_refused(void **state)
{
	struct fixture *f = *state;
	struct container_settings set = {.writable = OPT_UNSET};

	make_dir(f->dir, "bundle/rootfs/caf\xe9", 0755);
	f->task.cwd = "/caf\xe9";
	expect_refused(f, "the working directory is not valid UTF-8: /caf\\xe9");
	f->task.cwd = "/work";
	f->settings = &set;
	set.workdir = strdup("/w\xff");
	expect_refused(f, "the working directory is not valid UTF-8: /w\\xff");
	free(set.workdir);
	set.workdir = NULL;
	mounts_add(&set.mounts, "/data/caf\xe9", "/data", false);
	expect_refused(f, "mount source is not valid UTF-8: /data/caf\\xe9");
	mounts_release(&set.mounts);
	mounts_add(&set.mounts, "/usr", "/d\xe9st", true);
	expect_refused(f, "mount destination is not valid UTF-8: /d\\xe9st");
	f->settings = NULL;
	settings_release(&set);
}

/* ---- the site's policy on the bundle's own mounts and hooks (launcher/spec/policy.c) ---- */

/* Replaces the fixture's configuration: a runtime and extra. */
static void use_conf(struct fixture *f, const char *extra)
{
	cleanup_error oci_error_t err = NULL;
	cleanup_free char *path = xasprintf("%s/policy.conf", f->dir);
	cleanup_free char *text =
		xasprintf("RunTimeRun=\"/usr/sbin/runc run --bundle %%b %%u.%%j.%%s.%%t\"\n"
			  "RunTimeKill=\"/usr/sbin/runc kill %%u.%%j.%%s.%%t KILL\"\n"
			  "RunTimeDelete=\"/usr/sbin/runc delete --force %%u.%%j.%%s.%%t\"\n%s",
			  extra);

	write_text(path, NULL, text);
	oci_conf_free(f->conf);
	f->conf = NULL;
	assert_ok(oci_conf_load(path, &f->conf, &err), err);
}

/* Makes dir/policy-bundle with this config.json (fmt: one %s, the temporary directory). */
static void use_bundle(struct fixture *f, const char *fmt)
{
	cleanup_error oci_error_t err = NULL;
	cleanup_free char *path = xasprintf("%s/policy-bundle", f->dir);
	cleanup_free char *config = xasprintf(fmt, f->dir, f->dir, f->dir);

	if (!path_exists(path)) { /* the first config.json of a test */
		make_dir(f->dir, "policy-bundle", 0755);
		make_dir(f->dir, "policy-bundle/rootfs", 0755);
	}
	write_text(path, "config.json", config);
	bundle_free(f->bundle);
	f->bundle = NULL;
	assert_ok(bundle_open(path, false, "/nonexistent-image-cache", 0, &f->bundle, &err), err);
}

/* spec_build of f->bundle as task task_id must fail with "BUNDLE/config.json: want". */
static void expect_bundle_refused(struct fixture *f, const char *want)
{
	cleanup_free char *full = xasprintf("%s/policy-bundle/config.json: %s", f->dir, want);

	expect_refused(f, full);
}

/* One mount in a bundle's config.json (a printf format of the temporary directory). */
#define BUNDLE_MOUNT(m) "{\"mounts\": [" m "]}"

/* Binds in a bundle's config.json pass Allowed/DeniedMountPrefixes by their real source. */
static void bundle_binds_follow_the_mount_prefixes(void **state)
{
	struct fixture *f = *state;
	cleanup_free char *conf = xasprintf("DeniedMountPrefixes=%s/site/secret\n"
					    "AllowedMountPrefixes=%s/site,%s/policy-bundle\n",
					    f->dir, f->dir, f->dir);
	cleanup_free char *want = NULL, *real = NULL;
	json_t *spec;

	make_dir(f->dir, "site", 0755);
	make_dir(f->dir, "site/secret", 0755);
	make_dir(f->dir, "site/data", 0755);
	real = xasprintf("%s/site/secret", f->dir);
	want = xasprintf("%s/site/link", f->dir);
	assert_int_equal(symlink(real, want), 0);
	free(want);
	free(real);
	use_conf(f, conf);

	/* a denied source, as --container-mounts would be refused */
	use_bundle(f, BUNDLE_MOUNT("{\"destination\": \"/a\", \"type\": \"bind\","
				   " \"source\": \"%s/site/secret\", \"options\": [\"rbind\"]}"));
	want = xasprintf("the mount on /a: mount source %s/site/secret is refused by the site "
			 "policy (DeniedMountPrefixes=%s/site/secret in %s/policy.conf)",
			 f->dir, f->dir, f->dir);
	expect_bundle_refused(f, want);
	free(want);
	/* through a link; "rbind" makes it a bind whatever its type */
	use_bundle(f, BUNDLE_MOUNT(
			      "{\"destination\": \"/b\", \"type\": \"none\","
			      " \"source\": \"%s/site/link\", \"options\": [\"rbind\", \"ro\"]}"));
	want = xasprintf(
		"the mount on /b: mount source %s/site/link (%s/site/secret) is refused by "
		"the site policy (DeniedMountPrefixes=%s/site/secret in %s/policy.conf)",
		f->dir, f->dir, f->dir, f->dir);
	expect_bundle_refused(f, want);
	free(want);
	/* "bind" in a tmpfs's options: a bind of /usr, not under the allowed prefixes */
	use_bundle(f, BUNDLE_MOUNT("{\"destination\": \"/c\", \"type\": \"tmpfs\","
				   " \"source\": \"/usr\", \"options\": [\"bind\"]}"));
	want = xasprintf("the mount on /c: mount source /usr is refused by the site policy: not "
			 "under AllowedMountPrefixes=%s/site,%s/policy-bundle in %s/policy.conf",
			 f->dir, f->dir, f->dir);
	expect_bundle_refused(f, want);
	free(want);
	/* a missing source, and a bind without one */
	use_bundle(f, BUNDLE_MOUNT("{\"destination\": \"/d\", \"type\": \"bind\","
				   " \"source\": \"%s/site/none\"}"));
	want = xasprintf("the mount on /d: mount source %s/site/none: No such file or directory",
			 f->dir);
	expect_bundle_refused(f, want);
	free(steal_pointer(&want));
	use_bundle(f, BUNDLE_MOUNT("{\"destination\": \"/e\", \"type\": \"bind\"}"));
	expect_bundle_refused(f, "the mount on /e: a bind mount without a source");

	/* allowed: the runtime gets the real paths that were checked; a relative source is
	 * the bundle's */
	make_dir(f->dir, "policy-bundle/rel", 0755);
	use_bundle(f, "{\"mounts\": [{\"destination\": \"/f\", \"type\": \"bind\","
		      " \"source\": \"%s/site/../site/data/\"},"
		      " {\"destination\": \"/g\", \"type\": \"bind\", \"source\": \"rel\"}]}");
	spec = build(f, f->bundle, false);
	real = xasprintf("%s/site/data", f->dir);
	assert_string_equal(jstr(find_mount(spec, "/f"), "source"), real);
	free(real);
	real = xasprintf("%s/policy-bundle/rel", f->dir);
	assert_string_equal(jstr(find_mount(spec, "/g"), "source"), real);
	/* the bundle's own config is not changed */
	assert_string_equal(
		jstr(json_array_get(json_object_get(f->bundle->config, "mounts"), 1), "source"),
		"rel");
}

/* Other mounts of a bundle: their type must be in AllowedBundleMountTypes. */
static void bundle_mount_types_follow_the_allow_list(void **state)
{
	struct fixture *f = *state;
	cleanup_free char *want = NULL;
	json_t *spec;

	/* the default: file systems with no host path behind them */
	use_conf(f, "");
	use_bundle(f, "{\"mounts\": ["
		      "{\"destination\": \"/t\", \"type\": \"tmpfs\", \"source\": \"tmpfs\"},"
		      "{\"destination\": \"/pts\", \"type\": \"devpts\", \"source\": \"devpts\"},"
		      "{\"destination\": \"/mq\", \"type\": \"mqueue\", \"source\": \"mqueue\"},"
		      "{\"destination\": \"/p\", \"type\": \"proc\", \"source\": \"proc\"},"
		      "{\"destination\": \"/s\", \"type\": \"sysfs\", \"source\": \"sysfs\"}]}");
	spec = build(f, f->bundle, false);
	assert_int_equal(json_array_size(json_object_get(spec, "mounts")), 3 + 5);
	assert_string_equal(jstr(find_mount(spec, "/t"), "source"), "tmpfs");
	/* an overlay could show any host directory: refused */
	use_bundle(f, BUNDLE_MOUNT("{\"destination\": \"/o\", \"type\": \"overlay\","
				   " \"source\": \"overlay\", \"options\": [\"lowerdir=/etc\"]}"));
	want = xasprintf(
		"the mount on /o: type overlay is refused by the site policy: not in "
		"AllowedBundleMountTypes (default tmpfs,devpts,mqueue,proc,sysfs, unset in "
		"%s/policy.conf)",
		f->dir);
	expect_bundle_refused(f, want);
	free(want);
	use_bundle(f, BUNDLE_MOUNT("{\"destination\": \"/n\", \"source\": \"/dev/sda1\"}"));
	want = xasprintf(
		"the mount on /n: type (none) is refused by the site policy: not in "
		"AllowedBundleMountTypes (default tmpfs,devpts,mqueue,proc,sysfs, unset in "
		"%s/policy.conf)",
		f->dir);
	expect_bundle_refused(f, want);
	free(want);

	/* the site's own list */
	use_conf(f, "AllowedBundleMountTypes=tmpfs,overlay\n");
	use_bundle(f, BUNDLE_MOUNT("{\"destination\": \"/o\", \"type\": \"overlay\","
				   " \"source\": \"overlay\", \"options\": [\"lowerdir=/etc\"]}"));
	spec = build(f, f->bundle, false);
	assert_string_equal(jstr(find_mount(spec, "/o"), "type"), "overlay");
	use_bundle(f, BUNDLE_MOUNT("{\"destination\": \"/mq\", \"type\": \"mqueue\","
				   " \"source\": \"mqueue\"}"));
	want = xasprintf("the mount on /mq: type mqueue is refused by the site policy: not in "
			 "AllowedBundleMountTypes=tmpfs,overlay in %s/policy.conf",
			 f->dir);
	expect_bundle_refused(f, want);
}

/* Builds f->bundle as task task_id; returns the notices (a strv, NULL when none). */
static char **build_notices(struct fixture *f, uint32_t task_id)
{
	cleanup_error oci_error_t err = NULL;
	char **notices = NULL;
	struct spec_input in = {.conf = f->conf,
				.bundle = f->bundle,
				.task = &f->task,
				.identity = IDENTITY_OWN,
				.notices = &notices};

	f->task.task_id = task_id;
	json_decref(f->spec);
	f->spec = NULL;
	assert_ok(spec_build(&in, &f->spec, &err), err);
	return notices;
}

#define HOOKS_BUNDLE                                                                               \
	"{\"hooks\": {\"prestart\": [{\"path\": \"/bin/sh\"}], \"createRuntime\": [],"             \
	" \"poststop\": [{\"path\": \"/bin/true\"}, {\"path\": \"/bin/false\"}]}}"

/*
 * The bundle's hooks would run host commands as the user, outside the container: only
 * with BundleHooks=true, else dropped with one notice (task 0's: once per step).
 * DisableHooks removes kinds either way.
 */
static void bundle_hooks_only_when_the_site_says(void **state)
{
	struct fixture *f = *state;
	cleanup_free char *want = NULL;
	char **notices;

	use_conf(f, "");
	use_bundle(f, HOOKS_BUNDLE);
	notices = build_notices(f, 0);
	assert_null(jget(f->spec, "hooks"));
	want = xasprintf("notice: the bundle's hooks (prestart, poststop) are not run "
			 "(BundleHooks=false in %s/policy.conf)",
			 f->dir);
	assert_non_null(notices);
	assert_string_equal(notices[0], want);
	assert_null(notices[1]);
	strv_free(notices);
	/* the other tasks of the step say nothing */
	notices = build_notices(f, 1);
	assert_null(jget(f->spec, "hooks"));
	assert_null(notices);

	/* BundleHooks=true: as in the bundle */
	use_conf(f, "BundleHooks=true\n");
	notices = build_notices(f, 0);
	assert_null(notices);
	assert_json_equal(jget(f->spec, "hooks"), jget(f->bundle->config, "hooks"), "hooks");

	/* DisableHooks, as Slurm documents it: the listed hook types are disabled */
	use_conf(f, "BundleHooks=true\nDisableHooks=poststop,createRuntime\n");
	notices = build_notices(f, 0);
	assert_null(notices);
	assert_int_equal(json_object_size(jget(f->spec, "hooks")), 1);
	assert_string_equal(jstr(json_array_get(jget(f->spec, "hooks.prestart"), 0), "path"),
			    "/bin/sh");
	use_conf(f, "BundleHooks=true\nDisableHooks=\"Prestart, poststop\"\n");
	notices = build_notices(f, 0);
	assert_null(notices);
	assert_null(jget(f->spec, "hooks.prestart"));
	assert_null(jget(f->spec, "hooks.poststop"));
	assert_non_null(jget(f->spec, "hooks.createRuntime"));
	/* the notice names only what BundleHooks=false dropped */
	use_conf(f, "DisableHooks=poststop\n");
	notices = build_notices(f, 0);
	assert_null(jget(f->spec, "hooks"));
	free(want);
	want = xasprintf("notice: the bundle's hooks (prestart) are not run (BundleHooks=false "
			 "in %s/policy.conf)",
			 f->dir);
	assert_string_equal(notices[0], want);
	assert_null(notices[1]);
	strv_free(notices);
	/* nothing to drop, nothing said */
	use_conf(f, "DisableHooks=prestart,poststop\n");
	notices = build_notices(f, 0);
	assert_null(jget(f->spec, "hooks"));
	assert_null(notices);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(bundle_spec_golden),
		T(rootfs_spec_golden),
		T(bundle_without_remap_root),
		T(rootfs_with_remap_root),
		T(cwd_must_exist_in_rootfs),
		T(terminal_follows_the_task),
		T(spool_and_batch_script_mounts),
		T(only_host_owned_mounts_are_dropped),
		T(spec_env_rules),
		T(runtime_needing_root_mapped),
		T(settings_mounts_workdir_and_writability),
		T(entrypoint_prepends_the_images),
		T(own_identity_through_subids),
		T(utf8_checks_and_escapes),
		T(non_utf8_argument_is_refused),
		T(non_utf8_variable_is_left_out),
		T(non_utf8_cwd_and_mounts_are_refused),
		T(bundle_binds_follow_the_mount_prefixes),
		T(bundle_mount_types_follow_the_allow_list),
		T(bundle_hooks_only_when_the_site_says),
	};

	return cmocka_run_group_tests_name("spec", tests, NULL, NULL);
}
