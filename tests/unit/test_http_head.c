/*
 * test_http_head.c - the request heads the admin listeners take and the
 * ones they refuse, with the status each refusal answers; where a head
 * ends, however it was trickled in.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "http_head.h"

/* Parse the whole of s (which must hold one whole head). */
static int
parse(const char *s, struct http_head *h)
{
	size_t end = http_head_end(s, strlen(s), 0);

	assert_int_equal(end, strlen(s));
	return http_head_parse(s, end, 4096, h);
}

static void
assert_path(const struct http_head *h, const char *path)
{
	assert_int_equal(h->path_len, strlen(path));
	assert_memory_equal(h->path, path, h->path_len);
}

static void
test_accepted(void **state)
{
	struct http_head h;

	(void)state;
	assert_int_equal(parse("GET /livez HTTP/1.1\r\nHost: x\r\n\r\n", &h), 0);
	assert_int_equal(h.method, HTTP_GET);
	assert_path(&h, "/livez");
	assert_int_equal(h.minor, 1);
	assert_true(h.keep_alive);
	assert_int_equal(h.content_length, 0);

	/* The query is not part of the path; bare LFs end lines too. */
	assert_int_equal(parse("HEAD /metrics?x=1#f HTTP/1.1\n\n", &h), 0);
	assert_int_equal(h.method, HTTP_HEAD);
	assert_path(&h, "/metrics");

	/* HTTP/1.0, or "Connection: close" in a list: one request. */
	assert_int_equal(parse("GET / HTTP/1.0\r\n\r\n", &h), 0);
	assert_false(h.keep_alive);
	assert_int_equal(parse("GET / HTTP/1.1\r\nconnection: Upgrade,  CLOSE "
	    "\r\n\r\n", &h), 0);
	assert_false(h.keep_alive);
	assert_int_equal(parse("GET / HTTP/1.1\r\nConnection: keep-alive\r\n\r\n",
	    &h), 0);
	assert_true(h.keep_alive);

	/* absolute-form, as a proxy sends it. */
	assert_int_equal(parse("GET http://node:10256/healthz?q HTTP/1.1\r\n\r\n",
	    &h), 0);
	assert_path(&h, "/healthz");
	assert_int_equal(parse("GET HTTPS://node HTTP/1.1\r\n\r\n", &h), 0);
	assert_path(&h, "/");

	/* A small body, to be skipped; repeated lengths that agree. */
	assert_int_equal(parse("GET / HTTP/1.1\r\nContent-Length: 12\r\n"
	    "content-length:12\r\n\r\n", &h), 0);
	assert_int_equal(h.content_length, 12);

	/* Other methods parse, to be answered 405; a higher 1.x is 1.1. */
	assert_int_equal(parse("POST / HTTP/1.9\r\n\r\n", &h), 0);
	assert_int_equal(h.method, HTTP_OTHER);
	assert_int_equal(parse("get / HTTP/1.1\r\n\r\n", &h), 0);
	assert_int_equal(h.method, HTTP_OTHER);	/* case-sensitive */
	/* Optional whitespace and obs-text in values. */
	assert_int_equal(parse("GET / HTTP/1.1\r\nX:\t\xc3\xa9 v \t\r\n\r\n", &h),
	    0);
}

static void
assert_refused(const char *s, int status)
{
	struct http_head h;

	assert_int_equal(parse(s, &h), -1);
	assert_int_equal(h.status, status);
}

static void
test_refused(void **state)
{
	(void)state;
	assert_refused("GET /\r\n\r\n", 400);			/* HTTP/0.9 */
	assert_refused("GET  / HTTP/1.1\r\n\r\n", 400);	/* two spaces */
	assert_refused("GET / HTTP/1.1 \r\n\r\n", 400);
	assert_refused("GET livez HTTP/1.1\r\n\r\n", 400);	/* not a path */
	assert_refused("GET /a\x01 HTTP/1.1\r\n\r\n", 400);
	assert_refused("G(T / HTTP/1.1\r\n\r\n", 400);	/* not a token */
	assert_refused("GET / HTTP/1.x\r\n\r\n", 400);
	assert_refused("GET / HTTP/2.0\r\n\r\n", 505);
	assert_refused("GET / HTTP/0.9\r\n\r\n", 505);
	/* Header fields: no colon, space before it, folding, controls. */
	assert_refused("GET / HTTP/1.1\r\nHost x\r\n\r\n", 400);
	assert_refused("GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400);
	assert_refused("GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n", 400);
	assert_refused("GET / HTTP/1.1\r\n: b\r\n\r\n", 400);
	assert_refused("GET / HTTP/1.1\r\nA: b\x7f\r\n\r\n", 400);
	assert_refused("GET / HTTP/1.1\r\nA: b\rc\r\n\r\n", 400);
	/* Lengths: not digits, a list, two that differ, too long. */
	assert_refused("GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400);
	assert_refused("GET / HTTP/1.1\r\nContent-Length: 1, 1\r\n\r\n", 400);
	assert_refused("GET / HTTP/1.1\r\nContent-Length:\r\n\r\n", 400);
	assert_refused("GET / HTTP/1.1\r\nContent-Length: 1\r\n"
	    "Content-Length: 2\r\n\r\n", 400);
	assert_refused("GET / HTTP/1.1\r\nContent-Length: 4097\r\n\r\n", 413);
	assert_refused("GET / HTTP/1.1\r\nContent-Length: "
	    "99999999999999999999999999\r\n\r\n", 413);
	/* 2^64 + 3: saturated, not wrapped around to 3. */
	assert_refused("GET / HTTP/1.1\r\nContent-Length: "
	    "18446744073709551619\r\n\r\n", 413);
	assert_refused("GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
	    411);
}

static void
test_end(void **state)
{
	const char *s = "GET / HTTP/1.1\r\nA: b\r\n\r\nnext";
	size_t want = strlen(s) - 4, len, from;

	(void)state;
	assert_int_equal(http_head_end(s, strlen(s), 0), want);
	assert_int_equal(http_head_end("GET / HTTP/1.1\r\n", 16, 0), 0);
	assert_int_equal(http_head_end("\n\n", 2, 0), 2);
	assert_int_equal(http_head_end("", 0, 0), 0);
	/* Trickled in one byte at a time: found where it ends, not before. */
	for (len = 1, from = 0; len <= strlen(s); len++) {
		size_t end = http_head_end(s, len, from);

		assert_int_equal(end, len >= want ? want : 0);
		if (end != 0)
			break;
		from = len;
	}
	assert_int_equal(len, want);
	/* The same for bare LFs, in every split of two reads. */
	s = "GET / HTTP/1.1\nA: b\n\n";
	for (from = 0; from <= strlen(s); from++)
		assert_int_equal(http_head_end(s, strlen(s),
		    http_head_end(s, from, 0) == 0 ? from : 0), strlen(s));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepted),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_end),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
