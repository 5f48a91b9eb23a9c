/*
 * tcp_proxy.c - the TCP proxy socket of one service port and its relays.
 *
 * A connection lives in two states.  CONNECTING: the client is accepted,
 * its bytes wait in the kernel (we do not read it) while a nonblocking
 * connect to an endpoint runs under a timer; a failure or timeout tries
 * the next endpoint.  Nothing reads the client then, so the client half's
 * read event is free: it carries the connect wait (see dial_event).
 * RELAYING: two independent directions ("halves"),
 * each with a read event on its source socket and a write event on its
 * destination.  A half borrows a buffer or pipe from relay_pool only while
 * bytes are in flight: read, write at once, and only if the destination
 * is full keep the data, stop reading and wait for writable.
 *
 * Close semantics (what the Go original got wrong, ORIGINAL-USERSPACE §9):
 * EOF is forwarded as shutdown(SHUT_WR) and the other direction keeps
 * running; a reset is forwarded as a reset (SO_LINGER 0); both sockets
 * close when both directions have seen and forwarded EOF.
 *
 * Connections end (issue 11), at no cost per read or write:
 * - TCP keepalive (--tcp-keepalive) is set on the listener, whose accepted
 *   sockets inherit it (Linux copies the listener's socket and its
 *   keepalive fields into the child, tcp_create_openreq_child), and on
 *   the backend socket when it is made: a dead peer shows up as a read
 *   error (ETIMEDOUT) and the other side gets a reset.
 * - A half-closed relay gets a timer (--tcp-fin-timeout) when its first
 *   direction ends, not before.  Traffic in the other direction only
 *   stores a timestamp; the timer, when it fires, re-arms for what is
 *   left or resets both sides.
 * - Buffers and pipes come from relay_pool, bounded by --relay-memory.
 *   A read that finds the pool full moves bytes in place instead: peek
 *   into the shared scratch buffer, send, then consume only what the
 *   destination took (recv MSG_TRUNC discards without copying).  What
 *   the destination cannot take stays in the source's kernel buffer, so
 *   clients that stop reading pin at most the pool, never more, and the
 *   other connections keep moving at the cost of one more system call
 *   per chunk while the pool is full.
 * - Connections in total are bounded below RLIMIT_NOFILE (two descriptors
 *   each, pipes and BOUND_FD_RESERVE kept aside): past it, a client is
 *   accepted and reset at once, and counted.
 */
#include <sys/types.h>
#include <sys/param.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "addr.h"
#include "bounds.h"
#include "lb.h"
#include "log.h"
#include "metrics.h"
#include "proxy_socket.h"
#include "relay_pool.h"
#include "tcp_proxy.h"
#include "util.h"

#define ACCEPT_BATCH	64	/* accepts per wakeup */
#define ACCEPT_PAUSE_MS	100	/* accepts off after EMFILE and friends */
#define RELAY_BURST	4	/* reads per wakeup, so one stream cannot starve others */
#define KEEPALIVE_PROBES 3	/* --tcp-keepalive: probes before a peer is dead */

/* Timeout of each connect attempt; their count is the number of attempts. */
static const unsigned dial_timeout_ms[] = { 250, 500, 1000, 2000 };

TAILQ_HEAD(conn_list, connection);

enum conn_state {
	CONN_CONNECTING,
	CONN_RELAYING,
};

struct tcp_proxy {
	struct event_base	*base;
	struct lb		*lb;
	struct port_stats	*stats;
	char			*name;
	int			 fd;
	uint16_t		 port;
	int			 paused;	/* accept event off for a while */
	int			 pause_logged;	/* since the last good accept */
	struct event		 ev_accept;
	struct event		 ev_pause;
	struct conn_list	 conns;
};

/*
 * One direction: from a source socket to a destination socket.  The write
 * event is made the first time the destination is full and kept until the
 * connection closes: an idle connection (or one whose peers keep up) holds
 * only the two read events, 2 x 128 bytes of its size.
 */
