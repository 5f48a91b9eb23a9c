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
 *
 * The flow table (hash, expiry, bounds, a flow's own socket) is in
 * udp_flows.c; what both files share is in udp_proxy_int.h.
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

#include "log.h"
#include "metrics.h"
#include "proxy_socket.h"
#include "udp_proxy.h"
#include "udp_proxy_int.h"
#include "util.h"

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
/* Cleared for good when the kernel refuses UDP_SEGMENT. */
static int gso_ok = 1;

/* Data-path errors repeat per datagram: warn at most once a second. */
int
udp_proxy_may_warn(struct udp_proxy *up)
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
			if (udp_flow_connect(f, 1, now) == -1) {
				st->udp_dropped += n - sent;
				udp_flow_close(f,
				    "endpoint refused, none left");
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
		if (errno != ECONNREFUSED && udp_proxy_may_warn(up))
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
			if (udp_proxy_may_warn(up))
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
			    udp_flow_find(up, &scratch->peer[i]);
			if (f != run && run != NULL) {
				flow_send(run, nrun, now);
				run = NULL;
				nrun = 0;
			}
			if (f == NULL &&
			    (f = udp_flow_new(up, &scratch->peer[i], m,
			    now)) == NULL) {
				st->udp_dropped++;
				continue;
			}
			udp_flow_touch(f, now);
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

/* Replies from the backend: back to the client, from the service socket. */
void
udp_proxy_flow_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct flow *f = arg;
	struct udp_proxy *up = f->fl_proxy;
	struct port_stats *st = up->up_stats;
	union udp_cmsg cm;
	socklen_t cmlen;
	struct msghdr *o;
	int i, n, k, sent, r, round;

	(void)what;
	cmlen = udp_flow_reply_cmsg(f, &cm);
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
				if (udp_proxy_may_warn(up))
					log_warn("service %s: udp recv from "
					    "backend", up->up_name);
				udp_flow_close(f, "receive failed");
			}
			return;
		}
		udp_flow_touch(f, mono_ms());
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
				if (udp_proxy_may_warn(up))
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
	up->up_expire_ev = evtimer_new(base, udp_flow_expire_cb, up);
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
udp_proxy_close(struct udp_proxy *up)
{
	struct flow *f;

	if (up == NULL)
		return;
	while ((f = TAILQ_FIRST(&up->up_lru)) != NULL)
		udp_flow_close(f, "service port closed");
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
