#include "conf/pattern.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/strv.h"

/* A growable string. */
struct buf {
	char *s;
	size_t len, cap;
};

static int buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 32;
		char *grown;

		while (cap < b->len + n + 1)
			cap *= 2;
		grown = realloc(b->s, cap);
		if (grown == NULL)
			return -1;
		b->s = grown;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
	return 0;
}

static int buf_addc(struct buf *b, char c)
{
	return buf_add(b, &c, 1);
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
	cleanup_strv char **out = calloc(1, sizeof(char *));
	struct buf word = {0};
	size_t n = 0;
	bool in_word = false;
	const char *p = tmpl;

	if (out == NULL)
		return oci_error_make(err, ENOMEM, "splitting '%s'", tmpl);
	while (true) {
		char c = *p;

		if (c == '\0' || c == ' ' || c == '\t' || c == '\n') {
			if (in_word) {
				if (strv_push_owned(&out, &n, word.s ? word.s : strdup("")) < 0)
					return oci_error_make(err, ENOMEM, "splitting '%s'", tmpl);
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
			if (buf_add(&word, p + 1, end - p - 1) < 0 ||
			    (word.s == NULL && buf_add(&word, "", 0) < 0))
				goto nomem;
			p = end + 1;
		} else if (c == '"') {
			for (p++; *p != '"'; p++) {
				if (*p == '\0')
					goto unterminated;
				if (*p == '\\' && p[1] != '\0' && strchr("\"\\$`", p[1]) != NULL)
					p++;
				if (buf_addc(&word, *p) < 0)
					goto nomem;
			}
			if (word.s == NULL && buf_add(&word, "", 0) < 0)
				goto nomem;
			p++;
		} else if (c == '\\') {
			if (p[1] == '\0') {
				free(word.s);
				return oci_error_make(err, 0, "trailing backslash in '%s'", tmpl);
			}
			if (buf_addc(&word, p[1]) < 0)
				goto nomem;
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
			if (buf_addc(&word, c) < 0)
				goto nomem;
			p++;
		}
	}
	*words = steal_pointer(&out);
	return 0;
unterminated:
	free(word.s);
	return oci_error_make(err, 0, "unterminated quote in '%s'", tmpl);
nomem:
	free(word.s);
	return oci_error_make(err, ENOMEM, "splitting '%s'", tmpl);
}

int pattern_check(const char *word, unsigned allow, oci_error_t *err)
{
	for (const char *p = strchr(word, '%'); p != NULL; p = strchr(p + 1, '%')) {
		char c = p[1];

		switch (c) {
		case '%':
			p++;
			continue;
		case 'j':
		case 'n':
		case 'r':
		case 's':
		case 't':
		case 'u':
		case 'U':
			continue;
		case '@':
			if (!(allow & PATTERN_ALLOW_ARGV))
				return oci_error_make(err, 0, "%%@ is not allowed in '%s'", word);
			if (p != word || p[2] != '\0')
				return oci_error_make(
					err, 0,
					"%%@ must be a word of its own in '%s' (it expands to "
					"one word per argument)",
					word);
			continue;
		case 'p':
			if (!(allow & PATTERN_ALLOW_PID))
				return oci_error_make(
					err, 0,
					"%%p is only for RunTimeKill and RunTimeDelete, in "
					"'%s'",
					word);
			continue;
		case 'm':
			if (!(allow & PATTERN_ALLOW_SPOOL))
				return oci_error_make(err, 0, "%%m is not allowed in '%s'", word);
			continue;
		case 'b':
		case 'e':
			if (!(allow & PATTERN_ALLOW_BUNDLE))
				return oci_error_make(err, 0, "%%%c is not allowed in '%s'", c,
						      word);
			continue;
		case '\0':
			return oci_error_make(
				err, 0, "lone %% at the end of '%s' (write %%%% for %%)", word);
		default:
			return oci_error_make(err, 0, "unknown pattern %%%c in '%s'", c, word);
		}
	}
	return 0;
}

static int add_number(struct buf *b, unsigned long v)
{
	char num[24];
	int n = snprintf(num, sizeof(num), "%lu", v);

	return buf_add(b, num, (size_t)n);
}

static int add_string(struct buf *b, const char *s, char pattern, oci_error_t *err)
{
	if (s == NULL)
		return oci_error_make(err, 0, "pattern %%%c has no value here", pattern);
	return buf_add(b, s, strlen(s)) < 0 ? oci_error_make(err, ENOMEM, "expanding %%%c", pattern)
					    : 0;
}

int pattern_expand_word(const char *word, const struct pattern_vars *v, char **out,
			oci_error_t *err)
{
	struct buf b = {0};
	int rc = 0;

	if (buf_add(&b, "", 0) < 0)
		return oci_error_make(err, ENOMEM, "expanding '%s'", word);
	for (const char *p = word; *p != '\0' && rc == 0; p++) {
		if (*p != '%') {
			rc = buf_addc(&b, *p) < 0 ? oci_error_make(err, ENOMEM, "expanding") : 0;
			continue;
		}
		p++;
		switch (*p) {
		case '%':
			rc = buf_addc(&b, '%');
			break;
		case 'b':
			rc = add_string(&b, v->bundle, 'b', err);
			break;
		case 'e':
			rc = add_string(&b, v->env_file, 'e', err);
			break;
		case 'm':
			rc = add_string(&b, v->spool, 'm', err);
			break;
		case 'n':
			rc = add_string(&b, v->node, 'n', err);
			break;
		case 'r':
			rc = add_string(&b, v->rootfs, 'r', err);
			break;
		case 'u':
			rc = add_string(&b, v->user, 'u', err);
			break;
		case 'j':
			rc = add_number(&b, v->job_id);
			break;
		case 's':
			rc = add_number(&b, v->step_id);
			break;
		case 't':
			rc = add_number(&b, v->task_id);
			break;
		case 'U':
			rc = add_number(&b, (unsigned long)v->uid);
			break;
		case 'p':
			if (v->pid <= 0)
				rc = oci_error_make(err, 0, "pattern %%p has no value here");
			else
				rc = add_number(&b, (unsigned long)v->pid);
			break;
		case '\0':
			rc = oci_error_make(err, 0, "lone %% at the end of '%s'", word);
			p--;
			break;
		default:
			rc = oci_error_make(err, 0, "unknown pattern %%%c in '%s'", *p, word);
			break;
		}
		if (rc < 0 && err != NULL && *err == NULL)
			oci_error_make(err, ENOMEM, "expanding '%s'", word);
	}
	if (rc < 0) {
		free(b.s);
		return -1;
	}
	*out = b.s;
	return 0;
}

int pattern_expand_argv(char *const *words, const struct pattern_vars *v, char ***argv,
			oci_error_t *err)
{
	cleanup_strv char **out = calloc(1, sizeof(char *));
	size_t n = 0;

	if (out == NULL)
		return oci_error_make(err, ENOMEM, "expanding a command");
	for (size_t i = 0; words[i] != NULL; i++) {
		char *word = NULL;

		if (strcmp(words[i], "%@") == 0) {
			for (size_t a = 0; v->argv != NULL && v->argv[a] != NULL; a++) {
				if (strv_push(&out, &n, v->argv[a]) < 0)
					return oci_error_make(err, ENOMEM, "expanding %%@");
			}
			continue;
		}
		if (pattern_expand_word(words[i], v, &word, err) < 0)
			return -1;
		if (strv_push_owned(&out, &n, word) < 0)
			return oci_error_make(err, ENOMEM, "expanding a command");
	}
	*argv = steal_pointer(&out);
	return 0;
}
