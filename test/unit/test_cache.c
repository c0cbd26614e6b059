/*
 * launcher/image/cache.c: the per-user image cache. Each test writes small image layouts
 * (real layers) in a temporary directory and uses <tmp>/cache as the cache; the images
 * a test holds "in use" are held by the fds cache_get gave, as a task holds them.
 */
#include "image_fixture.h"

#include <dirent.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>

#include "common/stop.h"
#include "launcher/image/cache.h"

static const char config_json[] = "{\"config\": {\"Env\": [\"PATH=/bin\"], \"WorkingDir\": "
				  "\"/work\"}}";

struct fixture {
	char *dir, *cache;
};

static int setup(void **state)
{
	struct fixture *f = dir_fixture_new(struct fixture);

	f->cache = xasprintf("%s/cache", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	free(f->cache);
	dir_fixture_free(f);
	return 0;
}

/* An image layout dir/name whose layer holds the file /name; *hex: its manifest's hex. */
static char *make_image(struct fixture *f, const char *name, char **hex)
{
	const struct layer_entry files[] = {
		D("etc"),
		F("etc/motd", "hello\n"),
		F(name, name),
		{0},
	};
	char *layout = make_layout(f->dir, name);
	cleanup_free char *layer = put_layer(layout, GZIP, files);
	cleanup_free char *digest = put_image(layout, config_json, layer, "latest");

	*hex = xstrdup(digest + strlen("sha256:"));
	return layout;
}

/* cache/rel, to free(). */
static char *in_cache(struct fixture *f, const char *rel)
{
	return xasprintf("%s/%s", f->cache, rel);
}

/* cache_get, which must succeed: the in-use fd, and the rootfs if wanted. */
static int get_ok(struct fixture *f, const char *ref, unsigned long long max_bytes, char **rootfs)
{
	cleanup_error oci_error_t err = NULL;
	cleanup_free char *root = NULL;
	json_t *config = NULL;
	const struct cache_limits limits = {.max_bytes = max_bytes};
	int fd = -1;

	assert_ok(cache_get(f->cache, ref, &limits, &root, &config, &fd, &err), err);
	assert_true(fd >= 0);
	assert_non_null(root);
	assert_string_equal(json_string_value(json_object_get(config, "WorkingDir")), "/work");
	json_decref(config);
	if (rootfs != NULL)
		*rootfs = steal_pointer(&root);
	return fd;
}

/* cache_get, which must fail with an error that contains sub. */
static void get_error(struct fixture *f, const char *ref, const char *sub)
{
	cleanup_error oci_error_t err = NULL;
	char *rootfs = NULL;
	json_t *config = NULL;
	int fd = -1;

	assert_int_equal(cache_get(f->cache, ref, 0, &rootfs, &config, &fd, &err), -1);
	assert_error_has(err, sub);
	assert_null(rootfs);
	assert_null(config);
	assert_int_equal(fd, -1);
}

/* The names in the cache that start with prefix. */
static size_t count_in_cache(struct fixture *f, const char *prefix)
{
	cleanup_dir DIR *d = opendir(f->cache);
	struct dirent *e;
	size_t n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
	return n;
}

static size_t count_lines(const char *text)
{
	size_t n = 0;

	for (const char *p = text; p && *p; p++)
		n += *p == '\n';
	return n;
}

/* Sets the last use of a cached image, seconds after an arbitrary past moment. */
static void set_used(struct fixture *f, const char *hex, time_t seconds)
{
	cleanup_free char *entry = in_cache(f, hex);
	struct timespec times[2] = {{.tv_sec = 1600000000 + seconds},
				    {.tv_sec = 1600000000 + seconds}};

	assert_int_equal(utimensat(AT_FDCWD, entry, times, AT_SYMLINK_NOFOLLOW), 0);
}

static unsigned long long du_total;

static int du_add(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)path;
	(void)type;
	(void)ftw;
	du_total += (unsigned long long)sb->st_blocks * 512ULL;
	return 0;
}

/* What a cached image takes on disk (as du counts it). */
static unsigned long long image_bytes(struct fixture *f, const char *hex)
{
	cleanup_free char *entry = in_cache(f, hex);

	du_total = 0;
	assert_int_equal(nftw(entry, du_add, 16, FTW_PHYS), 0);
	return du_total;
}

