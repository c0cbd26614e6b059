/*
 * SPANK_OCI_TIMING=1 in the task's environment asks for one line on the task's stderr:
 * spank-oci's own time since the start mark apart from the time spent waiting for the
 * runtime's and the container's processes (and, in shared mode, for another task creating
 * the step's container), the CPU time of that work, and the time waited.
 */
#ifndef SPANK_OCI_TIMING_H
#define SPANK_OCI_TIMING_H

#include <stdbool.h>
#include <stdint.h>

struct timing_mark {
	uint64_t wall_ns; /* CLOCK_MONOTONIC */
	uint64_t cpu_ns;  /* the process's own CPU time, children not included */
};

bool timing_wanted(char *const *env);
void timing_mark(struct timing_mark *m);
/* "spank-oci: timing: task N: spank-oci X ms (CPU Y ms), runtime and container Z ms" */
void timing_report(uint32_t task_id, const struct timing_mark *start, uint64_t waited_ns);

#endif
