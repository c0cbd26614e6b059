#include "launcher/image/digest.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/xalloc.h"

#define SHA256_PREFIX "sha256:"
#define SHA256_HEX 64

bool digest_is_valid(const char *s)
{
	return s != NULL && strncmp(s, SHA256_PREFIX, strlen(SHA256_PREFIX)) == 0 &&
	       strlen(s) == strlen(SHA256_PREFIX) + SHA256_HEX &&
	       strspn(s + strlen(SHA256_PREFIX), "0123456789abcdef") == SHA256_HEX;
}

int digest_init(struct digest *d, oci_error_t *err)
{
	d->bytes = 0;
	d->ctx = EVP_MD_CTX_new();
	if (d->ctx == NULL || EVP_DigestInit_ex(d->ctx, EVP_sha256(), NULL) != 1) {
		digest_release(d);
		return oci_error_make(err, ENOMEM, "sha256");
	}
	return 0;
}

void digest_update(struct digest *d, const void *data, size_t len)
{
	EVP_DigestUpdate(d->ctx, data, len);
	d->bytes += len;
}

int digest_check(struct digest *d, const char *what, const char *expected, long long size,
		 oci_error_t *err)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	char hex[2 * EVP_MAX_MD_SIZE + 1];
	unsigned int n = 0;

	if (EVP_DigestFinal_ex(d->ctx, md, &n) != 1 || n * 2 != SHA256_HEX)
		return oci_error_make(err, 0, "%s: cannot compute its sha256", what);
	for (unsigned int i = 0; i < n; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	if (strcmp(hex, expected + strlen(SHA256_PREFIX)) != 0)
		return oci_error_make(err, 0, "%s: digest mismatch: expected %s, read sha256:%s",
				      what, expected, hex);
	if (size >= 0 && d->bytes != (unsigned long long)size)
		return oci_error_make(err, 0, "%s: size mismatch: expected %lld bytes, read %llu",
				      what, size, d->bytes);
	return 0;
}

void digest_release(struct digest *d)
{
	EVP_MD_CTX_free(d->ctx);
	d->ctx = NULL;
}

int digest_read_file(const char *path, const char *expected, size_t max, char **data, size_t *len,
		     oci_error_t *err)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	cleanup_free char *buf = NULL;
	size_t size = 0, cap = 0;
	struct digest d;
	int rc = 0;

	if (fd < 0)
		return oci_error_make(err, errno, "%s", path);
	for (;;) {
		size_t want;
		ssize_t n;

		if (cap - size < 4096)
			buf = xrealloc(buf, cap = cap ? 2 * cap : 65536);
		want = cap - size - 1;
		if (want > max + 1 - size)
			want = max + 1 - size; /* one byte past max tells a file too long */
		n = read(fd, buf + size, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return oci_error_make(err, errno, "%s", path);
		if (n == 0)
			break;
		size += (size_t)n;
		if (size > max)
			return oci_error_make(err, EFBIG, "%s: larger than %zu bytes: refused",
					      path, max);
	}
	buf[size] = '\0';
	if (expected != NULL) {
		if (digest_init(&d, err) < 0)
			return -1;
		digest_update(&d, buf, size);
		rc = digest_check(&d, path, expected, -1, err);
		digest_release(&d);
	}
	if (rc < 0)
		return -1;
	*data = steal_pointer(&buf);
	*len = size;
	return 0;
}
