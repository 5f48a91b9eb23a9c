/*
 * jsonstream.h - cut a watch stream into lines, each one JSON object.
 *
 * The API server writes every watch event as one JSON object followed by
 * a newline (Go's json.Encoder; K8S-API.md §1.5); the HTTP chunks that
 * carry them do not line up with events.  jsonstream keeps the bytes of
 * the line being received, bounded, and hands each complete line to a
 * callback once it has checked that the line is one whole JSON object
 * and nothing else: valid UTF-8, no control bytes, braces balanced
 * outside strings, nothing after the closing brace.  The callback still
 * parses the object.  A line that fails the check breaks the stream: the
 * caller ends that watch, so one bad line can never swallow the events
 * after it (a scanner that waited for the braces to balance could).
 */
#ifndef JSONSTREAM_H
#define JSONSTREAM_H

#include <stddef.h>

struct jsonstream {
	char		*js_buf;	/* bytes of the line in progress */
	size_t		 js_len;
	size_t		 js_cap;
	size_t		 js_max;	/* longest line accepted, '\n' excluded */
	const char	*js_error;	/* why the stream broke, or NULL */
	int		 js_overflow;	/* it broke on a line over js_max */
};

/*
 * Called with the one complete JSON object of a line, without its newline
 * and the blanks around it (not NUL-terminated; the bytes are reused after
 * the call returns).  Return 0 to go on, -1 to stop feeding.
 */
typedef int jsonstream_cb(void *arg, const char *line, size_t len);

/* Empty stream; lines longer than max bytes break it. */
void	jsonstream_init(struct jsonstream *, size_t max);
/* Drop any partial line, the error and the buffer; the stream is reusable. */
void	jsonstream_reset(struct jsonstream *);

/*
 * Append data and call cb for every line it completes, in order.  Blank
 * lines are skipped.  Returns 0; or -1 when cb asked to stop, or when a
 * line is not one JSON object or grows past max: the stream is then
 * broken, jsonstream_error() says why, and it must be reset before reuse.
 * The buffer never holds more than max bytes.
 */
int	jsonstream_feed(struct jsonstream *, const char *data, size_t len,
	    jsonstream_cb *cb, void *arg);

/* Why the last feed broke the stream ("a NUL byte", ...), or NULL. */
const char *jsonstream_error(const struct jsonstream *);

/* Whether the stream broke on a line longer than max. */
int	jsonstream_overflowed(const struct jsonstream *);

/* Bytes of an unfinished line (0 when the stream ended cleanly). */
size_t	jsonstream_pending(const struct jsonstream *);

#endif
