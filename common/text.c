#include "common/text.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "common/xalloc.h"

bool text_is_utf8(const char *s)
{
	/* jansson refuses exactly what JSON cannot hold: the library that writes it decides */
	json_t *j = json_string(s);

	json_decref(j);
	return j != NULL;
}

char *text_escape(const char *s)
{
	char *out = xmalloc(4 * strlen(s) + 1), *o = out;

	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '\\') {
			*o++ = '\\';
			*o++ = '\\';
		} else if (*p < 0x20 || *p >= 0x7f) {
			o += sprintf(o, "\\x%02x", *p);
		} else {
			*o++ = (char)*p;
		}
	}
	*o = '\0';
	return out;
}