static bool is_cached(struct fixture *f, const char *hex)
{
	cleanup_free char *entry = in_cache(f, hex);

	return path_is_dir(entry);
}

/* What cache_list or cache_prune (max_bytes, all) prints. */
static char *list(struct fixture *f)
{
	cleanup_error oci_error_t err = NULL;
	char *out = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&out, &len);

	assert_non_null(mem);
	assert_ok(cache_list(f->cache, mem, &err), err);
	assert_int_equal(fclose(mem), 0);
	return out;
}

static char *prune(struct fixture *f, unsigned long long max_bytes, bool all)
{
	cleanup_error oci_error_t err = NULL;
	char *out = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&out, &len);

	assert_non_null(mem);
	assert_ok(cache_prune(f->cache, max_bytes, all, mem, &err), err);
	assert_int_equal(fclose(mem), 0);
	return out;
}

/* ---- cache_get -------------------------------------------------------------------- */

static void get_unpacks_once(void **state)
{
	struct fixture *f = *state;
	cleanup_free char *hex = NULL, *layout = make_image(f, "alpha", &hex);
	cleanup_free char *tagged = xasprintf("%s:latest", layout), *entry = in_cache(f, hex);
	cleanup_free char *want = xasprintf("%s/rootfs", entry), *rootfs = NULL, *again = NULL;
	cleanup_free char *motd = xasprintf("%s/etc/motd", want), *text = NULL;
	cleanup_free char *source_path = xasprintf("%s/source", entry), *source = NULL;
	cleanup_free char *log_path = in_cache(f, "unpack.log"), *log = NULL;
	cleanup_free char *source_line = xasprintf("%s\n", layout);
	struct stat st;

	close(get_ok(f, layout, 0, &rootfs));
	assert_string_equal(rootfs, want);
	text = read_text(motd);
	assert_string_equal(text, "hello\n");
	/* the cache is created private; where the image came from is kept with it */
	assert_int_equal(stat(f->cache, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	source = read_text(source_path);
	assert_string_equal(source, source_line);
	/* unpacked once: the same entry, by tag too, without another unpack */
	close(get_ok(f, tagged, 0, &again));
	assert_string_equal(again, want);
	log = read_text(log_path);
	assert_non_null(log);
	assert_int_equal(count_lines(log), 1);
	assert_non_null(strstr(log, hex));
	assert_int_equal(count_in_cache(f, ".unpacking-"), 0);
}

/*
 * A second task gets an image while the first one uses it (holds it in use): at once,
 * not once the first one ends. The alarm ends the test if it waits.
 */
static void get_while_in_use(void **state)
{
	struct fixture *f = *state;
	cleanup_free char *hex = NULL, *layout = make_image(f, "alpha", &hex);
	cleanup_free char *log_path = in_cache(f, "unpack.log"), *log = NULL, *out = NULL;
	cleanup_close int first = -1, second = -1;

	first = get_ok(f, layout, 0, NULL);
	alarm(30);
	second = get_ok(f, layout, 0, NULL);
	alarm(0);
	log = read_text(log_path);
	assert_int_equal(count_lines(log), 1);
	out = list(f);
	assert_non_null(strstr(out, " in-use "));
}

/*
 * A task gets an image another task holds in use before it is there (that task waits for
 * the unpack, or for this task: the ranks of an MPI step wait for each other): it
 * unpacks at once rather than wait for the other to let go. The alarm ends the test if
 * it waits.
 */
static void get_while_another_waits(void **state)
{
	struct fixture *f = *state;
	cleanup_free char *hex = NULL, *layout = make_image(f, "alpha", &hex);
	cleanup_free char *lock = NULL, *log_path = in_cache(f, "unpack.log"), *log = NULL;
	cleanup_close int waiting = -1, got = -1;

	make_dir(f->dir, "cache", 0700);
	lock = xasprintf("%s/%s.lock", f->cache, hex);
	waiting = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	assert_true(waiting >= 0);
	assert_int_equal(flock(waiting, LOCK_SH), 0);
	alarm(30);
	got = get_ok(f, layout, 0, NULL);
	alarm(0);
	assert_true(is_cached(f, hex));
	log = read_text(log_path);
	assert_int_equal(count_lines(log), 1);
}

/* Holds the lock of image hex as an unpack or a prune under way does: the fd to close. */
static int hold_lock(struct fixture *f, const char *hex)
{
	cleanup_free char *lock = xasprintf("%s/%s.lock", f->cache, hex);
	int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
	return fd;
}

static void get_removes_stale_unpacks(void **state)
{
	struct fixture *f = *state;
	cleanup_free char *hex = NULL, *layout = make_image(f, "alpha", &hex);
	cleanup_free char *stale = xasprintf(".unpacking-%s-999999", hex);
	cleanup_free char *other = xasprintf(".unpacking-%s-1", ZEROS64);
	cleanup_free char *removing = xasprintf(".removing-%s-2", ZEROS64);
	cleanup_free char *busy_hex = xstrdup(ZEROS64);
	cleanup_free char *busy = NULL, *busy_path = NULL;
	cleanup_close int fd = -1, busy_lock = -1;

	busy_hex[63] = '1';
	busy = xasprintf(".unpacking-%s-3", busy_hex);
	busy_path = in_cache(f, busy);
	/* what killed unpacks and prunes left: of this image and of another, all removed */
	make_dir(f->dir, "cache", 0700);
	make_dir(f->cache, stale, 0700);
	write_text(f->cache, other, "another image's");
	make_dir(f->cache, removing, 0700);
	{
		cleanup_free char *junk = xasprintf("%s/junk", stale);
		cleanup_free char *half = xasprintf("%s/x", removing);
		write_text(f->cache, junk, "half an image");
		write_text(f->cache, half, "half removed");
	}
	/* an unpack under way (it holds its image's lock) is left alone */
	make_dir(f->cache, busy, 0700);
	busy_lock = hold_lock(f, busy_hex);
	fd = get_ok(f, layout, 0, NULL);
	assert_int_equal(count_in_cache(f, ".unpacking-"), 1);
	assert_int_equal(count_in_cache(f, ".removing-"), 0);
	assert_true(path_exists(busy_path));
}

static void get_refuses_foreign_entry(void **state)
{
	struct fixture *f = *state;
	cleanup_free char *hex = NULL, *layout = make_image(f, "alpha", &hex);

	make_dir(f->dir, "cache", 0700);
	write_text(f->cache, hex, "not a directory");
	get_error(f, layout, "is not a cached image of yours");
}

static void get_failed_unpack_leaves_nothing(void **state)
{
	struct fixture *f = *state;
	const struct layer_entry files[] = {F("file", "x"), {0}};
	cleanup_free char *layout = make_layout(f->dir, "image");
	cleanup_free char *layer = put_layer(layout, PLAIN, files);
	cleanup_free char *digest = put_image(layout, config_json, layer, NULL);
	cleanup_free char *hex = xstrdup(digest + strlen("sha256:"));
	/* the layer blob, replaced after its digest went into the manifest */
	char *blob_digest = strstr(layer, "sha256:");
	cleanup_free char *blob = NULL;

	blob_digest[strlen("sha256:") + 64] = '\0';
	blob = blob_file(layout, blob_digest);
	write_text(blob, NULL, "not the layer the manifest names");
	get_error(f, layout, "unpacking");
	assert_false(is_cached(f, hex));
	assert_int_equal(count_in_cache(f, ".unpacking-"), 0);
}

static void get_unresolved_ref(void **state)
{
	struct fixture *f = *state;
	cleanup_free char *missing = xasprintf("%s/missing", f->dir);

	get_error(f, missing, "index.json");
	/* nothing created for a reference that names no image */
	assert_false(path_exists(f->cache));
}

/* ---- cache_list ------------------------------------------------------------------- */

static void list_tells_use_and_source(void **state)
{
	struct fixture *f = *state;
	cleanup_free char *a = NULL, *la = make_image(f, "alpha", &a);
	cleanup_free char *b = NULL, *lb = make_image(f, "beta", &b);
	cleanup_free char *out = NULL, *line_a = NULL, *line_b = NULL;
	cleanup_close int fd_b = -1;
	char *nl;

	close(get_ok(f, la, 0, NULL));
	fd_b = get_ok(f, lb, 0, NULL);
	set_used(f, b, 20);
	set_used(f, a, 10);
	out = list(f);
	assert_int_equal(count_lines(out), 2);
	/* least recently used first: alpha, idle; beta, held */
	nl = strchr(out, '\n');
	*nl = '\0';
	line_a = xasprintf("sha256:%s ", a);
	line_b = xasprintf("sha256:%s ", b);
	assert_memory_equal(out, line_a, strlen(line_a));
	assert_non_null(strstr(out, " idle "));
	assert_string_equal(out + strlen(out) - strlen(la), la);
	assert_memory_equal(nl + 1, line_b, strlen(line_b));
	assert_non_null(strstr(nl + 1, " in-use "));
	assert_non_null(strstr(nl + 1, lb));
}

static void list_and_prune_without_cache(void **state)
{
	struct fixture *f = *state;
	cleanup_free char *listed = list(f), *pruned = prune(f, 0, true);

	assert_string_equal(listed, "");
	assert_string_equal(pruned, "");
	assert_false(path_exists(f->cache));
}

/* ---- cache_prune ------------------------------------------------------------------ */

static void prune_least_recently_used_first(void **state)
{
	struct fixture *f = *state;
	cleanup_free char *a = NULL, *la = make_image(f, "alpha", &a);
	cleanup_free char *b = NULL, *lb = make_image(f, "beta", &b);
	cleanup_free char *c = NULL, *lc = make_image(f, "gamma", &c);
	cleanup_free char *out1 = NULL, *out2 = NULL, *out3 = NULL, *removed = NULL;
	unsigned long long size_a, size_b, size_c;

	close(get_ok(f, la, 0, NULL));
	close(get_ok(f, lb, 0, NULL));
	close(get_ok(f, lc, 0, NULL));
	/* used in the order beta, alpha, gamma */
	set_used(f, b, 10);
	set_used(f, a, 20);
	set_used(f, c, 30);
	size_a = image_bytes(f, a);
	size_b = image_bytes(f, b);
	size_c = image_bytes(f, c);
	/* room for a little more than two: beta goes */
	out1 = prune(f, size_a + size_c + size_b / 2, false);
	assert_false(is_cached(f, b));
	assert_true(is_cached(f, a));
	assert_true(is_cached(f, c));
	removed = xasprintf("removed sha256:%s (", b);
	assert_memory_equal(out1, removed, strlen(removed));
	assert_int_equal(count_lines(out1), 1);
	/* room for a little more than one: alpha goes */
	out2 = prune(f, size_c + size_a / 2, false);
	assert_false(is_cached(f, a));
	assert_true(is_cached(f, c));
	assert_int_equal(count_lines(out2), 1);
	/* within the limit: nothing goes */
	out3 = prune(f, size_c, false);
	assert_true(is_cached(f, c));
	assert_string_equal(out3, "");
}

static void prune_spares_images_in_use(void **state)
{
	struct fixture *f = *state;
	cleanup_free char *a = NULL, *la = make_image(f, "alpha", &a);
	cleanup_free char *b = NULL, *lb = make_image(f, "beta", &b);
	cleanup_free char *out1 = NULL, *out2 = NULL;
	int fd_a;

	fd_a = get_ok(f, la, 0, NULL);
	close(get_ok(f, lb, 0, NULL));
	set_used(f, a, 10); /* the older one, but in use */
	set_used(f, b, 20);
	out1 = prune(f, 0, true);
	assert_true(is_cached(f, a));
	assert_false(is_cached(f, b));
	assert_int_equal(count_lines(out1), 1);
	assert_non_null(strstr(out1, b));
	/* once its task is gone, it goes too */
	close(fd_a);
	out2 = prune(f, 0, true);
	assert_false(is_cached(f, a));
	assert_int_equal(count_lines(out2), 1);
}

/* With a size limit, an unpack prunes the other images, never the one it unpacked. */
static void get_prunes_after_unpack(void **state)
{
	struct fixture *f = *state;
	cleanup_free char *a = NULL, *la = make_image(f, "alpha", &a);
	cleanup_free char *b = NULL, *lb = make_image(f, "beta", &b);
	cleanup_free char *c = NULL, *lc = make_image(f, "gamma", &c);
	cleanup_close int fd_b = -1, fd_c = -1;

	close(get_ok(f, la, 0, NULL));
	fd_b = get_ok(f, lb, 0, NULL);
	fd_c = get_ok(f, lc, 1, NULL);
	assert_false(is_cached(f, a)); /* idle */
	assert_true(is_cached(f, b));  /* in use */
	assert_true(is_cached(f, c));  /* just unpacked */
}

/* A prune removes what killed unpacks and prunes left, tells it, spares what is under way. */
static void prune_removes_leftovers(void **state)
{
	struct fixture *f = *state;
	cleanup_free char *unpacking = xasprintf(".unpacking-%s-1", ZEROS64);
	cleanup_free char *removing = xasprintf(".removing-%s-2", ZEROS64);
	cleanup_free char *busy_hex = xstrdup(ZEROS64), *busy = NULL, *out = NULL;
	cleanup_free char *big = xcalloc(1, 3 << 20);
	cleanup_close int busy_lock = -1;

	busy_hex[0] = 'f';
	busy = xasprintf(".removing-%s-3", busy_hex);
	make_dir(f->dir, "cache", 0700);
	make_dir(f->cache, unpacking, 0700);
	make_dir(f->cache, removing, 0700);
	make_dir(f->cache, busy, 0700);
	{
		cleanup_free char *file = xasprintf("%s/%s/big", f->cache, unpacking);
		FILE *fp = fopen(file, "w");
		assert_non_null(fp);
		assert_int_equal(fwrite(big, 1, 3 << 20, fp), 3 << 20);
		assert_int_equal(fclose(fp), 0);
	}
	busy_lock = hold_lock(f, busy_hex);
	out = prune(f, 0, true);
	assert_int_equal(count_in_cache(f, ".unpacking-"), 0);
	assert_int_equal(count_in_cache(f, ".removing-"), 1);
	assert_int_equal(count_lines(out), 2);
	{
		cleanup_free char *line = xasprintf(
			"removed %s, left by a killed unpack or prune (3.0 MiB)", unpacking);
		assert_non_null(strstr(out, line));
	}
	assert_non_null(strstr(out, removing));
	close(busy_lock);
	busy_lock = -1;
	free(out);
	out = prune(f, 0, true);
	assert_int_equal(count_in_cache(f, ".removing-"), 0);
	assert_int_equal(count_lines(out), 1);
}

/* An unpack past ImageUnpackMaxSize or ImageUnpackMaxEntries fails and caches nothing. */
static void get_past_unpack_limits_leaves_nothing(void **state)
{
	struct fixture *f = *state;
	cleanup_free char *hex = NULL, *layout = make_image(f, "alpha", &hex);
	struct cache_limits limits = {.unpack = {.max_bytes = 8}};
	cleanup_error oci_error_t err = NULL;
	char *rootfs = NULL;
	json_t *config = NULL;
	int fd = -1;

	assert_int_equal(cache_get(f->cache, layout, &limits, &rootfs, &config, &fd, &err), -1);
	assert_error_has(err, "ImageUnpackMaxSize");
	assert_false(is_cached(f, hex));
	assert_int_equal(count_in_cache(f, ".unpacking-"), 0);
	oci_error_release(&err);
	limits = (struct cache_limits){.unpack = {.max_entries = 2}};
	assert_int_equal(cache_get(f->cache, layout, &limits, &rootfs, &config, &fd, &err), -1);
	assert_error_has(err, "ImageUnpackMaxEntries");
	assert_false(is_cached(f, hex));
	assert_int_equal(count_in_cache(f, ".unpacking-"), 0);
	assert_null(rootfs);
	assert_int_equal(fd, -1);
	/* within the limits: unpacked */
	limits = (struct cache_limits){.unpack = {.max_bytes = 1 << 20, .max_entries = 3}};
	assert_ok(cache_get(f->cache, layout, &limits, &rootfs, &config, &fd, &err), err);
	assert_true(is_cached(f, hex));
	json_decref(config);
	free(rootfs);
	close(fd);
}

/*
 * A task that gets SIGTERM while cache_get works (unpacking, or waiting for another
 * task's unpack) ends it at once with "<what>: stopped by SIGTERM" and leaves nothing
 * in the cache. The task is a child (the stop is for good in a process); it tells it is
 * ready (stop_catch done) on a pipe, then gets ref; exit 0: stopped as expected.
 */
static pid_t start_stoppable_get(struct fixture *f, const char *ref, const char *want)
{
	int ready[2];
	char c;
	pid_t pid;

	assert_int_equal(pipe(ready), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		oci_error_t err = NULL;
		char *rootfs = NULL;
		json_t *config = NULL;
		int fd = -1;

		stop_catch();
		close(ready[0]);
		if (write(ready[1], "r", 1) != 1)
			_exit(4);
		if (cache_get(f->cache, ref, NULL, &rootfs, &config, &fd, &err) == 0)
			_exit(2);
		if (strstr(oci_error_text(err), want) == NULL) {
			fprintf(stderr, "unexpected error: %s\n", oci_error_text(err));
			_exit(3);
		}
		_exit(0);
	}
	close(ready[1]);
	assert_int_equal(read(ready[0], &c, 1), 1);
	close(ready[0]);
	return pid;
}

/* SIGTERM to the child after a while; it must end within 3 s, stopped as expected. */
static void stop_and_wait(pid_t pid)
{
	int status = 0;
	pid_t got = 0;

	usleep(200 * 1000); /* well into its blocking read or lock wait */
	assert_int_equal(kill(pid, SIGTERM), 0);
	for (int i = 0; i < 300 && (got = waitpid(pid, &status, WNOHANG)) == 0; i++)
		usleep(10 * 1000);
	if (got == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		fail_msg("the task did not stop within 3 s of SIGTERM");
	}
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* A layer that never ends (a FIFO fed half of it): SIGTERM stops the unpack. */
static void get_stopped_during_unpack(void **state)
{
	struct fixture *f = *state;
	struct layer_entry files[66] = {D("etc")};
	cleanup_free char *layout = make_layout(f->dir, "endless"), *layer = NULL;
	cleanup_free char *digest = NULL, *layer_digest = NULL, *blob = NULL, *data = NULL;
	cleanup_free char *want = NULL;
	cleanup_close int fifo = -1;
	char names[64][32], bulk[4096];
	long long size = 0;
	pid_t pid;

	memset(bulk, 'x', sizeof(bulk) - 1);
	bulk[sizeof(bulk) - 1] = '\0';
	for (int i = 0; i < 64; i++) {
		snprintf(names[i], sizeof(names[i]), "etc/f%d", i);
		files[i + 1] = (struct layer_entry)F(names[i], bulk);
	}
	layer = put_layer(layout, PLAIN, files);
	digest = put_image(layout, config_json, layer, "latest");
	layer_digest = xstrndup(strstr(layer, "sha256:"), strlen("sha256:") + 64);
	blob = blob_file(layout, layer_digest);
	free(sha256_of_file(blob, &size));
	data = read_text(blob);
	assert_int_equal(unlink(blob), 0);
	assert_int_equal(mkfifo(blob, 0600), 0);
	want = xasprintf("unpacking %s: stopped by SIGTERM", layout);
	pid = start_stoppable_get(f, layout, want);
	fifo = open(blob, O_WRONLY | O_CLOEXEC); /* once the task reads it */
	assert_true(fifo >= 0);
	assert_int_equal(write(fifo, data, (size_t)size / 2), size / 2);
	stop_and_wait(pid);
	assert_int_equal(count_in_cache(f, ".unpacking-"), 0);
	assert_false(is_cached(f, digest + strlen("sha256:")));
}

/* Another task unpacks the image (holds its unpack lock): SIGTERM stops the wait. */
static void get_stopped_while_waiting(void **state)
{
	struct fixture *f = *state;
	cleanup_free char *hex = NULL, *layout = make_image(f, "alpha", &hex);
	cleanup_free char *lock = NULL, *want = NULL;
	cleanup_close int fd = -1;

	make_dir(f->dir, "cache", 0700);
	lock = xasprintf("%s/%s.unpack", f->cache, hex);
	fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX), 0);
	want = xasprintf("waiting for the unpack of %s: stopped by SIGTERM", layout);
	stop_and_wait(start_stoppable_get(f, layout, want));
	assert_false(is_cached(f, hex));
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(get_unpacks_once),
		T(get_while_in_use),
		T(get_while_another_waits),
		T(get_removes_stale_unpacks),
		T(get_refuses_foreign_entry),
		T(get_failed_unpack_leaves_nothing),
		T(get_unresolved_ref),
		T(list_tells_use_and_source),
		T(list_and_prune_without_cache),
		T(prune_least_recently_used_first),
		T(prune_spares_images_in_use),
		T(get_prunes_after_unpack),
		T(prune_removes_leftovers),
		T(get_past_unpack_limits_leaves_nothing),
		T(get_stopped_during_unpack),
		T(get_stopped_while_waiting),
	};

	return cmocka_run_group_tests_name("cache", tests, NULL, NULL);
}
