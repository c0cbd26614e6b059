#include "conf/pattern.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/strv.h"
#include "common/xalloc.h"

#define VAR(field) offsetof(struct pattern_vars, field)
#define NOT_ALLOWED "is not allowed"

_Static_assert(sizeof(uid_t) == sizeof(uint32_t), "%U is read as a uint32_t");

const struct pattern_letter pattern_letters[] = {
	{'%', 0, NULL, PATTERN_PERCENT, 0},
	{'@', PATTERN_ALLOW_ARGV, NOT_ALLOWED, PATTERN_ARGV, VAR(argv)},
	{'b', PATTERN_ALLOW_BUNDLE, NOT_ALLOWED, PATTERN_STRING, VAR(bundle)},
	{'e', PATTERN_ALLOW_BUNDLE, NOT_ALLOWED, PATTERN_STRING, VAR(env_file)},
	{'j', 0, NULL, PATTERN_NUMBER, VAR(job_id)},
	{'m', PATTERN_ALLOW_SPOOL, NOT_ALLOWED, PATTERN_STRING, VAR(spool)},
	{'n', 0, NULL, PATTERN_STRING, VAR(node)},
	{'p', PATTERN_ALLOW_PID, "is only for RunTimeKill and RunTimeDelete,", PATTERN_PID,
	 VAR(pid)},
	{'r', 0, NULL, PATTERN_STRING, VAR(rootfs)},
	{'s', 0, NULL, PATTERN_NUMBER, VAR(step_id)},
	{'t', 0, NULL, PATTERN_NUMBER, VAR(task_id)},
	{'U', 0, NULL, PATTERN_NUMBER, VAR(uid)},
	{'u', 0, NULL, PATTERN_STRING, VAR(user)},
};
const size_t pattern_letter_count = sizeof(pattern_letters) / sizeof(pattern_letters[0]);

const struct pattern_letter *pattern_letter_find(char letter)
{
	for (size_t i = 0; letter != '\0' && i < pattern_letter_count; i++) {
		if (pattern_letters[i].letter == letter)
			return &pattern_letters[i];
	}
	return NULL;
}

/* A growable string; never NULL once something (even "") was added. */
struct buf {
	char *s;
	size_t len, cap;
};

static void buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 32;

		while (cap < b->len + n + 1)
			cap *= 2;
		b->s = xrealloc(b->s, cap);
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void buf_addc(struct buf *b, char c)
{
	buf_add(b, &c, 1);
}

static const char *shell_syntax_at(const char *p)
{
	static const char *const syntax[] = {"&&", "||", "$", "`", "|", ";",
					     "&",  ">",	 "<", "(", ")"};

	for (size_t i = 0; i < sizeof(syntax) / sizeof(syntax[0]); i++) {
		if (strncmp(p, syntax[i], strlen(syntax[i])) == 0)
			return syntax[i];
	}
	return NULL;
}

int pattern_split(const char *tmpl, char ***words, oci_error_t *err)
{
	cleanup_strv char **out = xcalloc(1, sizeof(char *));
	struct buf word = {0};
	size_t n = 0;
	bool in_word = false;
	const char *p = tmpl;

	while (true) {
		char c = *p;

		if (c == '\0' || c == ' ' || c == '\t' || c == '\n') {
			if (in_word) {
				buf_add(&word, "", 0); /* an empty quoted word is a word */
				strv_push_owned(&out, &n, word.s);
				word = (struct buf){0};
				in_word = false;
			}
			if (c == '\0')
				break;
			p++;
			continue;
		}
		in_word = true;
		if (c == '\'') {
			const char *end = strchr(p + 1, '\'');
			if (end == NULL)
				goto unterminated;
			buf_add(&word, p + 1, end - p - 1);
			p = end + 1;
		} else if (c == '"') {
			for (p++; *p != '"'; p++) {
				if (*p == '\0')
					goto unterminated;
				if (*p == '\\' && p[1] != '\0' && strchr("\"\\$`", p[1]) != NULL)
					p++;
				buf_addc(&word, *p);
			}
			p++;
		} else if (c == '\\') {
			if (p[1] == '\0') {
				free(word.s);
				return oci_error_make(err, 0, "trailing backslash in '%s'", tmpl);
			}
			buf_addc(&word, p[1]);
			p += 2;
		} else {
			const char *syntax = shell_syntax_at(p);
			if (syntax != NULL) {
				free(word.s);
				return oci_error_make(
					err, 0,
					"shell syntax '%s' outside quotes in '%s': spank-oci runs "
					"no shell; quote it if it is meant literally, or put the "
					"commands in a script and name the script",
					syntax, tmpl);
			}
			buf_addc(&word, c);
			p++;
		}
	}
	*words = steal_pointer(&out);
	return 0;
unterminated:
	free(word.s);
	return oci_error_make(err, 0, "unterminated quote in '%s'", tmpl);
}

