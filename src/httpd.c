/*
 * httpd.c - a small bounded HTTP/1.1 server (see httpd.h).
 *
 * Why not libevent's evhttp: it has no connection limit, and under memory
 * pressure it crashes (2.1.12 frees a half-made connection when a strdup
 * fails: tests/integration/admin_oom.sh).  What the admin listeners need
 * is small: read a head, answer it, maybe read the next.
 *
 * A connection is a slot of its server's table and a bufferevent.  A head
 * that has not ended within BOUND_ADMIN_HEADERS_BYTES is a 431 and the
 * connection closes (checked on each read: the input holds at most that
 * and one read more; no read high-water mark, whose setting crashes
 * libevent 2.1 when out of memory).
 * Each head found is parsed (http_head.c), its body skipped, and its
 * handler answers at once into the output; reading then waits until that
 * answer is written (write_cb), so a client that pipelines requests and
 * never reads holds one answer, not one per request.  A connection that
 * stalls reading or writing for BOUND_ADMIN_IDLE_S is closed (the
 * bufferevent's timeouts).
 */
#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/listener.h>

#include "bounds.h"
#include "http_head.h"
#include "httpd.h"
#include "log.h"
#include "util.h"

/* A full server closes its connection idle longest, if idle this long. */
#define HTTPD_IDLE_EVICT_MS	1000
/* Accepts off after EMFILE and friends, as the proxy listeners do. */
#define HTTPD_ACCEPT_PAUSE_MS	100
#define HTTPD_BACKLOG		128

struct httpd_conn {
	struct httpd		*c_httpd;
	struct bufferevent	*c_bev;		/* NULL: a free slot */
	uint64_t		 c_active;	/* mono_ms of accept or last request */
	uint64_t		 c_skip;	/* body bytes still to drop */
	size_t			 c_scanned;	/* input searched for a head's end */
	int			 c_close;	/* once the answer is written */
};

struct httpd_route {
	const char		*r_path;	/* NULL: every other path */
	httpd_cb		 r_cb;
	void			*r_arg;
};

struct httpd {
	struct event_base	*h_base;
	const char		*h_flag;	/* "--healthz-bind-address" */
	size_t			*h_total;	/* shared bound, or NULL */
	size_t			 h_total_max;
	struct evconnlistener	**h_listeners;
	size_t			 h_nlisteners;
	struct event		*h_resume_ev;	/* accept again after a pause */
	int			 h_pause_logged; /* since the last accept */
	int			 h_nomem_logged; /* since the last connection made */
	int			 h_full;	/* logged being full */
	struct httpd_route	 h_routes[HTTPD_ROUTES];
	size_t			 h_nroutes;
	struct httpd_conn	 h_conns[BOUND_ADMIN_CONNECTIONS];
	size_t			 h_nconns;	/* slots in use */
	uint64_t		 h_refused;	/* closed at once: all busy */
	uint64_t		 h_evicted;	/* closed to make room: idle */
};

struct httpd_req {
	struct httpd_conn	*q_conn;
	int			 q_head;	/* HEAD: no body in the answer */
	int			 q_replied;
};

static void	conn_serve(struct httpd_conn *);

static const char *
reason(int code)
{
	switch (code) {
	case 200:	return "OK";
	case 400:	return "Bad Request";
	case 404:	return "Not Found";
	case 405:	return "Method Not Allowed";
	case 411:	return "Length Required";
	case 413:	return "Content Too Large";
	case 431:	return "Request Header Fields Too Large";
	case 503:	return "Service Unavailable";
	case 505:	return "HTTP Version Not Supported";
	default:	return "Internal Server Error";
	}
}

static void
conn_free(struct httpd_conn *c)
{
	struct httpd *h = c->c_httpd;

	bufferevent_free(c->c_bev);	/* closes the socket */
	memset(c, 0, sizeof(*c));
	h->h_nconns--;
	if (h->h_total != NULL)
		(*h->h_total)--;
	if (h->h_full && h->h_nconns < BOUND_ADMIN_CONNECTIONS / 2) {
		log_info("%s: %zu connections open, accepting again",
		    h->h_flag, h->h_nconns);
		h->h_full = 0;
	}
}

/*
 * An answer is in the output: read nothing more until it is written.  An
 * output that could not even take it (out of memory) ends the connection.
 */
