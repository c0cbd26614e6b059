#include "common/strv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

size_t strv_len(char *const *v)
{
	size_t n = 0;

	while (v != NULL && v[n] != NULL)
		n++;
	return n;
}

int strv_push_owned(char ***v, size_t *len, char *s)
{
	char **grown;

	if (s == NULL) {
		errno = ENOMEM;
		return -1;
	}
	grown = realloc(*v, (*len + 2) * sizeof(char *));
	if (grown == NULL) {
		free(s);
		errno = ENOMEM;
		return -1;
	}
	grown[(*len)++] = s;
	grown[*len] = NULL;
	*v = grown;
	return 0;
}

int strv_push(char ***v, size_t *len, const char *s)
{
	return strv_push_owned(v, len, strdup(s));
}

char **strv_dup(char *const *v)
{
	char **out = NULL;
	size_t len = 0;

	out = calloc(1, sizeof(char *));
	if (out == NULL)
		return NULL;
	for (size_t i = 0; v != NULL && v[i] != NULL; i++) {
		if (strv_push(&out, &len, v[i]) < 0) {
			strv_free(out);
			return NULL;
		}
	}
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
