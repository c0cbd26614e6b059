/*
 * The site's policy on what a bundle's own config.json brings into a task: its mounts
 * (binds by their real source against AllowedMountPrefixes/DeniedMountPrefixes, as the
 * users' --container-mounts; other types against AllowedBundleMountTypes) and its hooks
 * (DisableHooks, BundleHooks). Runs as the job's user.
 */
#ifndef SPANK_OCI_SPEC_POLICY_H
#define SPANK_OCI_SPEC_POLICY_H

#include <jansson.h>
#include <stdbool.h>

#include "common/error.h"
#include "conf/conf.h"

/*
 * Checks one mount of the bundle's config.json (bundle_dir: the bundle's directory, which a
 * relative bind source is relative to). A bind's source is resolved as the calling user and
 * replaced by its real path, the path that was checked. Errors name the mount.
 */
int spec_policy_bundle_mount(const struct oci_conf *conf, const char *bundle_dir, json_t *mount,
			     oci_error_t *err);

/*
 * Removes from spec the hooks the site does not run: the kinds in DisableHooks, and all of
 * them unless BundleHooks=true. With notices (a strv, or NULL), one notice names the kinds
 * that BundleHooks=false dropped.
 */
void spec_policy_hooks(const struct oci_conf *conf, json_t *spec, char ***notices);

#endif
