/*
 * udp_proxy.c - the UDP proxy socket of one service port (see udp_proxy.h).
 *
 * The service socket reads client datagrams in batches (recvmmsg) into
 * 64 KiB buffers, so nothing is ever truncated.  Each client address
 * (IP and port) owns a *flow*: a socket connect()ed to the endpoint the lb
 * picked, whose replies are drained (recvmmsg) and sent back from the
 * service socket with IP_PKTINFO/IPV6_PKTINFO set to the address the
 * client sent to.  After an iptables REDIRECT that address is the one
 * conntrack rewrote to, so the reply is mapped back to clusterIP:port;
 * with a 0.0.0.0 bind it is also the only way to answer from the right
 * address (ip(7), ipv6(7)).
 *
 * Flows live in a hash table keyed by client address and on one list in
 * least-recently-used order.  Because the idle timeout is the same for
 * every flow of a proxy, that list is also the expiry queue: the head is
 * always the next flow to expire.  So instead of one timer per flow
 * re-armed per datagram, a datagram costs a list move, and one timer per
 * proxy fires at the head's deadline, closes what is idle and re-arms for
 * the new head.  The same head is what goes when the table is full.
 *
 * The receive buffers (32 x 64 KiB) are shared by all UDP proxies of the
 * process and reference counted: one loop runs every callback to
 * completion, and per-proxy buffers would cost 2 MiB per service port.
 *
 * Sending, a run of datagrams of one size to one peer goes out as one UDP
 * GSO send (UDP_SEGMENT, udp(7)): the kernel builds one large packet,
 * takes it once through routing, netfilter and the veth or NIC, and cuts
 * it into the original datagrams as late as it can (at the receiving
 * socket on a veth).  Most of the cost of relaying a small datagram is
 * that per-packet path, so this is where a relay of 64 B datagrams gains.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
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
#include "proxy_socket.h"
#include "udp_proxy.h"
#include "util.h"

/* Tests build this file with a small table to watch eviction. */
#ifndef UDP_PROXY_FLOWS_MAX
#define UDP_PROXY_FLOWS_MAX	UDP_FLOWS_MAX
#endif

#define UDP_BATCH	32		/* datagrams per recvmmsg/sendmmsg */
#define UDP_ROUNDS	4		/* batches per callback, for fairness */
#define UDP_BUFSZ	65536		/* > largest UDP payload (65527) */
#define UDP_SOCKBUF	(4 * 1024 * 1024)
#define UDP_PAUSE_MS	100		/* reads off after a receive error */
#define UDP_HASH_MIN	16
/*
 * GSO limits: a segment plus headers must fit the path MTU (else EINVAL,
 * and we fall back), and the whole send in one 64 KiB IP packet of at most
 * 64 segments (UDP_MAX_SEGMENTS of older kernels).
 */
#define UDP_GSO_SEG_MAX	1400
#define UDP_GSO_LEN_MAX	60000
#define UDP_GSO_SEGS	64

union udp_cmsg {
	struct cmsghdr	align;
	char		buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) +
			    CMSG_SPACE(sizeof(struct in_pktinfo))];
};

/* A message's own ancillary data (a reply's PKTINFO) and UDP_SEGMENT. */
union udp_gso_cmsg {
	struct cmsghdr	align;
	char		buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) +
			    CMSG_SPACE(sizeof(uint16_t))];
};

struct udp_scratch {
	unsigned	 refs;
	struct mmsghdr	 in[UDP_BATCH];
	struct mmsghdr	 out[UDP_BATCH];
	struct iovec	 iov[UDP_BATCH];
	union addr	 peer[UDP_BATCH];
	union udp_cmsg	 cmsg[UDP_BATCH];
	struct mmsghdr	 gso[UDP_BATCH];	/* out[] merged into runs */
	struct iovec	 gso_iov[UDP_BATCH];
	union udp_gso_cmsg gso_cmsg[UDP_BATCH];
	int		 gso_first[UDP_BATCH + 1]; /* out[] index of each run */
	unsigned char	*buf;			/* UDP_BATCH * UDP_BUFSZ */
};

