/*
 * Shared mode: a task joins a container another task of its step created (its user and
 * mount namespaces, as pyxis joins enroot's), instead of starting a container of its own.
 */
#ifndef SPANK_OCI_JOIN_H
#define SPANK_OCI_JOIN_H

#include <jansson.h>
#include <sys/types.h>

/* The container's first process, and its mount namespace (a pid may be reused). */
struct join_target {
	pid_t pid;
	ino_t mnt_ns;
};

/* The mount namespace of pid (0 if it cannot be read). */
ino_t join_mnt_ns_of(pid_t pid);

/*
 * For a child of the task: joins the target's namespaces and executes the config.json
 * process's args as the runtime starts the container's process: its cwd, user, env,
 * capabilities (all five sets), noNewPrivileges, apparmorProfile, selinuxLabel, and
 * linux.seccomp. On failure it tells why on stderr ("spank-oci: ...") and exits with 127.
 */
__attribute__((noreturn)) void join_exec(const struct join_target *t, json_t *spec);

#endif
