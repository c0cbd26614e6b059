#include "launcher/image/bundle.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fsutil.h"
#include "common/xalloc.h"
#include "launcher/image/cache.h"
#include "launcher/image/layout.h"
#include "launcher/image/squashfs.h"

/* A root filesystem has at least one of the usual top-level directories. */
static bool looks_like_rootfs(const char *path)
{
	static const char *const dirs[] = {"bin", "usr", "etc", "lib", "sbin"};

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		cleanup_free char *p = path_join(path, dirs[i]);
		if (fs_is_dir(p))
			return true;
	}
	return false;
}

static int load_config(struct oci_bundle *b, const char *file, oci_error_t *err)
{
	json_error_t jerr;
	const char *root = "rootfs";
	json_t *rp;

	b->config = json_load_file(file, JSON_REJECT_DUPLICATES, &jerr);
	if (b->config == NULL)
		return oci_error_make(err, 0, "%s:%d: invalid JSON: %s", file, jerr.line,
				      jerr.text);
	if (!json_is_object(b->config))
		return oci_error_make(err, 0, "%s: not a JSON object", file);
	rp = json_object_get(json_object_get(b->config, "root"), "path");
	if (json_is_string(rp))
		root = json_string_value(rp);
	b->rootfs = root[0] == '/' ? xstrdup(root) : path_join(b->path, root);
	if (!fs_is_dir(b->rootfs))
		return oci_error_make(err, 0,
				      "bundle %s has no rootfs: config.json names root.path '%s', "
				      "which is not a directory",
				      b->path, root);
	return 0;
}

/* An image: its unpacked rootfs, and its Env and WorkingDir as the bundle's. */
static int open_image(struct oci_bundle *b, const char *ref, const char *image_cache,
		      const struct cache_limits *limits, oci_error_t *err)
{
	json_t *image_config = NULL, *env;
	const char *workdir;

	if (cache_get(image_cache, ref, limits, &b->rootfs, &image_config, &b->image_lock_fd, err) <
	    0)
		return -1;
	b->path = xstrdup(ref);
	env = json_object_get(image_config, "Env");
	b->config = json_pack("{s:{s:o}}", "process", "env", env ? json_incref(env) : json_array());
	workdir = json_string_value(json_object_get(image_config, "WorkingDir"));
	if (workdir != NULL && workdir[0] == '/')
		b->workdir = xstrdup(workdir);
	if (json_is_array(json_object_get(image_config, "Entrypoint")))
		b->entrypoint = json_incref(json_object_get(image_config, "Entrypoint"));
	b->is_image = true;
	json_decref(image_config);
	if (b->config == NULL)
		return oci_error_make(err, ENOMEM, "image %s", ref);
	return 0;
}

/* A bundle directory or a bare root filesystem (path is a directory we may read). */
static int open_dir(struct oci_bundle *b, const char *path, bool ignore_config, oci_error_t *err)
{
	cleanup_free char *config = NULL, *rootfs = NULL;
	char *real;

	if (access(path, R_OK | X_OK) < 0)
		return oci_error_make(err, errno, "bundle %s", path);
	b->path = realpath(path, NULL);
	if (b->path == NULL)
		return oci_error_make(err, errno, "bundle %s", path);
	config = path_join(b->path, "config.json");
	rootfs = path_join(b->path, "rootfs");
	if (!ignore_config && access(config, F_OK) == 0) {
		if (load_config(b, config, err) < 0)
			return -1;
	} else if (fs_is_dir(rootfs)) {
		b->rootfs = steal_pointer(&rootfs);
	} else if (looks_like_rootfs(b->path)) {
		b->rootfs = xstrdup(b->path);
	} else {
		return oci_error_make(err, 0,
				      "%s is neither a bundle (config.json and rootfs) nor a root "
				      "filesystem (no bin, usr, etc or lib directory)",
				      path);
	}
	/* runtimes refuse a rootfs path with a symlink in it */
	real = realpath(b->rootfs, NULL);
	if (real == NULL)
		return oci_error_make(err, errno, "bundle %s: rootfs %s", path, b->rootfs);
	free(b->rootfs);
	b->rootfs = real;
	return 0;
}

int bundle_open(const char *path, bool ignore_config, const char *image_cache,
		const struct cache_limits *limits, struct oci_bundle **out, oci_error_t *err)
{
	struct oci_bundle *b = xcalloc(1, sizeof(*b));
	struct stat st;
	int rc;

	b->image_lock_fd = -1;
	if (layout_is_ref(path)) {
		rc = open_image(b, path, image_cache, limits, err);
	} else if (stat(path, &st) < 0) {
		rc = oci_error_make(err, errno, "bundle %s", path);
	} else if (S_ISREG(st.st_mode) && squashfs_is_image(path)) {
		b->path = realpath(path, NULL);
		if (b->path == NULL) {
			rc = oci_error_make(err, errno, "squashfs image %s", path);
		} else {
			b->squashfs = xstrdup(b->path);
			b->readonly = true;
			rc = 0;
		}
	} else if (!S_ISDIR(st.st_mode)) {
		rc = oci_error_make(err, 0,
				    "%s is neither a directory (bundle or root filesystem), an OCI "
				    "image layout nor a squashfs file",
				    path);
	} else {
		rc = open_dir(b, path, ignore_config, err);
	}
	if (rc < 0) {
		bundle_free(b);
		return -1;
	}
	*out = b;
	return 0;
}

void bundle_free(struct oci_bundle *b)
{
	if (b == NULL)
		return;
	free(b->path);
	free(b->rootfs);
	free(b->workdir);
	free(b->squashfs);
	if (b->image_lock_fd >= 0)
		close(b->image_lock_fd);
	json_decref(b->config);
	json_decref(b->entrypoint);
	free(b);
}
