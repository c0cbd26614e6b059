/*
 * The command of an interactive step in an image: salloc's interactive step and
 * `srun --pty` run the user's login shell (from the host's passwd, or $SHELL), which an
 * image may lack (busybox, distroless). The user's shell when the image has it, else the
 * image's /bin/sh, else a clear error naming what was looked for.
 */
#ifndef SPANK_OCI_SHELL_H
#define SPANK_OCI_SHELL_H

#include "common/error.h"
#include "launcher/task.h"

/*
 * *argv: NULL when the task's command stays (not an interactive shell, or the image has
 * it), else the command to run instead (strv_free it).
 */
int shell_for_image(const char *rootfs, const struct oci_task *t, char ***argv, oci_error_t *err);

#endif