struct relay_half {
	struct event	 ev_read;	/* source readable; off while data waits */
	struct event	*ev_write;	/* destination writable; on while data waits */
	char		*buf;		/* copy: held while buf[off, len) waits */
	int		 pipe[2];	/* splice: held while len bytes are in it */
	uint32_t	 off;
	uint32_t	 len;
	uint8_t		 done;		/* EOF seen and forwarded */
};

struct connection {
	TAILQ_ENTRY(connection)	 entry;
	struct tcp_proxy	*proxy;		/* NULL once the proxy closed */
	struct port_stats	*stats;
	int			 cfd;		/* client */
	int			 bfd;		/* backend, -1 between attempts */
	uint8_t			 state;
	uint8_t			 attempt;	/* connect attempts started */
	uint8_t			 mode;		/* enum relay_mode, fixed at connect */
	union addr		 client;
	struct endpoint_stats	*ep;		/* held: the endpoint it dials or relays to */
	struct event		*fin_ev;	/* half-closed: --tcp-fin-timeout */
	uint64_t		 fin_last_ms;	/* half-closed: last progress */
	struct relay_half	 up;		/* client to backend */
	struct relay_half	 down;		/* backend to client */
};

/* The process-wide state tcp_proxy.h names. */
static enum relay_mode	 relay_mode = RELAY_COPY;
static unsigned		 relays_active;
static unsigned		 relays_max = ~0u;	/* tcp_proxy_configure */
static int		 keepalive_s;		/* 0: off */
static uint64_t		 fin_timeout_ms;	/* 0: off */
static uint64_t		 over_limit_warn_ms;	/* last "bound reached" line */
/* Relays whose proxy closed, for tcp_relays_close_all. */
static struct conn_list	 orphans = TAILQ_HEAD_INITIALIZER(orphans);

/* conn_free's reset_fd meaning both sockets. */
#define RESET_BOTH	(-2)

static void	conn_redial(struct connection *);
static void	conn_fin_cb(evutil_socket_t, short, void *);
static void	up_write_cb(evutil_socket_t, short, void *);
static void	down_write_cb(evutil_socket_t, short, void *);

void
tcp_relay_mode_set(enum relay_mode mode)
{
	relay_mode = mode;
}

void
tcp_proxy_configure(uint64_t keepalive_ms, uint64_t fin_ms, size_t memory)
{
	struct rlimit rl;
	uint64_t nofile = 1 << 20, reserve = BOUND_FD_RESERVE, budget;
	size_t max_pipes = 0;

	/* TCP_KEEPIDLE and TCP_KEEPINTVL are whole seconds, at most 32767. */
	keepalive_s = keepalive_ms == 0 ? 0 : (int)MIN((keepalive_ms + 999) /
	    1000, 32767);
	fin_timeout_ms = fin_ms;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		nofile = rl.rlim_cur;
	/* A tiny limit (tests) keeps half of it aside rather than all. */
	if (nofile < 2 * reserve)
		reserve = nofile / 2;
	budget = nofile - reserve;
	/* Splice pipes cost two descriptors each: at most a quarter of them. */
	if (relay_mode == RELAY_SPLICE) {
		max_pipes = MIN(memory / RELAY_PIPE_SIZE, budget / 8);
		if (max_pipes == 0)
			max_pipes = 1;
		budget -= MIN(budget, 2 * max_pipes);
	}
	relays_max = (unsigned)MIN(MAX(budget / 2, 1), UINT32_MAX / 2);
	metrics_datapath.tcp_conn_limit = relays_max;
	relay_pool_set_limit(memory, max_pipes);
	log_debug(1, "tcp: at most %u connections (RLIMIT_NOFILE %llu), "
	    "relay memory %zu bytes, keepalive %ds, fin timeout %llums",
	    relays_max, (unsigned long long)nofile, memory, keepalive_s,
	    (unsigned long long)fin_timeout_ms);
}

/*
 * Keepalive per --tcp-keepalive: idle and interval the same, 3 probes.
 * On a listener this is inherited by every accepted socket.
 */
