#include "launcher/runtime/runtime.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "common/cleanup.h"
#include "common/xalloc.h"
#include "launcher/runtime/cmdline.h"

void runtime_init(struct runtime *rt, const struct oci_conf *conf,
		  const struct pattern_vars *step_vars, const char *bundle, uint32_t task_id,
		  char *const *env, struct userns *userns, uint64_t *waited_ns)
{
	*rt = (struct runtime){
		.conf = conf,
		.vars = *step_vars,
		.env = env,
		.log_path = xasprintf("%s/runtime.log", bundle),
		.userns = userns,
		.cgroup_fd = -1,
		.waited_ns = waited_ns,
	};
	rt->vars.bundle = bundle;
	rt->vars.task_id = task_id;
}

void runtime_release(struct runtime *rt)
{
	free(rt->log_path);
	rt->log_path = NULL;
}

bool runtime_takes_console(char **words, const char *op)
{
	enum runtime_kind kind = cmdline_runtime_kind(words ? words[0] : NULL);

	/* runc run relays the terminal itself (--console-socket is for runc run -d) */
	if (kind == RUNTIME_OTHER || (kind == RUNTIME_RUNC && strcmp(op, "run") == 0))
		return false;
	return cmdline_subcommand(words, op) > 0 && !cmdline_has_option(words, "--console-socket");
}

/*
 * A command that runs with the task's stdio (run, create) of a runtime spank-oci knows
 * logs to runtime.log, and hands a terminal to spank-oci's relay, unless the template
 * says otherwise.
 */
static void add_known_options(struct runtime *rt, const char *op, char ***argv)
{
	enum runtime_kind kind = cmdline_runtime_kind((*argv)[0]);
	size_t at;

	if (kind == RUNTIME_OTHER)
		return;
	/* set once runtime_takes_console chose this template: the socket goes after op */
	if (rt->console_socket != NULL && (at = cmdline_subcommand(*argv, op)) > 0)
		cmdline_add_console_socket(argv, at, rt->console_socket);
	if (!cmdline_has_option(*argv, "--log"))
		cmdline_add_log(argv, kind, rt->log_path);
}

/* The command for a template, in the runtime's user namespace if it has one. */
static int cmd_init(struct runtime *rt, const char *op, char **words, enum proc_io io,
		    struct proc_cmd *cmd, oci_error_t *err)
{
	char **argv = NULL;

	if (pattern_expand_argv(words, &rt->vars, &argv, err) < 0)
		return -1;
	if (io == PROC_IO_INHERIT)
		add_known_options(rt, op, &argv);
	if (proc_cmd_init(cmd, argv, rt->env, io, err) < 0)
		return -1;
	if (rt->userns != NULL &&
	    userns_fds(rt->userns, &cmd->userns_fd, &cmd->mntns_fd, err) < 0) {
		proc_cmd_release(cmd);
		return oci_error_wrap(err, "%s's user namespace", oci_conf_runtime_name(rt->conf));
	}
	if (io == PROC_IO_INHERIT)
		cmd->cgroup_fd = rt->cgroup_fd;
	return 0;
}

static void add_waited(struct runtime *rt, uint64_t ns)
{
	if (rt->waited_ns != NULL)
		*rt->waited_ns += ns;
}

/* The last error the runtime logged (JSON lines, as runc --log-format json and crun write). */
static char *log_error(const char *log_path)
{
	cleanup_fclose FILE *f = fopen(log_path, "re");
	cleanup_free char *line = NULL;
	char *last = NULL;
	size_t cap = 0;

	while (f != NULL && getline(&line, &cap, f) >= 0) {
		json_t *entry = json_loads(line, 0, NULL);
		const char *level = json_string_value(json_object_get(entry, "level"));
		const char *msg = json_string_value(json_object_get(entry, "msg"));

		if (level != NULL && msg != NULL &&
		    (strcmp(level, "error") == 0 || strcmp(level, "fatal") == 0)) {
			free(last);
			last = xstrdup(msg);
		}
		json_decref(entry);
	}
	return last;
}

