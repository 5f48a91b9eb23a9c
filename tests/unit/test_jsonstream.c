/*
 * test_jsonstream.c - values come out whole and in order however the
 * stream is chopped, strings with brackets and escapes do not confuse the
 * scanner, and limits hold.
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
    "{\"type\":\"BOOKMARK\",\"object\":{\"u\":\"\\u007b\"}}"
    "[1,2]\n";
static const char *expect[] = {
	"{\"type\":\"ADDED\",\"object\":{\"a\":\"}{][\"}}",
	"{\"type\":\"MODIFIED\",\"object\":{\"s\":\"q\\\"}\\\\\",\"n\":[1,{}]}}",
	"{\"type\":\"BOOKMARK\",\"object\":{\"u\":\"\\u007b\"}}",
	"[1,2]",
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
	/* After a reset the next value starts clean. */
	assert_int_equal(jsonstream_feed(&js, "{}", 2, collect, &c), 0);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.vals[0], "{}");
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
	memset(big, ' ', sizeof(big));
	big[0] = '{';
	big[1] = '"';
	big[sizeof(big) - 2] = '"';
	big[sizeof(big) - 1] = '}';
	jsonstream_init(&js, 100);
	/* Exactly at the limit passes, one byte more fails, in any cut. */
	assert_int_equal(jsonstream_feed(&js, "{\"x\":\"", 6, collect, &c), 0);
	assert_int_equal(jsonstream_feed(&js, big + 6, 100 - 6 - 2, collect, &c), 0);
	assert_int_equal(jsonstream_feed(&js, "\"}", 2, collect, &c), 0);
	assert_int_equal(c.n, 1);
	assert_int_equal(strlen(c.vals[0]), 100);
	assert_int_equal(jsonstream_feed(&js, big, 50, collect, &c), 0);
	assert_int_equal(jsonstream_feed(&js, big + 50, sizeof(big) - 50,
	    collect, &c), -1);
	assert_int_equal(c.n, 1);
	collected_free(&c);
	jsonstream_reset(&js);
}

static void
test_garbage_and_stop(void **state)
{
	struct jsonstream js;
	struct collected c = { 0 };

	(void)state;
	jsonstream_init(&js, 1024);
	assert_int_equal(jsonstream_feed(&js, " \n\"str\"", 7, collect, &c), -1);
	jsonstream_reset(&js);
	assert_int_equal(jsonstream_feed(&js, "{}x", 3, collect, &c), -1);
	assert_int_equal(c.n, 1);
	collected_free(&c);
	jsonstream_reset(&js);

	/* The callback stops the feed: later values are not delivered. */
	c.stop_after = 1;
	assert_int_equal(jsonstream_feed(&js, "{}{}{}", 6, collect, &c), -1);
	assert_int_equal(c.n, 1);
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
		cmocka_unit_test(test_garbage_and_stop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
