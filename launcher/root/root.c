#include "launcher/root/root.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fsutil.h"
#include "common/proc.h"
#include "common/xalloc.h"

#define FUSE_SUPER_MAGIC 0x65735546
#define FUSE_READY_MS 10000 /* how long fuse-overlayfs may take to mount */

void container_root_init(struct container_root *r, const struct oci_conf *conf, const char *lower,
			 const char *dir)
{
	*r = (struct container_root){.mode = conf->root_overlay,
				     .lower = lower,
				     .fuse_program = conf->root_overlay_fuse};
	if (r->mode == ROOT_OVERLAY_OFF)
		return;
	r->merged = path_join(dir, "rootfs");
	r->upper = path_join(dir, "upper");
	r->work = path_join(dir, "work");
	r->saving = path_join(dir, "saving");
}

const char *container_root_path(const struct container_root *r)
{
	return r->mode == ROOT_OVERLAY_OFF ? r->lower : r->merged;
}

/* In the task's namespace: the kernel's overlay. */
static int kernel_mount(void *arg, oci_error_t *err)
{
	struct container_root *r = arg;
	cleanup_close int lower = open(r->lower, O_PATH | O_DIRECTORY | O_CLOEXEC);
	cleanup_close int upper = open(r->upper, O_PATH | O_DIRECTORY | O_CLOEXEC);
	cleanup_close int work = open(r->work, O_PATH | O_DIRECTORY | O_CLOEXEC);
	char opts[256];

	if (lower < 0)
		return oci_error_make(err, errno, "%s", r->lower);
	if (upper < 0 || work < 0)
		return oci_error_make(err, errno, "%s", r->upper);
	/*
	 * Paths by fd: a comma, colon or backslash in the image's path is no separator.
	 * volatile: the upper layer goes with the container, so the overlay's end need not
	 * sync the file system under it (on a disk ContainerPath: a journal commit and a
	 * device flush in the task's exit path).
	 */
	snprintf(opts, sizeof(opts),
		 "lowerdir=/proc/self/fd/%d,upperdir=/proc/self/fd/%d,workdir=/proc/self/fd/%d,"
		 "userxattr,volatile",
		 lower, upper, work);
	if (mount("overlay", r->merged, "overlay", MS_NODEV, opts) < 0)
		return oci_error_make(err, errno,
				      "the kernel refused an overlay in a user namespace");
	return 0;
}

static bool fuse_mounted(pid_t pid, const char *merged)
{
	cleanup_free char *through = xasprintf("/proc/%d/root%s", (int)pid, merged);
	struct statfs fs;

	return statfs(through, &fs) == 0 && fs.f_type == FUSE_SUPER_MAGIC;
}

/* fuse-overlayfs as uid 0 of the task's namespace, a child of ours that dies with us. */
static int fuse_mount(struct container_root *r, struct userns *u, char *const *env,
		      oci_error_t *err)
{
	const char *paths[] = {r->lower, r->upper, r->work, r->merged};
	const struct timespec pause_1ms = {.tv_nsec = 1000000};
	cleanup_free char *opts = NULL;
	struct proc_cmd cmd;
	int status, rc = -1;
	char **argv;

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		if (strpbrk(paths[i], ",:\\") != NULL)
			return oci_error_make(err, 0,
					      "fuse-overlayfs cannot take a path with a comma, "
					      "colon or backslash: %s",
					      paths[i]);
	opts = xasprintf("lowerdir=%s,upperdir=%s,workdir=%s", r->lower, r->upper, r->work);
	argv = xcalloc(6, sizeof(char *));
	argv[0] = xstrdup(r->fuse_program != NULL ? r->fuse_program : "fuse-overlayfs");
	argv[1] = xstrdup("-f");
	argv[2] = xstrdup("-o");
	argv[3] = xstrdup(opts);
	argv[4] = xstrdup(r->merged);
	if (proc_cmd_init(&cmd, argv, env, PROC_IO_CAPTURE, err) < 0)
		return oci_error_wrap(err, "fuse-overlayfs");
	if (userns_fds(u, &cmd.userns_fd, &cmd.mntns_fd, err) < 0)
		goto out;
	cmd.die_with_parent = !r->outlives_task;
	if (proc_cmd_spawn(&cmd, &r->fuse_pid, err) < 0)
		goto out;
	for (int ms = 0; ms < FUSE_READY_MS; ms++) {
		if (fuse_mounted(r->fuse_pid, r->merged)) {
			rc = 0;
			goto out;
		}
		if (waitpid(r->fuse_pid, &status, WNOHANG) == r->fuse_pid) {
			const char *said;

			r->fuse_pid = 0;
			proc_cmd_collect_output(&cmd);
			said = cmd.output != NULL ? cmd.output : "";
			rc = oci_error_make(
				err, 0, "%s ended with status %d without mounting%s%.*s",
				cmd.argv[0],
				WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
				*said ? ": " : "", (int)strcspn(said, "\n"), said);
			goto out;
		}
		nanosleep(&pause_1ms, NULL);
	}
	rc = oci_error_make(err, ETIMEDOUT, "fuse-overlayfs did not mount %s", r->merged);
out:
	proc_cmd_release(&cmd);
	return rc;
}

