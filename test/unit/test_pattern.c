/* conf/pattern.c: splitting command templates into words and substituting %x patterns. */
#include "unit.h"

#include "conf/pattern.h"
#include "common/strv.h"

#define WORDS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define NO_WORDS ((const char *const[]){NULL})

enum {
	ALLOW_ALL =
		PATTERN_ALLOW_ARGV | PATTERN_ALLOW_PID | PATTERN_ALLOW_SPOOL | PATTERN_ALLOW_BUNDLE
};

/* Fails unless got holds exactly the words of want, in order. */
static void assert_strv_equal(char *const *got, const char *const *want, const char *what)
{
	size_t i;

	assert_non_null(got);
	for (i = 0; want[i] != NULL; i++) {
		if (got[i] == NULL)
			fail_msg("%s: word %zu missing, expected '%s'", what, i, want[i]);
		if (strcmp(got[i], want[i]) != 0)
			fail_msg("%s: word %zu is '%s', expected '%s'", what, i, got[i], want[i]);
	}
	if (got[i] != NULL)
		fail_msg("%s: unexpected extra word %zu '%s'", what, i, got[i]);
}

static void expect_split(const char *tmpl, const char *const *want)
{
	cleanup_error oci_error_t err = NULL;
	cleanup_strv char **words = NULL;

	assert_ok(pattern_split(tmpl, &words, &err), err);
	assert_strv_equal(words, want, tmpl);
}

static void expect_split_error(const char *tmpl, const char *sub)
{
	cleanup_error oci_error_t err = NULL;
	cleanup_strv char **words = NULL;

	if (pattern_split(tmpl, &words, &err) == 0)
		fail_msg("'%s' split without error", tmpl);
	assert_null(words);
	assert_error_has(err, sub);
}

/* ---- pattern_split ---------------------------------------------------------------------- */

static void split_plain_words(void **state)
{
	(void)state;
	expect_split("runc --root /run/x run", WORDS("runc", "--root", "/run/x", "run"));
	expect_split("single", WORDS("single"));
	expect_split("", NO_WORDS);
	expect_split("  \t ", NO_WORDS);
}

static void split_collapses_spaces_and_tabs(void **state)
{
	(void)state;
	expect_split("  a \t\t b   c\t", WORDS("a", "b", "c"));
	expect_split("a\nb", WORDS("a", "b"));
}

static void split_single_quotes_are_literal(void **state)
{
	(void)state;
	expect_split("echo 'a $(x) | b; c && d'", WORDS("echo", "a $(x) | b; c && d"));
	expect_split("'back\\slash' '\"dq\"'", WORDS("back\\slash", "\"dq\""));
	expect_split("'`id` > /etc/passwd'", WORDS("`id` > /etc/passwd"));
}

static void split_double_quotes_and_their_escapes(void **state)
{
	(void)state;
	expect_split("\"a b\"", WORDS("a b"));
	expect_split("\"say \\\"hi\\\"\"", WORDS("say \"hi\""));
	expect_split("\"a\\\\b\"", WORDS("a\\b"));
	expect_split("\"\\$HOME\"", WORDS("$HOME"));
	expect_split("\"\\`id\\`\"", WORDS("`id`"));
	/* any other backslash stays, as in sh */
	expect_split("\"a\\nb\"", WORDS("a\\nb"));
	expect_split("\"\\'\"", WORDS("\\'"));
	/* nothing inside double quotes is shell syntax here: no shell runs */
	expect_split("\"a | b; $(c)\"", WORDS("a | b; $(c)"));
	expect_split("\"it's\"", WORDS("it's"));
}

static void split_backslash_outside_quotes(void **state)
{
	(void)state;
	expect_split("a\\ b c", WORDS("a b", "c"));
	expect_split("\\$HOME \\| \\;", WORDS("$HOME", "|", ";"));
	expect_split("\\'x\\\"", WORDS("'x\""));
	expect_split("a\\\\b", WORDS("a\\b"));
}

static void split_empty_quoted_words(void **state)
{
	(void)state;
	expect_split("''", WORDS(""));
	expect_split("\"\"", WORDS(""));
	expect_split("a '' b \"\" c", WORDS("a", "", "b", "", "c"));
}

static void split_adjacent_parts_join(void **state)
{
	(void)state;
	expect_split("a'b c'\"d\"", WORDS("ab cd"));
	expect_split("--opt='x y'z next", WORDS("--opt=x yz", "next"));
	expect_split("''x", WORDS("x"));
}

