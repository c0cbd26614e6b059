/*
 * launcher/image/unpack.c: a layer (tar, or tar compressed as libarchive recognises)
 * unpacked into a fresh scratch root. An input holding the separator below is two layers,
 * applied one after the other to the same root (whiteouts, a symlink in a later entry's
 * way). The scratch directory is
 *     B/canary/...          a sibling with a file, a directory and a symlink
 *     B/d1/d2/d3/root       the root, three levels down so that "../" escapes land in B
 *     B/input/layer         the input
 * After each input, everything in B but the root (names, modes, sizes, link counts,
 * mtimes and ctimes, symlink targets, file contents) must be exactly as before, and the
 * working directory unchanged: else abort(). The root is removed after each input.
 */
#include "test/fuzz/fuzz.h"

#include <limits.h>

#include "common/fsutil.h"
#include "launcher/image/unpack.h"

#define NEXT_LAYER "SPANK-OCI-FUZZ-NEXT-LAYER"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *base, *root, *layer, cwd[PATH_MAX];

struct text {
	char *s;
	size_t len, cap;
};

static void append(struct text *t, const char *s, size_t len)
{
	if (t->len + len + 1 > t->cap) {
		t->cap = (t->len + len + 1) * 2;
		t->s = xrealloc(t->s, t->cap);
	}
	memcpy(t->s + t->len, s, len);
	t->len += len;
	t->s[t->len] = '\0';
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* One line per entry under path (rel: its name in B), the root and the input skipped. */
static void walk(struct text *t, const char *path, const char *rel)
{
	char line[PATH_MAX * 2 + 256], target[PATH_MAX];
	char **names = NULL;
	size_t n = 0;
	struct dirent *e;
	struct stat st;
	DIR *d;

	if (strcmp(path, root) == 0 || strcmp(path, layer) == 0)
		return;
	FUZZ_CHECK(lstat(path, &st) == 0);
	snprintf(line, sizeof(line), "%s %o %lld %lu", rel, st.st_mode, (long long)st.st_size,
		 (unsigned long)st.st_nlink);
	append(t, line, strlen(line));
	if (!S_ISDIR(st.st_mode) || strcmp(rel, "d1/d2/d3") != 0) {
		/* d3's times change as its root comes and goes */
		snprintf(line, sizeof(line), " %lld.%ld %lld.%ld", (long long)st.st_mtim.tv_sec,
			 st.st_mtim.tv_nsec, (long long)st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
		append(t, line, strlen(line));
	}
	if (S_ISLNK(st.st_mode)) {
		ssize_t len = readlink(path, target, sizeof(target));

		FUZZ_CHECK(len >= 0);
		append(t, " -> ", 4);
		append(t, target, (size_t)len);
	} else if (S_ISREG(st.st_mode)) {
		char buf[4096];
		int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		ssize_t got;

		FUZZ_CHECK(fd >= 0);
		append(t, " ", 1);
		while ((got = read(fd, buf, sizeof(buf))) > 0)
			append(t, buf, (size_t)got);
		FUZZ_CHECK(got == 0);
		close(fd);
	}
	append(t, "\n", 1);
	if (!S_ISDIR(st.st_mode))
		return;
	d = opendir(path);
	FUZZ_CHECK(d != NULL);
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
			names = xrealloc(names, (n + 1) * sizeof(*names));
			names[n++] = xstrdup(e->d_name);
		}
	}
	closedir(d);
	qsort(names, n, sizeof(*names), compare_names);
	for (size_t i = 0; i < n; i++) {
		char *sub = path_join(path, names[i]);
		char *subrel = *rel ? xasprintf("%s/%s", rel, names[i]) : xstrdup(names[i]);

		walk(t, sub, subrel);
		free(sub);
		free(subrel);
		free(names[i]);
	}
	free(names);
}

static struct text before;

static struct text snapshot(void)
{
	struct text t = {0};

	walk(&t, base, "");
	return t;
}

static void put(const char *rel, const char *content)
{
	char *path = path_join(base, rel);

	fuzz_write_file(path, content, strlen(content));
	free(path);
}

static void make_dir(const char *rel)
{
	char *path = path_join(base, rel);

	FUZZ_CHECK(mkdir(path, 0755) == 0);
	free(path);
}

static void cleanup(void)
{
	fuzz_remove_tree(base);
}

static void setup(void)
{
	char *link;

	base = fuzz_tmpdir("unpack");
	FUZZ_CHECK(atexit(cleanup) == 0);
	make_dir("canary");
	make_dir("canary/sub");
	put("canary/secret", "not to be touched\n");
	put("canary/sub/file", "nor this\n");
	link = path_join(base, "canary/link");
	FUZZ_CHECK(symlink("secret", link) == 0);
	free(link);
	make_dir("d1");
	make_dir("d1/d2");
	make_dir("d1/d2/d3");
	put("d1/keep", "d1\n");
	put("d1/d2/keep", "d2\n");
	put("d1/d2/d3/keep", "d3\n");
	make_dir("input");
	root = path_join(base, "d1/d2/d3/root");
	layer = path_join(base, "input/layer");
	fuzz_write_file(layer, "", 0);
	FUZZ_CHECK(getcwd(cwd, sizeof(cwd)) != NULL);
	before = snapshot();
}

static void unpack(const uint8_t *data, size_t len)
{
	struct unpack_source src = {.path = layer, .digest = NULL, .size = -1};
	struct unpack_stats stats = {0};
	oci_error_t err = NULL;

	fuzz_write_file(layer, data, len);
	if (unpack_layer(root, &src, NULL, &stats, &err) < 0) {
		FUZZ_CHECK(err != NULL);
		fuzz_drop_error(&err);
	} else {
		fuzz_say("unpacked: %zu entries, %zu devices skipped, %zu setid dropped",
			 stats.entries, stats.devices_skipped, stats.setid_dropped);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *next = memmem(data, size, NEXT_LAYER, strlen(NEXT_LAYER));
	char now[PATH_MAX];
	struct text after;

	if (base == NULL)
		setup();
	FUZZ_CHECK(mkdir(root, 0755) == 0);
	if (next == NULL) {
		unpack(data, size);
	} else {
		unpack(data, (size_t)(next - data));
		next += strlen(NEXT_LAYER);
		unpack(next, size - (size_t)(next - data));
	}
	FUZZ_CHECK(getcwd(now, sizeof(now)) != NULL && strcmp(now, cwd) == 0);
	fuzz_remove_tree(root);
	after = snapshot();
	if (after.len != before.len || memcmp(after.s, before.s, after.len) != 0) {
		fprintf(stderr,
			"fuzz_unpack: written outside the root:\n--- before\n%s--- after\n%s",
			before.s, after.s);
		abort();
	}
	free(after.s);
	return 0;
}