static void
conn_answered(struct httpd_conn *c)
{
	if (evbuffer_get_length(bufferevent_get_output(c->c_bev)) == 0) {
		conn_free(c);
		return;
	}
	bufferevent_disable(c->c_bev, EV_READ);
}

/* The status line and headers of an answer with n bytes of body. */
static int
add_head(struct evbuffer *out, struct httpd_conn *c, int code,
    const char *type, const char *headers, size_t n)
{
	return evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\n"
	    "Content-Type: %s\r\nContent-Length: %zu\r\n%s%s\r\n",
	    code, reason(code), type, n, headers != NULL ? headers : "",
	    c->c_close ? "Connection: close\r\n" : "");
}

void
httpd_reply(struct httpd_req *req, int code, const char *type,
    const char *headers, struct evbuffer *body)
{
	struct httpd_conn *c = req->q_conn;
	struct evbuffer *out = bufferevent_get_output(c->c_bev);
	size_t n = body != NULL ? evbuffer_get_length(body) : 0;

	if (req->q_replied)
		return;
	req->q_replied = 1;
	/* A partial answer (out of memory) is ended by closing. */
	if (add_head(out, c, code, type, headers, n) == -1 ||
	    (n > 0 && !req->q_head && evbuffer_add_buffer(out, body) == -1))
		c->c_close = 1;
}

void
httpd_reply_text(struct httpd_req *req, int code, const char *text)
{
	struct httpd_conn *c = req->q_conn;
	struct evbuffer *out = bufferevent_get_output(c->c_bev);
	size_t n = strlen(text);

	if (req->q_replied)
		return;
	req->q_replied = 1;
	if (add_head(out, c, code, "text/plain; charset=utf-8", NULL, n) == -1 ||
	    (!req->q_head && evbuffer_add(out, text, n) == -1))
		c->c_close = 1;
}

/* A request we will not serve: answer `code` and close. */
static void
conn_refuse(struct httpd_conn *c, int code, const char *headers)
{
	struct evbuffer *out = bufferevent_get_output(c->c_bev);
	char text[64];

	c->c_close = 1;
	snprintf(text, sizeof(text), "%d %s\n", code, reason(code));
	if (add_head(out, c, code, "text/plain; charset=utf-8", headers,
	    strlen(text)) == 0)
		evbuffer_add(out, text, strlen(text));
	conn_answered(c);
}

/*
 * Answer the request of head hd, the first `len` bytes of the input (hd
 * points into them: they are dropped once its route is found).
 */
static void
conn_dispatch(struct httpd_conn *c, const struct http_head *hd, size_t len)
{
	struct httpd *h = c->c_httpd;
	struct httpd_req req = { c, hd->method == HTTP_HEAD, 0 };
	const struct httpd_route *r = NULL, *any = NULL;
	size_t i;

	if (hd->method == HTTP_OTHER) {
		conn_refuse(c, 405, "Allow: GET, HEAD\r\n");
		return;
	}
	for (i = 0; i < h->h_nroutes && r == NULL; i++) {
		if (h->h_routes[i].r_path == NULL)
			any = &h->h_routes[i];
		else if (strlen(h->h_routes[i].r_path) == hd->path_len &&
		    memcmp(h->h_routes[i].r_path, hd->path, hd->path_len) == 0)
			r = &h->h_routes[i];
	}
	if (r == NULL)
		r = any;
	evbuffer_drain(bufferevent_get_input(c->c_bev), len);
	if (r != NULL)
		r->r_cb(&req, r->r_arg);
	else
		httpd_reply_text(&req, 404, "404 page not found\n");
	if (!req.q_replied)
		httpd_reply_text(&req, 500, "500 no answer\n");
	conn_answered(c);
}