static void
sock_keepalive(int fd)
{
	int one = 1, cnt = KEEPALIVE_PROBES;

	if (keepalive_s == 0)
		return;
	(void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &keepalive_s,
	    sizeof(keepalive_s));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &keepalive_s,
	    sizeof(keepalive_s));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
}

unsigned
tcp_relays_active(void)
{
	return relays_active;
}

uint16_t
tcp_proxy_port(const struct tcp_proxy *p)
{
	return p->port;
}

/*
 * While connecting, the connect wait (or the retry timer) lives in the
 * client half's read event, which is not in use yet.  Being another event
 * than the backend's read event lets conn_relay add that one before it
 * removes the wait: the backend socket's epoll registration then changes
 * once (read and write to read) instead of being deleted and added again.
 */
static struct event *
dial_event(struct connection *c)
{
	return &c->up.ev_read;
}

/* Close with an RST instead of a FIN: how a reset is passed on. */
static void
close_reset(int fd)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };

	(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(fd);
}

static const char *
conn_name(const struct connection *c)
{
	return c->proxy != NULL ? c->proxy->name : "(removed port)";
}

static void
half_release(struct relay_half *h)
{
	relay_buf_put(h->buf);
	h->buf = NULL;
	relay_pipe_put(h->pipe, h->len == 0);
	h->off = h->len = 0;
}

/*
 * Free a connection.  `reset_fd` (cfd, bfd, RESET_BOTH or -1) is closed
 * with an RST; the other sockets with a plain close.
 */
static void
conn_free(struct connection *c, int reset_fd, const char *reason)
{
	char cbuf[ADDR_STRLEN];

	log_debug(4, "%s: client %s: %s", conn_name(c),
	    addr_str(&c->client, 1, cbuf, sizeof(cbuf)), reason);
	/* Relaying: the client's read; else the dial_event. */
	event_del(&c->up.ev_read);
	if (c->state == CONN_RELAYING) {
		event_del(&c->down.ev_read);
		if (c->up.ev_write != NULL)
			event_free(c->up.ev_write);
		if (c->down.ev_write != NULL)
			event_free(c->down.ev_write);
		half_release(&c->up);
		half_release(&c->down);
		if (c->fin_ev != NULL)
			event_free(c->fin_ev);
	}
	if (c->cfd == reset_fd || reset_fd == RESET_BOTH)
		close_reset(c->cfd);
	else
		close(c->cfd);
	if (c->bfd != -1 && (c->bfd == reset_fd || reset_fd == RESET_BOTH))
		close_reset(c->bfd);
	else if (c->bfd != -1)
		close(c->bfd);
	TAILQ_REMOVE(c->proxy != NULL ? &c->proxy->conns : &orphans, c,
	    entry);
	c->stats->tcp_active--;
	metrics_endpoint_release(c->ep);
	relays_active--;
	free(c);
}

/*
 * Write what a half holds to dst: once, nonblocking.  Returns 0 (all or
 * part written, or the socket full) or -1 when the connection was closed
 * because the destination failed; then the source gets the reset.
 */
