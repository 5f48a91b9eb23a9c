/*
 * udp_proxy_int.h - the UDP proxy's internals, shared by its files.
 *
 * Private to src/udp_proxy.c and src/udp_flows.c: nothing else includes
 * it (callers use udp_proxy.h).  udp_proxy.c keeps the service socket and
 * the batches in both directions; udp_flows.c the flow table: one flow
 * per client, its socket to the endpoint, expiry and bounds.
 */
#ifndef UDP_PROXY_INT_H
#define UDP_PROXY_INT_H

#include <netinet/in.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <event2/event.h>

#include "addr.h"

struct endpoint_stats;
struct lb;
struct port_stats;


union udp_cmsg {
	struct cmsghdr	align;
	char		buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) +
			    CMSG_SPACE(sizeof(struct in_pktinfo))];
};

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

/* udp_proxy.c */
/* 1: warn now; data-path errors repeat per datagram, so once a second. */
int		 udp_proxy_may_warn(struct udp_proxy *);
/* Replies from the flow's endpoint (arg: the flow); may close the flow. */
void		 udp_proxy_flow_read_cb(evutil_socket_t, short, void *);

/* udp_flows.c */
/* The flow of `client`, or NULL. */
struct flow	*udp_flow_find(const struct udp_proxy *,
		    const union addr *client);
/* A new flow for client (m: its first datagram), or NULL: see udp_flows.c. */
struct flow	*udp_flow_new(struct udp_proxy *, const union addr *client,
		    struct msghdr *m, uint64_t now);
/* Traffic passed: the flow is the most recently used. */
void		 udp_flow_touch(struct flow *, uint64_t now);
/* Close the flow's socket and free it; reason goes to the debug log. */
void		 udp_flow_close(struct flow *, const char *reason);
/* A new endpoint and socket for the flow; -1: the caller closes it. */
int		 udp_flow_connect(struct flow *, int retry, uint64_t now);
/* Fill cm with the reply's PKTINFO; returns its length (0: none). */
socklen_t	 udp_flow_reply_cmsg(const struct flow *, union udp_cmsg *cm);
/* The expiry timer of a proxy (arg: the proxy). */
void		 udp_flow_expire_cb(evutil_socket_t, short, void *);

#endif
