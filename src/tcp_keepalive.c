/*
 * tcp_keepalive.c - TCP keepalive on proxied connections (tcp_keepalive.h).
 */
#include <sys/param.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "tcp_keepalive.h"
#include "tcp_relay.h"

#define KEEPALIVE_PROBES 3	/* --tcp-keepalive: probes before a peer is dead */

static int		 keepalive_s;		/* 0: off */
/* Connections whose backend socket waits for keepalive_sweep_cb. */
static struct conn_list	 ka_pending = TAILQ_HEAD_INITIALIZER(ka_pending);
static struct event	 ka_ev;			/* the sweep; static: no leak */
static int		 ka_ev_assigned;

int
tcp_keepalive_set(uint64_t keepalive_ms)
{
	/* TCP_KEEPIDLE and TCP_KEEPINTVL are whole seconds, at most 32767. */
	keepalive_s = keepalive_ms == 0 ? 0 : (int)MIN((keepalive_ms + 999) /
	    1000, 32767);
	return keepalive_s;
}

/* Idle and interval the same, KEEPALIVE_PROBES probes. */
void
tcp_keepalive_socket(int fd)
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

static void
sweep_later(void)
{
	struct timeval tv;

	tv.tv_sec = keepalive_s / 2;
	tv.tv_usec = (keepalive_s % 2) * 500000;
	evtimer_add(&ka_ev, &tv);
}

/* Set keepalive on the backend sockets made since the last sweep. */
static void
keepalive_sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	struct connection *c, *next;

	(void)fd;
	(void)what;
	(void)arg;
	for (c = TAILQ_FIRST(&ka_pending); c != NULL; c = next) {
		next = TAILQ_NEXT(c, ka_entry);
		/* (Between two connect attempts: the next sweep.) */
		if (c->bfd == -1)
			continue;
		tcp_keepalive_socket(c->bfd);
		TAILQ_REMOVE(&ka_pending, c, ka_entry);
		c->ka_pending = 0;
	}
	if (!TAILQ_EMPTY(&ka_pending))
		sweep_later();
}

void
tcp_keepalive_later(struct connection *c, struct event_base *base)
{
	if (keepalive_s == 0 || c->ka_pending)
		return;
	TAILQ_INSERT_TAIL(&ka_pending, c, ka_entry);
	c->ka_pending = 1;
	if (!ka_ev_assigned) {
		evtimer_assign(&ka_ev, base, keepalive_sweep_cb, NULL);
		ka_ev_assigned = 1;
	}
	if (!evtimer_pending(&ka_ev, NULL))
		sweep_later();
}

void
tcp_keepalive_forget(struct connection *c)
{
	if (c->ka_pending) {
		TAILQ_REMOVE(&ka_pending, c, ka_entry);
		c->ka_pending = 0;
	}
}

void
tcp_keepalive_stop(void)
{
	if (ka_ev_assigned)
		event_del(&ka_ev);
}