static int
half_flush(struct connection *c, int is_up)
{
	struct relay_half *h = is_up ? &c->up : &c->down;
	int src = is_up ? c->cfd : c->bfd, dst = is_up ? c->bfd : c->cfd;
	uint64_t *counter = is_up ? &c->stats->bytes_to_backend :
	    &c->stats->bytes_to_client;
	ssize_t n;

	if (h->buf != NULL)
		n = send(dst, h->buf + h->off, h->len - h->off, MSG_NOSIGNAL);
	else
		n = splice(h->pipe[0], NULL, dst, NULL, h->len - h->off,
		    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
	if (n == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		log_debug(4, "%s: write: %s", conn_name(c), strerror(errno));
		conn_free(c, src, is_up ? "write to backend failed, reset" :
		    "write to client failed, reset");
		return -1;
	}
	*counter += (uint64_t)n;
	h->off += (uint32_t)n;
	if (c->fin_ev != NULL)		/* half-closed: see conn_fin_cb */
		c->fin_last_ms = mono_ms();
	if (h->off == h->len) {
		/* Drained: give the buffer or empty pipe back at once. */
		h->len = 0;
		half_release(h);
	}
	return 0;
}

/*
 * The source said EOF (n == 0) or failed (n == -1, errno set, not EAGAIN):
 * forward it.  Returns -1 when the connection was freed.
 */
static int
half_end(struct connection *c, int is_up, ssize_t n)
{
	struct relay_half *h = is_up ? &c->up : &c->down;
	struct relay_half *other = is_up ? &c->down : &c->up;
	int dst = is_up ? c->bfd : c->cfd;
	struct timeval tv;

	if (n == -1) {
		log_debug(4, "%s: read: %s", conn_name(c), strerror(errno));
		/* A peer that stopped answering keepalive probes. */
		if (errno == ETIMEDOUT)
			metrics_datapath.tcp_peer_timeouts++;
		conn_free(c, dst, is_up ? "client reset" : "backend reset");
		return -1;
	}
	h->done = 1;
	/* Both ways done: the close sends this FIN, no shutdown. */
	if (other->done) {
		conn_free(c, -1, "closed");
		return -1;
	}
	event_del(&h->ev_read);
	/* Fails only if dst is already gone; its read will say so. */
	(void)shutdown(dst, SHUT_WR);
	/* Half-closed: from now on the other direction must not stay silent. */
	if (fin_timeout_ms != 0 && (c->fin_ev = evtimer_new(
	    event_get_base(&h->ev_read), conn_fin_cb, c)) != NULL) {
		c->fin_last_ms = mono_ms();
		tv.tv_sec = (time_t)(fin_timeout_ms / 1000);
		tv.tv_usec = (suseconds_t)(fin_timeout_ms % 1000) * 1000;
		evtimer_add(c->fin_ev, &tv);
	}
	return -1;
}

/*
 * The destination is full: stop reading this way until it is writable.
 * Returns -1 when the connection was freed (no memory for the event).
 */
static int
half_wait(struct connection *c, int is_up)
{
	struct relay_half *h = is_up ? &c->up : &c->down;
	int dst = is_up ? c->bfd : c->cfd;

	if (h->ev_write == NULL && (h->ev_write = event_new(
	    event_get_base(&h->ev_read), dst, EV_WRITE | EV_PERSIST,
	    is_up ? up_write_cb : down_write_cb, c)) == NULL) {
		log_warnx("%s: out of memory for an event", conn_name(c));
		conn_free(c, RESET_BOTH, "no memory, reset");
		return -1;
	}
	event_del(&h->ev_read);
	event_add(h->ev_write, NULL);
	return -1;
}

/*
 * The pool is full: move one chunk in place (see the file comment), so
 * that nothing is held once this returns.  Returns 1 when a whole chunk
 * went through (read on), else 0 or -1 as half_read's steps.
 */
static int
half_move_in_place(struct connection *c, int is_up)
{
	int src = is_up ? c->cfd : c->bfd, dst = is_up ? c->bfd : c->cfd;
	uint64_t *counter = is_up ? &c->stats->bytes_to_backend :
	    &c->stats->bytes_to_client;
	char *buf = relay_scratch();
	ssize_t n, w;

	metrics_datapath.relay_pool_full++;
	n = recv(src, buf, RELAY_BUF_SIZE, MSG_PEEK);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0)
		return half_end(c, is_up, n);
	w = send(dst, buf, (size_t)n, MSG_NOSIGNAL);
	if (w == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return half_wait(c, is_up);
		log_debug(4, "%s: write: %s", conn_name(c), strerror(errno));
		conn_free(c, src, is_up ? "write to backend failed, reset" :
		    "write to client failed, reset");
		return -1;
	}
	/* Consume what was sent; the rest stays in the source's buffer. */
	(void)recv(src, buf, (size_t)w, MSG_TRUNC);
	*counter += (uint64_t)w;
	if (c->fin_ev != NULL)
		c->fin_last_ms = mono_ms();
	if (w < n)
		return half_wait(c, is_up);
	return n == RELAY_BUF_SIZE;
}

