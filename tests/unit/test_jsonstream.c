/*
 * test_jsonstream.c - lines come out whole and in order however the
 * stream is chopped, strings with brackets and escapes do not confuse the
 * check, every kind of bad line breaks the stream, and the bound holds.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonstream.h"

#define MAXVALS	16

struct collected {
	char	*vals[MAXVALS];
	int	 n;
	int	 stop_after;	/* 0: never stop */
};

static int
collect(void *arg, const char *v, size_t len)
{
	struct collected *c = arg;

	assert_true(c->n < MAXVALS);
	c->vals[c->n] = strndup(v, len);
	c->n++;
	return c->stop_after != 0 && c->n >= c->stop_after ? -1 : 0;
}

static void
collected_free(struct collected *c)
{
	int i;

	for (i = 0; i < c->n; i++)
		free(c->vals[i]);
	memset(c, 0, sizeof(*c));
}

static const char *stream =
    "{\"type\":\"ADDED\",\"object\":{\"a\":\"}{][\"}}\n"
    "  {\"type\":\"MODIFIED\",\"object\":{\"s\":\"q\\\"}\\\\\",\"n\":[1,{}]}}\r\n"
    "\n"
    "{\"type\":\"BOOKMARK\",\"object\":{\"u\":\"\\u007b\",\"\xc3\xa9\":\"\xe2\x82\xac\xf0\x9f\x98\x80\"}}\n"
    "{}\t\n";
/* Each line's object, without the blanks around it. */
static const char *expect[] = {
	"{\"type\":\"ADDED\",\"object\":{\"a\":\"}{][\"}}",
	"{\"type\":\"MODIFIED\",\"object\":{\"s\":\"q\\\"}\\\\\",\"n\":[1,{}]}}",
	"{\"type\":\"BOOKMARK\",\"object\":{\"u\":\"\\u007b\",\"\xc3\xa9\":\"\xe2\x82\xac\xf0\x9f\x98\x80\"}}",
	"{}",
};

static void
check_all(struct collected *c)
{
	size_t i;

	assert_int_equal(c->n, 4);
	for (i = 0; i < 4; i++)
		assert_string_equal(c->vals[i], expect[i]);
}

/* Every way of cutting the stream in two, then in three. */
static void
test_every_split(void **state)
{
	struct jsonstream js;
	struct collected c = { 0 };
	size_t len = strlen(stream), i, j;

	(void)state;
	for (i = 0; i <= len; i++) {
		jsonstream_init(&js, 1024);
		assert_int_equal(jsonstream_feed(&js, stream, i, collect, &c), 0);
		assert_int_equal(jsonstream_feed(&js, stream + i, len - i,
		    collect, &c), 0);
		assert_int_equal(jsonstream_pending(&js), 0);
		check_all(&c);
		collected_free(&c);
		jsonstream_reset(&js);
	}
	for (i = 0; i <= len; i += 3)
		for (j = i; j <= len; j += 5) {
			jsonstream_init(&js, 1024);
			assert_int_equal(jsonstream_feed(&js, stream, i, collect, &c), 0);
			assert_int_equal(jsonstream_feed(&js, stream + i, j - i,
			    collect, &c), 0);
			assert_int_equal(jsonstream_feed(&js, stream + j, len - j,
			    collect, &c), 0);
			check_all(&c);
			collected_free(&c);
			jsonstream_reset(&js);
		}
}

/* One byte at a time: the worst chunking a server can produce. */
static void
test_bytewise(void **state)
{
	struct jsonstream js;
	struct collected c = { 0 };
	size_t i;

	(void)state;
	jsonstream_init(&js, 1024);
	for (i = 0; stream[i] != '\0'; i++)
		assert_int_equal(jsonstream_feed(&js, stream + i, 1, collect, &c), 0);
	check_all(&c);
	collected_free(&c);
	jsonstream_reset(&js);
}

static void
test_partial_is_pending(void **state)
{
	struct jsonstream js;
	struct collected c = { 0 };

	(void)state;
	jsonstream_init(&js, 1024);
	assert_int_equal(jsonstream_feed(&js, "{\"a\":[1,", 8, collect, &c), 0);
	assert_int_equal(c.n, 0);
	assert_int_equal(jsonstream_pending(&js), 8);
	jsonstream_reset(&js);
	assert_int_equal(jsonstream_pending(&js), 0);
	/* After a reset the next line starts clean. */
	assert_int_equal(jsonstream_feed(&js, "{}\n", 3, collect, &c), 0);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.vals[0], "{}");
	/* A complete object without its newline is not delivered yet. */
	assert_int_equal(jsonstream_feed(&js, "{}", 2, collect, &c), 0);
	assert_int_equal(c.n, 1);
	assert_int_equal(jsonstream_pending(&js), 2);
	collected_free(&c);
	jsonstream_reset(&js);
}

