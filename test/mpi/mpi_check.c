/* mpi_check: the MPI program of the test image (scripts/make-mpi-image builds it against
 * the image's Open MPI and installs it as /usr/local/bin/mpi_check).
 *
 *   mpi_check             ring, allreduce, shared-memory checks; one line per rank, then
 *                         rank 0 prints the checksum
 *   mpi_check --bench N   the same, then N timed iterations of allreduce and of ping-pong;
 *                         rank 0 prints the median latencies in microseconds
 *   mpi_check --hold S    the same, then each rank prints "started rank=R" and stays in
 *                         MPI for S seconds (for tests that stop a running MPI job)
 *
 * Each rank prints (in no particular order between ranks):
 *   rank=R size=N host=H local_rank=L local_size=M shm=ok|single
 * and at the end rank 0 prints
 *   checksum=C
 * with C = N(N-1)/2 + N(N+1)(2N+1)/6 for N ranks (1 for N=1, 36 for N=4, 716 for N=12):
 *   - ring: rank 0 sends a token 0 to rank 1, each rank adds its rank and passes it on,
 *     rank 0 receives 0+1+...+(N-1) = N(N-1)/2 back;
 *   - allreduce: each rank contributes (rank+1)^2, the sum is N(N+1)(2N+1)/6.
 * Every rank checks what it received (the token in the ring, the allreduce's sum) and the
 * shared-memory checks below; any mismatch prints "mpi_check: rank R: ..." on stderr and
 * the program exits 1 (the checksum line is printed only when all ranks passed).
 *
 * Shared memory between the ranks of one node (MPI_Comm_split_type MPI_COMM_TYPE_SHARED):
 *   - an MPI_Win_allocate_shared window: each local rank writes its own slot, and reads
 *     every other slot through the pointer MPI_Win_shared_query gives (plain loads and
 *     stores in memory mapped by all of them);
 *   - ping-pong between local ranks 0 and 1 with a small and a 4 MiB message (Open MPI's
 *     vader transport: copies through shared memory, and single-copy, e.g. CMA, for large
 *     messages), the echoed data compared.
 * "shm=single" when the rank is alone on its node.
 */
#include <limits.h>
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BIG_MSG (4 * 1024 * 1024)
#define TAG_RING 1
#define TAG_PING 2

struct ctx {
	int rank, size;
	MPI_Comm node;
	int local_rank, local_size;
	int failed; /* this rank saw a mismatch */
};

static void fail(struct ctx *c, const char *what, long long got, long long want)
{
	fprintf(stderr, "mpi_check: rank %d: %s: got %lld, expected %lld\n", c->rank, what, got,
		want);
	c->failed = 1;
}

static long long expected_checksum(long long n)
{
	return n * (n - 1) / 2 + n * (n + 1) * (2 * n + 1) / 6;
}

