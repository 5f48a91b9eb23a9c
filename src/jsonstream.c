/*
 * jsonstream.c - cut a byte stream into complete JSON values.
 *
 * The scanner needs three facts per byte: are we inside a string, is this
 * byte escaped, and how deep are we.  Braces and brackets inside strings
 * do not count, and a backslash escapes exactly the next byte (a \uXXXX
 * escape's hex digits cannot be quotes or brackets, so they need no state).
 * A value ends when the depth returns to zero.  Whitespace between values
 * is dropped before it is buffered, so the buffer only ever holds the
 * value in progress.
 */
#include <stdlib.h>
#include <string.h>

#include "jsonstream.h"
#include "util.h"

void
jsonstream_init(struct jsonstream *js, size_t max)
{
	memset(js, 0, sizeof(*js));
	js->js_max = max;
}

void
jsonstream_reset(struct jsonstream *js)
{
	free(js->js_buf);
	jsonstream_init(js, js->js_max);
}

size_t
jsonstream_pending(const struct jsonstream *js)
{
	return js->js_len;
}

static int
is_space(char c)
{
	return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

/*
 * Scan the buffered bytes from js_scan on.  Returns the length of the
 * value when it is complete, 0 when more bytes are needed.
 */
static size_t
scan(struct jsonstream *js)
{
	size_t i;
	char c;

	for (i = js->js_scan; i < js->js_len; i++) {
		c = js->js_buf[i];
		if (js->js_in_string) {
			if (js->js_escape)
				js->js_escape = 0;
			else if (c == '\\')
				js->js_escape = 1;
			else if (c == '"')
				js->js_in_string = 0;
			continue;
		}
		switch (c) {
		case '"':
			js->js_in_string = 1;
			break;
		case '{':
		case '[':
			js->js_depth++;
			break;
		case '}':
		case ']':
			if (--js->js_depth == 0) {
				js->js_scan = 0;
				return i + 1;
			}
			break;
		}
	}
	js->js_scan = i;
	return 0;
}

int
jsonstream_feed(struct jsonstream *js, const char *data, size_t len,
    jsonstream_cb *cb, void *arg)
{
	size_t take, done, rest;

	while (len > 0) {
		if (js->js_len == 0) {
			/* Between values: skip blanks, then insist on { or [. */
			while (len > 0 && is_space(*data)) {
				data++;
				len--;
			}
			if (len == 0)
				break;
			if (*data != '{' && *data != '[')
				return -1;
		}
		/*
		 * Buffer what fits under the limit, scan it; bytes after the end
		 * of a value go round the loop again as the start of the next.
		 */
		take = len;
		if (take > js->js_max - js->js_len)
			take = js->js_max - js->js_len;
		if (take == 0)
			return -1;	/* outgrew js_max */
		if (js->js_len + take > js->js_cap) {
			size_t cap = js->js_cap ? js->js_cap : 4096;

			while (cap < js->js_len + take)
				cap *= 2;
			if (cap > js->js_max)
				cap = js->js_max;
			js->js_buf = xreallocarray(js->js_buf, cap, 1);
			js->js_cap = cap;
		}
		memcpy(js->js_buf + js->js_len, data, take);
		js->js_len += take;
		done = scan(js);
		if (done == 0) {
			data += take;
			len -= take;
			continue;
		}
		/* The value ends inside what we copied: give back the rest. */
		rest = js->js_len - done;
		js->js_len = 0;
		data += take - rest;
		len -= take - rest;
		if (cb(arg, js->js_buf, done) == -1)
			return -1;
	}
	return 0;
}
