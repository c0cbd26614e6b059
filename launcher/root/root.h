/*
 * The container's root (RootOverlay): an overlay whose lower layer is the image (the
 * bundle's rootfs, the cached unpacked image or the squashfs mount, never written) and
 * whose upper and work directories are the container's own, next to its config.json.
 * It is mounted in the task's own user and mount namespace (launcher/runtime/userns.h),
 * where the runtime commands run, so the node never sees it. Mount points, a created
 * working directory and everything a writable container writes go to the upper layer
 * and go with the container.
 */
#ifndef SPANK_OCI_ROOT_H
#define SPANK_OCI_ROOT_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "common/error.h"
#include "conf/conf.h"
#include "launcher/runtime/userns.h"

struct container_root {
	enum root_overlay mode;	  /* as configured; after container_root_mount, what was used */
	const char *lower;	  /* the image's root (borrowed) */
	const char *fuse_program; /* fuse-overlayfs (borrowed), or NULL: found in PATH */
	char *merged;		  /* <dir>/rootfs: the container's root.path */
	char *upper, *work;	  /* <dir>/upper, <dir>/work */
	char *saving;		  /* <dir>/saving: a read-only view of them, for saving */
	pid_t fuse_pid;		  /* fuse-overlayfs, a child of ours, or 0 */
	bool outlives_task;	  /* shared mode: fuse-overlayfs serves the step's container */
	bool mounted;
};

/*
 * r for an overlay of lower in dir (which exists), as conf says (RootOverlay,
 * RootOverlayFuse); ROOT_OVERLAY_OFF: lower itself.
 */
void container_root_init(struct container_root *r, const struct oci_conf *conf, const char *lower,
			 const char *dir);

/*
 * Shared mode: where fuse-overlayfs serves the step's container, it must outlive the task
 * that started it; fuse_kill ends it when the step's container goes (fuse_id: what
 * fuse_identify wrote, pid and start time).
 */
char *container_root_fuse_id(const struct container_root *r);
void container_root_fuse_kill(const char *fuse_id);

/* The path the runtime gets as root.path. */
const char *container_root_path(const struct container_root *r);

/*
 * Mounts the overlay at r->merged in u's mount namespace (the kernel's where it takes one
 * unprivileged, else fuse-overlayfs, as RootOverlay says), then makes there every mount
 * point of spec and its process.cwd, so the runtime never writes into the image.
 */
int container_root_mount(struct container_root *r, struct userns *u, json_t *spec, char *const *env,
			 oci_error_t *err);

/*
 * Unmounts it and removes its upper and work directories (in u's namespace, where what the
 * container's root made can be removed too); safe to call twice.
 */
void container_root_remove(struct container_root *r, struct userns *u);
void container_root_release(struct container_root *r);

/*
 * --container-save: writes the container's root (the image with what the container
 * changed) as a squashfs image at out (mksquashfs, in u's namespace; files owned by
 * uid/gid), through out.spank-oci-saving, once the container has ended. From the overlay
 * where it is still mounted here, else (shared mode: another task mounted it) from a
 * read-only overlay of the upper layer on the image.
 */
int container_root_save(struct container_root *r, struct userns *u, const char *out, uid_t uid,
			gid_t gid, char *const *env, oci_error_t *err);

/*
 * Mount points (internal to launcher/root/, tested on their own): made in upper, before the
 * overlay of upper on lower is mounted, for every mount of spec and its process.cwd.
 */
int root_make_mount_points(const char *lower, const char *upper, json_t *spec, oci_error_t *err);

#endif