/*
 * Readable source: read and forward up to RELAY_BURST chunks.  EOF is
 * forwarded as shutdown(SHUT_WR); a read error as a reset of the other
 * side.
 */
static void
half_read(struct connection *c, int is_up)
{
	struct relay_half *h = is_up ? &c->up : &c->down;
	int src = is_up ? c->cfd : c->bfd;
	size_t chunk;
	ssize_t n;
	int i;

	for (i = 0; i < RELAY_BURST; i++) {
		/* Empty pipe, or a buffer when splice is off or no pipe is left. */
		if (c->mode != RELAY_SPLICE || relay_pipe_get(h->pipe) == -1)
			h->buf = relay_buf_get();
		if (h->buf != NULL) {
			chunk = RELAY_BUF_SIZE;
			n = recv(src, h->buf, chunk, 0);
		} else if (h->pipe[0] != -1) {
			chunk = RELAY_PIPE_SIZE;
			n = splice(src, NULL, h->pipe[1], NULL, chunk,
			    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		} else {
			/* The pool is full. */
			if (half_move_in_place(c, is_up) <= 0)
				return;
			continue;
		}
		if (n <= 0) {
			half_release(h);
			if (n == -1 && (errno == EAGAIN || errno == EINTR))
				return;
			(void)half_end(c, is_up, n);
			return;
		}
		h->len = (uint32_t)n;
		if (half_flush(c, is_up) == -1)
			return;
		if (h->len != 0) {
			/* Destination full: hold the data, stop reading this way. */
			(void)half_wait(c, is_up);
			return;
		}
		/* A short read means the socket is drained: skip the EAGAIN. */
		if ((size_t)n < chunk)
			return;
	}
}

/* Half-closed and silent for --tcp-fin-timeout: reset both sides. */
static void
conn_fin_cb(evutil_socket_t fd, short what, void *arg)
{
	struct connection *c = arg;
	uint64_t idle = mono_ms() - c->fin_last_ms;
	struct timeval tv;

	(void)fd;
	(void)what;
	if (idle < fin_timeout_ms) {
		/* There was traffic meanwhile: wait for what is left. */
		tv.tv_sec = (time_t)((fin_timeout_ms - idle) / 1000);
		tv.tv_usec = (suseconds_t)((fin_timeout_ms - idle) % 1000) *
		    1000;
		evtimer_add(c->fin_ev, &tv);
		return;
	}
	metrics_datapath.tcp_fin_timeouts++;
	conn_free(c, RESET_BOTH, "half-closed and silent for "
	    "--tcp-fin-timeout, reset");
}

/* Destination writable again: flush; once drained, read again. */
static void
half_write(struct connection *c, int is_up)
{
	struct relay_half *h = is_up ? &c->up : &c->down;

	/* (Nothing is held after a move in place: just read again.) */
	if (h->len != 0 && half_flush(c, is_up) == -1)
		return;
	if (h->len == 0) {
		event_del(h->ev_write);
		event_add(&h->ev_read, NULL);
	}
}

static void
up_read_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	half_read(arg, 1);
}

static void
down_read_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	half_read(arg, 0);
}

static void
up_write_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	half_write(arg, 1);
}

static void
down_write_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	half_write(arg, 0);
}

/*
 * Connected: from now on the connection needs neither the lb nor the
 * proxy.  Called last by its callers: the first read may free c.
 */
