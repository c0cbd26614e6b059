/* The container's environment, from the task's and the image's or bundle's. */
#ifndef SPANK_OCI_SPEC_ENV_H
#define SPANK_OCI_SPEC_ENV_H

#include <jansson.h>

#include "common/error.h"
#include "conf/conf.h"

/*
 * The task's environment minus EnvExclude, where the image's or bundle's variables
 * (image_env, a JSON array of "NAME=value"; may be NULL) win, except those named in keep
 * (--container-env; may be NULL).
 */
int spec_env_merge(const struct oci_conf *conf, char *const *task_env, json_t *image_env,
		   char *const *keep, char ***out, oci_error_t *err);

/*
 * env as a JSON array for process.env; NULL only when out of memory. JSON is UTF-8: an
 * entry that is not is left out, and a notice naming it goes to *notices (a strv; NULL:
 * none kept).
 */
json_t *spec_env_json(char *const *env, char ***notices);

#endif
