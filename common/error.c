#include "common/error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int oci_error_vmake(oci_error_t *err, int status, const char *fmt, va_list ap)
{
	char *msg = NULL;

	if (err == NULL || *err != NULL)
		return -1;
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	*err = calloc(1, sizeof(**err));
	if (*err == NULL) {
		free(msg);
		return -1;
	}
	(*err)->status = status;
	if (msg != NULL && status != 0) {
		char *full = NULL;
		if (asprintf(&full, "%s: %s", msg, strerror(status)) >= 0) {
			free(msg);
			msg = full;
		}
	}
	(*err)->msg = msg;
	return -1;
}

int oci_error_make(oci_error_t *err, int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	oci_error_vmake(err, status, fmt, ap);
	va_end(ap);
	return -1;
}

int oci_error_wrap(oci_error_t *err, const char *fmt, ...)
{
	char *prefix = NULL, *full = NULL;
	va_list ap;

	if (err == NULL || *err == NULL)
		return -1;
	va_start(ap, fmt);
	if (vasprintf(&prefix, fmt, ap) < 0)
		prefix = NULL;
	va_end(ap);
	if (prefix != NULL && asprintf(&full, "%s: %s", prefix, oci_error_text(*err)) >= 0) {
		free((*err)->msg);
		(*err)->msg = full;
	}
	free(prefix);
	return -1;
}

const char *oci_error_text(oci_error_t err)
{
	if (err == NULL)
		return "no error";
	if (err->msg == NULL)
		return err->status ? strerror(err->status) : "out of memory";
	return err->msg;
}

void oci_error_release(oci_error_t *err)
{
	if (err == NULL || *err == NULL)
		return;
	free((*err)->msg);
	free(*err);
	*err = NULL;
}