static void
conn_relay(struct connection *c)
{
	struct event_base *base = c->proxy->base;
	char cbuf[ADDR_STRLEN];

	log_debug(4, "%s: client %s: connected on attempt %u", conn_name(c),
	    addr_str(&c->client, 1, cbuf, sizeof(cbuf)), c->attempt);
	c->state = CONN_RELAYING;
	c->mode = (uint8_t)relay_mode;
	c->up.pipe[0] = c->up.pipe[1] = -1;
	c->down.pipe[0] = c->down.pipe[1] = -1;
	/* Backend read first, then the dial_event goes (see there). */
	event_assign(&c->down.ev_read, base, c->bfd, EV_READ | EV_PERSIST,
	    down_read_cb, c);
	event_add(&c->down.ev_read, NULL);
	event_del(dial_event(c));
	event_assign(&c->up.ev_read, base, c->cfd, EV_READ | EV_PERSIST,
	    up_read_cb, c);
	event_add(&c->up.ev_read, NULL);
	/*
	 * Most clients speak first, and their first bytes came while we
	 * connected: read them now rather than after one more turn of the
	 * loop.  If nothing is there, that costs one recv.
	 */
	half_read(c, 1);
}

/* The current attempt failed: count it and go on with the next one. */
static void
conn_dial_failed(struct connection *c, const char *why)
{
	char cbuf[ADDR_STRLEN];

	log_debug(4, "%s: client %s: connect attempt %u: %s", conn_name(c),
	    addr_str(&c->client, 1, cbuf, sizeof(cbuf)), c->attempt, why);
	c->stats->dial_failures++;
	c->ep->es_dial_failures++;
	event_del(dial_event(c));
	if (c->bfd != -1) {
		close(c->bfd);
		c->bfd = -1;
	}
	conn_redial(c);
}

static void
conn_dial_cb(evutil_socket_t fd, short what, void *arg)
{
	struct connection *c = arg;
	socklen_t len = sizeof(int);
	int err = 0;

	if (what & EV_TIMEOUT) {
		conn_dial_failed(c, "timed out");
		return;
	}
	/*
	 * Writable alone means connected: libevent reports an error or hangup
	 * (EPOLLERR, EPOLLHUP) as readable and writable.  Readable too (an
	 * error, or a server that speaks first) needs the socket's verdict.
	 */
	if (what != EV_WRITE &&
	    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err != 0) {
		conn_dial_failed(c, strerror(err));
		return;
	}
	conn_relay(c);
}

/*
 * Out of descriptors or memory (accept or the backend socket): waiting
 * clients stay in the listen backlog.  Accepting again at once would spin,
 * or accept clients only to reset them, so stop listening for a moment.
 * Logged once per episode (until descriptors are back), not once per pause.
 */
static void
proxy_pause(struct tcp_proxy *p, const char *what)
{
	struct timeval tv = { 0, ACCEPT_PAUSE_MS * 1000 };

	if (!p->pause_logged)
		log_warn("%s: %s, pausing accepts", p->name, what);
	p->pause_logged = 1;
	p->paused = 1;
	event_del(&p->ev_accept);
	evtimer_add(&p->ev_pause, &tv);
}

static void
conn_wait_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	conn_redial(arg);
}

