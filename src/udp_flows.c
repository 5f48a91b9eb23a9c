/*
 * udp_flows.c - the flow table of the UDP proxy (see udp_proxy.h): one
 * flow per client address, its socket to the endpoint, the address its
 * replies leave from, its expiry, and the bounds on flows.
 *
 * Flows live in a hash table keyed by client address and on one list in
 * least-recently-used order.  Because the idle timeout is the same for
 * every flow of a proxy, that list is also the expiry queue: the head is
 * always the next flow to expire.  So instead of one timer per flow
 * re-armed per datagram, a datagram costs a list move, and one timer per
 * proxy fires at the head's deadline, closes what is idle and re-arms for
 * the new head.  The same head is what goes when the table is full.
 *
 * The service socket and the batches that carry datagrams both ways are
 * in udp_proxy.c.
 */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <event2/event.h>

#include "bounds.h"
#include "lb.h"
#include "log.h"
#include "metrics.h"
#include "udp_proxy.h"
#include "udp_proxy_int.h"
#include "util.h"

/* Tests build this file with a small table to watch eviction. */
#ifndef UDP_PROXY_FLOWS_MAX
#define UDP_PROXY_FLOWS_MAX	UDP_FLOWS_MAX
#endif

/* Flows of every proxy (metrics_datapath.udp_flows_total counts them). */
static unsigned flows_total_max = BOUND_UDP_FLOWS_TOTAL;
static uint64_t flows_total_warn_ms;	/* last "total bound" line */

static unsigned
flow_bucket(const struct udp_proxy *up, const union addr *client)
{
	return addr_hash(client, 1) & (up->up_hash_size - 1);
}

struct flow *
udp_flow_find(const struct udp_proxy *up, const union addr *client)
{
	struct flow *f;

	for (f = up->up_hash[flow_bucket(up, client)]; f; f = f->fl_hnext)
		if (addr_cmp(&f->fl_client, client) == 0)
			return f;
	return NULL;
}

/* Keep the load factor at most 1, up to the table bound. */
static void
hash_grow(struct udp_proxy *up)
{
	struct flow **old = up->up_hash, **grown, *f, *next;
	unsigned i, n = up->up_hash_size, b;

	if (up->up_nflows < n || n >= UDP_PROXY_FLOWS_MAX)
		return;
	/* No memory: longer chains until the next try, nothing worse. */
	if ((grown = calloc(n * 2, sizeof(*grown))) == NULL)
		return;
	up->up_hash_size = n * 2;
	up->up_hash = grown;
	for (i = 0; i < n; i++)
		for (f = old[i]; f; f = next) {
			next = f->fl_hnext;
			b = flow_bucket(up, &f->fl_client);
			f->fl_hnext = up->up_hash[b];
			up->up_hash[b] = f;
		}
	free(old);
}

static void
hash_remove(struct udp_proxy *up, struct flow *f)
{
	struct flow **pp = &up->up_hash[flow_bucket(up, &f->fl_client)];

	while (*pp != f)
		pp = &(*pp)->fl_hnext;
	*pp = f->fl_hnext;
}

static void
expire_arm(struct udp_proxy *up, uint64_t in_ms)
{
	struct timeval tv;

	tv.tv_sec = in_ms / 1000;
	tv.tv_usec = (in_ms % 1000) * 1000;
	evtimer_add(up->up_expire_ev, &tv);
}

void
udp_flow_touch(struct flow *f, uint64_t now)
{
	struct udp_proxy *up = f->fl_proxy;

	f->fl_last_ms = now;
	if (TAILQ_LAST(&up->up_lru, flow_list) != f) {
		TAILQ_REMOVE(&up->up_lru, f, fl_lru);
		TAILQ_INSERT_TAIL(&up->up_lru, f, fl_lru);
	}
}

void
udp_flow_close(struct flow *f, const char *reason)
{
	struct udp_proxy *up = f->fl_proxy;
	char cb[ADDR_STRLEN], bb[ADDR_STRLEN];

	log_debug(4, "service %s: udp flow %s -> %s closed: %s", up->up_name,
	    addr_str(&f->fl_client, 1, cb, sizeof(cb)),
	    addr_str(&f->fl_backend, 1, bb, sizeof(bb)), reason);
	hash_remove(up, f);
	TAILQ_REMOVE(&up->up_lru, f, fl_lru);
	up->up_nflows--;
	up->up_stats->udp_flows_active--;
	metrics_datapath.udp_flows_total--;
	metrics_endpoint_release(f->fl_ep);
	if (f->fl_ev != NULL)
		event_free(f->fl_ev);
	if (f->fl_fd != -1)
		close(f->fl_fd);
	free(f);
}

