/*
 * udp_proxy.h - the UDP proxy socket of one service port.
 *
 * Datagrams from a client address start a *flow*: a connected socket to an
 * endpoint picked by the lb, kept while traffic passes either way within
 * the idle timeout.  Replies leave from the service socket, from the
 * address the client sent to (IP_PKTINFO, or IPV6_PKTINFO with a mapped
 * address), so conntrack maps them back to
 * clusterIP:port.  Datagrams up to 64 KiB pass whole, batched with
 * recvmmsg.  The flow table is bounded: when full, the oldest flow goes.
 * A wildcard bind serves both families on one dual-stack socket.
 */
#ifndef UDP_PROXY_H
#define UDP_PROXY_H

#include <stdint.h>

#include <event2/event.h>

#include "addr.h"

struct lb;
struct port_stats;
struct udp_proxy;

#define UDP_FLOWS_MAX	16384	/* per service port */

/*
 * Open a UDP socket on `bind` (port 0: kernel-chosen).  lb and stats are
 * borrowed and must outlive the proxy.  idle_ms is the flow idle timeout.
 * Returns NULL with errno set when the socket cannot be bound.
 */
struct udp_proxy *udp_proxy_open(struct event_base *, const union addr *bind,
		    const char *name, struct lb *lb, struct port_stats *stats,
		    uint64_t idle_ms);
uint16_t	 udp_proxy_port(const struct udp_proxy *);
/* Close the socket and every flow; frees the proxy. */
void		 udp_proxy_close(struct udp_proxy *);
unsigned	 udp_proxy_flows(const struct udp_proxy *);
/*
 * The bound of flows over every proxy (default BOUND_UDP_FLOWS_TOTAL;
 * tests lower it).  Past it a port's new flow evicts that port's oldest,
 * and a port with none is refused the flow (see udp_flows.c, udp_flow_new).
 */
void		 udp_proxy_set_flows_total_bound(unsigned);

#endif
