/*
 * http_head.c - the head of an HTTP/1.x request (see http_head.h).
 *
 * The grammar is RFC 9112's, read strictly where leniency has bitten
 * servers before (request smuggling, header injection): one space between
 * the parts of the request line, no space before a field's colon, no
 * folded lines, no control characters, one Content-Length or several that
 * agree, digits only.  Anything else is a 400 and the connection closes.
 * A Transfer-Encoding is refused (411): an admin request has no body worth
 * decoding, and a chunked body could not be skipped without decoding it.
 */
#include <string.h>

#include "http_head.h"

size_t
http_head_end(const char *buf, size_t len, size_t from)
{
	const char *nl;
	size_t i;

	/* "\n\n" or "\n\r\n": its first '\n' may be 2 bytes before `from`. */
	for (i = from > 2 ? from - 2 : 0; i < len; i++) {
		if ((nl = memchr(buf + i, '\n', len - i)) == NULL)
			return 0;
		i = (size_t)(nl - buf);
		if (i + 1 < len && buf[i + 1] == '\n')
			return i + 2;
		if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

/* RFC 9110's tchar. */
static int
is_tchar(unsigned char c)
{
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z'))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int
is_token(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!is_tchar((unsigned char)s[i]))
			return 0;
	return n > 0;
}

/* s[0..n) equals the lower-case word w, ignoring case. */
static int
word_is(const char *s, size_t n, const char *w)
{
	size_t i;

	if (strlen(w) != n)
		return 0;
	for (i = 0; i < n; i++)
		if ((s[i] | 0x20) != w[i])
			return 0;
	return 1;
}

/*
 * The line at p: its content is [p, *lend) (without CR LF); returns where
 * the next one starts, or NULL when no '\n' ends it.
 */
static const char *
line_next(const char *p, const char *end, const char **lend)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));

	if (nl == NULL)
		return NULL;
	*lend = nl > p && nl[-1] == '\r' ? nl - 1 : nl;
	return nl + 1;
}

/* The request line [p, e): method, target, version. */
static int
parse_request_line(const char *p, const char *e, struct http_head *h)
{
	const char *sp, *t, *te;

	if ((sp = memchr(p, ' ', (size_t)(e - p))) == NULL ||
	    !is_token(p, (size_t)(sp - p)))
		return -1;
	/* Methods are case-sensitive: "get" is some other method. */
	if (sp - p == 3 && memcmp(p, "GET", 3) == 0)
		h->method = HTTP_GET;
	else if (sp - p == 4 && memcmp(p, "HEAD", 4) == 0)
		h->method = HTTP_HEAD;
	else
		h->method = HTTP_OTHER;

	t = sp + 1;
	if ((te = memchr(t, ' ', (size_t)(e - t))) == NULL || te == t)
		return -1;
	for (sp = t; sp < te; sp++)
		if ((unsigned char)*sp <= ' ' || (unsigned char)*sp >= 0x7f)
			return -1;
	/* The version: exactly HTTP/DIGIT.DIGIT, after one space. */
	if (e - (te + 1) != 8 || memcmp(te + 1, "HTTP/", 5) != 0 ||
	    te[6] < '0' || te[6] > '9' || te[7] != '.' ||
	    te[8] < '0' || te[8] > '9')
		return -1;
	if (te[6] != '1') {
		h->status = 505;
		return -1;
	}
	h->minor = te[8] - '0';

	/* absolute-form (a proxy's): the path follows the authority. */
	if ((te - t > 7 && word_is(t, 7, "http://")) ||
	    (te - t > 8 && word_is(t, 8, "https://"))) {
		const char *scheme = t;

		t += t[4] == ':' ? 7 : 8;
		/* No path: "/", the scheme's first slash (h->path stays in buf). */
		if ((t = memchr(t, '/', (size_t)(te - t))) == NULL) {
			t = memchr(scheme, '/', 8);
			te = t + 1;
		}
	} else if (t[0] != '/' && !(te - t == 1 && t[0] == '*'))
		return -1;
	h->path = t;
	for (h->path_len = 0; t + h->path_len < te; h->path_len++)
		if (t[h->path_len] == '?' || t[h->path_len] == '#')
			break;
	return 0;
}

/* A field value: no control characters but HT (obs-text is allowed). */
static int
value_ok(const char *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (((unsigned char)v[i] < ' ' && v[i] != '\t') ||
		    (unsigned char)v[i] == 0x7f)
			return 0;
	return 1;
}

/* Content-Length: digits only; *len saturates at UINT64_MAX. */
static int
parse_length(const char *v, size_t n, uint64_t *len)
{
	uint64_t x = 0, d;
	size_t i;

	if (n == 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		d = (uint64_t)(v[i] - '0');
		x = x > (UINT64_MAX - d) / 10 ? UINT64_MAX : x * 10 + d;
	}
	*len = x;
	return 0;
}

/* Connection: a comma-separated list of tokens; is "close" one? */
static int
has_close(const char *v, size_t n)
{
	const char *e = v + n, *c;
	size_t w;

	for (; v < e; v = c + 1) {
		if ((c = memchr(v, ',', (size_t)(e - v))) == NULL)
			c = e;
		while (v < c && (*v == ' ' || *v == '\t'))
			v++;
		for (w = (size_t)(c - v); w > 0 && (v[w - 1] == ' ' ||
		    v[w - 1] == '\t'); w--)
			;
		if (word_is(v, w, "close"))
			return 1;
	}
	return 0;
}

int
http_head_parse(const char *buf, size_t len, uint64_t max_body,
    struct http_head *h)
{
	const char *p, *e, *end = buf + len, *name, *colon, *v, *ve;
	uint64_t n;
	int have_length = 0, close = 0, te = 0;

	memset(h, 0, sizeof(*h));
	h->status = 400;
	if ((p = line_next(buf, end, &e)) == NULL ||
	    parse_request_line(buf, e, h) == -1)
		return -1;
	for (;;) {
		name = p;
		if ((p = line_next(p, end, &ve)) == NULL)
			return -1;	/* no empty line: not a whole head */
		if (ve == name)
			break;		/* the empty line */
		/* Also refuses a folded line, and a space before the colon. */
		if ((colon = memchr(name, ':', (size_t)(ve - name))) == NULL ||
		    !is_token(name, (size_t)(colon - name)))
			return -1;
		for (v = colon + 1; v < ve && (*v == ' ' || *v == '\t'); v++)
			;
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		if (!value_ok(v, (size_t)(ve - v)))
			return -1;
		n = (uint64_t)(colon - name);
		if (word_is(name, n, "content-length")) {
			if (parse_length(v, (size_t)(ve - v), &n) == -1 ||
			    (have_length && n != h->content_length))
				return -1;
			h->content_length = n;
			have_length = 1;
		} else if (word_is(name, n, "transfer-encoding"))
			te = 1;
		else if (word_is(name, n, "connection"))
			close |= has_close(v, (size_t)(ve - v));
	}
	if (te) {
		h->status = 411;
		return -1;
	}
	if (h->content_length > max_body) {
		h->status = 413;
		return -1;
	}
	/* HTTP/1.0 keeps a connection only when told, and expects to be
	 * told back: simpler to serve it one request. */
	h->keep_alive = h->minor >= 1 && !close;
	h->status = 0;
	return 0;
}
