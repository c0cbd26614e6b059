#include "launcher/shared/seccomp.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/xalloc.h"

#define ARGS_MAX 6 /* a syscall has six arguments */

static const char *text_of(json_t *value)
{
	const char *s = json_string_value(value);

	return s != NULL ? s : "(not a string)";
}

/* errnoRet, else EPERM (runc's and crun's default). */
static int errno_of(json_t *errno_ret, uint32_t *value, oci_error_t *err)
{
	json_int_t v;

	*value = EPERM;
	if (errno_ret == NULL)
		return 0;
	v = json_integer_value(errno_ret);
	if (!json_is_integer(errno_ret) || v < 0 || v > 0xffff)
		return oci_error_make(err, 0, "linux.seccomp: errnoRet %lld is not an errno value",
				      (long long)v);
	*value = (uint32_t)v;
	return 0;
}

static int action_of(json_t *name, json_t *errno_ret, uint32_t *action, oci_error_t *err)
{
	const char *s = json_string_value(name);
	uint32_t e;

	if (errno_of(errno_ret, &e, err) < 0)
		return -1;
	if (s == NULL)
		return oci_error_make(err, 0, "linux.seccomp: an action is missing");
	if (strcmp(s, "SCMP_ACT_ALLOW") == 0)
		*action = SCMP_ACT_ALLOW;
	else if (strcmp(s, "SCMP_ACT_ERRNO") == 0)
		*action = SCMP_ACT_ERRNO(e);
	else if (strcmp(s, "SCMP_ACT_KILL") == 0 || strcmp(s, "SCMP_ACT_KILL_THREAD") == 0)
		*action = SCMP_ACT_KILL_THREAD;
	else if (strcmp(s, "SCMP_ACT_KILL_PROCESS") == 0)
		*action = SCMP_ACT_KILL_PROCESS;
	else if (strcmp(s, "SCMP_ACT_TRAP") == 0)
		*action = SCMP_ACT_TRAP;
	else if (strcmp(s, "SCMP_ACT_TRACE") == 0)
		*action = SCMP_ACT_TRACE(e);
	else if (strcmp(s, "SCMP_ACT_LOG") == 0)
		*action = SCMP_ACT_LOG;
	else if (strcmp(s, "SCMP_ACT_NOTIFY") == 0)
		return oci_error_make(err, 0,
				      "linux.seccomp: SCMP_ACT_NOTIFY: a seccomp agent cannot "
				      "listen to a task that joins the shared container");
	else
		return oci_error_make(err, 0, "linux.seccomp: unknown action '%s'", s);
	return 0;
}

/* "SCMP_ARCH_X86_64" -> libseccomp's "x86_64". */
static int add_architecture(scmp_filter_ctx ctx, json_t *name, oci_error_t *err)
{
	const char *s = json_string_value(name);
	cleanup_free char *lower = NULL;
	uint32_t arch;
	int rc;

	if (s == NULL || strncmp(s, "SCMP_ARCH_", 10) != 0)
		return oci_error_make(err, 0, "linux.seccomp: unknown architecture '%s'",
				      text_of(name));
	lower = xstrdup(s + 10);
	for (char *c = lower; *c != '\0'; c++)
		*c = (char)tolower((unsigned char)*c);
	arch = seccomp_arch_resolve_name(lower);
	if (arch == 0)
		return oci_error_make(err, 0, "linux.seccomp: unknown architecture '%s'", s);
	rc = seccomp_arch_add(ctx, arch);
	if (rc < 0 && rc != -EEXIST)
		return oci_error_make(err, -rc, "linux.seccomp: architecture '%s'", s);
	return 0;
}

static int set_flag(scmp_filter_ctx ctx, json_t *name, oci_error_t *err)
{
	const char *s = json_string_value(name);
	enum scmp_filter_attr attr;
	int rc;

	if (s != NULL && strcmp(s, "SECCOMP_FILTER_FLAG_TSYNC") == 0)
		attr = SCMP_FLTATR_CTL_TSYNC;
	else if (s != NULL && strcmp(s, "SECCOMP_FILTER_FLAG_LOG") == 0)
		attr = SCMP_FLTATR_CTL_LOG;
	else if (s != NULL && strcmp(s, "SECCOMP_FILTER_FLAG_SPEC_ALLOW") == 0)
		attr = SCMP_FLTATR_CTL_SSB;
	else
		return oci_error_make(err, 0, "linux.seccomp: unknown flag '%s'", text_of(name));
	rc = seccomp_attr_set(ctx, attr, 1);
	if (rc < 0)
		return oci_error_make(err, -rc, "linux.seccomp: flag '%s'", s);
	return 0;
}

