/*
 * launcher/runtime/userns.c: the user's first subordinate ids from subuid/subgid files, and
 * (as an ordinary user with newuidmap, newgidmap and a range of subordinate ids) the
 * runtime's own user namespace where 0 is the user and 1 the first subordinate id.
 */
#include "unit.h"

#include <pwd.h>
#include <linux/magic.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/vfs.h>

#include "common/proc.h"
#include "launcher/runtime/userns.h"

#define UID 1000
#define GID 1001

struct fixture {
	char *dir;
	char *subuid; /* dir/subuid */
	char *subgid; /* dir/subgid */
};

static int setup(void **state)
{
	struct fixture *f = dir_fixture_new(struct fixture);

	f->subuid = xasprintf("%s/subuid", f->dir);
	f->subgid = xasprintf("%s/subgid", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	free(f->subuid);
	free(f->subgid);
	dir_fixture_free(f);
	return 0;
}

/* Looks alice (UID, GID) up in subuid and subgid files of the given texts. */
static bool lookup(struct fixture *f, const char *subuid, const char *subgid, struct userns_map *m)
{
	write_text(f->subuid, NULL, subuid);
	write_text(f->subgid, NULL, subgid);
	return userns_lookup(f->subuid, f->subgid, "alice", UID, GID, m);
}

/* The first subordinate uid of alice when the subuid file is text (subgid: a valid one). */
static unsigned long first_subuid(struct fixture *f, const char *text)
{
	struct userns_map m;

	if (!lookup(f, text, "alice:300000:65536\n", &m))
		fail_msg("no range found in:\n%s", text);
	assert_int_equal(m.subgid, 300000);
	return m.subuid;
}

static void expect_no_range(struct fixture *f, const char *text)
{
	struct userns_map m;

	if (lookup(f, text, "alice:300000:65536\n", &m))
		fail_msg("range %lu found in:\n%s", m.subuid, text);
}

/* ---- userns_lookup ------------------------------------------------------------------------ */

static void lookup_by_name(void **state)
{
	struct fixture *f = *state;
	struct userns_map m = {0};

	assert_true(lookup(f, "bob:200000:65536\nalice:100000:65536\ncarol:400000:65536\n",
			   "carol:100000:65536\nalice:300000:65536\n", &m));
	assert_int_equal(m.uid, UID);
	assert_int_equal(m.gid, GID);
	assert_int_equal(m.subuid, 100000);
	assert_int_equal(m.subgid, 300000);
}

/* subuid(5): an entry names the user by login name or by numeric uid. */
static void lookup_by_uid_number(void **state)
{
	struct fixture *f = *state;
	struct userns_map m = {0};

	assert_true(lookup(f, "10000:900000:10\n100:800000:10\n1000:150000:65536\n",
			   "1000:250000:65536\n", &m));
	assert_int_equal(m.subuid, 150000);
	assert_int_equal(m.subgid, 250000);
}

static void lookup_first_matching_range(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(first_subuid(f, "alice:100000:10\nalice:500000:10\n1000:600000:10\n"),
			 100000);
	assert_int_equal(first_subuid(f, "1000:600000:10\nalice:100000:10\n"), 600000);
	/* no newline at the end of the file */
	assert_int_equal(first_subuid(f, "bob:1:1\nalice:700000:65536"), 700000);
}

static void lookup_skips_empty_ranges(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(first_subuid(f, "alice:100000:0\nalice:200000:65536\n"), 200000);
	assert_int_equal(first_subuid(f, "alice:100000:none\nalice:200000:1\n"), 200000);
	expect_no_range(f, "alice:100000:0\n");
}

static void lookup_skips_malformed_lines(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(first_subuid(f, "garbage\n"
					 "\n"
					 "#alice:1:1\n"
					 "alice\n"
					 "alice:\n"
					 "alice:100000\n"
					 "alice::5\n"
					 ":100000:5\n"
					 "alice:xyz:5\n"
					 "alice:-5:5\n"
					 "alice: 100:5\n"
					 "alice:400000:65536\n"),
			 400000);
	expect_no_range(f, "alice:100000\nalice:\nalice:x:1\n");
}

/* Only the user's own name: a name it begins or ends with is someone else's. */
static void lookup_matches_whole_names(void **state)
{
	struct fixture *f = *state;

	expect_no_range(f, "alice2:100000:10\nali:200000:10\nmalice:300000:10\n10000:1:1\n");
	assert_int_equal(first_subuid(f, "alice2:100000:10\nalice:200000:10\n"), 200000);
}

static void lookup_needs_both_files(void **state)
{
	struct fixture *f = *state;
	cleanup_free char *missing = xasprintf("%s/missing", f->dir);
	struct userns_map m = {0};

	/* a range for the uids but none for the gids, and the other way around */
	assert_false(lookup(f, "alice:100000:65536\n", "bob:300000:65536\n", &m));
	assert_false(lookup(f, "bob:100000:65536\n", "alice:300000:65536\n", &m));
	assert_false(userns_lookup(missing, f->subgid, "alice", UID, GID, &m));
	assert_false(userns_lookup(f->subuid, missing, "alice", UID, GID, &m));
	assert_false(userns_lookup(missing, missing, "alice", UID, GID, &m));
	/* the user's own ids are there whatever */
	assert_int_equal(m.uid, UID);
	assert_int_equal(m.gid, GID);
}

/* The system's files: no range for a user that does not exist. */
static void lookup_system_files_unknown_user(void **state)
{
	struct userns_map m = {0};

	(void)state;
	assert_false(userns_lookup(USERNS_SUBUID_FILE, USERNS_SUBGID_FILE,
				   "spank-oci-unit-no-such-user", (uid_t)4294967290u,
				   (gid_t)4294967290u, &m));
	assert_int_equal(m.uid, (uid_t)4294967290u);
}

/* ---- a real namespace --------------------------------------------------------------------- */

/* Why a real namespace cannot be made here (to free), or NULL. */
static char *why_no_namespace(struct userns_map *m)
{
	struct passwd *pw = getpwuid(geteuid());
	cleanup_error oci_error_t err = NULL;
	cleanup_free char *uidmap = NULL, *gidmap = NULL;
	int status;
	pid_t pid;

	if (geteuid() == 0)
		return xasprintf("runs as root: the namespace is made for ordinary users");
	if (proc_find_program("newuidmap", NULL, &uidmap, &err) < 0 ||
	    proc_find_program("newgidmap", NULL, &gidmap, &err) < 0)
		return xasprintf("%s", oci_error_text(err));
	if (pw == NULL || !userns_lookup(USERNS_SUBUID_FILE, USERNS_SUBGID_FILE, pw->pw_name,
					 pw->pw_uid, getegid(), m))
		return xasprintf("no subordinate ids for uid %u in %s and %s", (unsigned)geteuid(),
				 USERNS_SUBUID_FILE, USERNS_SUBGID_FILE);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(unshare(CLONE_NEWUSER) == 0 ? 0 : 1);
	status = wait_child(pid, 5000);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return xasprintf("unprivileged user namespaces are not allowed here");
	return NULL;
}

/* In the namespace: uid and gid 0, and exactly the two mappings. */
static int check_inside(void *arg, oci_error_t *err)
{
	const struct userns_map *m = arg;
	char want_uid[128], want_gid[128], got[256];
	const char *files[2] = {"/proc/self/uid_map", "/proc/self/gid_map"};
	const char *wants[2] = {want_uid, want_gid};

	snprintf(want_uid, sizeof(want_uid), "0 %u 1|1 %lu 1|", (unsigned)m->uid, m->subuid);
	snprintf(want_gid, sizeof(want_gid), "0 %u 1|1 %lu 1|", (unsigned)m->gid, m->subgid);
	if (getuid() != 0 || getgid() != 0 || geteuid() != 0)
		_exit(3);
	for (int i = 0; i < 2; i++) {
		FILE *f = fopen(files[i], "re");
		unsigned long a, b, c;
		size_t n = 0;

		got[0] = '\0';
		while (f != NULL && fscanf(f, "%lu %lu %lu", &a, &b, &c) == 3)
			n += (size_t)snprintf(got + n, sizeof(got) - n, "%lu %lu %lu|", a, b, c);
		if (f != NULL)
			fclose(f);
		if (strcmp(got, wants[i]) != 0)
			_exit(4 + i);
	}
	(void)err;
	return 0;
}

/* In the namespace: a mount made there (a tmpfs on a directory of ours). */
static int mount_tmpfs(void *arg, oci_error_t *err)
{
	if (mount("tmpfs", arg, "tmpfs", 0, "size=1m") < 0)
		return oci_error_make(err, errno, "mount %s", (char *)arg);
	return 0;
}

/* In the namespace: the tmpfs is there (a later command sees what an earlier one mounted). */
static int see_tmpfs(void *arg, oci_error_t *err)
{
	struct statfs fs;

	if (statfs(arg, &fs) < 0 || fs.f_type != TMPFS_MAGIC)
		return oci_error_make(err, 0, "no tmpfs on %s", (char *)arg);
	return 0;
}

static void namespace_maps_user_and_first_subid(void **state)
{
	char *const env[] = {"PATH=/usr/bin:/bin", NULL};
	cleanup_error oci_error_t err = NULL;
	struct userns_map m = {0};
	struct userns u;
	char *why = why_no_namespace(&m);
	int fd1 = -1, fd2 = -1, mnt1 = -1, mnt2 = -1;
	char template[] = "/tmp/spank-oci-unit-userns.XXXXXX", *dir;
	struct statfs fs;

	(void)state;
	if (why != NULL) {
		print_message("skipped: %s\n", why);
		free(why);
		skip();
	}
	userns_init(&u, &m, env);
	assert_int_equal(u.fd, -1); /* made at its first use only */
	assert_ok(userns_run(&u, check_inside, &m, &err), err);
	/* made once: every command of the task joins the same one */
	assert_ok(userns_fds(&u, &fd1, &mnt1, &err), err);
	assert_ok(userns_fds(&u, &fd2, &mnt2, &err), err);
	assert_int_equal(fd1, fd2);
	assert_int_equal(mnt1, mnt2);
	/* its mount namespace keeps what is mounted there, and the node never sees it */
	dir = mkdtemp(template);
	assert_non_null(dir);
	assert_ok(userns_run(&u, mount_tmpfs, dir, &err), err);
	assert_ok(userns_run(&u, see_tmpfs, dir, &err), err);
	assert_int_equal(statfs(dir, &fs), 0);
	assert_int_not_equal(fs.f_type, TMPFS_MAGIC);
	/* what a child fails with is the error */
	assert_int_equal(userns_run(&u, see_tmpfs, "/", &err), -1);
	assert_non_null(strstr(oci_error_text(err), "no tmpfs on /"));
	rmdir(dir);
	assert_true(fcntl(fd1, F_GETFD) & FD_CLOEXEC);
	userns_release(&u);
	assert_int_equal(u.fd, -1);
	assert_int_equal(u.mnt_fd, -1);
	assert_int_equal(fcntl(fd1, F_GETFD), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(lookup_by_name),
		T(lookup_by_uid_number),
		T(lookup_first_matching_range),
		T(lookup_skips_empty_ranges),
		T(lookup_skips_malformed_lines),
		T(lookup_matches_whole_names),
		T(lookup_needs_both_files),
		cmocka_unit_test(lookup_system_files_unknown_user),
		cmocka_unit_test(namespace_maps_user_and_first_subid),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
