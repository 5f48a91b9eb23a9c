/*
 * tcp_proxy.c - the TCP proxy socket of one service port and its relays.
 *
 * A connection lives in two states.  CONNECTING: the client is accepted,
 * its bytes wait in the kernel (we do not read it) while a nonblocking
 * connect to an endpoint runs under a timer; a failure or timeout tries
 * the next endpoint.  Nothing reads the client then, so the client half's
 * read event is free: it carries the connect wait (see dial_event).
 * RELAYING: bytes move both ways, in tcp_relay.c.
 *
 * Connections end (issue 11), at no cost per read or write:
 * - TCP keepalive (--tcp-keepalive): on the listener, inherited by the
 *   client sockets, and swept onto the backend ones (tcp_keepalive.c).
 * - Connections in total are bounded below RLIMIT_NOFILE (two descriptors
 *   each; the reserve, UDP flows' share and pipes aside: fd_budget.c):
 *   past it, a client is accepted and reset at once, and counted.
 * - Half-closed relays and the relay memory bound: see tcp_relay.c.
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
#include "fd_budget.h"
#include "lb.h"
#include "log.h"
#include "metrics.h"
#include "proxy_socket.h"
#include "relay_pool.h"
#include "tcp_keepalive.h"
#include "tcp_proxy.h"
#include "tcp_relay.h"
#include "udp_proxy.h"
#include "util.h"

#define ACCEPT_BATCH	64	/* accepts per wakeup */
#define ACCEPT_PAUSE_MS	100	/* accepts off after EMFILE and friends */

/* Timeout of each connect attempt; their count is the number of attempts. */
static const unsigned dial_timeout_ms[] = { 250, 500, 1000, 2000 };

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

/* The process-wide state tcp_proxy.h names. */
static enum relay_mode	 relay_mode = RELAY_COPY;
static unsigned		 relays_active;
static unsigned		 relays_max = ~0u;	/* tcp_proxy_configure */
static uint64_t		 over_limit_warn_ms;	/* last "bound reached" line */
/* Relays whose proxy closed, for tcp_relays_close_all. */
static struct conn_list	 orphans = TAILQ_HEAD_INITIALIZER(orphans);


static void	conn_redial(struct connection *);

void
tcp_relay_mode_set(enum relay_mode mode)
{
	relay_mode = mode;
}

void
tcp_proxy_configure(uint64_t keepalive_ms, uint64_t fin_ms, size_t memory)
{
	struct fd_budget fb;
	struct rlimit rl;
	uint64_t nofile = 0;
	int keepalive_s = tcp_keepalive_set(keepalive_ms);

	tcp_relay_set_fin_timeout(fin_ms);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		nofile = rl.rlim_cur;
	fd_budget_share(&fb, nofile, relay_mode == RELAY_SPLICE, memory);
	udp_proxy_set_flows_total_bound((unsigned)fb.fb_udp_flows);
	relays_max = (unsigned)fb.fb_relays;
	metrics_datapath.tcp_conn_limit = relays_max;
	relay_pool_set_limit(memory, (size_t)fb.fb_pipes);
	log_debug(1, "tcp: at most %u connections (RLIMIT_NOFILE %llu), "
	    "relay memory %zu bytes, keepalive %ds, fin timeout %llums",
	    relays_max, (unsigned long long)fb.fb_nofile, memory, keepalive_s,
	    (unsigned long long)fin_ms);
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

const char *
tcp_conn_name(const struct connection *c)
{
	return c->proxy != NULL ? c->proxy->name : "(removed port)";
}

void
tcp_conn_free(struct connection *c, int reset_fd, const char *reason)
{
	char cbuf[ADDR_STRLEN];

	log_debug(4, "%s: client %s: %s", tcp_conn_name(c),
	    addr_str(&c->client, 1, cbuf, sizeof(cbuf)), reason);
	/* Relaying: the client's read; else the dial_event. */
	event_del(&c->up.ev_read);
	if (c->state == CONN_RELAYING)
		tcp_relay_stop(c);
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
	tcp_keepalive_forget(c);
	c->stats->tcp_active--;
	metrics_endpoint_release(c->ep);
	relays_active--;
	free(c);
}

/*
 * Connected: from now on the connection needs neither the lb nor the
 * proxy.  Called last by its callers: the first read may free c.
 */
static void
conn_relay(struct connection *c)
{
	char cbuf[ADDR_STRLEN];

	log_debug(4, "%s: client %s: connected on attempt %u",
	    tcp_conn_name(c), addr_str(&c->client, 1, cbuf, sizeof(cbuf)),
	    c->attempt);
	tcp_relay_start(c, c->proxy->base, relay_mode);
}

/* The current attempt failed: count it and go on with the next one. */
static void
conn_dial_failed(struct connection *c, const char *why)
{
	char cbuf[ADDR_STRLEN];

	log_debug(4, "%s: client %s: connect attempt %u: %s", tcp_conn_name(c),
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
	tcp_keepalive_later(c, p->base);
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
		tcp_conn_free(c, c->cfd, "no endpoint reachable, reset");
		return;
	}
	ep = lb_pick(c->proxy->lb, &c->client, 1, mono_ms());
	if (ep == NULL) {
		tcp_conn_free(c, c->cfd, "no endpoint left, reset");
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
	/* No memory now is like no descriptor: refuse, accept again later. */
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		metrics_datapath.tcp_conn_refused++;
		close_reset(cfd);
		errno = ENOMEM;
		proxy_pause(p, "connection");
		return;
	}
	ep = lb_pick(p->lb, client, 0, mono_ms());
	if (ep == NULL) {
		/* Refuse at once rather than accept-then-close (§9.6). */
		p->stats->tcp_refused++;
		close_reset(cfd);
		free(c);
		return;
	}
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
	tcp_keepalive_socket(fd);
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
	    /* The port the kernel chose; one asked for is the one bound. */
	    (addr_port(bind_addr) == 0 &&
	    getsockname(fd, &local.sa, &len) == -1)) {
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
	p->port = addr_port(bind_addr) != 0 ? addr_port(bind_addr) :
	    addr_port(&local);
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
			tcp_conn_free(c, c->cfd, "port removed while connecting, reset");
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
		tcp_conn_free(c, RESET_BOTH, "shutting down, reset");
	tcp_keepalive_stop();
}