/* Start a nonblocking connect to ep, under this attempt's timeout. */
static void
conn_connect(struct connection *c, const union addr *ep)
{
	struct tcp_proxy *p = c->proxy;
	char cbuf[ADDR_STRLEN], ebuf[ADDR_STRLEN];
	struct timeval tv, pause_tv = { 0, ACCEPT_PAUSE_MS * 1000 };
	int one = 1;

	tv.tv_sec = dial_timeout_ms[c->attempt] / 1000;
	tv.tv_usec = (dial_timeout_ms[c->attempt] % 1000) * 1000;
	c->attempt++;
	/* Per-endpoint counters: held, so an endpoint change cannot free them. */
	metrics_endpoint_release(c->ep);
	c->ep = metrics_endpoint_hold(lb_endpoint_stats(p->lb, ep));
	if (c->attempt > 1)
		c->ep->es_dial_retries++;
	log_debug(4, "%s: client %s: connecting to %s", p->name,
	    addr_str(&c->client, 1, cbuf, sizeof(cbuf)),
	    addr_str(ep, 1, ebuf, sizeof(ebuf)));
	c->bfd = socket(ep->sa.sa_family,
	    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->bfd == -1) {
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM) {
			/*
			 * Our shortage, not the endpoint's: not a dial
			 * failure.  Try again when accepts resume, still
			 * within the attempt budget, so the wait is bounded.
			 */
			proxy_pause(p, "backend socket");
			evtimer_assign(dial_event(c), p->base, conn_wait_cb, c);
			evtimer_add(dial_event(c), &pause_tv);
		} else
			conn_dial_failed(c, strerror(errno));
		return;
	}
	p->pause_logged = 0;	/* descriptors are back: a new episode logs */
	(void)setsockopt(c->bfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	sock_keepalive(c->bfd);
	if (connect(c->bfd, &ep->sa, addr_len(ep)) == 0) {
		conn_relay(c);
		return;
	}
	if (errno != EINPROGRESS) {
		conn_dial_failed(c, strerror(errno));
		return;
	}
	/* Persistent, so that it stays registered until conn_relay. */
	event_assign(dial_event(c), p->base, c->bfd,
	    EV_READ | EV_WRITE | EV_PERSIST, conn_dial_cb, c);
	event_add(dial_event(c), &tv);
}

/*
 * After a failed attempt: the next endpoint (a retry skips and rebinds the
 * client's affinity).  Out of attempts or endpoints: the client gets a
 * reset.
 */
static void
conn_redial(struct connection *c)
{
	const union addr *ep;

	if (c->attempt == nitems(dial_timeout_ms)) {
		conn_free(c, c->cfd, "no endpoint reachable, reset");
		return;
	}
	ep = lb_pick(c->proxy->lb, &c->client, 1, mono_ms());
	if (ep == NULL) {
		conn_free(c, c->cfd, "no endpoint left, reset");
		return;
	}
	c->stats->dial_retries++;
	conn_connect(c, ep);
}

static void
proxy_client(struct tcp_proxy *p, int cfd, const union addr *client)
{
	struct connection *c;
	const union addr *ep;

	p->stats->tcp_accepted++;
	if (relays_active >= relays_max) {
		/*
		 * The connection bound: the descriptors left are the reserve
		 * of listeners, the API and admin.  Reset, so the client
		 * knows at once; one line a second at most.
		 */
		metrics_datapath.tcp_conn_refused++;
		if (mono_ms() - over_limit_warn_ms >= 1000 ||
		    over_limit_warn_ms == 0) {
			over_limit_warn_ms = mono_ms();
			log_warnx("%s: %u connections open, the bound derived "
			    "from RLIMIT_NOFILE: new clients are reset",
			    p->name, relays_active);
		}
		close_reset(cfd);
		return;
	}
	ep = lb_pick(p->lb, client, 0, mono_ms());
	if (ep == NULL) {
		/* Refuse at once rather than accept-then-close (§9.6). */
		p->stats->tcp_refused++;
		close_reset(cfd);
		return;
	}
	c = xcalloc(1, sizeof(*c));
	c->proxy = p;
	c->stats = p->stats;
	c->cfd = cfd;
	c->bfd = -1;
	c->state = CONN_CONNECTING;
	c->client = *client;
	/* So that conn_free can always event_del it; conn_connect reassigns. */
	evtimer_assign(dial_event(c), p->base, conn_wait_cb, c);
	TAILQ_INSERT_TAIL(&p->conns, c, entry);
	p->stats->tcp_active++;
	relays_active++;
	conn_connect(c, ep);
}

static void
proxy_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tcp_proxy *p = arg;

	(void)fd;
	(void)what;
	p->paused = 0;
	event_add(&p->ev_accept, NULL);
}