/* Shared receive buffers, see the header comment. */
static struct udp_scratch *scratch;
/* Flows of every proxy (metrics_datapath.udp_flows_total counts them). */
static unsigned flows_total_max = BOUND_UDP_FLOWS_TOTAL;
static uint64_t flows_total_warn_ms;	/* last "total bound" line */
/* Cleared for good when the kernel refuses UDP_SEGMENT. */
static int gso_ok = 1;

struct flow {
	struct udp_proxy	*fl_proxy;
	union addr		 fl_client;
	union addr		 fl_backend;	/* copied: lb's array may change */
	struct endpoint_stats	*fl_ep;		/* held: fl_backend's counters */
	union addr		 fl_local;	/* where the client sent to */
	unsigned		 fl_ifindex;
	int			 fl_has_local;
	int			 fl_refused;	/* backend sent ICMP unreachable */
	int			 fl_fd;
	struct event		*fl_ev;
	uint64_t		 fl_last_ms;
	struct flow		*fl_hnext;
	TAILQ_ENTRY(flow)	 fl_lru;
};

TAILQ_HEAD(flow_list, flow);

struct udp_proxy {
	struct event_base	*up_base;
	char			*up_name;
	struct lb		*up_lb;
	struct port_stats	*up_stats;
	uint64_t		 up_idle_ms;
	int			 up_fd;
	uint16_t		 up_port;
	struct event		*up_ev;
	struct event		*up_expire_ev;
	struct event		*up_pause_ev;	/* read again after an error */
	struct flow		**up_hash;
	unsigned		 up_hash_size;	/* power of two */
	unsigned		 up_nflows;
	struct flow_list	 up_lru;	/* head: least recently used */
	uint64_t		 up_warn_ms;	/* last rate-limited warning */
};

static void	flow_read_cb(evutil_socket_t, short, void *);

/* Data-path errors repeat per datagram: warn at most once a second. */
static int
proxy_may_warn(struct udp_proxy *up)
{
	uint64_t now = mono_ms();

	if (up->up_warn_ms != 0 && now - up->up_warn_ms < 1000)
		return 0;
	up->up_warn_ms = now;
	return 1;
}

static void
scratch_ref(void)
{
	if (scratch == NULL) {
		scratch = xcalloc(1, sizeof(*scratch));
		scratch->buf = xcalloc(UDP_BATCH, UDP_BUFSZ);
	}
	scratch->refs++;
}

static void
scratch_unref(void)
{
	if (--scratch->refs > 0)
		return;
	free(scratch->buf);
	free(scratch);
	scratch = NULL;
}

/* Point in[0..n) at the shared buffers, with or without address/cmsg. */
static void
scratch_prepare(int with_peer)
{
	struct msghdr *m;
	int i;

	for (i = 0; i < UDP_BATCH; i++) {
		scratch->iov[i].iov_base = scratch->buf + (size_t)i * UDP_BUFSZ;
		scratch->iov[i].iov_len = UDP_BUFSZ;
		m = &scratch->in[i].msg_hdr;
		memset(m, 0, sizeof(*m));
		m->msg_iov = &scratch->iov[i];
		m->msg_iovlen = 1;
		if (with_peer) {
			m->msg_name = &scratch->peer[i];
			m->msg_namelen = sizeof(scratch->peer[i]);
			m->msg_control = scratch->cmsg[i].buf;
			m->msg_controllen = sizeof(scratch->cmsg[i].buf);
		}
	}
}

static unsigned
flow_bucket(const struct udp_proxy *up, const union addr *client)
{
	return addr_hash(client, 1) & (up->up_hash_size - 1);
}

static struct flow *
flow_find(const struct udp_proxy *up, const union addr *client)
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

static void
flow_touch(struct flow *f, uint64_t now)
{
	struct udp_proxy *up = f->fl_proxy;

	f->fl_last_ms = now;
	if (TAILQ_LAST(&up->up_lru, flow_list) != f) {
		TAILQ_REMOVE(&up->up_lru, f, fl_lru);
		TAILQ_INSERT_TAIL(&up->up_lru, f, fl_lru);
	}
}