/* Serve what the input holds: one request at most, then wait (write_cb). */
static void
conn_serve(struct httpd_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->c_bev);
	struct http_head hd;
	size_t len, end, n;
	const char *p;

	if (c->c_skip > 0) {
		n = evbuffer_get_length(in);
		n = n < c->c_skip ? n : (size_t)c->c_skip;
		evbuffer_drain(in, n);
		c->c_skip -= n;
		if (c->c_skip > 0)
			return;
	}
	if ((len = evbuffer_get_length(in)) == 0)
		return;
	if (len > BOUND_ADMIN_HEADERS_BYTES)
		len = BOUND_ADMIN_HEADERS_BYTES;
	if ((p = (const char *)evbuffer_pullup(in, (ev_ssize_t)len)) == NULL) {
		conn_free(c);		/* out of memory */
		return;
	}
	if ((end = http_head_end(p, len, c->c_scanned)) == 0) {
		c->c_scanned = len;
		if (len == BOUND_ADMIN_HEADERS_BYTES)
			conn_refuse(c, 431, NULL);
		return;
	}
	c->c_scanned = 0;
	if (http_head_parse(p, end, BOUND_ADMIN_BODY_BYTES, &hd) == -1) {
		conn_refuse(c, hd.status, NULL);
		return;
	}
	c->c_active = mono_ms();
	c->c_close = !hd.keep_alive;
	c->c_skip = hd.content_length;
	conn_dispatch(c, &hd, end);
}

static void
read_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	conn_serve(arg);
}

/* The output is written: close, or serve the next request. */
static void
write_cb(struct bufferevent *bev, void *arg)
{
	struct httpd_conn *c = arg;

	if (c->c_close) {
		conn_free(c);
		return;
	}
	bufferevent_enable(bev, EV_READ);
	conn_serve(c);
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct httpd_conn *c = arg;

	/* A client that half-closed after its request still gets the answer. */
	if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR) &&
	    evbuffer_get_length(bufferevent_get_output(bev)) > 0) {
		c->c_close = 1;
		return;
	}
	conn_free(c);
}

/*
 * The server is full: make room by closing the connection idle longest,
 * if it has been idle HTTPD_IDLE_EVICT_MS (a client that connected and
 * sent no complete request, or a keep-alive one between requests: a
 * slowloris trickle is not a request).  Otherwise every connection is
 * busy and the new one is refused.  Without this, BOUND_ADMIN_CONNECTIONS
 * idle connections, reopened as the idle timeout closes them, would keep
 * the node's health checker out for good.  Returns 0 if a slot is free.
 */
static int
make_room(struct httpd *h)
{
	struct httpd_conn *oldest = NULL;
	uint64_t now = mono_ms();
	size_t i;

	for (i = 0; i < BOUND_ADMIN_CONNECTIONS; i++)
		if (h->h_conns[i].c_bev != NULL && (oldest == NULL ||
		    h->h_conns[i].c_active < oldest->c_active))
			oldest = &h->h_conns[i];
	if (oldest == NULL || now - oldest->c_active < HTTPD_IDLE_EVICT_MS)
		return -1;
	h->h_evicted++;
	conn_free(oldest);
	return 0;
}

/* Room for one more connection?  Says so once when full. */
static int
has_room(struct httpd *h)
{
	if (h->h_nconns < BOUND_ADMIN_CONNECTIONS && (h->h_total == NULL ||
	    *h->h_total < h->h_total_max))
		return 1;
	if (!h->h_full && h->h_nconns == BOUND_ADMIN_CONNECTIONS)
		log_warnx("%s: %d connections open (BOUND_ADMIN_CONNECTIONS): "
		    "closing the idle or the new ones", h->h_flag,
		    BOUND_ADMIN_CONNECTIONS);
	else if (!h->h_full)
		log_warnx("%s: %zu connections open over all health check node "
		    "ports (BOUND_HEALTH_CHECK_CONNECTIONS): closing this "
		    "one's idle or new ones", h->h_flag, h->h_total_max);
	h->h_full = 1;
	return make_room(h) == 0;
}

