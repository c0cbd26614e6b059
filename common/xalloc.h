/*
 * Allocation that cannot fail: out of memory ends the process with one line on stderr
 * (as crun's xmalloc does). A task that cannot allocate a few bytes cannot run a
 * container either, and no caller has anything better to do than fail.
 */
#ifndef SPANK_OCI_XALLOC_H
#define SPANK_OCI_XALLOC_H

#include <stdarg.h>
#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xvasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

#endif
