/* Text from the outside world (argv, environment, paths) on its way into JSON and messages. */
#ifndef SPANK_OCI_TEXT_H
#define SPANK_OCI_TEXT_H

#include <stdbool.h>

/* Whether s is valid UTF-8 as JSON needs it (no overlong forms, surrogates or > U+10FFFF). */
bool text_is_utf8(const char *s);

/*
 * A printable copy of s for a message: bytes outside printable ASCII as \xNN, a backslash
 * as \\ (so "caf\xe9" for the Latin-1 "café"); never NULL.
 */
char *text_escape(const char *s);

#endif