/* The token around the ring; rank 0 returns the total, the others 0. */
static long long ring(struct ctx *c)
{
	long long token = 0;
	int next = (c->rank + 1) % c->size, prev = (c->rank + c->size - 1) % c->size;

	if (c->size == 1)
		return 0;
	if (c->rank == 0) {
		MPI_Send(&token, 1, MPI_LONG_LONG, next, TAG_RING, MPI_COMM_WORLD);
		MPI_Recv(&token, 1, MPI_LONG_LONG, prev, TAG_RING, MPI_COMM_WORLD,
			 MPI_STATUS_IGNORE);
		if (token != (long long)c->size * (c->size - 1) / 2)
			fail(c, "ring token back at rank 0", token,
			     (long long)c->size * (c->size - 1) / 2);
		return token;
	}
	MPI_Recv(&token, 1, MPI_LONG_LONG, prev, TAG_RING, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
	if (token != (long long)c->rank * (c->rank - 1) / 2)
		fail(c, "ring token received", token, (long long)c->rank * (c->rank - 1) / 2);
	token += c->rank;
	MPI_Send(&token, 1, MPI_LONG_LONG, next, TAG_RING, MPI_COMM_WORLD);
	return 0;
}

static long long allreduce(struct ctx *c)
{
	long long mine = (long long)(c->rank + 1) * (c->rank + 1), sum = 0;
	long long n = c->size;

	MPI_Allreduce(&mine, &sum, 1, MPI_LONG_LONG, MPI_SUM, MPI_COMM_WORLD);
	if (sum != n * (n + 1) * (2 * n + 1) / 6)
		fail(c, "allreduce sum", sum, n * (n + 1) * (2 * n + 1) / 6);
	return sum;
}

/* Each local rank writes its slot of a shared window, then reads all the others. */
static void shared_window(struct ctx *c)
{
	MPI_Win win;
	long long *mine, *slot;
	MPI_Aint bytes;
	int disp, r;

	MPI_Win_allocate_shared(sizeof(long long), sizeof(long long), MPI_INFO_NULL, c->node, &mine,
				&win);
	MPI_Win_lock_all(MPI_MODE_NOCHECK, win);
	*mine = 1000003LL * (c->rank + 1);
	MPI_Win_sync(win);
	MPI_Barrier(c->node);
	MPI_Win_sync(win);
	for (r = 0; r < c->local_size; r++) {
		int world;
		MPI_Group node_group, world_group;

		MPI_Win_shared_query(win, r, &bytes, &disp, &slot);
		MPI_Comm_group(c->node, &node_group);
		MPI_Comm_group(MPI_COMM_WORLD, &world_group);
		MPI_Group_translate_ranks(node_group, 1, &r, world_group, &world);
		MPI_Group_free(&node_group);
		MPI_Group_free(&world_group);
		if (*slot != 1000003LL * (world + 1))
			fail(c, "shared window slot", *slot, 1000003LL * (world + 1));
	}
	MPI_Win_unlock_all(win);
	MPI_Win_free(&win);
}

/* One exchange of LEN bytes between local ranks 0 (sends first) and 1, echoed back. */
static void ping_pong(struct ctx *c, char *buf, char *back, int len, int seed)
{
	int i;

	if (c->local_rank == 0) {
		for (i = 0; i < len; i++)
			buf[i] = (char)(i * 31 + seed);
		MPI_Send(buf, len, MPI_CHAR, 1, TAG_PING, c->node);
		MPI_Recv(back, len, MPI_CHAR, 1, TAG_PING, c->node, MPI_STATUS_IGNORE);
		if (memcmp(buf, back, (size_t)len) != 0)
			fail(c, "ping-pong echo differs, message bytes", len, len);
	} else if (c->local_rank == 1) {
		MPI_Recv(buf, len, MPI_CHAR, 0, TAG_PING, c->node, MPI_STATUS_IGNORE);
		for (i = 0; i < len; i++)
			if (buf[i] != (char)(i * 31 + seed)) {
				fail(c, "ping-pong message byte", i, -1);
				break;
			}
		MPI_Send(buf, len, MPI_CHAR, 0, TAG_PING, c->node);
	}
}

static void shm_checks(struct ctx *c)
{
	char *buf, *back;

	shared_window(c);
	if (c->local_size < 2 || c->local_rank > 1)
		return;
	buf = malloc(BIG_MSG);
	back = malloc(BIG_MSG);
	if (!buf || !back) {
		fprintf(stderr, "mpi_check: rank %d: out of memory\n", c->rank);
		MPI_Abort(MPI_COMM_WORLD, 1);
	}
	ping_pong(c, buf, back, 8, 1);
	ping_pong(c, buf, back, BIG_MSG, 2);
	free(buf);
	free(back);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median_us(double *t, int n)
{
	qsort(t, (size_t)n, sizeof(*t), cmp_double);
	return 1e6 * (n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2);
}

/* N round trips of 8 bytes between world ranks A and B (A's side times them); returns
 * the median one-way latency in microseconds at rank A, -1 elsewhere. */
static double bench_ping(struct ctx *c, int a, int b, int iters, double *t)
{
	long long msg = 0;
	int i, warm = iters / 10 + 1;

	for (i = -warm; i < iters; i++) {
		double t0 = MPI_Wtime();
		if (c->rank == a) {
			MPI_Send(&msg, 1, MPI_LONG_LONG, b, TAG_PING, MPI_COMM_WORLD);
			MPI_Recv(&msg, 1, MPI_LONG_LONG, b, TAG_PING, MPI_COMM_WORLD,
				 MPI_STATUS_IGNORE);
		} else {
			MPI_Recv(&msg, 1, MPI_LONG_LONG, a, TAG_PING, MPI_COMM_WORLD,
				 MPI_STATUS_IGNORE);
			MPI_Send(&msg, 1, MPI_LONG_LONG, a, TAG_PING, MPI_COMM_WORLD);
		}
		if (i >= 0)
			t[i] = (MPI_Wtime() - t0) / 2;
	}
	return c->rank == a ? median_us(t, iters) : -1;
}

static void print_us(const char *name, double us)
{
	if (us < 0)
		printf(" %s=n/a", name);
	else
		printf(" %s=%.2f", name, us);
}

/* The partners of rank 0: the lowest other rank on its node and the lowest rank on another
 * node (-1 if none), found from every rank's node leader (lowest world rank of its node). */
static void partners(struct ctx *c, int *same, int *other)
{
	int leader, *leaders, r;

	MPI_Allreduce(&c->rank, &leader, 1, MPI_INT, MPI_MIN, c->node);
	leaders = malloc(sizeof(*leaders) * (size_t)c->size);
	if (!leaders)
		MPI_Abort(MPI_COMM_WORLD, 1);
	MPI_Allgather(&leader, 1, MPI_INT, leaders, 1, MPI_INT, MPI_COMM_WORLD);
	*same = *other = -1;
	for (r = c->size - 1; r > 0; r--) {
		if (leaders[r] == leaders[0])
			*same = r;
		else
			*other = r;
	}
	free(leaders);
}

static void bench(struct ctx *c, int iters)
{
	double *t = malloc(sizeof(*t) * (size_t)iters), ar, shm = -1, net = -1;
	long long one = 1, sum;
	int i, same, other, warm = iters / 10 + 1;

	if (!t)
		MPI_Abort(MPI_COMM_WORLD, 1);
	partners(c, &same, &other);
	MPI_Barrier(MPI_COMM_WORLD);
	for (i = -warm; i < iters; i++) {
		double t0 = MPI_Wtime();
		MPI_Allreduce(&one, &sum, 1, MPI_LONG_LONG, MPI_SUM, MPI_COMM_WORLD);
		if (i >= 0)
			t[i] = MPI_Wtime() - t0;
	}
	ar = median_us(t, iters);
	/* rank 0's own median; the others' are close (every iteration ends together) */
	MPI_Barrier(MPI_COMM_WORLD);
	if (same > 0 && (c->rank == 0 || c->rank == same))
		shm = bench_ping(c, 0, same, iters, t);
	MPI_Barrier(MPI_COMM_WORLD);
	if (other > 0 && (c->rank == 0 || c->rank == other))
		net = bench_ping(c, 0, other, iters, t);
	MPI_Barrier(MPI_COMM_WORLD);
	if (c->rank == 0) {
		printf("bench: iterations=%d size=%d", iters, c->size);
		print_us("allreduce_us", ar);
		print_us("shm_pingpong_us", shm);
		print_us("net_pingpong_us", net);
		printf("\n");
		fflush(stdout);
	}
	free(t);
}

static int parse_iters(const char *s)
{
	char *end;
	long v;

	v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || v < 1 || v > INT_MAX / 2)
		return -1;
	return (int)v;
}

int main(int argc, char **argv)
{
	struct ctx c = {0};
	char host[256] = "?";
	long long token, sum;
	int iters = 0, hold = 0, all_failed = 0;

	if (argc == 3 && strcmp(argv[1], "--bench") == 0)
		iters = parse_iters(argv[2]);
	else if (argc == 3 && strcmp(argv[1], "--hold") == 0)
		hold = parse_iters(argv[2]);
	if (iters < 0 || hold < 0 || (argc != 1 && iters == 0 && hold == 0)) {
		fprintf(stderr, "usage: mpi_check [--bench ITERATIONS | --hold SECONDS]\n");
		return 2;
	}

	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &c.rank);
	MPI_Comm_size(MPI_COMM_WORLD, &c.size);
	MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &c.node);
	MPI_Comm_rank(c.node, &c.local_rank);
	MPI_Comm_size(c.node, &c.local_size);
	if (gethostname(host, sizeof(host) - 1) != 0)
		snprintf(host, sizeof(host), "?");

	token = ring(&c);
	sum = allreduce(&c);
	shm_checks(&c);

	printf("rank=%d size=%d host=%s local_rank=%d local_size=%d shm=%s\n", c.rank, c.size, host,
	       c.local_rank, c.local_size,
	       c.failed ? "FAILED" : (c.local_size > 1 ? "ok" : "single"));
	fflush(stdout);

	MPI_Allreduce(&c.failed, &all_failed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
	if (c.rank == 0 && !all_failed) {
		if (token + sum != expected_checksum(c.size))
			fail(&c, "checksum", token + sum, expected_checksum(c.size));
		else
			printf("checksum=%lld\n", token + sum);
		fflush(stdout);
	}
	if (iters > 0 && !all_failed)
		bench(&c, iters);
	if (hold > 0) {
		printf("started rank=%d\n", c.rank);
		fflush(stdout);
		sleep((unsigned)hold);
		MPI_Barrier(MPI_COMM_WORLD);
	}

	MPI_Comm_free(&c.node);
	MPI_Finalize();
	return all_failed || c.failed ? 1 : 0;
}
