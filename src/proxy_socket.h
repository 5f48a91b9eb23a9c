/*
 * proxy_socket.h - the socket of a proxy port, on one family or both.
 *
 * --bind-address names one address, but the nat rules of a wildcard bind
 * (0.0.0.0 or ::) send both families' Service traffic to the proxy port.
 * So a wildcard bind becomes one dual-stack socket: AF_INET6 on [::] with
 * IPV6_V6ONLY off, which takes IPv4 clients as IPv4-mapped addresses
 * (ipv6(7)), as Go's net.Listen did for the original.  Only a host without
 * IPv6 gets a plain AF_INET socket.  A specific address keeps its family
 * (the rules redirect only that family to it).
 */
#ifndef PROXY_SOCKET_H
#define PROXY_SOCKET_H

#include "addr.h"

/*
 * A nonblocking close-on-exec socket of `type` (SOCK_STREAM, SOCK_DGRAM)
 * for bind_addr, not yet bound; *as is the address to bind it to (bind_addr
 * itself, or [::] with its port for a dual-stack wildcard).  Returns the
 * descriptor, or -1 with errno set.
 */
int	 proxy_socket(const union addr *bind_addr, int type, union addr *as);

/* Whether a is 0.0.0.0 or ::. */
int	 proxy_addr_is_wildcard(const union addr *a);

#endif
