/*
 * Shared mode: the seccomp filter of config.json's linux.seccomp, for a task that joins the
 * step's container (the runtime applied the same profile to the container's own process).
 * Built with libseccomp, as runc and crun build it.
 */
#ifndef SPANK_OCI_SECCOMP_H
#define SPANK_OCI_SECCOMP_H

#include <jansson.h>
#include <seccomp.h>

#include "common/error.h"

/*
 * The filter of linux.seccomp (defaultAction, defaultErrnoRet, architectures, flags,
 * syscalls: names, action, errnoRet, args): *out is NULL when there is none. As runc: a
 * syscall name libseccomp does not know is skipped, a rule whose action is the default
 * one is left out, and conditions on one argument index go in rules of their own (any
 * of them matches). Refused with the offending text: an action, architecture, operator
 * or flag it does not know, an argument index above 5, and SCMP_ACT_NOTIFY (a seccomp
 * agent cannot listen to a joined task). The filter does not set no_new_privs itself.
 */
int seccomp_filter_of(json_t *seccomp, scmp_filter_ctx *out, oci_error_t *err);

#endif
