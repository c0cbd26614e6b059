/*
 * OCI patterns as Slurm's oci.conf documents them (%% %@ %b %e %j %m %n %p %r %s %t %U %u).
 *
 * A command template is first split into words with shell-like quoting ('...', "...",
 * backslash), then patterns are substituted inside each word. No shell is ever involved:
 * whatever a pattern expands to stays inside its word, so a bundle path such as
 * "/data/my bundle/$(touch x)" is one argv word and nothing executes.
 */
#ifndef SPANK_OCI_PATTERN_H
#define SPANK_OCI_PATTERN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/error.h"

struct pattern_vars {
	const char *bundle;   /* %b: the generated per-task bundle directory */
	const char *env_file; /* %e: the environment file (CreateEnvFile) */
	const char *spool;    /* %m: the per-step directory (ContainerPath) */
	const char *node;     /* %n */
	const char *rootfs;   /* %r: the original path of the rootfs */
	const char *user;     /* %u */
	uint32_t job_id;      /* %j */
	uint32_t step_id;     /* %s */
	uint32_t task_id;     /* %t */
	uid_t uid;	      /* %U */
	pid_t pid;	      /* %p: 0 when not known */
	char *const *argv;    /* %@ */
};

/* Which patterns a template may use (bit per pattern letter). */
enum {
	PATTERN_ALLOW_ARGV = 1 << 0,  /* %@ */
	PATTERN_ALLOW_PID = 1 << 1,   /* %p */
	PATTERN_ALLOW_SPOOL = 1 << 2, /* %m */
	PATTERN_ALLOW_BUNDLE = 1 << 3 /* %b %e */
};

/* How a pattern letter expands. */
enum pattern_how {
	PATTERN_PERCENT, /* %%: a literal percent sign */
	PATTERN_STRING,	 /* a const char * of struct pattern_vars; NULL: no value here */
	PATTERN_NUMBER,	 /* a uint32_t (or uid_t) of struct pattern_vars, in decimal */
	PATTERN_PID,	 /* a pid_t of struct pattern_vars; 0 or less: no value here */
	PATTERN_ARGV,	 /* %@: one word per argument, only in pattern_expand_argv */
};

/* One pattern letter: what pattern_check allows and pattern_expand_word does with it. */
struct pattern_letter {
	char letter;
	unsigned allow;	     /* the PATTERN_ALLOW_* bit a template needs; 0: always allowed */
	const char *refusal; /* the error's words when that bit is missing */
	enum pattern_how how;
	size_t offset; /* of the value in struct pattern_vars */
};

/* Every known letter, the only place that lists them; pattern_letter_count entries. */
extern const struct pattern_letter pattern_letters[];
extern const size_t pattern_letter_count;

/* The row of a letter, or NULL for an unknown one (and for '\0'). */
const struct pattern_letter *pattern_letter_find(char letter);

/*
 * Splits a command template into words. Unquoted shell syntax ($ ` | ; & > < ( )) is an
 * error with a hint: nothing here is a shell.
 */
int pattern_split(const char *tmpl, char ***words, oci_error_t *err);

/* Checks that every %x in word is a known pattern allowed by `allow`. */
int pattern_check(const char *word, unsigned allow, oci_error_t *err);

/* Expands the patterns of one word; %@ is refused here. */
int pattern_expand_word(const char *word, const struct pattern_vars *vars, char **out,
			oci_error_t *err);

/* Expands split words into an argv; a word that is exactly "%@" becomes one word per arg. */
int pattern_expand_argv(char *const *words, const struct pattern_vars *vars, char ***argv,
			oci_error_t *err);

#endif
