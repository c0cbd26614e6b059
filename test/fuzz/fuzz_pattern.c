/*
 * conf/pattern.c: splitting a command template into words, checking and expanding its
 * patterns. The input's first byte picks the allowed patterns (low 4 bits) and which
 * variables have values (bit 4: all, else %m %b %e %r and %p have none); the rest is the
 * template.
 */
#include "test/fuzz/fuzz.h"

#include "common/strv.h"
#include "conf/pattern.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *const argv_words[] = {"/bin/sh", "-c", "echo \"$1\" %j", "a b", "", NULL};

static const struct pattern_vars full = {
	.bundle = "/dev/shm/spank-oci-1000/12.0/task.3",
	.env_file = "/dev/shm/spank-oci-1000/12.0/task.3/environment",
	.spool = "/dev/shm/spank-oci-1000/12.0",
	.node = "node01",
	.rootfs = "/data/my bundle/$(touch x)",
	.user = "alice",
	.job_id = 12,
	.step_id = 0xfffffffe,
	.task_id = 3,
	.uid = 1000,
	.pid = 4242,
	.argv = argv_words,
};

static const struct pattern_vars sparse = {
	.node = "n",
	.user = "",
	.job_id = 0,
	.step_id = 0,
	.task_id = 0,
	.uid = 0,
	.pid = 0,
	.argv = argv_words + 5, /* no arguments */
};

static void expand(char **words, const struct pattern_vars *vars, unsigned allow)
{
	oci_error_t err = NULL;
	char **argv = NULL;

	for (size_t i = 0; words[i] != NULL; i++) {
		char *out = NULL;

		if (pattern_check(words[i], allow, &err) < 0)
			fuzz_drop_error(&err);
		if (pattern_expand_word(words[i], vars, &out, &err) == 0) {
			FUZZ_CHECK(out != NULL);
			free(out);
		} else {
			FUZZ_CHECK(err != NULL);
			fuzz_drop_error(&err);
		}
	}
	if (pattern_expand_argv(words, vars, &argv, &err) == 0) {
		FUZZ_CHECK(argv != NULL);
		strv_free(argv);
	} else {
		FUZZ_CHECK(err != NULL);
		fuzz_drop_error(&err);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	oci_error_t err = NULL;
	char **words = NULL;
	char *tmpl;

	if (size < 1)
		return 0;
	tmpl = xcalloc(1, size);
	memcpy(tmpl, data + 1, size - 1);
	for (size_t i = 0; i < size - 1; i++)
		(void)pattern_letter_find(tmpl[i]);
	if (pattern_split(tmpl, &words, &err) == 0) {
		FUZZ_CHECK(words != NULL);
		expand(words, data[0] & 0x10 ? &full : &sparse, data[0] & 0x0f);
		strv_free(words);
	} else {
		FUZZ_CHECK(err != NULL && words == NULL);
		fuzz_drop_error(&err);
	}
	free(tmpl);
	return 0;
}