static void split_unterminated_quotes(void **state)
{
	(void)state;
	expect_split_error("echo 'abc", "unterminated quote");
	expect_split_error("echo \"abc", "unterminated quote");
	expect_split_error("echo \"abc\\\"", "unterminated quote");
	expect_split_error("'", "unterminated quote");
}

static void split_trailing_backslash(void **state)
{
	(void)state;
	expect_split_error("runc run\\", "trailing backslash");
	expect_split_error("\\", "trailing backslash");
}

static void split_refuses_shell_syntax(void **state)
{
	static const struct {
		const char *tmpl, *syntax;
	} cases[] = {
		{"echo $HOME", "'$'"}, {"echo a$(id)", "'$'"}, {"echo `id`", "'`'"},
		{"a | b", "'|'"},      {"a|b", "'|'"},	       {"a ; b", "';'"},
		{"a;", "';'"},	       {"a & b", "'&'"},       {"a && b", "'&&'"},
		{"a || b", "'||'"},    {"a > f", "'>'"},       {"a >f", "'>'"},
		{"a < f", "'<'"},      {"(a)", "'('"},	       {"a )", "')'"},
		{"x 'ok' | y", "'|'"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cleanup_error oci_error_t err = NULL;
		cleanup_strv char **words = NULL;

		if (pattern_split(cases[i].tmpl, &words, &err) == 0)
			fail_msg("'%s' split without error", cases[i].tmpl);
		assert_null(words);
		assert_error_has(err, "shell syntax");
		assert_error_has(err, cases[i].syntax);
		/* and the whole template, so the user finds the line */
		assert_error_has(err, cases[i].tmpl);
	}
}

/* ---- pattern_check ---------------------------------------------------------------------- */

static void expect_check_ok(const char *word, unsigned allow)
{
	cleanup_error oci_error_t err = NULL;

	if (pattern_check(word, allow, &err) != 0)
		fail_msg("'%s' (allow %#x) refused: %s", word, allow, oci_error_text(err));
}

static void expect_check_error(const char *word, unsigned allow, const char *sub)
{
	cleanup_error oci_error_t err = NULL;

	if (pattern_check(word, allow, &err) == 0)
		fail_msg("'%s' (allow %#x) accepted", word, allow);
	assert_error_has(err, sub);
}

static void check_accepts_known_patterns(void **state)
{
	static const char *const always[] = {"%%",    "x%%y", "%j", "%n", "%r",
					     "%s",    "%t",   "%U", "%u", "/a/%u.%j.%s.%t",
					     "100%%", "plain"};

	(void)state;
	for (size_t i = 0; i < sizeof(always) / sizeof(always[0]); i++) {
		expect_check_ok(always[i], 0);
		expect_check_ok(always[i], ALLOW_ALL);
	}
	expect_check_ok("%@", PATTERN_ALLOW_ARGV);
	expect_check_ok("%p", PATTERN_ALLOW_PID);
	expect_check_ok("%m/runc", PATTERN_ALLOW_SPOOL);
	expect_check_ok("%b", PATTERN_ALLOW_BUNDLE);
	expect_check_ok("%b/config.json", PATTERN_ALLOW_BUNDLE);
	expect_check_ok("--env-file=%e", PATTERN_ALLOW_BUNDLE);
	/* %% then a letter is a literal percent sign followed by that letter */
	expect_check_ok("%%x", 0);
	expect_check_ok("%%p", 0);
}

static void check_rejects_unknown_pattern(void **state)
{
	(void)state;
	expect_check_error("%x", ALLOW_ALL, "unknown pattern %x");
	expect_check_error("/a/%J", ALLOW_ALL, "unknown pattern %J");
	expect_check_error("a%-b", ALLOW_ALL, "unknown pattern %-");
	expect_check_error("%%%q", ALLOW_ALL, "unknown pattern %q");
}

static void check_rejects_lone_percent(void **state)
{
	(void)state;
	expect_check_error("abc%", ALLOW_ALL, "lone %");
	expect_check_error("%", ALLOW_ALL, "lone %");
	expect_check_error("%%%", ALLOW_ALL, "lone %");
}

static void check_argv_must_be_whole_word(void **state)
{
	(void)state;
	expect_check_error("a%@", ALLOW_ALL, "word of its own");
	expect_check_error("%@b", ALLOW_ALL, "word of its own");
	expect_check_error("%@%@", ALLOW_ALL, "word of its own");
	expect_check_error("%@", ALLOW_ALL & ~PATTERN_ALLOW_ARGV, "%@ is not allowed");
}

static void check_restricted_patterns(void **state)
{
	(void)state;
	expect_check_error("%p", ALLOW_ALL & ~PATTERN_ALLOW_PID, "%p is only for RunTimeKill");
	expect_check_error("kill-%p", 0, "%p");
	expect_check_error("%m", ALLOW_ALL & ~PATTERN_ALLOW_SPOOL, "%m is not allowed");
	expect_check_error("%b", ALLOW_ALL & ~PATTERN_ALLOW_BUNDLE, "%b is not allowed");
	expect_check_error("%e", ALLOW_ALL & ~PATTERN_ALLOW_BUNDLE, "%e is not allowed");
	/* the error names the word */
	expect_check_error("--bundle=%b", 0, "'--bundle=%b'");
}

/* ---- pattern_expand_word ---------------------------------------------------------------- */

static const struct pattern_vars full_vars = {
	.bundle = "/spool/task.7",
	.env_file = "/spool/task.7/environment",
	.spool = "/spool",
	.node = "node-1",
	.rootfs = "/images/alpine",
	.user = "alice",
	.job_id = 42,
	.step_id = 4294967294u, /* SLURM_BATCH_SCRIPT: unsigned, never negative */
	.task_id = 7,
	.uid = 1000,
	.pid = 31337,
	.argv = NULL,
};

static void expect_expand(const struct pattern_vars *v, const char *word, const char *want)
{
	cleanup_error oci_error_t err = NULL;
	cleanup_free char *out = NULL;

	assert_ok(pattern_expand_word(word, v, &out, &err), err);
	assert_non_null(out);
	if (strcmp(out, want) != 0)
		fail_msg("'%s' expanded to '%s', expected '%s'", word, out, want);
}

static void expect_expand_error(const struct pattern_vars *v, const char *word, const char *sub)
{
	cleanup_error oci_error_t err = NULL;
	cleanup_free char *out = NULL;

	if (pattern_expand_word(word, v, &out, &err) == 0)
		fail_msg("'%s' expanded to '%s' without error", word, out);
	assert_null(out);
	assert_error_has(err, sub);
}

static void expand_every_pattern(void **state)
{
	(void)state;
	expect_expand(&full_vars, "%b", "/spool/task.7");
	expect_expand(&full_vars, "%e", "/spool/task.7/environment");
	expect_expand(&full_vars, "%m", "/spool");
	expect_expand(&full_vars, "%n", "node-1");
	expect_expand(&full_vars, "%r", "/images/alpine");
	expect_expand(&full_vars, "%u", "alice");
	expect_expand(&full_vars, "%j", "42");
	expect_expand(&full_vars, "%s", "4294967294");
	expect_expand(&full_vars, "%t", "7");
	expect_expand(&full_vars, "%U", "1000");
	expect_expand(&full_vars, "%p", "31337");
	expect_expand(&full_vars, "%%", "%");
	expect_expand(&full_vars, "100%%-%%j", "100%-%j");
	expect_expand(&full_vars, "", "");
	expect_expand(&full_vars, "plain", "plain");
	expect_expand(&full_vars, "%m/runc/%u.%j.%s.%t", "/spool/runc/alice.42.4294967294.7");
	expect_expand(&full_vars, "--log=%b/runtime.log", "--log=/spool/task.7/runtime.log");
}

static void expand_numbers_are_decimal(void **state)
{
	struct pattern_vars v = full_vars;

	(void)state;
	v.job_id = 255;
	v.step_id = 0;
	v.task_id = 10;
	v.uid = 65534;
	v.pid = 16;
	expect_expand(&v, "%j %s %t %U %p", "255 0 10 65534 16");
}

static void expand_keeps_hostile_value_in_one_word(void **state)
{
	cleanup_error oci_error_t err = NULL;
	cleanup_strv char **words = NULL, **argv = NULL;
	struct pattern_vars v = full_vars;

	(void)state;
	v.bundle = "/data/my bundle/$(touch x)";
	v.user = "a b;c";
	expect_expand(&v, "%b", "/data/my bundle/$(touch x)");
	assert_ok(pattern_split("/usr/bin/runc run --bundle %b %u.%j", &words, &err), err);
	assert_ok(pattern_expand_argv(words, &v, &argv, &err), err);
	assert_strv_equal(
		argv,
		WORDS("/usr/bin/runc", "run", "--bundle", "/data/my bundle/$(touch x)", "a b;c.42"),
		"expanded command");
}

static void expand_missing_values(void **state)
{
	struct pattern_vars none = {0};
	struct pattern_vars v;

	(void)state;
	expect_expand_error(&none, "%b", "%b has no value");
	expect_expand_error(&none, "--env=%e", "%e has no value");
	expect_expand_error(&none, "%m/x", "%m has no value");
	expect_expand_error(&none, "%n", "%n has no value");
	expect_expand_error(&none, "%r", "%r has no value");
	expect_expand_error(&none, "%u", "%u has no value");
	expect_expand_error(&none, "%p", "%p has no value");
	v = full_vars;
	v.pid = 0;
	expect_expand_error(&v, "kill %p", "%p has no value");
	v = full_vars;
	v.bundle = NULL;
	expect_expand_error(&v, "%m/%b", "%b has no value");
	/* numbers always have a value, 0 included */
	expect_expand(&none, "%j.%s.%t.%U", "0.0.0.0");
}

static void expand_word_refuses_bad_patterns(void **state)
{
	(void)state;
	expect_expand_error(&full_vars, "%x", "unknown pattern %x");
	expect_expand_error(&full_vars, "abc%", "lone %");
	/* %@ is only for pattern_expand_argv */
	expect_expand_error(&full_vars, "%@", "%@");
}

/* ---- pattern_expand_argv ---------------------------------------------------------------- */

static void expect_argv(char *const *argv, const char *const *words, const char *const *want)
{
	cleanup_error oci_error_t err = NULL;
	cleanup_strv char **out = NULL;
	struct pattern_vars v = full_vars;

	v.argv = argv;
	assert_ok(pattern_expand_argv((char *const *)words, &v, &out, &err), err);
	assert_strv_equal(out, want, "expanded argv");
}

static void expand_argv_one_word_per_arg(void **state)
{
	char *const task_argv[] = {"printf", "%s\\n", "A B", "", "$(id)", NULL};
	char *const empty_argv[] = {NULL};

	(void)state;
	expect_argv(task_argv, WORDS("runc", "exec", "%@", "--", "%j.%t"),
		    WORDS("runc", "exec", "printf", "%s\\n", "A B", "", "$(id)", "--", "42.7"));
	expect_argv(task_argv, WORDS("%@"), WORDS("printf", "%s\\n", "A B", "", "$(id)"));
	expect_argv(empty_argv, WORDS("runc", "%@", "end"), WORDS("runc", "end"));
	expect_argv(NULL, WORDS("runc", "%@"), WORDS("runc"));
	expect_argv(task_argv, NO_WORDS, NO_WORDS);
}

static void expand_argv_error_in_a_word(void **state)
{
	cleanup_error oci_error_t err = NULL;
	cleanup_strv char **out = NULL;
	struct pattern_vars v = full_vars;

	(void)state;
	v.pid = 0;
	if (pattern_expand_argv((char *const *)WORDS("runc", "kill", "%p"), &v, &out, &err) == 0)
		fail_msg("%%p without a pid expanded");
	assert_null(out);
	assert_error_has(err, "%p has no value");
}

/* ---- the letter table ------------------------------------------------------------------ */

static void letter_table_lists_the_documented_letters(void **state)
{
	static const char documented[] = "%@bejmnprstUu"; /* pattern.h, after Slurm's oci.conf */
	char seen[128] = {0};

	(void)state;
	assert_int_equal(pattern_letter_count, strlen(documented));
	for (size_t i = 0; i < pattern_letter_count; i++) {
		const struct pattern_letter *l = &pattern_letters[i];

		assert_non_null(strchr(documented, l->letter));
		assert_int_equal(seen[(unsigned char)l->letter]++, 0); /* once each */
		assert_ptr_equal(pattern_letter_find(l->letter), l);
		/* a letter that needs a bit says why it is refused without it */
		assert_int_equal(l->allow != 0, l->refusal != NULL);
	}
	assert_null(pattern_letter_find('\0'));
	assert_null(pattern_letter_find('x'));
}

/* What the row of a letter expands to with vars, written out from its value. */
static char *expected_expansion(const struct pattern_letter *l, const struct pattern_vars *v)
{
	const char *at = (const char *)v + l->offset;

	switch (l->how) {
	case PATTERN_PERCENT:
		return xasprintf("%%");
	case PATTERN_STRING:
		return *(const char *const *)at ? xasprintf("%s", *(const char *const *)at) : NULL;
	case PATTERN_NUMBER:
		return xasprintf("%u", (unsigned)*(const uint32_t *)at);
	case PATTERN_PID:
		return *(const pid_t *)at > 0 ? xasprintf("%d", (int)*(const pid_t *)at) : NULL;
	default:
		return NULL;
	}
}

static void every_letter_checked_and_expanded_by_its_row(void **state)
{
	struct pattern_vars none = {0};

	(void)state;
	for (size_t i = 0; i < pattern_letter_count; i++) {
		const struct pattern_letter *l = &pattern_letters[i];
		cleanup_free char *word = xasprintf("%%%c", l->letter);
		cleanup_free char *refused = NULL, *full = NULL, *empty = NULL;
		cleanup_free char *unknown = xasprintf("unknown pattern %%%c", l->letter);
		cleanup_free char *no_value = xasprintf("%%%c has no value", l->letter);

		/* pattern_check: allowed with its bit (or always), refused without it */
		expect_check_ok(word, l->allow);
		if (l->allow != 0) {
			refused = xasprintf("%%%c %s in '%s'", l->letter, l->refusal, word);
			expect_check_error(word, ALLOW_ALL & ~l->allow, refused);
		}
		/* pattern_expand_word: the value the row points at */
		if (l->how == PATTERN_ARGV) {
			/* only pattern_expand_argv expands it, as words of their own */
			expect_expand_error(&full_vars, word, unknown);
			continue;
		}
		full = expected_expansion(l, &full_vars);
		assert_non_null(full);
		expect_expand(&full_vars, word, full);
		empty = expected_expansion(l, &none);
		if (empty != NULL)
			expect_expand(&none, word, empty);
		else
			expect_expand_error(&none, word, no_value);
	}
}

static void letters_outside_the_table_are_unknown_to_both(void **state)
{
	(void)state;
	for (int c = 1; c < 127; c++) {
		cleanup_free char *word = NULL, *unknown = NULL;

		if (pattern_letter_find((char)c) != NULL)
			continue;
		word = xasprintf("%%%c", c);
		unknown = xasprintf("unknown pattern %%%c", c);
		expect_check_error(word, ALLOW_ALL, unknown);
		expect_expand_error(&full_vars, word, unknown);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(split_plain_words),
		cmocka_unit_test(split_collapses_spaces_and_tabs),
		cmocka_unit_test(split_single_quotes_are_literal),
		cmocka_unit_test(split_double_quotes_and_their_escapes),
		cmocka_unit_test(split_backslash_outside_quotes),
		cmocka_unit_test(split_empty_quoted_words),
		cmocka_unit_test(split_adjacent_parts_join),
		cmocka_unit_test(split_unterminated_quotes),
		cmocka_unit_test(split_trailing_backslash),
		cmocka_unit_test(split_refuses_shell_syntax),
		cmocka_unit_test(check_accepts_known_patterns),
		cmocka_unit_test(check_rejects_unknown_pattern),
		cmocka_unit_test(check_rejects_lone_percent),
		cmocka_unit_test(check_argv_must_be_whole_word),
		cmocka_unit_test(check_restricted_patterns),
		cmocka_unit_test(expand_every_pattern),
		cmocka_unit_test(expand_numbers_are_decimal),
		cmocka_unit_test(expand_keeps_hostile_value_in_one_word),
		cmocka_unit_test(expand_missing_values),
		cmocka_unit_test(expand_word_refuses_bad_patterns),
		cmocka_unit_test(expand_argv_one_word_per_arg),
		cmocka_unit_test(expand_argv_error_in_a_word),
		cmocka_unit_test(letter_table_lists_the_documented_letters),
		cmocka_unit_test(every_letter_checked_and_expanded_by_its_row),
		cmocka_unit_test(letters_outside_the_table_are_unknown_to_both),
	};

	return cmocka_run_group_tests_name("pattern", tests, NULL, NULL);
}
