#include "launcher/runtime/cmdline.h"

#include <stdlib.h>
#include <string.h>

#include "common/strv.h"
#include "common/xalloc.h"

enum runtime_kind cmdline_runtime_kind(const char *argv0)
{
	const char *slash = argv0 ? strrchr(argv0, '/') : NULL;
	const char *name = slash ? slash + 1 : argv0;

	if (name == NULL)
		return RUNTIME_OTHER;
	if (strcmp(name, "runc") == 0)
		return RUNTIME_RUNC;
	if (strcmp(name, "crun") == 0)
		return RUNTIME_CRUN;
	return RUNTIME_OTHER;
}

static bool is_option(const char *word, const char *name)
{
	size_t n = strlen(name);

	return strncmp(word, name, n) == 0 && (word[n] == '\0' || word[n] == '=');
}

bool cmdline_has_option(char *const *argv, const char *name)
{
	for (size_t i = 1; argv != NULL && argv[i] != NULL; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (is_option(argv[i], name))
			return true;
	}
	return false;
}

/* The global options of runc and crun that take their value as the next word. */
static bool takes_value(const char *word)
{
	static const char *const with_value[] = {"--root",	    "--log",  "--log-format",
						 "--log-level",	    "--criu", "--rootless",
						 "--cgroup-manager"};

	for (size_t i = 0; i < sizeof(with_value) / sizeof(with_value[0]); i++) {
		if (strcmp(word, with_value[i]) == 0)
			return true;
	}
	return false;
}

size_t cmdline_subcommand(char *const *argv, const char *sub)
{
	for (size_t i = 1; argv != NULL && argv[i] != NULL; i++) {
		if (argv[i][0] != '-')
			return strcmp(argv[i], sub) == 0 ? i : 0;
		if (takes_value(argv[i]) && argv[i + 1] != NULL)
			i++;
	}
	return 0;
}

/* Inserts words (NULL-terminated) at index `at` of argv. */
static void insert_words(char ***argv, size_t at, const char *const *words)
{
	size_t len = strv_len(*argv), add = 0;
	char **v;

	while (words[add] != NULL)
		add++;
	v = xcalloc(len + add + 1, sizeof(char *));
	memcpy(v, *argv, at * sizeof(char *));
	for (size_t i = 0; i < add; i++)
		v[at + i] = xstrdup(words[i]);
	memcpy(v + at + add, *argv + at, (len - at) * sizeof(char *));
	free(*argv);
	*argv = v;
}

void cmdline_add_log(char ***argv, enum runtime_kind kind, const char *path)
{
	if (kind == RUNTIME_CRUN) {
		char *log = xasprintf("--log=file:%s", path);
		const char *words[] = {log, "--log-format=json", NULL};

		insert_words(argv, 1, words);
		free(log);
	} else {
		const char *words[] = {"--log", path, "--log-format", "json", NULL};

		insert_words(argv, 1, words);
	}
}

void cmdline_add_console_socket(char ***argv, size_t at, const char *path)
{
	const char *words[] = {"--console-socket", path, NULL};

	insert_words(argv, at + 1, words);
}
