/*
 * tcp_relay.c - the RELAYING state of a TCP connection (see tcp_relay.h).
 *
 * Two independent directions ("halves"), each with a read event on its
 * source socket and a write event on its destination.  A half borrows a
 * buffer or pipe from relay_pool only while bytes are in flight: read,
 * write at once, and only if the destination is full keep the data, stop
 * reading and wait for writable.
 *
 * Close semantics (what the Go original got wrong, ORIGINAL-USERSPACE §9):
 * EOF is forwarded as shutdown(SHUT_WR) and the other direction keeps
 * running; a reset is forwarded as a reset (SO_LINGER 0); both sockets
 * close when both directions have seen and forwarded EOF.
 *
 * Connections end (issue 11), at no cost per read or write:
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
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "log.h"
#include "metrics.h"
#include "relay_pool.h"
#include "tcp_relay.h"
#include "util.h"

#define RELAY_BURST	4	/* reads per wakeup, so one stream cannot starve others */

static uint64_t	fin_timeout_ms;		/* 0: off */

static void	conn_fin_cb(evutil_socket_t, short, void *);
static void	up_write_cb(evutil_socket_t, short, void *);
static void	down_write_cb(evutil_socket_t, short, void *);

void
tcp_relay_set_fin_timeout(uint64_t ms)
{
	fin_timeout_ms = ms;
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
		log_debug(4, "%s: write: %s", tcp_conn_name(c), strerror(errno));
		tcp_conn_free(c, src, is_up ? "write to backend failed, reset" :
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
		log_debug(4, "%s: read: %s", tcp_conn_name(c), strerror(errno));
		/* A peer that stopped answering keepalive probes. */
		if (errno == ETIMEDOUT)
			metrics_datapath.tcp_peer_timeouts++;
		tcp_conn_free(c, dst, is_up ? "client reset" : "backend reset");
		return -1;
	}
	h->done = 1;
	/* Both ways done: the close sends this FIN, no shutdown. */
	if (other->done) {
		tcp_conn_free(c, -1, "closed");
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
		log_warnx("%s: out of memory for an event", tcp_conn_name(c));
		tcp_conn_free(c, RESET_BOTH, "no memory, reset");
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
		log_debug(4, "%s: write: %s", tcp_conn_name(c), strerror(errno));
		tcp_conn_free(c, src, is_up ? "write to backend failed, reset" :
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
	tcp_conn_free(c, RESET_BOTH, "half-closed and silent for "
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

void
tcp_relay_start(struct connection *c, struct event_base *base,
    enum relay_mode mode)
{
	c->state = CONN_RELAYING;
	c->mode = (uint8_t)mode;
	c->up.pipe[0] = c->up.pipe[1] = -1;
	c->down.pipe[0] = c->down.pipe[1] = -1;
	/*
	 * Backend read first, then the connect wait (in up.ev_read) goes:
	 * the backend socket's epoll registration then changes once.
	 */
	event_assign(&c->down.ev_read, base, c->bfd, EV_READ | EV_PERSIST,
	    down_read_cb, c);
	event_add(&c->down.ev_read, NULL);
	event_del(&c->up.ev_read);
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

void
tcp_relay_stop(struct connection *c)
{
	event_del(&c->up.ev_read);
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
