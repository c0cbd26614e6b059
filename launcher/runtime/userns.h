/*
 * The runtime in a user namespace of its own, for the user's own identity with runc
 * 1.1.5: runc needs container uid 0 mapped and then chowns its stdio pipes and exec fifo
 * to that id, which only works where it holds CAP_CHOWN over it. So the runtime runs
 * as uid 0 of a namespace (made with newuidmap/newgidmap from /etc/subuid and
 * /etc/subgid) where 0 is the user and 1 the user's first subordinate id, as rootless
 * podman runs it. Nothing else is mapped: the container's ids count in that namespace.
 */
#ifndef SPANK_OCI_USERNS_H
#define SPANK_OCI_USERNS_H

#include <stdbool.h>
#include <sys/types.h>

#include "common/error.h"

struct userns_map {
	uid_t uid;
	gid_t gid;
	unsigned long subuid, subgid; /* the first subordinate ids of the user */
};

#define USERNS_SUBUID_FILE "/etc/subuid"
#define USERNS_SUBGID_FILE "/etc/subgid"

/*
 * Fills m from the first range of the user (by name or uid) in each of a subuid and a
 * subgid file (USERNS_SUBUID_FILE, USERNS_SUBGID_FILE); false when either has none.
 */
bool userns_lookup(const char *subuid_file, const char *subgid_file, const char *user, uid_t uid,
		   gid_t gid, struct userns_map *m);

/*
 * One such namespace for a task, made at its first use (a child unshares it,
 * newuidmap/newgidmap map it, so they run once per task): every runtime command of the
 * task joins that one.
 */
struct userns {
	struct userns_map map;
	char *const *env; /* where newuidmap and newgidmap are looked for */
	int fd;		  /* the namespace once made (close-on-exec), or -1 */
};

void userns_init(struct userns *u, const struct userns_map *m, char *const *env);
/* The namespace's fd, made now if it was not. */
int userns_fd(struct userns *u, int *fd, oci_error_t *err);
void userns_release(struct userns *u);

/*
 * Runs fn(arg) in a child that is uid 0 of the namespace (made now if it was not) (what the runtime
 * created there, e.g. mount points owned by the subordinate id, can be removed only from there),
 * and waits for it.
 */
int userns_run(struct userns *u, void (*fn)(void *), void *arg, oci_error_t *err);

#endif
