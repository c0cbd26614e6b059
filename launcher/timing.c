#include "launcher/timing.h"

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "common/messages.h"
#include "common/proc.h"
#include "common/strv.h"

bool timing_wanted(char *const *env)
{
	const char *v = strv_env_get(env, "SPANK_OCI_TIMING");

	return v != NULL && *v != '\0' && strcmp(v, "0") != 0;
}

void timing_mark(struct timing_mark *m)
{
	struct rusage ru;

	m->wall_ns = proc_now_ns();
	m->cpu_ns = 0;
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		m->cpu_ns = (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000u +
			    (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000u;
}

void timing_report(uint32_t task_id, const struct timing_mark *start, uint64_t waited_ns)
{
	struct timing_mark now;
	uint64_t total, own;

	timing_mark(&now);
	total = now.wall_ns - start->wall_ns;
	own = total > waited_ns ? total - waited_ns : 0;
	fprintf(stderr,
		SPANK_OCI_PREFIX "timing: task %u: spank-oci %.3f ms (CPU %.3f ms), runtime and "
				 "container %.3f ms\n",
		task_id, (double)own / 1e6, (double)(now.cpu_ns - start->cpu_ns) / 1e6,
		(double)waited_ns / 1e6);
	fflush(stderr);
}