/* The upper directory is the root's: it gets the image root's mode (the parent is private). */
static int make_dirs(const struct container_root *r, oci_error_t *err)
{
	const char *dirs[] = {r->merged, r->upper, r->work};
	struct stat st;

	if (stat(r->lower, &st) < 0)
		return oci_error_make(err, errno, "%s", r->lower);
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		if (mkdir(dirs[i], 0700) < 0 && errno != EEXIST)
			return oci_error_make(err, errno, "cannot create %s", dirs[i]);
	if (chmod(r->upper, st.st_mode & 07777) < 0)
		return oci_error_make(err, errno, "%s", r->upper);
	return 0;
}

int container_root_mount(struct container_root *r, struct userns *u, json_t *spec, char *const *env,
			 oci_error_t *err)
{
	cleanup_error oci_error_t kernel_err = NULL;

	if (r->mode == ROOT_OVERLAY_OFF)
		return 0;
	if (make_dirs(r, err) < 0 || root_make_mount_points(r->lower, r->upper, spec, err) < 0)
		return -1;
	if (r->mode != ROOT_OVERLAY_FUSE) {
		if (userns_run(u, kernel_mount, r, &kernel_err) == 0) {
			r->mode = ROOT_OVERLAY_KERNEL;
			r->mounted = true;
			return 0;
		}
		if (r->mode == ROOT_OVERLAY_KERNEL) {
			*err = steal_pointer(&kernel_err);
			return oci_error_wrap(err, "RootOverlay=kernel");
		}
	}
	if (fuse_mount(r, u, env, err) < 0) {
		if (kernel_err != NULL)
			return oci_error_wrap(err, "%s; and", oci_error_text(kernel_err));
		return -1;
	}
	r->mode = ROOT_OVERLAY_FUSE;
	r->mounted = true;
	return 0;
}

/* In the task's namespace: upper over lower, read-only, at r->saving. */
static int mount_layers(void *arg, oci_error_t *err)
{
	struct container_root *r = arg;
	cleanup_close int lower = open(r->lower, O_PATH | O_DIRECTORY | O_CLOEXEC);
	cleanup_close int upper = open(r->upper, O_PATH | O_DIRECTORY | O_CLOEXEC);
	char opts[128];

	if (lower < 0 || upper < 0)
		return oci_error_make(err, errno, "%s", lower < 0 ? r->lower : r->upper);
	snprintf(opts, sizeof(opts), "lowerdir=/proc/self/fd/%d:/proc/self/fd/%d,userxattr", upper,
		 lower);
	if (mount("overlay", r->saving, "overlay", MS_RDONLY | MS_NODEV, opts) < 0)
		return oci_error_make(err, errno, "the kernel refused a read-only overlay of %s",
				      r->upper);
	return 0;
}

static int unmount_saving(void *arg, oci_error_t *err)
{
	struct container_root *r = arg;

	(void)err;
	umount2(r->saving, MNT_DETACH);
	return 0;
}

static int run_mksquashfs(struct userns *u, const char *from, const char *to, uid_t uid, gid_t gid,
			  char *const *env, oci_error_t *err)
{
	char **argv = xcalloc(14, sizeof(char *));
	struct proc_cmd cmd;
	int status, rc;
	size_t n = 0;

	argv[n++] = xstrdup("mksquashfs");
	argv[n++] = xstrdup(from);
	argv[n++] = xstrdup(to);
	argv[n++] = xstrdup("-noappend");
	argv[n++] = xstrdup("-no-progress");
	argv[n++] = xstrdup("-quiet");
	argv[n++] = xstrdup("-no-xattrs");
	argv[n++] = xstrdup("-force-uid");
	argv[n++] = xasprintf("%u", (unsigned)uid);
	argv[n++] = xstrdup("-force-gid");
	argv[n++] = xasprintf("%u", (unsigned)gid);
	if (proc_cmd_init(&cmd, argv, env, PROC_IO_CAPTURE, err) < 0)
		return -1;
	rc = userns_fds(u, &cmd.userns_fd, &cmd.mntns_fd, err);
	if (rc == 0)
		rc = proc_cmd_run(&cmd, &status, err);
	if (rc == 0 && (!WIFEXITED(status) || WEXITSTATUS(status) != 0)) {
		const char *said =
			cmd.output != NULL && *cmd.output ? cmd.output : "no reason given";

		rc = oci_error_make(err, 0, "mksquashfs failed: %.*s", (int)strcspn(said, "\n"),
				    said);
	}
	proc_cmd_release(&cmd);
	return rc;
}

