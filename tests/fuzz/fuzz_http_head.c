/*
 * fuzz_http_head.c - request heads as a client of the admin listeners
 * sends them (http_head.c).  The first byte splits the rest into two
 * reads: the end found in two searches (the second from where the first
 * stopped) is the end found in one.  A head that parses has a path inside
 * it that starts with '/' (or is "*"), a known version and a body within
 * the bound; one refused has a status to answer.  The bytes sit in a
 * buffer of exactly their size, so ASan sees any read past them.
 */
#include <string.h>

#include "fuzz.h"
#include "http_head.h"

#define MAX_BODY	4096

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_head h;
	size_t split, end, first;
	char *buf;

	if (size == 0)
		return 0;
	split = data[0];
	data++, size--;
	if ((buf = malloc(size > 0 ? size : 1)) == NULL)
		return 0;
	memcpy(buf, data, size);
	split = split < size ? split : size;

	end = http_head_end(buf, size, 0);
	FUZZ_CHECK(end <= size);
	first = http_head_end(buf, split, 0);
	if (first == 0)
		FUZZ_CHECK(http_head_end(buf, size, split) == end);
	else
		FUZZ_CHECK(first == end);
	if (end == 0)
		goto done;
	FUZZ_CHECK(buf[end - 1] == '\n');
	if (http_head_parse(buf, end, MAX_BODY, &h) == 0) {
		FUZZ_CHECK(h.status == 0);
		FUZZ_CHECK(h.path >= buf && h.path + h.path_len <= buf + end);
		FUZZ_CHECK(h.path_len > 0);
		FUZZ_CHECK(h.path[0] == '/' || (h.path_len == 1 && h.path[0] == '*'));
		FUZZ_CHECK(memchr(h.path, '?', h.path_len) == NULL);
		FUZZ_CHECK(h.minor >= 0 && h.minor <= 9);
		FUZZ_CHECK(!h.keep_alive || h.minor >= 1);
		FUZZ_CHECK(h.content_length <= MAX_BODY);
		FUZZ_CHECK(h.method == HTTP_GET || h.method == HTTP_HEAD ||
		    h.method == HTTP_OTHER);
		FUZZ_CHECK(h.method != HTTP_GET || memcmp(buf, "GET ", 4) == 0);
	} else
		FUZZ_CHECK(h.status == 400 || h.status == 411 ||
		    h.status == 413 || h.status == 505);
done:
	free(buf);
	return 0;
}