static int command_failed(struct runtime *rt, const char *op, const struct proc_cmd *cmd,
			  int wstatus, oci_error_t *err)
{
	cleanup_free char *logged = log_error(rt->log_path);
	const char *name = oci_conf_runtime_name(rt->conf);
	const char *detail = logged ? logged : (cmd->output && *cmd->output ? cmd->output : NULL);

	if (detail != NULL) {
		cleanup_free char *first_line = xstrndup(detail, strcspn(detail, "\n"));
		return oci_error_make(err, 0, "%s %s failed: %s", name, op, first_line);
	}
	if (WIFSIGNALED(wstatus))
		return oci_error_make(err, 0, "%s %s was killed by signal %d", name, op,
				      WTERMSIG(wstatus));
	return oci_error_make(err, 0, "%s %s failed with exit status %d", name, op,
			      WEXITSTATUS(wstatus));
}

/* Runs a template to its end; *out gets what it said (PROC_IO_CAPTURE) if out is set. */
static int command(struct runtime *rt, const char *op, char **words, enum proc_io io, int stdin_fd,
		   char **out, oci_error_t *err)
{
	struct proc_cmd cmd;
	int wstatus, rc;

	if (cmd_init(rt, op, words, io, &cmd, err) < 0)
		return -1;
	cmd.stdin_fd = stdin_fd;
	rc = proc_cmd_run(&cmd, &wstatus, err);
	if (rc == 0) {
		add_waited(rt, cmd.waited_ns);
		if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0)
			rc = command_failed(rt, op, &cmd, wstatus, err);
	}
	if (rc == 0 && out != NULL)
		*out = steal_pointer(&cmd.output);
	proc_cmd_release(&cmd);
	return rc;
}

int runtime_command(struct runtime *rt, const char *op, char **words, enum proc_io io, int stdin_fd,
		    oci_error_t *err)
{
	return command(rt, op, words, io, stdin_fd, NULL, err);
}

int runtime_state_pid(struct runtime *rt, pid_t *pid, oci_error_t *err)
{
	cleanup_free char *output = NULL;
	json_t *state;
	int rc;

	if (command(rt, "state", rt->conf->runtime_query, PROC_IO_CAPTURE, -1, &output, err) < 0)
		return -1;
	state = json_loads(output ? output : "", 0, NULL);
	*pid = (pid_t)json_integer_value(json_object_get(state, "pid"));
	rc = *pid > 0 ? 0
		      : oci_error_make(err, 0, "%s state gave no pid: %s",
				       oci_conf_runtime_name(rt->conf), output ? output : "");
	json_decref(state);
	return rc;
}

/* Runs a configured command, ignoring how it goes. */
static void quietly(struct runtime *rt, char **words)
{
	cleanup_error oci_error_t err = NULL;

	if (words != NULL)
		command(rt, "", words, PROC_IO_CAPTURE, -1, NULL, &err);
}

void runtime_kill_delete(struct runtime *rt)
{
	quietly(rt, rt->conf->runtime_kill);
	quietly(rt, rt->conf->runtime_delete);
}

int runtime_spawn_run(struct runtime *rt, pid_t *pid, oci_error_t *err)
{
	struct proc_cmd cmd;
	int rc;

	if (cmd_init(rt, "run", rt->conf->runtime_run, PROC_IO_INHERIT, &cmd, err) < 0)
		return -1;
	rc = proc_cmd_spawn(&cmd, pid, err);
	proc_cmd_release(&cmd);
	return rc;
}

int runtime_run_error(struct runtime *rt, oci_error_t *err)
{
	cleanup_free char *logged = log_error(rt->log_path);

	if (logged == NULL)
		return 0;
	return oci_error_make(err, 0, "%s: %s", oci_conf_runtime_name(rt->conf), logged);
}
