/* NULL-terminated string vectors, the shape of argv and envp. */
#ifndef SPANK_OCI_STRV_H
#define SPANK_OCI_STRV_H

#include <stddef.h>

size_t strv_len(char *const *v);
/* Appends a copy of s. */
void strv_push(char ***v, size_t *len, const char *s);
/* Appends s itself (takes ownership). */
void strv_push_owned(char ***v, size_t *len, char *s);
/* A copy of v (an empty vector for NULL); never NULL. */
char **strv_dup(char *const *v);
void strv_free(char **v);
/* Finds "NAME=" in an environment vector; returns the value or NULL. */
const char *strv_env_get(char *const *env, const char *name);

#endif
