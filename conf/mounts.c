#include "conf/mounts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/xalloc.h"

void mounts_add(struct mount_list *list, const char *src, const char *dst, bool ro)
{
	list->v = xrealloc(list->v, (list->n + 1) * sizeof(*list->v));
	list->v[list->n++] =
		(struct mount_request){.src = xstrdup(src), .dst = xstrdup(dst), .ro = ro};
}

void mounts_release(struct mount_list *list)
{
	for (size_t i = 0; i < list->n; i++) {
		free(list->v[i].src);
		free(list->v[i].dst);
	}
	free(list->v);
	*list = (struct mount_list){0};
}

bool mounts_host_owned_destination(const char *dst)
{
	static const char *const tops[] = {"/proc", "/sys", "/dev"};

	for (size_t i = 0; i < sizeof(tops) / sizeof(tops[0]); i++) {
		size_t n = strlen(tops[i]);
		if (strncmp(dst, tops[i], n) == 0 && (dst[n] == '\0' || dst[n] == '/'))
			return true;
	}
	return false;
}

/* "//" and a trailing "/" dropped, in place; false for "." or ".." components. */
static bool normalize(char *path)
{
	char *out = path;

	for (const char *p = path; *p != '\0';) {
		size_t n;

		while (*p == '/')
			p++;
		n = strcspn(p, "/");
		if (n == 0)
			break;
		if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		*out++ = '/';
		memmove(out, p, n);
		out += n;
		p += n;
	}
	if (out == path)
		*out++ = '/';
	*out = '\0';
	return true;
}

static int parse_one(char *entry, struct mount_list *list, oci_error_t *err)
{
	cleanup_free char *shown = xstrdup(entry);
	char *src = entry, *dst, *mode;
	bool ro = false;

	dst = strchr(src, ':');
	if (dst == NULL)
		return oci_error_make(err, 0, "'%s': expected SRC:DST[:ro|rw]", shown);
	*dst++ = '\0';
	mode = strchr(dst, ':');
	if (mode != NULL) {
		*mode++ = '\0';
		if (strcmp(mode, "ro") == 0)
			ro = true;
		else if (strcmp(mode, "rw") != 0)
			return oci_error_make(err, 0, "'%s': the mode must be ro or rw, not '%s'",
					      shown, mode);
	}
	if (src[0] != '/')
		return oci_error_make(err, 0, "'%s': the source must be an absolute path", shown);
	if (dst[0] != '/')
		return oci_error_make(err, 0, "'%s': the destination must be an absolute path",
				      shown);
	if (!normalize(dst))
		return oci_error_make(
			err, 0, "'%s': the destination may not contain '.' or '..' components",
			shown);
	if (strcmp(dst, "/") == 0)
		return oci_error_make(err, 0, "'%s': the destination may not be /", shown);
	if (mounts_host_owned_destination(dst))
		return oci_error_make(err, 0,
				      "'%s': the destination may not be in /proc, /sys or /dev "
				      "(they are the node's)",
				      shown);
	mounts_add(list, src, dst, ro);
	return 0;
}

int mounts_parse(const char *text, struct mount_list *list, oci_error_t *err)
{
	cleanup_free char *copy = xstrdup(text);
	char *save = NULL;
	size_t before = list->n;

	for (char *e = strtok_r(copy, ",", &save); e != NULL; e = strtok_r(NULL, ",", &save)) {
		if (parse_one(e, list, err) < 0)
			return -1;
	}
	if (list->n == before)
		return oci_error_make(err, 0, "no mount given: expected SRC:DST[:ro|rw][,...]");
	return 0;
}
