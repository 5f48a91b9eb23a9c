/*
 * httpd.h - a small bounded HTTP/1.1 server for the admin listeners and
 * the health check node ports: GET and HEAD, exact paths, keep-alive.
 *
 * Every input is bounded (bounds.h): the request line and headers
 * (BOUND_ADMIN_HEADERS_BYTES), a body, skipped (BOUND_ADMIN_BODY_BYTES),
 * the idle time (BOUND_ADMIN_IDLE_S), the connections of a server
 * (BOUND_ADMIN_CONNECTIONS, the idle ones closed first to make room) and,
 * optionally, the connections over several servers.  A connection's slot
 * is made with its server, so serving a request allocates only its
 * bufferevent and its answer, and a failed allocation refuses that one
 * client.
 */
#ifndef HTTPD_H
#define HTTPD_H

#include <stddef.h>
#include <stdint.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "addr.h"

struct httpd;
struct httpd_req;

/* A handler: answers with httpd_reply before it returns. */
typedef void	(*httpd_cb)(struct httpd_req *, void *arg);

/*
 * A server, listening nowhere yet.  flag names it in logs (the flag that
 * configures it, "--healthz-bind-address"; borrowed).  When `total` is not NULL, at most total_max connections are
 * open over every server sharing that counter.  Returns NULL when out of
 * memory.
 */
struct httpd	*httpd_new(struct event_base *, const char *flag,
		    size_t *total, size_t total_max);
/* Listen on addr (bound with SO_REUSEADDR).  Returns 0, or -1 and errno. */
int		 httpd_listen(struct httpd *, const union addr *);
/*
 * Serve on a bound, listening, nonblocking socket: the server owns it
 * once this returns 0 (closed by httpd_free); on -1 the caller still does.
 */
int		 httpd_accept_fd(struct httpd *, int fd);
/*
 * Answer GET and HEAD of `path` (exactly, the query aside) with cb(req,
 * arg); a NULL path matches what no other route does.  Other paths are
 * 404.  At most HTTPD_ROUTES routes; path and arg are borrowed.
 */
#define HTTPD_ROUTES	16
void		 httpd_route(struct httpd *, const char *path, httpd_cb,
		    void *arg);
/* Connections open, refused (all busy) and evicted (idle, for room). */
void		 httpd_counts(const struct httpd *, size_t *open,
		    uint64_t *refused, uint64_t *evicted);
/* Close the listeners and every connection; NULL is fine. */
void		 httpd_free(struct httpd *);

/*
 * The answer to req: code, Content-Type `type`, more header lines
 * (`headers`, each ending in "\r\n", or NULL) and the body, moved out of
 * `body` (NULL: none; not sent to HEAD).  Once per request.
 */
void		 httpd_reply(struct httpd_req *, int code, const char *type,
		    const char *headers, struct evbuffer *body);
/* httpd_reply of a text/plain body. */
void		 httpd_reply_text(struct httpd_req *, int code,
		    const char *text);

#endif
