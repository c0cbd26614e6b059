/* An error value that carries errno and a message (after crun's libcrun_error_t). */
#ifndef SPANK_OCI_ERROR_H
#define SPANK_OCI_ERROR_H

#include <stdarg.h>

struct oci_error_s {
	int status; /* errno, or 0 when the error is not a system error */
	char *msg;
};
typedef struct oci_error_s *oci_error_t;

/* Sets *err (if err is non-NULL and still empty) and returns -1. */
int oci_error_make(oci_error_t *err, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prefixes the message of *err with "<prefix>: ", keeping status; returns -1. */
int oci_error_wrap(oci_error_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "msg: strerror(status)" or just "msg"; never NULL. */
const char *oci_error_text(oci_error_t err);

void oci_error_release(oci_error_t *err);

#endif
