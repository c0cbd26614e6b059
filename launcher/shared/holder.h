/* The shared container's first process: spank-oci-holder (holder/holder.c), from a memfd. */
#ifndef SPANK_OCI_HOLDER_H
#define SPANK_OCI_HOLDER_H

#include "common/error.h"

/* What a container's process runs to execute the holder given as its stdin. */
#define HOLDER_EXEC_PATH "/proc/self/fd/0"

/* A read-only fd of a sealed memfd holding the holder executable (close-on-exec). */
int holder_open(oci_error_t *err);

#endif
