#include "launcher/spec/litter.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/xalloc.h"
#include "common/fsutil.h"

static void litter_release(struct litter *l);

static int open_in_root(int root, const char *path)
{
	struct open_how how = {.flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT};

	return (int)syscall(SYS_openat2, root, path, &how, sizeof(how));
}

/*
 * If name in parent (inside the root) is a symlink, the path the runtime would create
 * through it: its target joined with rest. NULL when it is not a symlink.
 */
static char *through_symlink(int root, const char *parent, const char *name, const char *rest)
{
	cleanup_close int dir = open_in_root(root, parent);
	char target[4096];
	char *path = NULL;
	ssize_t n;

	if (dir < 0)
		return NULL;
	n = readlinkat(dir, name, target, sizeof(target) - 1);
	if (n <= 0)
		return NULL;
	target[n] = '\0';
	if (target[0] == '/')
		n = asprintf(&path, "%s%s", target, rest);
	else
		n = asprintf(&path, "%s/%s%s", parent, target, rest);
	return n < 0 ? NULL : path;
}

static int note_path(int root, const char *dest, int depth, struct litter *out, oci_error_t *err)
{
	cleanup_free char *prefix = strdup(dest);
	char *end;

	if (prefix == NULL)
		return oci_error_make(err, ENOMEM, "%s", dest);
	if (depth > 8)
		return 0; /* a symlink loop: the runtime will fail on it, nothing to note */
	/* grow the prefix one component at a time until it does not exist */
	for (end = prefix + 1; *end != '\0';) {
		char saved;
		int fd;

		end += strcspn(end, "/");
		saved = *end;
		*end = '\0';
		fd = open_in_root(root, prefix);
		if (fd < 0) {
			char *slash = strrchr(prefix, '/');
			const char *parent = slash == prefix ? "/" : prefix;
			cleanup_free char *rest = strdup(saved ? end + 1 : "");
			cleanup_free char *next = NULL;

			*slash = '\0';
			if (rest == NULL)
				return oci_error_make(err, ENOMEM, "%s", dest);
			/* a dangling symlink is the user's: follow it to what would be created */
			if (saved) {
				free(rest);
				rest = NULL;
				if (asprintf(&rest, "/%s", end + 1) < 0)
					return oci_error_make(err, ENOMEM, "%s", dest);
			}
			next = through_symlink(root, parent, slash + 1, rest);
			if (next != NULL)
				return note_path(root, next, depth + 1, out, err);
			out->name = strdup(slash + 1);
			out->parent = strdup(parent);
			if (out->name == NULL || out->parent == NULL) {
				litter_release(out);
				return oci_error_make(err, ENOMEM, "%s", dest);
			}
			return 0;
		}
		close(fd);
		*end = saved;
		if (saved == '/')
			end++;
	}
	return 0;
}

static int litter_note(const char *rootfs, const char *dest, struct litter *out, oci_error_t *err)
{
	cleanup_close int root = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);

	*out = (struct litter){0};
	if (root < 0)
		return oci_error_make(err, errno, "%s", rootfs);
	return note_path(root, dest, 0, out, err);
}

static void litter_remove(const char *rootfs, const struct litter *l)
{
	cleanup_close int root = -1, parent = -1;
	cleanup_error oci_error_t err = NULL;
	char path[64];

	if (l->name == NULL)
		return;
	root = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return;
	parent = open_in_root(root, l->parent);
	if (parent < 0)
		return;
	snprintf(path, sizeof(path), "/proc/self/fd/%d/", parent);
	{
		cleanup_free char *victim = NULL;
		if (asprintf(&victim, "%s%s", path, l->name) >= 0)
			fs_remove_tree(victim, &err);
	}
}

static void litter_release(struct litter *l)
{
	free(l->parent);
	free(l->name);
	*l = (struct litter){0};
}

int litter_list_note(struct litter_list *list, const char *rootfs, const char *dest,
		     oci_error_t *err)
{
	list->v = xrealloc(list->v, (list->n + 1) * sizeof(*list->v));
	if (litter_note(rootfs, dest, &list->v[list->n], err) < 0)
		return -1;
	list->n++;
	return 0;
}

void litter_list_remove(const struct litter_list *list, const char *rootfs)
{
	for (size_t i = list->n; i-- > 0;)
		litter_remove(rootfs, &list->v[i]);
}

void litter_list_release(struct litter_list *list)
{
	for (size_t i = 0; i < list->n; i++)
		litter_release(&list->v[i]);
	free(list->v);
	*list = (struct litter_list){0};
}
