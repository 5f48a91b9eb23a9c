/*
 * http_head.h - the head of an HTTP/1.x request (request line and header
 * fields), parsed from bytes a client sent to an admin listener.
 *
 * Pure functions over a caller's buffer: no allocation, no state, so that
 * they can be fuzzed alone (tests/fuzz/fuzz_http_head.c).  What is kept is
 * what a bounded GET/HEAD server needs: the method, the path, the version,
 * whether the connection stays open, and the body's length (to skip it).
 */
#ifndef HTTP_HEAD_H
#define HTTP_HEAD_H

#include <stddef.h>
#include <stdint.h>

enum http_method {
	HTTP_GET,
	HTTP_HEAD,
	HTTP_OTHER	/* a valid method token we do not serve: 405 */
};

struct http_head {
	enum http_method method;
	const char	*path;		/* into the buffer: up to '?' or '#' */
	size_t		 path_len;
	int		 minor;		/* HTTP/1.minor */
	int		 keep_alive;	/* the connection may serve another */
	uint64_t	 content_length; /* body bytes that follow the head */
	int		 status;	/* the error to answer when parse fails */
};

/*
 * Where the head in buf[0..len) ends: the offset just past its empty line
 * (CRLF CRLF, or bare LFs), or 0 when it has not come in full yet.  Bytes
 * before `from` are known to hold no end: a caller that read more passes
 * the length it searched before, so a head trickled in byte by byte is
 * searched once, not once per byte.
 */
size_t		 http_head_end(const char *buf, size_t len, size_t from);

/*
 * Parse a whole head, buf[0..len) as http_head_end delimited it.  Returns
 * 0 with *h filled (h->path points into buf), or -1 with h->status the
 * answer to give (400 malformed, 411 a Transfer-Encoding, 413 a body
 * longer than max_body, 505 a major version other than 1: HTTP/1.2 and
 * later minors are served as 1.1, as RFC 9112 allows); the
 * connection is to be closed after it.
 */
int		 http_head_parse(const char *buf, size_t len, uint64_t max_body,
		    struct http_head *h);

#endif