static void
proxy_accept_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tcp_proxy *p = arg;
	union addr client;
	socklen_t len;
	int i, cfd;

	(void)what;
	for (i = 0; i < ACCEPT_BATCH && !p->paused; i++) {
		len = sizeof(client);
		cfd = accept4(fd, &client.sa, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd != -1) {
			proxy_client(p, cfd, &client);
			continue;
		}
		switch (errno) {
		case EAGAIN:
			return;
		case EMFILE:
		case ENFILE:
		case ENOBUFS:
		case ENOMEM:
			proxy_pause(p, "accept");
			return;
		case EINTR:
		case ECONNABORTED:
		case EPROTO:
		case ENETDOWN:
		case ENOPROTOOPT:
		case EHOSTDOWN:
		case ENONET:
		case EHOSTUNREACH:
		case ENETUNREACH:
		case EPERM:
			/* That client is gone (accept(2): treat like EAGAIN). */
			continue;
		default:
			log_warn("%s: accept", p->name);
			return;
		}
	}
}

struct tcp_proxy *
tcp_proxy_open(struct event_base *base, const union addr *bind_addr,
    const char *name, struct lb *lb, struct port_stats *stats)
{
	struct tcp_proxy *p;
	union addr local, as;
	socklen_t len = sizeof(local);
	int fd, one = 1, saved;

	/* A wildcard bind takes both families (proxy_socket.h). */
	if ((fd = proxy_socket(bind_addr, SOCK_STREAM, &as)) == -1)
		return NULL;
	/* Inherited by accepted sockets too, like TCP_NODELAY below. */
	sock_keepalive(fd);
	/*
	 * SO_REUSEADDR lets a restarted proxy rebind a port of its range that
	 * TIME_WAIT connections still hold.  With port 0 it is useless, and
	 * costly: the kernel's search for a free port then takes ~0.3 ms per
	 * bind at 10,000 bound ports instead of ~7 us.
	 */
	/*
	 * TCP_NODELAY here is inherited by every accepted socket (Linux copies
	 * the listener's options): one setsockopt per port, not per client.
	 */
	if ((addr_port(bind_addr) != 0 && setsockopt(fd, SOL_SOCKET,
	    SO_REUSEADDR, &one, sizeof(one)) == -1) ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == -1 ||
	    bind(fd, &as.sa, addr_len(&as)) == -1 ||
	    listen(fd, SOMAXCONN) == -1 ||
	    getsockname(fd, &local.sa, &len) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return NULL;
	}
	p = xcalloc(1, sizeof(*p));
	p->base = base;
	p->lb = lb;
	p->stats = stats;
	p->name = xstrdup(name);
	p->fd = fd;
	p->port = addr_port(&local);
	TAILQ_INIT(&p->conns);
	event_assign(&p->ev_accept, base, fd, EV_READ | EV_PERSIST,
	    proxy_accept_cb, p);
	evtimer_assign(&p->ev_pause, base, proxy_resume_cb, p);
	event_add(&p->ev_accept, NULL);
	return p;
}

void
tcp_proxy_close(struct tcp_proxy *p)
{
	struct connection *c;

	if (p == NULL)
		return;
	event_del(&p->ev_accept);
	event_del(&p->ev_pause);
	close(p->fd);
	while ((c = TAILQ_FIRST(&p->conns)) != NULL) {
		if (c->state == CONN_CONNECTING) {
			/* It would need the lb for its next attempt. */
			conn_free(c, c->cfd, "port removed while connecting, reset");
			continue;
		}
		TAILQ_REMOVE(&p->conns, c, entry);
		TAILQ_INSERT_TAIL(&orphans, c, entry);
		c->proxy = NULL;
		/* Keep the gauge whole: the port's counters are retired. */
		c->stats->tcp_active--;
		c->stats = &metrics_retired;
		c->stats->tcp_active++;
	}
	free(p->name);
	free(p);
}

void
tcp_relays_close_all(void)
{
	struct connection *c;

	/*
	 * Reset both sides: a plain close would show the peers an EOF,
	 * which could pass for a complete response.
	 */
	while ((c = TAILQ_FIRST(&orphans)) != NULL)
		conn_free(c, RESET_BOTH, "shutting down, reset");
}
