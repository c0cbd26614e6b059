#include "launcher/image/bundle.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "launcher/image/layout.h"
#include "launcher/image/cache.h"
#include "launcher/image/squashfs.h"

static bool is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* A root filesystem has at least one of the usual top-level directories. */
static bool looks_like_rootfs(const char *path)
{
	static const char *const dirs[] = {"bin", "usr", "etc", "lib", "sbin"};

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		cleanup_free char *p = NULL;
		if (asprintf(&p, "%s/%s", path, dirs[i]) >= 0 && is_dir(p))
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
	if (root[0] == '/')
		b->rootfs = strdup(root);
	else if (asprintf(&b->rootfs, "%s/%s", b->path, root) < 0)
		b->rootfs = NULL;
	if (b->rootfs == NULL)
		return oci_error_make(err, ENOMEM, "bundle %s", b->path);
	if (!is_dir(b->rootfs))
		return oci_error_make(err, 0,
				      "bundle %s has no rootfs: config.json names root.path '%s', "
				      "which is not a directory",
				      b->path, root);
	return 0;
}

/* An image: its unpacked rootfs, and its Env and WorkingDir as the bundle's. */
static int open_image(struct oci_bundle *b, const char *ref, const char *image_cache,
		      unsigned long long image_cache_size, oci_error_t *err)
{
	json_t *image_config = NULL, *env;
	const char *workdir;

	if (image_cache_get(image_cache, ref, image_cache_size, &b->rootfs, &image_config,
			    &b->image_lock_fd, err) < 0)
		return -1;
	b->path = strdup(ref);
	env = json_object_get(image_config, "Env");
	b->config = json_pack("{s:{s:O}}", "process", "env", env ? env : json_array());
	workdir = json_string_value(json_object_get(image_config, "WorkingDir"));
	if (workdir != NULL && workdir[0] == '/')
		b->workdir = strdup(workdir);
	if (json_is_array(json_object_get(image_config, "Entrypoint")))
		b->entrypoint = json_incref(json_object_get(image_config, "Entrypoint"));
	b->is_image = true;
	json_decref(image_config);
	if (b->path == NULL || b->config == NULL)
		return oci_error_make(err, ENOMEM, "image %s", ref);
	return 0;
}

int oci_bundle_open(const char *path, bool ignore_config, const char *image_cache,
		    unsigned long long image_cache_size, struct oci_bundle **out, oci_error_t *err)
{
	struct oci_bundle *b = calloc(1, sizeof(*b));
	cleanup_free char *config = NULL, *rootfs = NULL;
	struct stat st;

	if (b == NULL)
		return oci_error_make(err, ENOMEM, "bundle %s", path);
	b->image_lock_fd = -1;
	if (image_is_layout_ref(path)) {
		if (open_image(b, path, image_cache, image_cache_size, err) < 0)
			goto fail;
		*out = b;
		return 0;
	}
	if (stat(path, &st) < 0) {
		oci_error_make(err, errno, "bundle %s", path);
		goto fail;
	}
	if (S_ISREG(st.st_mode) && squashfs_is_image(path)) {
		b->path = realpath(path, NULL);
		b->squashfs = b->path ? strdup(b->path) : NULL;
		b->readonly = true;
		if (b->squashfs == NULL) {
			oci_error_make(err, errno ? errno : ENOMEM, "squashfs image %s", path);
			goto fail;
		}
		*out = b;
		return 0;
	}
	if (!S_ISDIR(st.st_mode)) {
		oci_error_make(err, 0,
			       "%s is neither a directory (bundle or root filesystem), an OCI "
			       "image layout nor a squashfs file",
			       path);
		goto fail;
	}
	if (access(path, R_OK | X_OK) < 0) {
		oci_error_make(err, errno, "bundle %s", path);
		goto fail;
	}
	b->path = realpath(path, NULL);
	if (b->path == NULL) {
		oci_error_make(err, errno, "bundle %s", path);
		goto fail;
	}
	if (asprintf(&config, "%s/config.json", b->path) < 0 ||
	    asprintf(&rootfs, "%s/rootfs", b->path) < 0) {
		oci_error_make(err, ENOMEM, "bundle %s", path);
		goto fail;
	}
	if (!ignore_config && access(config, F_OK) == 0) {
		if (load_config(b, config, err) < 0)
			goto fail;
	} else if (is_dir(rootfs)) {
		b->rootfs = steal_pointer(&rootfs);
	} else if (looks_like_rootfs(b->path)) {
		b->rootfs = strdup(b->path);
		if (b->rootfs == NULL) {
			oci_error_make(err, ENOMEM, "bundle %s", path);
			goto fail;
		}
	} else {
		oci_error_make(err, 0,
			       "%s is neither a bundle (config.json and rootfs) nor a root "
			       "filesystem (no bin, usr, etc or lib directory)",
			       path);
		goto fail;
	}
	/* runtimes refuse a rootfs path with a symlink in it */
	{
		char *real = realpath(b->rootfs, NULL);
		if (real == NULL) {
			oci_error_make(err, errno, "bundle %s: rootfs %s", path, b->rootfs);
			goto fail;
		}
		free(b->rootfs);
		b->rootfs = real;
	}
	*out = b;
	return 0;
fail:
	oci_bundle_free(b);
	return -1;
}

void oci_bundle_free(struct oci_bundle *b)
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
