/*
 * jsonstream.c - cut a watch stream into lines, each one JSON object.
 *
 * Framing by newline is what makes a watch recoverable: whatever bytes a
 * broken server or proxy sends, the damage ends at the next newline, and
 * the line that held it is refused as a whole.  The check of a line needs
 * three facts per byte: are we inside a string, is this byte escaped, and
 * how deep are we.  A backslash escapes exactly the next byte (the hex
 * digits of \uXXXX cannot be quotes or braces, so they need no state).
 * The same pass validates UTF-8 (Go's encoder never sends anything else:
 * it replaces invalid sequences with U+FFFD) and refuses control bytes,
 * which JSON allows neither in strings nor between tokens, save blanks.
 */
#include <stdint.h>
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

const char *
jsonstream_error(const struct jsonstream *js)
{
	return js->js_error;
}

int
jsonstream_overflowed(const struct jsonstream *js)
{
	return js->js_overflow;
}

static int
is_blank(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/*
 * Length of the UTF-8 sequence at p (at most n bytes), or 0 when it is
 * not a valid, shortest-form encoding of a scalar value (RFC 3629 §4).
 */
static size_t
utf8_len(const unsigned char *p, size_t n)
{
	uint32_t cp;
	size_t len, i;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		len = 2;
		cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		len = 3;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		len = 4;
		cp = p[0] & 0x07;
	} else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/*
 * Check that line[0 .. len) is blank, or one JSON object with blanks
 * around it.  Returns NULL when it is, else why not.  *blank is set for
 * a blank line.
 */
static const char *
check_line(const char *line, size_t len, int *blank)
{
	const unsigned char *p = (const unsigned char *)line;
	size_t i = 0, n;
	int depth = 0, in_string = 0, escape = 0, done = 0;

	*blank = 0;
	while (i < len && is_blank(p[i]))
		i++;
	if (i == len) {
		*blank = 1;
		return NULL;
	}
	if (p[i] != '{')
		return "a line that does not start with '{'";
	for (; i < len; i += n) {
		n = 1;
		if (p[i] == '\0')
			return "a NUL byte";
		if (p[i] < 0x20 && !is_blank(p[i]))
			return "a control byte";
		if (p[i] >= 0x80) {
			if ((n = utf8_len(p + i, len - i)) == 0)
				return "invalid UTF-8";
			if (done)
				return "bytes after the object";
			continue;
		}
		if (done) {
			if (!is_blank(p[i]))
				return "bytes after the object";
			continue;
		}
		if (in_string) {
			if (escape)
				escape = 0;
			else if (p[i] == '\\')
				escape = 1;
			else if (p[i] == '"')
				in_string = 0;
			else if (p[i] < 0x20)
				return "a control byte in a string";
			continue;
		}
		switch (p[i]) {
		case '"':
			in_string = 1;
			break;
		case '{':
		case '[':
			depth++;
			break;
		case '}':
		case ']':
			if (--depth == 0)
				done = 1;
			break;
		}
	}
	return done ? NULL : "an incomplete object";
}

/* Hand one complete line to cb after checking it. */
static int
deliver(struct jsonstream *js, const char *line, size_t len,
    jsonstream_cb *cb, void *arg)
{
	int blank;

	if ((js->js_error = check_line(line, len, &blank)) != NULL)
		return -1;
	if (blank)
		return 0;
	/* The object alone: a line may end in "\r\n", or carry spaces. */
	while (is_blank((unsigned char)line[0])) {
		line++;
		len--;
	}
	while (is_blank((unsigned char)line[len - 1]))
		len--;
	return cb(arg, line, len);
}

/* Append to the partial line; the caller checked it fits under js_max. */
static void
append(struct jsonstream *js, const char *data, size_t len)
{
	size_t cap;

	if (js->js_len + len > js->js_cap) {
		cap = js->js_cap ? js->js_cap : 4096;
		while (cap < js->js_len + len)
			cap *= 2;
		if (cap > js->js_max)
			cap = js->js_max;
		js->js_buf = xreallocarray(js->js_buf, cap, 1);
		js->js_cap = cap;
	}
	memcpy(js->js_buf + js->js_len, data, len);
	js->js_len += len;
}

int
jsonstream_feed(struct jsonstream *js, const char *data, size_t len,
    jsonstream_cb *cb, void *arg)
{
	const char *nl;
	size_t seg;
	int rc;

	if (js->js_error != NULL)
		return -1;
	while (len > 0) {
		nl = memchr(data, '\n', len);
		seg = nl != NULL ? (size_t)(nl - data) : len;
		if (seg > js->js_max - js->js_len) {
			js->js_error = "a line longer than the bound";
			js->js_overflow = 1;
			return -1;
		}
		if (nl == NULL) {
			append(js, data, seg);
			return 0;
		}
		if (js->js_len == 0)
			rc = deliver(js, data, seg, cb, arg);	/* no copy */
		else {
			append(js, data, seg);
			rc = deliver(js, js->js_buf, js->js_len, cb, arg);
			js->js_len = 0;
		}
		if (rc == -1)
			return -1;
		data += seg + 1;
		len -= seg + 1;
	}
	return 0;
}
