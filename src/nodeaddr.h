/*
 * nodeaddr.h - the node's own addresses, as kube-proxy sees them.
 *
 * Two questions about this node, answered from the configuration and the
 * kernel at start-up: its primary IP of each family (kube-proxy's nodeIP,
 * which decides whether loadBalancerSourceRanges let the node itself in,
 * and what `--nodeport-addresses primary` means), and the local addresses
 * NodePorts and health-check node ports answer on (--nodeport-addresses).
 */
#ifndef NODEADDR_H
#define NODEADDR_H

#include <stddef.h>

#include "addr.h"

struct config;

/*
 * The node's primary IP of `family` (AF_INET or AF_INET6) into *out
 * (port 0): --bind-address when it is a specific address of that
 * family, else the source address the kernel picks for the default route
 * (a route lookup by connect() on a UDP socket: nothing is sent).
 * Returns 0, or -1 when the node has no route of that family.
 */
int	nodeaddr_primary(const struct config *, int family, union addr *out);

/*
 * The ranges NodePorts are limited to: --nodeport-addresses as given,
 * or for "primary" the primary IPs as /32 and /128, a loopback one left
 * out as kube-proxy does (none at all: every local address, with a
 * warning).  *n 0 (and *out NULL): every local address.
 * The caller frees *out.
 */
void	nodeaddr_nodeport_ranges(const struct config *,
	    struct addr_prefix **out, size_t *n);

/*
 * For the health-check node port server: the local addresses (now, from
 * getifaddrs) that lie in ranges[0..n) as nodeaddr_nodeport_ranges gave
 * them, to bind one socket on each (port 0 in each).  Returns how many,
 * with *out allocated (caller frees), or -1 when n is 0: every local
 * address, bind the wildcard.
 */
int	nodeaddr_local_in(const struct addr_prefix *ranges, size_t n,
	    union addr **out);

/* Does the IP lie in one of ranges[0..n)?  n 0: yes (every address). */
int	nodeaddr_allowed(const struct addr_prefix *ranges, size_t n,
	    const union addr *ip);

#endif
