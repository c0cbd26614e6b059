#include "launcher/spec/shell.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>

#include "common/cleanup.h"
#include "common/fsutil.h"
#include "common/strv.h"

#define FALLBACK_SHELL "/bin/sh"

/* Whether path is an executable file in the image (its symlinks followed inside it). */
static bool image_has_program(int root, const char *path)
{
	cleanup_close int fd = fs_open_in_root(root, path, O_PATH);
	struct stat st;

	return fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111);
}

/* The task runs the user's shell and nothing else, at a terminal or as salloc's step. */
static bool runs_login_shell(const struct oci_task *t)
{
	const char *env_shell = strv_env_get(t->env, "SHELL");
	const char *cmd;

	if (!(t->tty || t->interactive) || t->argv == NULL || t->argv[0] == NULL ||
	    t->argv[1] != NULL)
		return false;
	cmd = t->argv[0];
	return (t->shell != NULL && strcmp(cmd, t->shell) == 0) ||
	       (env_shell != NULL && strcmp(cmd, env_shell) == 0);
}

int shell_for_image(const char *rootfs, const struct oci_task *t, char ***argv, oci_error_t *err)
{
	cleanup_close int root = -1;
	const char *shell;

	*argv = NULL;
	if (!runs_login_shell(t))
		return 0;
	shell = t->argv[0];
	/* a shell named without a path is looked for in the container's PATH: left as it is */
	if (shell[0] != '/')
		return 0;
	root = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return oci_error_make(err, errno, "%s", rootfs);
	if (image_has_program(root, shell))
		return 0;
	if (!image_has_program(root, FALLBACK_SHELL))
		return oci_error_make(err, 0,
				      "no shell for the interactive step: the image has neither "
				      "%s (your shell) nor " FALLBACK_SHELL,
				      shell);
	*argv = strv_dup((char *const[]){FALLBACK_SHELL, NULL});
	return 0;
}