int container_root_save(struct container_root *r, struct userns *u, const char *out, uid_t uid,
			gid_t gid, char *const *env, oci_error_t *err)
{
	cleanup_free char *partial = xasprintf("%s.spank-oci-saving", out);
	const char *from = r->merged;
	bool layered = !r->mounted;
	int rc;

	if (r->mode == ROOT_OVERLAY_OFF)
		return oci_error_make(err, 0, "the container's root is no overlay");
	if (layered) {
		if (mkdir(r->saving, 0700) < 0 && errno != EEXIST)
			return oci_error_make(err, errno, "cannot create %s", r->saving);
		if (userns_run(u, mount_layers, r, err) < 0)
			return -1;
		from = r->saving;
	}
	rc = run_mksquashfs(u, from, partial, uid, gid, env, err);
	if (rc == 0 && rename(partial, out) < 0)
		rc = oci_error_make(err, errno, "cannot rename %s to %s", partial, out);
	if (rc < 0)
		unlink(partial);
	if (layered) {
		cleanup_error oci_error_t ignored = NULL;

		userns_run(u, unmount_saving, r, &ignored);
		rmdir(r->saving);
	}
	return rc;
}

static int unmount_and_remove(void *arg, oci_error_t *err)
{
	struct container_root *r = arg;

	if (umount2(r->merged, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
		return oci_error_make(err, errno, "cannot unmount %s", r->merged);
	if (fs_remove_tree(r->upper, err) < 0 || fs_remove_tree(r->work, err) < 0)
		return -1;
	return 0;
}

void container_root_remove(struct container_root *r, struct userns *u)
{
	cleanup_error oci_error_t err = NULL;

	if (r->mode == ROOT_OVERLAY_OFF || r->merged == NULL)
		return;
	if (r->fuse_pid > 0 && !r->outlives_task) {
		kill(r->fuse_pid, SIGKILL);
		proc_wait(r->fuse_pid, NULL);
		r->fuse_pid = 0;
	}
	/*
	 * The layers are the user's: removed as the user, without a child (the overlay goes
	 * with the task's namespace). Only what the container's root made as a subordinate id
	 * needs the namespace, and its unmount first.
	 */
	if ((fs_remove_tree(r->upper, &err) < 0 || fs_remove_tree(r->work, &err) < 0) &&
	    (r->mounted || u->fd >= 0))
		userns_run(u, unmount_and_remove, r, &err);
	r->mounted = false;
}

/* A process's start time (field 22 of /proc/PID/stat), or 0. */
static unsigned long long start_time_of(pid_t pid)
{
	cleanup_free char *path = xasprintf("/proc/%d/stat", (int)pid);
	cleanup_fclose FILE *f = fopen(path, "re");
	char buf[1024], *p;
	unsigned long long t = 0;

	if (f == NULL || fgets(buf, sizeof(buf), f) == NULL || (p = strrchr(buf, ')')) == NULL)
		return 0;
	/* after the name: state (3) ... starttime (22) */
	if (sscanf(p + 2,
		   "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d "
		   "%*d %llu",
		   &t) != 1)
		return 0;
	return t;
}

char *container_root_fuse_id(const struct container_root *r)
{
	if (r->fuse_pid <= 0)
		return NULL;
	return xasprintf("%d %llu\n", (int)r->fuse_pid, start_time_of(r->fuse_pid));
}

void container_root_fuse_kill(const char *fuse_id)
{
	unsigned long long started = 0;
	int pid = 0;

	/* the same process still, not another that got its pid */
	if (fuse_id != NULL && sscanf(fuse_id, "%d %llu", &pid, &started) == 2 && pid > 0 &&
	    started != 0 && start_time_of(pid) == started)
		kill(pid, SIGKILL);
}

void container_root_release(struct container_root *r)
{
	if (r->fuse_pid > 0 && !r->outlives_task) {
		kill(r->fuse_pid, SIGKILL);
		proc_wait(r->fuse_pid, NULL);
	}
	free(r->merged);
	free(r->upper);
	free(r->work);
	free(r->saving);
	*r = (struct container_root){.mode = ROOT_OVERLAY_OFF};
}
