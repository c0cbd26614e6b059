#include "launcher/task.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

void task_node_name(char *buf, size_t len)
{
	if (gethostname(buf, len) < 0)
		snprintf(buf, len, "localhost");
	buf[len - 1] = '\0';
	buf[strcspn(buf, ".")] = '\0';
}
