#include "launcher/spec/policy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/strv.h"
#include "common/text.h"
#include "common/xalloc.h"
#include "conf/options.h"

/* The items of list, separated by sep. */
static char *join(char *const *list, const char *sep)
{
	char *out = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&out, &len);

	if (mem == NULL)
		abort(); /* out of memory, as xalloc */
	for (size_t i = 0; list != NULL && list[i] != NULL; i++)
		fprintf(mem, "%s%s", i ? sep : "", list[i]);
	if (fclose(mem) != 0)
		abort();
	return out;
}

/* Is mount (an element of config.json's "mounts") a bind, as runc and crun read it? */
static bool is_bind(json_t *mount)
{
	const char *type = json_string_value(json_object_get(mount, "type"));
	json_t *opt;
	size_t i;

	if (type != NULL && strcmp(type, "bind") == 0)
		return true;
	/* runc and crun bind whatever has a "bind" or "rbind" option, whatever its type */
	json_array_foreach(json_object_get(mount, "options"), i, opt)
	{
		const char *o = json_string_value(opt);
		if (o != NULL && (strcmp(o, "bind") == 0 || strcmp(o, "rbind") == 0))
			return true;
	}
	return false;
}

/* A bind: its source, relative to the bundle or absolute, must pass the prefix policy. */
static int check_bind(const struct oci_conf *conf, const char *bundle_dir, json_t *mount,
		      oci_error_t *err)
{
	const char *src = json_string_value(json_object_get(mount, "source"));
	cleanup_free char *path = NULL, *real = NULL;

	if (src == NULL || *src == '\0')
		return oci_error_make(err, 0, "a bind mount without a source");
	path = src[0] == '/' ? xstrdup(src) : xasprintf("%s/%s", bundle_dir, src);
	real = realpath(path, NULL);
	if (real == NULL)
		return oci_error_make(err, errno, "mount source %s", src);
	if (oci_options_check_source(conf, src, real, err) < 0)
		return -1;
	if (!text_is_utf8(real)) {
		cleanup_free char *shown = text_escape(real);
		return oci_error_make(err, 0, "mount source %s is not valid UTF-8: %s", src, shown);
	}
	/* the runtime binds what was checked, not what the path may lead to later */
	if (json_object_set_new(mount, "source", json_string(real)) < 0)
		return oci_error_make(err, ENOMEM, "mount source %s", src);
	return 0;
}

/* Any other mount: its type must be in AllowedBundleMountTypes. */
static int check_type(const struct oci_conf *conf, json_t *mount, oci_error_t *err)
{
	const char *type = json_string_value(json_object_get(mount, "type"));
	cleanup_free char *list = NULL;

	for (size_t i = 0; type != NULL && conf->allowed_bundle_mount_types != NULL &&
			   conf->allowed_bundle_mount_types[i] != NULL;
	     i++) {
		if (strcmp(type, conf->allowed_bundle_mount_types[i]) == 0)
			return 0;
	}
	list = join(conf->allowed_bundle_mount_types, ",");
	if (conf->bundle_mount_types_default)
		return oci_error_make(err, 0,
				      "type %s is refused by the site policy: not in "
				      "AllowedBundleMountTypes (default %s, unset in %s)",
				      type ? type : "(none)", list, conf->path);
	return oci_error_make(err, 0,
			      "type %s is refused by the site policy: not in "
			      "AllowedBundleMountTypes=%s in %s",
			      type ? type : "(none)", list, conf->path);
}

int spec_policy_bundle_mount(const struct oci_conf *conf, const char *bundle_dir, json_t *mount,
			     oci_error_t *err)
{
	const char *dst = json_string_value(json_object_get(mount, "destination"));
	int rc = is_bind(mount) ? check_bind(conf, bundle_dir, mount, err)
				: check_type(conf, mount, err);

	if (rc < 0)
		return oci_error_wrap(err, "%s/config.json: the mount on %s", bundle_dir,
				      dst ? dst : "(no destination)");
	return 0;
}

void spec_policy_hooks(const struct oci_conf *conf, json_t *spec, char ***notices)
{
	json_t *hooks = json_object_get(spec, "hooks"), *list;
	cleanup_strv char **dropped = NULL;
	cleanup_free char *kinds = NULL;
	const char *kind;
	size_t n = 0;

	if (hooks == NULL)
		return;
	/* DisableHooks, as Slurm: the listed kinds are removed */
	for (size_t i = 0; conf->disable_hooks != NULL && conf->disable_hooks[i] != NULL; i++)
		json_object_del(hooks, conf->disable_hooks[i]);
	if (!conf->bundle_hooks) {
		/* they would run host commands as the user, outside the container */
		json_object_foreach(hooks, kind, list)
		{
			if (json_array_size(list) > 0)
				strv_push(&dropped, &n, kind);
		}
		json_object_del(spec, "hooks");
	} else if (json_is_object(hooks) && json_object_size(hooks) == 0) {
		json_object_del(spec, "hooks");
	}
	if (n == 0 || notices == NULL)
		return;
	kinds = join(dropped, ", ");
	n = strv_len(*notices);
	strv_push_owned(notices, &n,
			xasprintf("notice: the bundle's hooks (%s) are not run (BundleHooks=false "
				  "in %s)",
				  kinds, conf->path));
}