static int operator_of(json_t *name, enum scmp_compare *op, oci_error_t *err)
{
	static const struct {
		const char *name;
		enum scmp_compare op;
	} ops[] = {
		{"SCMP_CMP_NE", SCMP_CMP_NE},
		{"SCMP_CMP_LT", SCMP_CMP_LT},
		{"SCMP_CMP_LE", SCMP_CMP_LE},
		{"SCMP_CMP_EQ", SCMP_CMP_EQ},
		{"SCMP_CMP_GE", SCMP_CMP_GE},
		{"SCMP_CMP_GT", SCMP_CMP_GT},
		{"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
	};
	const char *s = json_string_value(name);

	for (size_t i = 0; s != NULL && i < sizeof(ops) / sizeof(ops[0]); i++) {
		if (strcmp(s, ops[i].name) == 0) {
			*op = ops[i].op;
			return 0;
		}
	}
	return oci_error_make(err, 0, "linux.seccomp: unknown operator '%s'", text_of(name));
}

/*
 * args[]: {index, value, valueTwo, op}; for SCMP_CMP_MASKED_EQ value is the mask and
 * valueTwo what the masked argument must equal (as runc passes them to libseccomp).
 */
static int conditions_of(json_t *args, struct scmp_arg_cmp *cmp, size_t *n, bool *same_index,
			 oci_error_t *err)
{
	unsigned count[ARGS_MAX] = {0};
	json_t *a;
	size_t i;

	*n = json_array_size(args);
	*same_index = false;
	if (*n > ARGS_MAX * 4)
		return oci_error_make(err, 0, "linux.seccomp: more than %d conditions in a rule",
				      ARGS_MAX * 4);
	json_array_foreach(args, i, a)
	{
		json_t *index = json_object_get(a, "index");
		json_int_t idx = json_integer_value(index);

		if (!json_is_integer(index) || idx < 0 || idx >= ARGS_MAX)
			return oci_error_make(err, 0,
					      "linux.seccomp: argument index %lld is not 0 to 5",
					      (long long)idx);
		if (operator_of(json_object_get(a, "op"), &cmp[i].op, err) < 0)
			return -1;
		cmp[i].arg = (unsigned)idx;
		cmp[i].datum_a = (scmp_datum_t)json_integer_value(json_object_get(a, "value"));
		cmp[i].datum_b = (scmp_datum_t)json_integer_value(json_object_get(a, "valueTwo"));
		*same_index = *same_index || ++count[idx] > 1;
	}
	return 0;
}

static int add_rule(scmp_filter_ctx ctx, uint32_t action, int nr, const char *name,
		    const struct scmp_arg_cmp *cmp, size_t n, oci_error_t *err)
{
	int rc = seccomp_rule_add_array(ctx, action, nr, (unsigned)n, n > 0 ? cmp : NULL);

	if (rc < 0)
		return oci_error_make(err, -rc, "linux.seccomp: the rule for %s", name);
	return 0;
}

static int add_syscalls(scmp_filter_ctx ctx, json_t *rule, uint32_t default_action,
			oci_error_t *err)
{
	struct scmp_arg_cmp cmp[ARGS_MAX * 4];
	uint32_t action;
	bool same_index;
	json_t *name;
	size_t n, i;

	if (action_of(json_object_get(rule, "action"), json_object_get(rule, "errnoRet"), &action,
		      err) < 0 ||
	    conditions_of(json_object_get(rule, "args"), cmp, &n, &same_index, err) < 0)
		return -1;
	/* libseccomp refuses a rule that does what the default does: it is not needed */
	if (action == default_action)
		return 0;
	json_array_foreach(json_object_get(rule, "names"), i, name)
	{
		const char *s = json_string_value(name);
		int nr = s != NULL ? seccomp_syscall_resolve_name(s) : __NR_SCMP_ERROR;

		if (nr == __NR_SCMP_ERROR)
			continue; /* unknown here: skipped, as runc and crun do */
		if (!same_index) {
			if (add_rule(ctx, action, nr, s, cmp, n, err) < 0)
				return -1;
			continue;
		}
		/* libseccomp takes one condition per index: each is a rule of its own */
		for (size_t c = 0; c < n; c++)
			if (add_rule(ctx, action, nr, s, &cmp[c], 1, err) < 0)
				return -1;
	}
	return 0;
}

static int build(scmp_filter_ctx ctx, json_t *seccomp, uint32_t default_action, oci_error_t *err)
{
	json_t *v;
	size_t i;
	int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);

	if (rc < 0)
		return oci_error_make(err, -rc, "linux.seccomp: no_new_privs");
	json_array_foreach(json_object_get(seccomp, "architectures"), i, v)
	{
		if (add_architecture(ctx, v, err) < 0)
			return -1;
	}
	json_array_foreach(json_object_get(seccomp, "flags"), i, v)
	{
		if (set_flag(ctx, v, err) < 0)
			return -1;
	}
	json_array_foreach(json_object_get(seccomp, "syscalls"), i, v)
	{
		if (add_syscalls(ctx, v, default_action, err) < 0)
			return -1;
	}
	return 0;
}

int seccomp_filter_of(json_t *seccomp, scmp_filter_ctx *out, oci_error_t *err)
{
	uint32_t default_action;
	scmp_filter_ctx ctx;

	*out = NULL;
	if (seccomp == NULL || json_is_null(seccomp))
		return 0;
	if (json_is_string(json_object_get(seccomp, "listenerPath")))
		return oci_error_make(err, 0,
				      "linux.seccomp: listenerPath: a seccomp agent cannot listen "
				      "to a task that joins the shared container");
	if (action_of(json_object_get(seccomp, "defaultAction"),
		      json_object_get(seccomp, "defaultErrnoRet"), &default_action, err) < 0)
		return -1;
	ctx = seccomp_init(default_action);
	if (ctx == NULL)
		return oci_error_make(err, ENOMEM, "linux.seccomp");
	if (build(ctx, seccomp, default_action, err) < 0) {
		seccomp_release(ctx);
		return -1;
	}
	*out = ctx;
	return 0;
}
