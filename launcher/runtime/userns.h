/*
 * The task's own user and mount namespace, where its runtime commands run, as rootless
 * podman runs them: uid/gid 0 there is the user, and, for the user's own identity with runc
 * 1.1.5 (which needs container uid 0 mapped, then chowns its stdio pipes and exec fifo to
 * it, which works only where it holds CAP_CHOWN over it), 1 is the user's first subordinate
 * id (from /etc/subuid and /etc/subgid, mapped by newuidmap/newgidmap). Nothing else is
 * mapped: the ids in config.json count in that namespace. Its mount namespace holds the
 * container's root (launcher/root/): mounts made there never reach the node's.
 */
#ifndef SPANK_OCI_USERNS_H
#define SPANK_OCI_USERNS_H

#include <stdbool.h>
#include <sys/types.h>

#include "common/error.h"

struct userns_map {
	uid_t uid;
	gid_t gid;
	bool subids;		      /* 1 is the first subordinate id (else only 0 is mapped) */
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
 * task joins that one, and its mount namespace.
 */
struct userns {
	struct userns_map map;
	char *const *env; /* where newuidmap and newgidmap are looked for */
	int fd;		  /* the user namespace once made (close-on-exec), or -1 */
	int mnt_fd;	  /* its mount namespace (the node's mounts as slaves), or -1 */
};

void userns_init(struct userns *u, const struct userns_map *m, char *const *env);
/* The namespaces' fds, made now if they were not. */
int userns_fds(struct userns *u, int *fd, int *mnt_fd, oci_error_t *err);
void userns_release(struct userns *u);

/*
 * Runs fn(arg, err) in a child that is uid 0 of the namespace, in its mount namespace
 * (made now if it was not), and waits for it: what fn fails with is the error here (what the
 * runtime created there, owned by a subordinate id, can be removed only from there).
 */
int userns_run(struct userns *u, int (*fn)(void *arg, oci_error_t *err), void *arg,
	       oci_error_t *err);

#endif
