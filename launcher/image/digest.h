/* sha256 digests of image blobs ("sha256:<64 hex>"), with OpenSSL's libcrypto. */
#ifndef SPANK_OCI_DIGEST_H
#define SPANK_OCI_DIGEST_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"

struct digest {
	void *ctx; /* EVP_MD_CTX */
	unsigned long long bytes;
};

/* Whether s is "sha256:" and 64 lowercase hex digits. */
bool digest_is_valid(const char *s);

int digest_init(struct digest *d, oci_error_t *err);
void digest_update(struct digest *d, const void *data, size_t len);
/* Compares what was hashed with expected ("sha256:<hex>"); size < 0: any size. */
int digest_check(struct digest *d, const char *what, const char *expected, long long size,
		 oci_error_t *err);
void digest_release(struct digest *d);

/*
 * Reads a whole file of at most max bytes, checking its digest (expected; NULL: none):
 * gives its bytes (NUL-terminated). A longer file is refused after max + 1 bytes.
 */
int digest_read_file(const char *path, const char *expected, size_t max, char **data, size_t *len,
		     oci_error_t *err);

#endif
