/*
 * What the libFuzzer targets share: scratch directories (on /dev/shm unless FUZZ_TMPDIR
 * says otherwise), writing files, removing trees whatever their modes, splitting an input
 * into parts. Any failure of the harness itself aborts: it is not a finding about the code.
 */
#ifndef SPANK_OCI_TEST_FUZZ_H
#define SPANK_OCI_TEST_FUZZ_H

#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/xalloc.h"

#define FUZZ_CHECK(cond)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz harness: %s:%d: %s failed\n", __FILE__, __LINE__,    \
				#cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* FUZZ_VERBOSE=1 in the environment: what each input gave, on stderr (for seeds). */
static inline void fuzz_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void fuzz_say(const char *fmt, ...)
{
	static int verbose = -1;
	va_list ap;

	if (verbose < 0)
		verbose = getenv("FUZZ_VERBOSE") != NULL;
	if (!verbose)
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Drops an error value the code under test made. */
static inline void fuzz_drop_error(oci_error_t *err)
{
	fuzz_say("error: %s", oci_error_text(*err));
	oci_error_release(err);
}

/* A fresh private directory, realpath'd, made once per process. */
static inline char *fuzz_tmpdir(const char *what)
{
	const char *base = getenv("FUZZ_TMPDIR");
	char *tmpl, *dir;

	if (base == NULL || *base == '\0')
		base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	tmpl = xasprintf("%s/spank-oci-fuzz-%s-XXXXXX", base, what);
	FUZZ_CHECK(mkdtemp(tmpl) != NULL);
	dir = realpath(tmpl, NULL);
	FUZZ_CHECK(dir != NULL);
	free(tmpl);
	return dir;
}

static inline void fuzz_write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);

	FUZZ_CHECK(fd >= 0);
	for (size_t done = 0; done < len;) {
		ssize_t n = write(fd, (const char *)data + done, len - done);

		FUZZ_CHECK(n > 0);
		done += (size_t)n;
	}
	FUZZ_CHECK(close(fd) == 0);
}

/* Removes name in at and all below it, making directories searchable first. */
static inline void fuzz_remove_at(int at, const char *name)
{
	struct stat st;
	struct dirent *e;
	DIR *d;
	int fd;

	if (fstatat(at, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return;
	if (!S_ISDIR(st.st_mode)) {
		FUZZ_CHECK(unlinkat(at, name, 0) == 0);
		return;
	}
	FUZZ_CHECK(fchmodat(at, name, 0700, 0) == 0);
	fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	FUZZ_CHECK(fd >= 0);
	d = fdopendir(fd);
	FUZZ_CHECK(d != NULL);
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			fuzz_remove_at(dirfd(d), e->d_name);
	}
	closedir(d);
	FUZZ_CHECK(unlinkat(at, name, AT_REMOVEDIR) == 0);
}

static inline void fuzz_remove_tree(const char *path)
{
	fuzz_remove_at(AT_FDCWD, path);
}

/* One part of an input: a NUL-terminated copy (the bytes may hold NULs too). */
struct fuzz_part {
	char *data;
	size_t len;
};

/*
 * Splits data at each sep into at most max parts (the last keeps the rest, seps and all);
 * gives the number of parts, at least 1. Free each part's data.
 */
static inline size_t fuzz_split(const uint8_t *data, size_t size, const char *sep,
				struct fuzz_part *parts, size_t max)
{
	size_t n = 0, seplen = strlen(sep), start = 0;

	for (size_t i = 0; n + 1 < max && seplen <= size && i <= size - seplen; i++) {
		if (memcmp(data + i, sep, seplen) != 0)
			continue;
		parts[n].len = i - start;
		parts[n].data = xcalloc(1, parts[n].len + 1);
		memcpy(parts[n].data, data + start, parts[n].len);
		n++;
		start = i + seplen;
		i = start - 1;
	}
	parts[n].len = size - start;
	parts[n].data = xcalloc(1, parts[n].len + 1);
	memcpy(parts[n].data, data + start, parts[n].len);
	return n + 1;
}

static inline void fuzz_parts_free(struct fuzz_part *parts, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(parts[i].data);
}

#endif
