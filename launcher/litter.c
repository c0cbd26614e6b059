#include "litter.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../conf/cleanup.h"
#include "fsutil.h"

static int open_in_root(int root, const char *path)
{
	struct open_how how = {.flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT};

	return (int)syscall(SYS_openat2, root, path, &how, sizeof(how));
}

int litter_note(const char *rootfs, const char *dest, struct litter *out, oci_error_t *err)
{
	cleanup_close int root = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	cleanup_free char *prefix = strdup(dest);
	char *end;

	*out = (struct litter){0};
	if (root < 0)
		return oci_error_make(err, errno, "%s", rootfs);
	if (prefix == NULL)
		return oci_error_make(err, ENOMEM, "%s", dest);
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
			out->name = strdup(slash + 1);
			*slash = '\0';
			out->parent = strdup(prefix[0] ? prefix : "/");
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

void litter_remove(const char *rootfs, const struct litter *l)
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

void litter_release(struct litter *l)
{
	free(l->parent);
	free(l->name);
	*l = (struct litter){0};
}