static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct timeval idle = { BOUND_ADMIN_IDLE_S, 0 };
	struct httpd *h = arg;
	struct httpd_conn *c = NULL;
	size_t i;

	(void)l;
	(void)sa;
	(void)salen;
	h->h_pause_logged = 0;		/* an accept worked */
	if (!has_room(h)) {
		h->h_refused++;
		close(fd);
		return;
	}
	for (i = 0; c == NULL; i++)	/* there is a free slot */
		if (h->h_conns[i].c_bev == NULL)
			c = &h->h_conns[i];
	if ((c->c_bev = bufferevent_socket_new(h->h_base, fd,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		if (!h->h_nomem_logged)
			log_warnx("%s: out of memory: closing new connections "
			    "until one can be served", h->h_flag);
		h->h_nomem_logged = 1;
		h->h_refused++;
		close(fd);
		return;
	}
	h->h_nomem_logged = 0;
	c->c_httpd = h;
	c->c_active = mono_ms();
	h->h_nconns++;
	if (h->h_total != NULL)
		(*h->h_total)++;
	bufferevent_setcb(c->c_bev, read_cb, write_cb, event_cb, c);
	bufferevent_set_timeouts(c->c_bev, &idle, &idle);
	if (bufferevent_enable(c->c_bev, EV_READ | EV_WRITE) == -1)
		conn_free(c);
}

/*
 * accept() failed for a reason that retrying at once cannot cure (no
 * descriptor left, no memory).  Without this callback libevent retries on
 * the next loop turn, forever, with one warning each: a spinning loop and
 * a flooded log while a client waits in the backlog.  Stop accepting for
 * a while instead, and say so once per episode.
 */
static void
listener_error_cb(struct evconnlistener *l, void *arg)
{
	struct timeval tv = { 0, HTTPD_ACCEPT_PAUSE_MS * 1000 };
	struct httpd *h = arg;
	int err = EVUTIL_SOCKET_ERROR();

	evconnlistener_disable(l);
	event_add(h->h_resume_ev, &tv);
	if (!h->h_pause_logged) {
		log_warnx("%s: accept: %s: not accepting for %d ms at a time "
		    "until it works", h->h_flag,
		    evutil_socket_error_to_string(err), HTTPD_ACCEPT_PAUSE_MS);
		h->h_pause_logged = 1;
	}
}

static void
listener_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct httpd *h = arg;
	size_t i;

	(void)fd;
	(void)what;
	for (i = 0; i < h->h_nlisteners; i++)
		evconnlistener_enable(h->h_listeners[i]);
}

struct httpd *
httpd_new(struct event_base *base, const char *flag, size_t *total,
    size_t total_max)
{
	struct httpd *h;

	if ((h = calloc(1, sizeof(*h))) == NULL)
		return NULL;
	h->h_base = base;
	h->h_flag = flag;
	h->h_total = total;
	h->h_total_max = total_max;
	if ((h->h_resume_ev = evtimer_new(base, listener_resume_cb, h)) ==
	    NULL) {
		free(h);
		return NULL;
	}
	return h;
}

int
httpd_accept_fd(struct httpd *h, int fd)
{
	struct evconnlistener **ls, *l;

	if ((ls = reallocarray(h->h_listeners, h->h_nlisteners + 1,
	    sizeof(*ls))) == NULL)
		return -1;
	h->h_listeners = ls;
	if ((l = evconnlistener_new(h->h_base, accept_cb, h,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd)) == NULL)
		return -1;
	evconnlistener_set_error_cb(l, listener_error_cb);
	h->h_listeners[h->h_nlisteners++] = l;
	return 0;
}

int
httpd_listen(struct httpd *h, const union addr *addr)
{
	int fd, one = 1, saved;

	if ((fd = socket(addr->sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    bind(fd, &addr->sa, addr_len(addr)) == -1 ||
	    listen(fd, HTTPD_BACKLOG) == -1 || httpd_accept_fd(h, fd) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return 0;
}

void
httpd_route(struct httpd *h, const char *path, httpd_cb cb, void *arg)
{
	if (h->h_nroutes == HTTPD_ROUTES)
		fatalx("httpd_route: more than HTTPD_ROUTES routes");
	h->h_routes[h->h_nroutes].r_path = path;
	h->h_routes[h->h_nroutes].r_cb = cb;
	h->h_routes[h->h_nroutes].r_arg = arg;
	h->h_nroutes++;
}

void
httpd_counts(const struct httpd *h, size_t *open, uint64_t *refused,
    uint64_t *evicted)
{
	*open = h->h_nconns;
	*refused = h->h_refused;
	*evicted = h->h_evicted;
}

void
httpd_free(struct httpd *h)
{
	size_t i;

	if (h == NULL)
		return;
	for (i = 0; i < BOUND_ADMIN_CONNECTIONS; i++)
		if (h->h_conns[i].c_bev != NULL)
			conn_free(&h->h_conns[i]);
	for (i = 0; i < h->h_nlisteners; i++)
		evconnlistener_free(h->h_listeners[i]);
	free(h->h_listeners);
	event_free(h->h_resume_ev);
	free(h);
}