int pattern_check(const char *word, unsigned allow, oci_error_t *err)
{
	for (const char *p = strchr(word, '%'); p != NULL; p = strchr(p + 1, '%')) {
		const struct pattern_letter *l = pattern_letter_find(p[1]);

		if (p[1] == '\0')
			return oci_error_make(
				err, 0, "lone %% at the end of '%s' (write %%%% for %%)", word);
		if (l == NULL)
			return oci_error_make(err, 0, "unknown pattern %%%c in '%s'", p[1], word);
		if (l->how == PATTERN_PERCENT) {
			p++;
			continue;
		}
		if (l->allow != 0 && !(allow & l->allow))
			return oci_error_make(err, 0, "%%%c %s in '%s'", l->letter, l->refusal,
					      word);
		if (l->how == PATTERN_ARGV && (p != word || p[2] != '\0'))
			return oci_error_make(
				err, 0,
				"%%@ must be a word of its own in '%s' (it expands to "
				"one word per argument)",
				word);
	}
	return 0;
}

static void add_number(struct buf *b, unsigned long v)
{
	char num[24];
	int n = snprintf(num, sizeof(num), "%lu", v);

	buf_add(b, num, (size_t)n);
}

/* Appends the value of one letter (not %@, which only pattern_expand_argv expands). */
static int add_letter(struct buf *b, const struct pattern_letter *l, const struct pattern_vars *v,
		      oci_error_t *err)
{
	const char *at = (const char *)v + l->offset;
	const char *s;
	uint32_t number;
	pid_t pid;

	switch (l->how) {
	case PATTERN_PERCENT:
		buf_addc(b, '%');
		return 0;
	case PATTERN_STRING:
		memcpy(&s, at, sizeof(s));
		if (s == NULL)
			break;
		buf_add(b, s, strlen(s));
		return 0;
	case PATTERN_NUMBER:
		memcpy(&number, at, sizeof(number));
		add_number(b, number);
		return 0;
	case PATTERN_PID:
		memcpy(&pid, at, sizeof(pid));
		if (pid <= 0)
			break;
		add_number(b, (unsigned long)pid);
		return 0;
	case PATTERN_ARGV: /* refused by pattern_expand_word */
		break;
	}
	return oci_error_make(err, 0, "pattern %%%c has no value here", l->letter);
}

int pattern_expand_word(const char *word, const struct pattern_vars *v, char **out,
			oci_error_t *err)
{
	struct buf b = {0};

	buf_add(&b, "", 0);
	for (const char *p = word; *p != '\0'; p++) {
		const struct pattern_letter *l;

		if (*p != '%') {
			buf_addc(&b, *p);
			continue;
		}
		p++;
		l = pattern_letter_find(*p);
		if (*p == '\0') {
			oci_error_make(err, 0, "lone %% at the end of '%s'", word);
			goto fail;
		}
		if (l == NULL || l->how == PATTERN_ARGV) {
			oci_error_make(err, 0, "unknown pattern %%%c in '%s'", *p, word);
			goto fail;
		}
		if (add_letter(&b, l, v, err) < 0)
			goto fail;
	}
	*out = b.s;
	return 0;
fail:
	free(b.s);
	return -1;
}

int pattern_expand_argv(char *const *words, const struct pattern_vars *v, char ***argv,
			oci_error_t *err)
{
	cleanup_strv char **out = xcalloc(1, sizeof(char *));
	size_t n = 0;

	for (size_t i = 0; words[i] != NULL; i++) {
		char *word = NULL;

		if (strcmp(words[i], "%@") == 0) {
			for (size_t a = 0; v->argv != NULL && v->argv[a] != NULL; a++)
				strv_push(&out, &n, v->argv[a]);
			continue;
		}
		if (pattern_expand_word(words[i], v, &word, err) < 0)
			return -1;
		strv_push_owned(&out, &n, word);
	}
	*argv = steal_pointer(&out);
	return 0;
}
