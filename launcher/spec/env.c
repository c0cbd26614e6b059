#include "launcher/spec/env.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "common/cleanup.h"
#include "common/strv.h"
#include "common/text.h"
#include "common/xalloc.h"

static size_t env_name_len(const char *entry)
{
	const char *eq = strchr(entry, '=');

	return eq ? (size_t)(eq - entry) : strlen(entry);
}

/* The index of entry's name in env, or -1. */
static ssize_t env_find(char *const *env, const char *entry)
{
	size_t n = env_name_len(entry);

	for (size_t i = 0; env != NULL && env[i] != NULL; i++) {
		if (strncmp(env[i], entry, n) == 0 && env[i][n] == '=')
			return (ssize_t)i;
	}
	return -1;
}

static bool name_listed(char *const *names, const char *entry)
{
	size_t n = env_name_len(entry);

	for (size_t i = 0; names != NULL && names[i] != NULL; i++) {
		if (strlen(names[i]) == n && strncmp(names[i], entry, n) == 0)
			return true;
	}
	return false;
}

int spec_env_merge(const struct oci_conf *conf, char *const *task_env, json_t *image_env,
		   char *const *keep, char ***out, oci_error_t *err)
{
	cleanup_strv char **env = conf_env_without(task_env, &conf->env_exclude);
	size_t n = strv_len(env), i;
	json_t *v;

	if (env == NULL)
		return oci_error_make(err, ENOMEM, "environment");
	json_array_foreach(image_env, i, v)
	{
		const char *entry = json_string_value(v);
		ssize_t at;
		char *copy;

		if (entry == NULL || strchr(entry, '=') == NULL)
			continue;
		at = env_find(env, entry);
		if (at >= 0 && name_listed(keep, entry))
			continue; /* --container-env: the task's value wins */
		if (at < 0) {
			strv_push(&env, &n, entry);
			continue;
		}
		copy = xstrdup(entry);
		free(env[at]);
		env[at] = copy;
	}
	*out = steal_pointer(&env);
	return 0;
}

json_t *spec_env_json(char *const *env, char ***notices)
{
	json_t *a = json_array();

	for (size_t i = 0; a != NULL && env != NULL && env[i] != NULL; i++) {
		if (!text_is_utf8(env[i])) {
			cleanup_free char *name = xstrndup(env[i], env_name_len(env[i]));
			cleanup_free char *shown = text_escape(name);
			size_t n = strv_len(notices ? *notices : NULL);

			if (notices != NULL)
				strv_push_owned(notices, &n,
						xasprintf("notice: the environment variable %s is "
							  "not valid UTF-8: the container runs "
							  "without it",
							  shown));
			continue;
		}
		if (json_array_append_new(a, json_string(env[i])) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}