/*
 * Give the flow a socket connected to an endpoint from the lb.  Returns 0,
 * or -1 when there is no endpoint or no socket (the old one, if any, is
 * already gone; the caller closes the flow).
 */
int
udp_flow_connect(struct flow *f, int retry, uint64_t now)
{
	struct udp_proxy *up = f->fl_proxy;
	const union addr *ep;
	char cb[ADDR_STRLEN], bb[ADDR_STRLEN];

	if (f->fl_ev != NULL) {
		event_free(f->fl_ev);
		f->fl_ev = NULL;
	}
	if (f->fl_fd != -1) {
		close(f->fl_fd);
		f->fl_fd = -1;
	}
	f->fl_refused = 0;
	if ((ep = lb_pick(up->up_lb, &f->fl_client, retry, now)) == NULL) {
		log_debug(4, "service %s: udp from %s: no endpoint",
		    up->up_name, addr_str(&f->fl_client, 1, cb, sizeof(cb)));
		return -1;
	}
	f->fl_backend = *ep;
	metrics_endpoint_release(f->fl_ep);
	f->fl_ep = metrics_endpoint_hold(lb_endpoint_stats(up->up_lb, ep));
	if (retry)
		f->fl_ep->es_dial_retries++;
	/* Connecting a UDP socket only sets its peer: it never blocks. */
	f->fl_fd = socket(ep->sa.sa_family,
	    SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (f->fl_fd == -1 ||
	    connect(f->fl_fd, &ep->sa, addr_len(ep)) == -1) {
		if (udp_proxy_may_warn(up))
			log_warn("service %s: udp socket to %s", up->up_name,
			    addr_str(ep, 1, bb, sizeof(bb)));
		return -1;
	}
	f->fl_ev = event_new(up->up_base, f->fl_fd, EV_READ | EV_PERSIST,
	    udp_proxy_flow_read_cb, f);
	if (f->fl_ev == NULL || event_add(f->fl_ev, NULL) == -1) {
		log_warnx("service %s: udp flow event", up->up_name);
		return -1;
	}
	up->up_stats->udp_flows_created++;
	log_debug(4, "service %s: udp flow %s -> %s%s", up->up_name,
	    addr_str(&f->fl_client, 1, cb, sizeof(cb)),
	    addr_str(ep, 1, bb, sizeof(bb)), retry ? " (retry)" : "");
	return 0;
}

/* Remember where the client sent to, from its IP(V6)_PKTINFO. */
static void
flow_set_local(struct flow *f, struct msghdr *m)
{
	struct cmsghdr *c;
	struct in_pktinfo pi;
	struct in6_pktinfo pi6;

	for (c = CMSG_FIRSTHDR(m); c != NULL; c = CMSG_NXTHDR(m, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			f->fl_local.in4.sin_family = AF_INET;
			/* A multicast destination cannot be a source. */
			f->fl_local.in4.sin_addr =
			    IN_MULTICAST(ntohl(pi.ipi_addr.s_addr)) ?
			    pi.ipi_spec_dst : pi.ipi_addr;
			f->fl_has_local = 1;
		} else if (c->cmsg_level == IPPROTO_IPV6 &&
		    c->cmsg_type == IPV6_PKTINFO) {
			memcpy(&pi6, CMSG_DATA(c), sizeof(pi6));
			f->fl_local.in6.sin6_family = AF_INET6;
			f->fl_local.in6.sin6_addr = pi6.ipi6_addr;
			/* The interface matters only for link-local. */
			if (IN6_IS_ADDR_LINKLOCAL(&pi6.ipi6_addr))
				f->fl_ifindex = pi6.ipi6_ifindex;
			/*
			 * An IPv4 client of a dual-stack socket: the kernel
			 * gives IPV6_PKTINFO with the IPv4-mapped address it
			 * was sent to, and takes the same back on send
			 * (ip_cmsg_send), so the reply leaves from it.
			 */
			if (IN6_IS_ADDR_V4MAPPED(&pi6.ipi6_addr))
				f->fl_has_local = !IN_MULTICAST(ntohl(
				    pi6.ipi6_addr.s6_addr32[3]));
			else
				f->fl_has_local =
				    !IN6_IS_ADDR_MULTICAST(&pi6.ipi6_addr);
		}
	}
}

/* The reply's source: the address the client sent to. */
socklen_t
udp_flow_reply_cmsg(const struct flow *f, union udp_cmsg *cm)
{
	struct cmsghdr *c = &cm->align;
	struct in_pktinfo pi;
	struct in6_pktinfo pi6;

	memset(cm, 0, sizeof(*cm));
	if (!f->fl_has_local)
		return 0;
	if (f->fl_local.sa.sa_family == AF_INET) {
		memset(&pi, 0, sizeof(pi));
		pi.ipi_spec_dst = f->fl_local.in4.sin_addr;
		c->cmsg_level = IPPROTO_IP;
		c->cmsg_type = IP_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(c), &pi, sizeof(pi));
		return CMSG_SPACE(sizeof(pi));
	}
	memset(&pi6, 0, sizeof(pi6));
	pi6.ipi6_addr = f->fl_local.in6.sin6_addr;
	pi6.ipi6_ifindex = f->fl_ifindex;
	c->cmsg_level = IPPROTO_IPV6;
	c->cmsg_type = IPV6_PKTINFO;
	c->cmsg_len = CMSG_LEN(sizeof(pi6));
	memcpy(CMSG_DATA(c), &pi6, sizeof(pi6));
	return CMSG_SPACE(sizeof(pi6));
}