static void
test_too_big(void **state)
{
	struct jsonstream js;
	struct collected c = { 0 };
	char big[300];

	(void)state;
	memset(big, 'x', sizeof(big));
	jsonstream_init(&js, 100);
	/* Exactly at the limit passes, one byte more fails, in any cut. */
	assert_int_equal(jsonstream_feed(&js, "{\"x\":\"", 6, collect, &c), 0);
	assert_int_equal(jsonstream_feed(&js, big, 100 - 6 - 2, collect, &c), 0);
	assert_int_equal(jsonstream_feed(&js, "\"}\n", 3, collect, &c), 0);
	assert_int_equal(c.n, 1);
	assert_int_equal(strlen(c.vals[0]), 100);
	assert_false(jsonstream_overflowed(&js));
	assert_int_equal(jsonstream_feed(&js, "{\"x\":\"", 6, collect, &c), 0);
	assert_int_equal(jsonstream_feed(&js, big, 50, collect, &c), 0);
	assert_int_equal(jsonstream_feed(&js, big, 50, collect, &c), -1);
	assert_true(jsonstream_overflowed(&js));
	assert_non_null(jsonstream_error(&js));
	/* Never buffered past the bound, and it stays broken. */
	assert_true(js.js_cap <= 100);
	assert_int_equal(jsonstream_feed(&js, "\n{}\n", 4, collect, &c), -1);
	assert_int_equal(c.n, 1);
	jsonstream_reset(&js);
	/* A long line in one piece, newline included, is refused too. */
	big[150] = '\n';
	assert_int_equal(jsonstream_feed(&js, big, sizeof(big), collect, &c), -1);
	assert_true(jsonstream_overflowed(&js));
	assert_int_equal(c.n, 1);
	collected_free(&c);
	jsonstream_reset(&js);
}

/*
 * Each line is refused whole, and nothing after it on the same feed is
 * delivered: the caller ends the watch.  The truncated event is the one
 * a brace-counting scanner waited on forever (issue 11).
 */
static void
test_bad_lines(void **state)
{
	static const struct {
		const char	*data;
		size_t		 len;
	} bad[] = {
#define B(s)	{ s, sizeof(s) - 1 }
		B("{\"type\":\"ADDED\",\"object\":{\"kind\":\"Serv\n"),
		B("not json at all\n"),
		B("{\"a\":1}{\"b\":2}\n"),
		B("{\"a\":1} x\n"),
		B("{\"a\":1}}\n"),
		B("[1,2]\n"),
		B("\"str\"\n"),
		B("{\"a\":\"\0\"}\n"),
		B("\0\n"),
		B("{\"a\":\"\x01\"}\n"),
		B("{\"a\":1}\x0b\n"),
		B("{\"a\":\"\xff\"}\n"),
		B("{\"a\":\"\xc0\xaf\"}\n"),		/* overlong '/' */
		B("{\"a\":\"\xed\xa0\x80\"}\n"),	/* surrogate */
		B("{\"a\":\"\xf4\x90\x80\x80\"}\n"),	/* past U+10FFFF */
		B("{\"a\":\"\xe2\x82\"}\n"),		/* cut sequence */
		B("{\"a\":[}\n"),
		B("{\"a\":\"}\n"),
		B("}\n"),
		B("{\"a\":1}\xc3\xa9\n"),
#undef B
	};
	struct jsonstream js;
	struct collected c = { 0 };
	size_t i;
	char buf[128];

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		jsonstream_init(&js, 1024);
		assert_true(bad[i].len + 8 < sizeof(buf));
		/* A good line before, one after in the same feed. */
		memcpy(buf, "{}\n", 3);
		memcpy(buf + 3, bad[i].data, bad[i].len);
		memcpy(buf + 3 + bad[i].len, "{}\n", 3);
		if (jsonstream_feed(&js, buf, bad[i].len + 6, collect, &c) != -1)
			fail_msg("bad line %zu accepted", i);
		assert_non_null(jsonstream_error(&js));
		assert_false(jsonstream_overflowed(&js));
		assert_int_equal(c.n, 1);
		collected_free(&c);
		jsonstream_reset(&js);
	}
}

static void
test_stop(void **state)
{
	struct jsonstream js;
	struct collected c = { 0 };

	(void)state;
	jsonstream_init(&js, 1024);
	/* The callback stops the feed: later lines are not delivered. */
	c.stop_after = 1;
	assert_int_equal(jsonstream_feed(&js, "{}\n{}\n{}\n", 9, collect, &c), -1);
	assert_int_equal(c.n, 1);
	assert_null(jsonstream_error(&js));
	collected_free(&c);
	jsonstream_reset(&js);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_split),
		cmocka_unit_test(test_bytewise),
		cmocka_unit_test(test_partial_is_pending),
		cmocka_unit_test(test_too_big),
		cmocka_unit_test(test_bad_lines),
		cmocka_unit_test(test_stop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
