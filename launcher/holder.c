#include "holder.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../conf/cleanup.h"

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U /* Linux 6.3: executable even where vm.memfd_noexec says otherwise */
#endif

extern const char spank_oci_holder_start[], spank_oci_holder_end[];

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int holder_open(oci_error_t *err)
{
	cleanup_close int fd = -1;
	char path[64];
	int ro;

	fd = memfd_create("spank-oci-holder", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
	if (fd < 0 && errno == EINVAL) /* before Linux 6.3 */
		fd = memfd_create("spank-oci-holder", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return oci_error_make(err, errno, "shared container holder: memfd_create");
	if (write_all(fd, spank_oci_holder_start,
		      (size_t)(spank_oci_holder_end - spank_oci_holder_start)) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
		return oci_error_make(err, errno, "shared container holder");
	/* read-only: a file open for writing cannot be executed (ETXTBSY) */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ro = open(path, O_RDONLY | O_CLOEXEC);
	if (ro < 0)
		return oci_error_make(err, errno, "shared container holder: %s", path);
	return ro;
}
