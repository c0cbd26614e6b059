#include "launcher/shared/holder.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fsutil.h"

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U /* Linux 6.3: executable even where vm.memfd_noexec says otherwise */
#endif

extern const char spank_oci_holder_start[], spank_oci_holder_end[];

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
	if (fs_write_all(fd, spank_oci_holder_start,
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