static void
flow_close(struct flow *f, const char *reason)
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
static int
flow_connect(struct flow *f, int retry, uint64_t now)
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
		if (proxy_may_warn(up))
			log_warn("service %s: udp socket to %s", up->up_name,
			    addr_str(ep, 1, bb, sizeof(bb)));
		return -1;
	}
	f->fl_ev = event_new(up->up_base, f->fl_fd, EV_READ | EV_PERSIST,
	    flow_read_cb, f);
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

/*
 * A new flow for `client`.  When this port's table is full, or the flows
 * of every port have reached BOUND_UDP_FLOWS_TOTAL, this port's oldest
 * flow goes (only once the new one can carry traffic).  A port with no
 * flow to give refuses the client instead: a flood on one port may cost
 * that port its old flows, never another port's.
 */
static struct flow *
flow_new(struct udp_proxy *up, const union addr *client, struct msghdr *m,
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
	if (flow_connect(f, 0, now) == -1) {
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
		flow_close(TAILQ_FIRST(&up->up_lru), up->up_nflows >=
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
static int
gso_fits(const struct msghdr *first, const struct msghdr *m, size_t seg,
    size_t total, int count)
{
	size_t len = m->msg_iov[0].iov_len;

	return m->msg_name == first->msg_name &&
	    m->msg_control == first->msg_control && len <= seg &&
	    total + len <= UDP_GSO_LEN_MAX && count < UDP_GSO_SEGS;
}

/*
 * sendmmsg(fd, out, n, 0), with runs of equal-size datagrams to the same
 * peer merged into UDP GSO sends (see the header comment).  Same contract:
 * returns how many of out[] were sent (their msg_len set), or -1 with
 * errno when the first could not be.  A run's last datagram may be
 * shorter than the others; a datagram above UDP_GSO_SEG_MAX goes alone.
 */
static int
udp_sendmmsg(int fd, struct mmsghdr *out, int n)
{
	struct mmsghdr *g;
	struct msghdr *first, *m;
	struct cmsghdr *c;
	size_t seg, total, clen;
	uint16_t seg16;
	int i, j, k, r, sent;

	if (!gso_ok || n < 2)
		return sendmmsg(fd, out, n, 0);
	for (i = k = 0; i < n; k++) {
		first = &out[i].msg_hdr;
		seg = first->msg_iov[0].iov_len;
		total = seg;
		scratch->gso_first[k] = i;
		scratch->gso_iov[i] = first->msg_iov[0];
		/* A run goes on while sizes stay equal; a shorter one ends it. */
		for (j = i + 1; seg <= UDP_GSO_SEG_MAX && j < n &&
		    out[j - 1].msg_hdr.msg_iov[0].iov_len == seg &&
		    gso_fits(first, &out[j].msg_hdr, seg, total, j - i); j++) {
			scratch->gso_iov[j] = out[j].msg_hdr.msg_iov[0];
			total += out[j].msg_hdr.msg_iov[0].iov_len;
		}
		g = &scratch->gso[k];
		g->msg_hdr = *first;
		g->msg_hdr.msg_iov = &scratch->gso_iov[i];
		g->msg_hdr.msg_iovlen = (size_t)(j - i);
		if (j - i > 1) {
			/* Its own ancillary data, then the segment size. */
			clen = first->msg_controllen;
			memset(&scratch->gso_cmsg[k], 0, sizeof(scratch->gso_cmsg[k]));
			if (clen > 0)
				memcpy(scratch->gso_cmsg[k].buf, first->msg_control,
				    clen);
			c = (struct cmsghdr *)(void *)(scratch->gso_cmsg[k].buf +
			    clen);
			c->cmsg_level = IPPROTO_UDP;
			c->cmsg_type = UDP_SEGMENT;
			c->cmsg_len = CMSG_LEN(sizeof(seg16));
			seg16 = (uint16_t)seg;
			memcpy(CMSG_DATA(c), &seg16, sizeof(seg16));
			g->msg_hdr.msg_control = scratch->gso_cmsg[k].buf;
			g->msg_hdr.msg_controllen = clen +
			    CMSG_SPACE(sizeof(seg16));
		}
		i = j;
	}
	scratch->gso_first[k] = n;
	r = sendmmsg(fd, scratch->gso, (unsigned)k, 0);
	if (r == -1 && (errno == EINVAL || errno == EIO ||
	    errno == ENOPROTOOPT || errno == EOPNOTSUPP) &&
	    scratch->gso[0].msg_hdr.msg_iovlen > 1) {
		/*
		 * No UDP GSO here (an old kernel, a device without checksum
		 * offload, a segment above the path MTU): plain sends from
		 * now on.
		 */
		gso_ok = 0;
		log_debug(1, "udp: no UDP GSO (%s), sending datagrams one by one",
		    strerror(errno));
		return sendmmsg(fd, out, n, 0);
	}
	if (r <= 0)
		return r;
	sent = scratch->gso_first[r];
	for (j = 0; j < sent; j++) {
		m = &out[j].msg_hdr;
		out[j].msg_len = (unsigned)m->msg_iov[0].iov_len;
	}
	return sent;
}

/*
 * Send out[0..n) on the flow's connected socket.  A refused send means an
 * ICMP port unreachable came back for an earlier datagram: the endpoint is
 * gone, so the flow moves to another one (lb retry) and the datagram goes
 * there.  May close the flow.
 */
static void
flow_send(struct flow *f, int n, uint64_t now)
{
	struct udp_proxy *up = f->fl_proxy;
	struct port_stats *st = up->up_stats;
	struct mmsghdr *out = scratch->out;
	int sent = 0, r, retried = 0, j;

	while (sent < n) {
		if (f->fl_refused) {
			retried = 1;
			st->dial_failures++;
			f->fl_ep->es_dial_failures++;
			st->dial_retries++;
			if (flow_connect(f, 1, now) == -1) {
				st->udp_dropped += n - sent;
				flow_close(f, "endpoint refused, none left");
				return;
			}
		}
		r = udp_sendmmsg(f->fl_fd, out + sent, n - sent);
		if (r > 0) {
			for (j = sent; j < sent + r; j++)
				st->bytes_to_backend += out[j].msg_len;
			sent += r;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == ECONNREFUSED && !retried) {
			f->fl_refused = 1;
			continue;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK ||
		    errno == ENOBUFS) {
			/* Socket buffer full: the rest would fail too. */
			st->udp_dropped += n - sent;
			return;
		}
		if (errno != ECONNREFUSED && proxy_may_warn(up))
			log_warn("service %s: udp send to backend",
			    up->up_name);
		st->udp_dropped++;
		sent++;
	}
}

/* The pause after a receive error is over. */
static void
proxy_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct udp_proxy *up = arg;

	(void)fd;
	(void)what;
	event_add(up->up_ev, NULL);
}

/* Client datagrams: batch by flow and forward. */
static void
proxy_read_cb(evutil_socket_t fd, short what, void *arg)
{
	static const struct timeval pause = { 0, UDP_PAUSE_MS * 1000 };
	struct udp_proxy *up = arg;
	struct port_stats *st = up->up_stats;
	struct flow *f, *run = NULL;
	struct msghdr *m;
	struct mmsghdr *o;
	uint64_t now;
	int i, n, nrun, round;

	(void)what;
	for (round = 0; round < UDP_ROUNDS; round++) {
		scratch_prepare(1);
		n = recvmmsg(fd, scratch->in, UDP_BATCH, 0, NULL);
		if (n == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK ||
			    errno == EINTR)
				return;
			/*
			 * ENOMEM and the like: the datagram stays queued and
			 * the socket readable, so reading again at once would
			 * spin.  Pause, as accepts do on EMFILE.
			 */
			if (proxy_may_warn(up))
				log_warn("service %s: udp recv, pausing reads",
				    up->up_name);
			event_del(up->up_ev);
			evtimer_add(up->up_pause_ev, &pause);
			return;
		}
		now = mono_ms();
		run = NULL;
		nrun = 0;
		for (i = 0; i < n; i++) {
			m = &scratch->in[i].msg_hdr;
			st->udp_datagrams_in++;
			if (m->msg_flags & MSG_TRUNC) {
				st->udp_dropped++;
				continue;
			}
			f = (run != NULL && addr_cmp(&run->fl_client,
			    &scratch->peer[i]) == 0) ? run :
			    flow_find(up, &scratch->peer[i]);
			if (f != run && run != NULL) {
				flow_send(run, nrun, now);
				run = NULL;
				nrun = 0;
			}
			if (f == NULL &&
			    (f = flow_new(up, &scratch->peer[i], m, now)) == NULL) {
				st->udp_dropped++;
				continue;
			}
			flow_touch(f, now);
			run = f;
			scratch->iov[i].iov_len = scratch->in[i].msg_len;
			o = &scratch->out[nrun++];
			memset(o, 0, sizeof(*o));
			o->msg_hdr.msg_iov = &scratch->iov[i];
			o->msg_hdr.msg_iovlen = 1;
		}
		if (run != NULL)
			flow_send(run, nrun, now);
		if (n < UDP_BATCH)
			return;
	}
}

/* The reply's source: the address the client sent to. */
static socklen_t
flow_reply_cmsg(const struct flow *f, union udp_cmsg *cm)
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

/* Replies from the backend: back to the client, from the service socket. */
static void
flow_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct flow *f = arg;
	struct udp_proxy *up = f->fl_proxy;
	struct port_stats *st = up->up_stats;
	union udp_cmsg cm;
	socklen_t cmlen;
	struct msghdr *o;
	int i, n, k, sent, r, round;

	(void)what;
	cmlen = flow_reply_cmsg(f, &cm);
	for (round = 0; round < UDP_ROUNDS; round++) {
		scratch_prepare(0);
		n = recvmmsg(fd, scratch->in, UDP_BATCH, 0, NULL);
		if (n == -1) {
			/* ICMP unreachable from the endpoint: move on next send. */
			if (errno == ECONNREFUSED)
				f->fl_refused = 1;
			else if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR) {
				/*
				 * Anything else would come back on every
				 * loop turn: the flow goes, and the client's
				 * next datagram makes a new one.
				 */
				if (proxy_may_warn(up))
					log_warn("service %s: udp recv from "
					    "backend", up->up_name);
				flow_close(f, "receive failed");
			}
			return;
		}
		flow_touch(f, mono_ms());
		for (i = k = 0; i < n; i++) {
			st->udp_datagrams_out++;
			if (scratch->in[i].msg_hdr.msg_flags & MSG_TRUNC) {
				st->udp_dropped++;
				continue;
			}
			scratch->iov[i].iov_len = scratch->in[i].msg_len;
			o = &scratch->out[k++].msg_hdr;
			memset(o, 0, sizeof(*o));
			o->msg_name = &f->fl_client;
			o->msg_namelen = addr_len(&f->fl_client);
			o->msg_iov = &scratch->iov[i];
			o->msg_iovlen = 1;
			o->msg_control = cmlen ? cm.buf : NULL;
			o->msg_controllen = cmlen;
		}
		for (sent = 0; sent < k; ) {
			r = udp_sendmmsg(up->up_fd, scratch->out + sent,
			    k - sent);
			if (r > 0) {
				for (i = sent; i < sent + r; i++)
					st->bytes_to_client +=
					    scratch->out[i].msg_len;
				sent += r;
			} else if (errno == EINTR) {
				continue;
			} else if (errno == EAGAIN || errno == EWOULDBLOCK ||
			    errno == ENOBUFS) {
				st->udp_dropped += k - sent;
				break;
			} else {
				if (proxy_may_warn(up))
					log_warn("service %s: udp send to client",
					    up->up_name);
				st->udp_dropped++;
				sent++;
			}
		}
		if (n < UDP_BATCH)
			return;
	}
}

