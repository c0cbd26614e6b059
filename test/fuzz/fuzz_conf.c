/*
 * conf/conf.c: the configuration file parser. The input is the file, read by
 * oci_conf_load through /proc/self/fd/N of a memfd; a configuration it accepts is used
 * the way the launcher uses it (runtime name, environment filtering).
 */
#include "test/fuzz/fuzz.h"

#include <stdbool.h>
#include <sys/mman.h>

#include "common/strv.h"
#include "conf/conf.h"

/*
 * glibc's regcomp copies a subexpression for each repetition applied to it, so stacked
 * ones (a++++..., (a{999}){999}) take memory exponential in their number: libFuzzer
 * finds that within minutes as an out-of-memory. EnvExclude and RunTimeEnvExclude are
 * the admin's own regular expressions, like any other program's configuration; inputs
 * with many repetitions on such a line are skipped, not reported.
 */
static bool regex_bomb(const uint8_t *data, size_t size)
{
	const uint8_t *end = data + size;

	for (const uint8_t *l = data; l < end;) {
		const uint8_t *nl = memchr(l, '\n', (size_t)(end - l)), *e = nl ? nl : end;
		size_t ops = 0, braces = 0;
		char *line = xstrndup((const char *)l, (size_t)(e - l));
		bool regex = strcasestr(line, "EnvExclude") != NULL;

		for (const char *c = line; regex && *c; c++) {
			ops += *c == '+' || *c == '*' || *c == '?';
			braces += *c == '{';
		}
		free(line);
		if (ops > 6 || braces > 1 || (braces && ops > 2))
			return true;
		l = e + 1;
	}
	return false;
}

static int memfd = -1;
static char *path;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void use(const struct oci_conf *conf)
{
	static char *const env[] = {"PATH=/usr/bin:/bin", "HOME=/home/u", "SLURM_JOB_ID=1",
				    "NOEQUALS",		  "A=",		  NULL};
	char **kept;

	(void)oci_conf_runtime_name(conf);
	kept = conf_env_without(env, &conf->env_exclude);
	strv_free(kept);
	kept = conf_env_without(env, &conf->runtime_env_exclude);
	strv_free(kept);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct oci_conf *conf = NULL;
	oci_error_t err = NULL;
	unsigned long long bytes;
	char *text;

	if (regex_bomb(data, size))
		return 0;
	if (memfd < 0) {
		memfd = memfd_create("spank-oci-fuzz-conf", MFD_CLOEXEC);
		FUZZ_CHECK(memfd >= 0);
		path = xasprintf("/proc/self/fd/%d", memfd);
	}
	FUZZ_CHECK(ftruncate(memfd, 0) == 0);
	FUZZ_CHECK(pwrite(memfd, data, size, 0) == (ssize_t)size);
	if (oci_conf_load(path, &conf, &err) == 0) {
		FUZZ_CHECK(err == NULL);
		fuzz_say("loaded: runtime %s", oci_conf_runtime_name(conf));
		use(conf);
		oci_conf_free(conf);
	} else {
		FUZZ_CHECK(err != NULL);
		fuzz_drop_error(&err);
	}
	/* the size syntax (ImageCacheSize) on the whole input, as one value */
	text = xcalloc(1, size + 1);
	memcpy(text, data, size);
	if (conf_parse_size(text, &bytes) < 0)
		bytes = 0;
	free(text);
	return 0;
}
