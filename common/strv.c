#include "common/strv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

size_t strv_len(char *const *v)
{
	size_t n = 0;

	while (v != NULL && v[n] != NULL)
		n++;
	return n;
}

void strv_push_owned(char ***v, size_t *len, char *s)
{
	char **grown = xrealloc(*v, (*len + 2) * sizeof(char *));

	grown[(*len)++] = s;
	grown[*len] = NULL;
	*v = grown;
}

void strv_push(char ***v, size_t *len, const char *s)
{
	strv_push_owned(v, len, xstrdup(s));
}

char **strv_dup(char *const *v)
{
	size_t len = strv_len(v);
	char **out = xcalloc(len + 1, sizeof(char *));

	for (size_t i = 0; i < len; i++)
		out[i] = xstrdup(v[i]);
	return out;
}

void strv_free(char **v)
{
	if (v == NULL)
		return;
	for (size_t i = 0; v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

const char *strv_env_get(char *const *env, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; env != NULL && env[i] != NULL; i++) {
		if (strncmp(env[i], name, n) == 0 && env[i][n] == '=')
			return env[i] + n + 1;
	}
	return NULL;
}
