/*
 * conf/options.c: the users' container options. The input is lines; a line's first
 * character says what it does, the rest is the text:
 *   '0' + id   oci_options_set(id, text) as the step's own option (text NULL if empty)
 *   'a' + id   the same, inherited from the job
 *   'E'        NAME=VALUE: a variable that oci_options_from_env sees
 * (id: enum option_id, 0 = --container-mounts, 4 = --container-env). After the lines,
 * oci_options_from_env, then oci_options_check against a fixed site policy. Errors are
 * not the end: the next lines go on with the same options, as they must stay consistent.
 */
#include "test/fuzz/fuzz.h"

#include "conf/options.h"

#define MAX_LINES 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct env {
	const char *entries[MAX_LINES];
	size_t n;
};

static const char *env_get(void *ctx, const char *name)
{
	struct env *e = ctx;
	size_t len = strlen(name);
	const char *found = NULL;

	for (size_t i = 0; i < e->n; i++) {
		if (strncmp(e->entries[i], name, len) == 0 && e->entries[i][len] == '=')
			found = e->entries[i] + len + 1; /* the last one wins, like putenv */
	}
	return found;
}

static void line(struct oci_options *o, struct env *env, const char *l)
{
	oci_error_t err = NULL;
	bool inherited = false;
	int id;

	if (l[0] == 'E') {
		env->entries[env->n++] = l + 1;
		return;
	}
	if (l[0] >= '0' && l[0] < '0' + OPTION_COUNT) {
		id = l[0] - '0';
	} else if (l[0] >= 'a' && l[0] < 'a' + OPTION_COUNT) {
		id = l[0] - 'a';
		inherited = true;
	} else {
		return;
	}
	if (oci_options_set(o, (enum option_id)id, l[1] ? l + 1 : NULL, inherited, &err) < 0) {
		FUZZ_CHECK(err != NULL);
		fuzz_drop_error(&err);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *denied[] = {"/etc", "/root", NULL}, *allowed[] = {"/", "/scratch", NULL};
	struct oci_conf conf = {.path = "/etc/slurm/spank-oci.conf",
				.allow_remap_root = false,
				.denied_mount_prefixes = denied};
	struct fuzz_part parts[MAX_LINES];
	size_t n = fuzz_split(data, size, "\n", parts, MAX_LINES);
	struct env env = {.n = 0};
	struct oci_options o;
	oci_error_t err = NULL;

	oci_options_init(&o);
	for (size_t i = 0; i < n; i++)
		line(&o, &env, parts[i].data);
	if (oci_options_from_env(&o, env_get, &env, &err) < 0) {
		FUZZ_CHECK(err != NULL);
		fuzz_drop_error(&err);
	}
	if (oci_options_check(&o, &conf, &err) < 0)
		fuzz_drop_error(&err);
	conf.allowed_mount_prefixes = allowed + (size & 1);
	conf.allow_remap_root = true;
	if (oci_options_check(&o, &conf, &err) < 0)
		fuzz_drop_error(&err);
	for (size_t i = 0; i < o.mounts.n; i++)
		FUZZ_CHECK(o.mounts.v[i].src != NULL && o.mounts.v[i].dst != NULL);
	oci_options_release(&o);
	fuzz_parts_free(parts, n);
	return 0;
}