/*
 * A new flow for `client`.  When this port's table is full, or the flows
 * of every port have reached BOUND_UDP_FLOWS_TOTAL, this port's oldest
 * flow goes (only once the new one can carry traffic).  A port with no
 * flow to give refuses the client instead: a flood on one port may cost
 * that port its old flows, never another port's.
 */
struct flow *
udp_flow_new(struct udp_proxy *up, const union addr *client, struct msghdr *m,
    uint64_t now)
{
	struct flow *f;
	unsigned b;
	int full = up->up_nflows >= UDP_PROXY_FLOWS_MAX ||
	    metrics_datapath.udp_flows_total >= flows_total_max;
	char cb[ADDR_STRLEN];

	if (full && up->up_nflows == 0) {
		metrics_datapath.udp_flows_refused++;
		if (flows_total_warn_ms == 0 || now - flows_total_warn_ms >= 1000) {
			flows_total_warn_ms = now;
			log_warnx("service %s: udp from %s: %u flows open over "
			    "all ports, the bound (BOUND_UDP_FLOWS_TOTAL): "
			    "datagram dropped", up->up_name,
			    addr_str(client, 1, cb, sizeof(cb)),
			    (unsigned)metrics_datapath.udp_flows_total);
		}
		return NULL;
	}
	if ((f = calloc(1, sizeof(*f))) == NULL) {
		metrics_datapath.udp_flows_refused++;
		return NULL;
	}
	f->fl_proxy = up;
	f->fl_client = *client;
	f->fl_fd = -1;
	flow_set_local(f, m);
	if (udp_flow_connect(f, 0, now) == -1) {
		if (f->fl_ev != NULL)
			event_free(f->fl_ev);
		if (f->fl_fd != -1)
			close(f->fl_fd);
		metrics_endpoint_release(f->fl_ep);
		free(f);
		return NULL;
	}
	/* Only now that the new flow can carry traffic does the oldest go. */
	if (full) {
		up->up_stats->udp_flows_evicted++;
		udp_flow_close(TAILQ_FIRST(&up->up_lru), up->up_nflows >=
		    UDP_PROXY_FLOWS_MAX ? "table full, evicted" :
		    "flows of all ports at their bound, evicted");
	}
	f->fl_last_ms = now;
	up->up_nflows++;
	up->up_stats->udp_flows_active++;
	metrics_datapath.udp_flows_total++;
	hash_grow(up);
	b = flow_bucket(up, client);
	f->fl_hnext = up->up_hash[b];
	up->up_hash[b] = f;
	TAILQ_INSERT_TAIL(&up->up_lru, f, fl_lru);
	if (!evtimer_pending(up->up_expire_ev, NULL))
		expire_arm(up, up->up_idle_ms);
	return f;
}

/* Can out[j] join a run that starts at out[first] with segment size seg? */
/* Close the flows idle for idle_ms, oldest first; re-arm for the next. */
void
udp_flow_expire_cb(evutil_socket_t fd, short what, void *arg)
{
	struct udp_proxy *up = arg;
	struct flow *f;
	uint64_t now = mono_ms();

	(void)fd;
	(void)what;
	while ((f = TAILQ_FIRST(&up->up_lru)) != NULL) {
		if (now - f->fl_last_ms < up->up_idle_ms) {
			expire_arm(up, f->fl_last_ms + up->up_idle_ms - now);
			return;
		}
		udp_flow_close(f, "idle timeout");
	}
}

void
udp_proxy_set_flows_total_bound(unsigned max)
{
	flows_total_max = max > 0 ? max : 1;
	metrics_datapath.udp_flows_limit = flows_total_max;
}