/* Close the flows idle for idle_ms, oldest first; re-arm for the next. */
static void
proxy_expire_cb(evutil_socket_t fd, short what, void *arg)
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
		flow_close(f, "idle timeout");
	}
}

static void
sock_setint(int fd, int level, int opt, int val)
{
	(void)setsockopt(fd, level, opt, &val, sizeof(val));
}

struct udp_proxy *
udp_proxy_open(struct event_base *base, const union addr *bind_addr,
    const char *name, struct lb *lb, struct port_stats *stats,
    uint64_t idle_ms)
{
	struct udp_proxy *up;
	union addr bound, as;
	socklen_t len = sizeof(bound);
	int fd, saved;

	/*
	 * A wildcard bind takes both families on one dual-stack socket
	 * (proxy_socket.h).  Its IPv4 clients arrive as IPv4-mapped
	 * addresses with an IPV6_PKTINFO of the mapped address they sent
	 * to, and replies leave from that address through IPV6_PKTINFO too
	 * (see flow_set_local): one socket and one code path for both
	 * families, rather than a second socket per port that the port
	 * allocator would have to find free in both families at once.
	 */
	if ((fd = proxy_socket(bind_addr, SOCK_DGRAM, &as)) == -1)
		return NULL;
	if (addr_port(bind_addr) != 0)	/* see tcp_proxy_open */
		sock_setint(fd, SOL_SOCKET, SO_REUSEADDR, 1);
	if (as.sa.sa_family == AF_INET6) {
		if (setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &(int){1},
		    sizeof(int)) == -1)
			goto fail;
	} else if (setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &(int){1},
	    sizeof(int)) == -1)
		goto fail;
	/* Beyond net.core.[rw]mem_max only with CAP_NET_ADMIN; best effort. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &(int){UDP_SOCKBUF},
	    sizeof(int)) == -1)
		sock_setint(fd, SOL_SOCKET, SO_RCVBUF, UDP_SOCKBUF);
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &(int){UDP_SOCKBUF},
	    sizeof(int)) == -1)
		sock_setint(fd, SOL_SOCKET, SO_SNDBUF, UDP_SOCKBUF);
	if (bind(fd, &as.sa, addr_len(&as)) == -1 ||
	    getsockname(fd, &bound.sa, &len) == -1)
		goto fail;

	up = xcalloc(1, sizeof(*up));
	up->up_base = base;
	up->up_name = xstrdup(name);
	up->up_lb = lb;
	up->up_stats = stats;
	up->up_idle_ms = idle_ms > 0 ? idle_ms : 1;
	up->up_fd = fd;
	up->up_port = addr_port(&bound);
	up->up_hash_size = UDP_HASH_MIN;
	up->up_hash = xcalloc(up->up_hash_size, sizeof(*up->up_hash));
	TAILQ_INIT(&up->up_lru);
	up->up_ev = event_new(base, fd, EV_READ | EV_PERSIST, proxy_read_cb, up);
	up->up_expire_ev = evtimer_new(base, proxy_expire_cb, up);
	up->up_pause_ev = evtimer_new(base, proxy_resume_cb, up);
	scratch_ref();
	if (up->up_ev == NULL || up->up_expire_ev == NULL ||
	    up->up_pause_ev == NULL || event_add(up->up_ev, NULL) == -1) {
		/* Out of memory: this port has no proxy now, the rest goes on. */
		udp_proxy_close(up);
		errno = ENOMEM;
		return NULL;
	}
	log_debug(2, "service %s: udp proxy on port %u", name, up->up_port);
	return up;
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return NULL;
}

uint16_t
udp_proxy_port(const struct udp_proxy *up)
{
	return up->up_port;
}

unsigned
udp_proxy_flows(const struct udp_proxy *up)
{
	return up->up_nflows;
}

void
udp_proxy_set_flows_total_bound(unsigned max)
{
	flows_total_max = max > 0 ? max : 1;
}

void
udp_proxy_close(struct udp_proxy *up)
{
	struct flow *f;

	if (up == NULL)
		return;
	while ((f = TAILQ_FIRST(&up->up_lru)) != NULL)
		flow_close(f, "service port closed");
	if (up->up_ev != NULL)
		event_free(up->up_ev);
	if (up->up_expire_ev != NULL)
		event_free(up->up_expire_ev);
	if (up->up_pause_ev != NULL)
		event_free(up->up_pause_ev);
	close(up->up_fd);
	free(up->up_hash);
	free(up->up_name);
	free(up);
	scratch_unref();
}
