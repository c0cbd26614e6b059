/*
 * What spank-oci adds to the command lines of the runtimes it knows (runc, crun), where
 * the site's template has none of it: --log and --log-format, so that the runtime's own
 * diagnostics go to the task's runtime.log and reach the user only when it fails; and
 * --console-socket, so that spank-oci relays a container's terminal itself.
 */
#ifndef SPANK_OCI_CMDLINE_H
#define SPANK_OCI_CMDLINE_H

#include <stdbool.h>
#include <stddef.h>

enum runtime_kind {
	RUNTIME_OTHER,
	RUNTIME_RUNC,
	RUNTIME_CRUN,
};

/* Which runtime argv[0] is, by its file name. */
enum runtime_kind cmdline_runtime_kind(const char *argv0);

/* Whether argv holds option `name` ("--log": "--log X" or "--log=X"). */
bool cmdline_has_option(char *const *argv, const char *name);

/* Where the subcommand `sub` ("run", "create") is in argv, or 0 where it is not. */
size_t cmdline_subcommand(char *const *argv, const char *sub);

/* Adds --log PATH and the JSON format the runtime's log is read in (for known runtimes). */
void cmdline_add_log(char ***argv, enum runtime_kind kind, const char *path);

/* Adds --console-socket PATH after the subcommand at index `at`. */
void cmdline_add_console_socket(char ***argv, size_t at, const char *path);

#endif
