#include "launcher/image/squashfs.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/proc.h"
#include "common/stop.h"
#include "common/strv.h"
#include "common/xalloc.h"

#define SQUASHFS_MAGIC "hsqs" /* 0x73717368, little endian */

bool squashfs_is_image(const char *path)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	char magic[4];
	struct stat st;

	return fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	       read(fd, magic, sizeof(magic)) == sizeof(magic) &&
	       memcmp(magic, SQUASHFS_MAGIC, sizeof(magic)) == 0;
}

/* Something is mounted at path: it is on another device than its parent. */
static bool is_mountpoint(const char *path)
{
	cleanup_free char *copy = xstrdup(path);
	struct stat st, parent;

	return lstat(path, &st) == 0 && S_ISDIR(st.st_mode) && stat(dirname(copy), &parent) == 0 &&
	       st.st_dev != parent.st_dev;
}

/* Runs a helper program (no shell), its output kept for the error message. */
static int run_helper(const char *const *argv, char *const *env, oci_error_t *err)
{
	struct proc_cmd cmd;
	int wstatus, rc = 0;

	if (proc_cmd_init(&cmd, strv_dup((char *const *)argv), env, PROC_IO_CAPTURE, err) < 0)
		return -1;
	if (proc_cmd_run(&cmd, &wstatus, err) < 0) {
		rc = -1;
	} else if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
		const char *out = cmd.output && *cmd.output ? cmd.output : "no output";
		rc = oci_error_make(err, 0, "%s failed: %.*s", argv[0], (int)strcspn(out, "\n"),
				    out);
	}
	proc_cmd_release(&cmd);
	return rc;
}

int squashfs_mount(const char *image, const char *mountpoint, const char *lock_path,
		   char *const *env, oci_error_t *err)
{
	/*
	 * Its files are shown as the user's: the ids stored in the image (root's, as
	 * mksquashfs -all-root makes them) are mapped in no task's namespace, where an overlay
	 * could neither write nor copy them up.
	 */
	cleanup_free char *opts =
		xasprintf("ro,uid=%u,gid=%u", (unsigned)getuid(), (unsigned)getgid());
	const char *argv[] = {"squashfuse", "-o", opts, image, mountpoint, NULL};
	cleanup_close int lock = -1;

	lock = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (lock < 0)
		return oci_error_make(err, errno, "cannot lock %s", lock_path);
	/* another task of the step may be mounting it: wait, unless a stop is requested */
	if (stop_flock(lock, LOCK_EX) < 0)
		return stop_requested() ? stop_error(err, "waiting for the step's mount")
					: oci_error_make(err, errno, "cannot lock %s", lock_path);
	if (is_mountpoint(mountpoint))
		return 0; /* another task of the step mounted it */
	if (mkdir(mountpoint, 0700) < 0 && errno != EEXIST)
		return oci_error_make(err, errno, "cannot create %s", mountpoint);
	/* squashfuse returns once the mount is there; its daemon serves it from then on */
	if (run_helper(argv, env, err) < 0)
		return oci_error_wrap(err, "cannot mount %s", image);
	if (!is_mountpoint(mountpoint))
		return oci_error_make(err, 0, "cannot mount %s: squashfuse mounted nothing", image);
	return 0;
}

void squashfs_unmount(const char *mountpoint, char *const *env)
{
	const char *argv[] = {"fusermount3", "-u", "-z", "-q", mountpoint, NULL};
	cleanup_error oci_error_t err = NULL;

	if (is_mountpoint(mountpoint))
		run_helper(argv, env, &err);
}
