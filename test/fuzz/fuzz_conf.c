/*
 * conf/conf.c: the configuration file parser. The input is the file, read by
 * oci_conf_load through /proc/self/fd/N of a memfd; a configuration it accepts is used
 * the way the launcher uses it (runtime name, environment filtering).
 */
#include "test/fuzz/fuzz.h"

#include <sys/mman.h>

#include "common/strv.h"
#include "conf/conf.h"

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
