/*
 * jsonstream.h - cut a byte stream into complete JSON values.
 *
 * A Kubernetes watch response is a sequence of JSON objects, one per
 * event, usually but not necessarily followed by a newline; the HTTP
 * chunks that carry them do not line up with events (K8S-API.md §1.5).
 * jsonstream keeps the bytes of the value being received and hands each
 * complete top-level value to a callback, whatever the chunking.  It only
 * tracks nesting and strings; the value itself is parsed by the caller.
 */
#ifndef JSONSTREAM_H
#define JSONSTREAM_H

#include <stddef.h>

struct jsonstream {
	char	*js_buf;	/* bytes of the value in progress */
	size_t	 js_len;
	size_t	 js_cap;
	size_t	 js_max;	/* largest value accepted */
	size_t	 js_scan;	/* js_buf[0 .. js_scan) already scanned */
	int	 js_depth;	/* open { and [ */
	int	 js_in_string;
	int	 js_escape;
};

/*
 * Called with one complete value (not NUL-terminated; js_buf is reused
 * after the call returns).  Return 0 to go on, -1 to stop feeding.
 */
typedef int jsonstream_cb(void *arg, const char *value, size_t len);

/* Empty stream; values longer than max bytes are refused. */
void	jsonstream_init(struct jsonstream *, size_t max);
/* Drop any partial value and free the buffer; the stream stays usable. */
void	jsonstream_reset(struct jsonstream *);

/*
 * Append data and call cb for every value it completes, in order.
 * Returns 0; or -1 when cb asked to stop, when a value outgrows max, or
 * when something other than an object or array starts at top level (the
 * stream is then broken: reset it before reuse).  Whitespace between
 * values is skipped.
 */
int	jsonstream_feed(struct jsonstream *, const char *data, size_t len,
	    jsonstream_cb *cb, void *arg);

/* Bytes of an unfinished value (0 when the stream ended cleanly). */
size_t	jsonstream_pending(const struct jsonstream *);

#endif
