/*
 * nodeaddr.c - the node's primary IPs and NodePort addresses (see
 * nodeaddr.h).
 *
 * kube-proxy takes its node IPs from --bind-address, else from the Node
 * object's addresses, else 127.0.0.1.  Our sources do not carry the
 * Node's addresses, so the middle step here is the kernel's own answer
 * to "which address would this node send from": the source address of
 * the default route.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "nodeaddr.h"
#include "util.h"

/*
 * Destinations for the route lookup: documentation prefixes (RFC 5737,
 * RFC 3849), never reached: connect() on UDP only picks a route.
 */
#define PROBE4	"192.0.2.1"
#define PROBE6	"2001:db8::1"

static int
is_specific(const union addr *a)
{
	if (a->sa.sa_family == AF_INET6)
		return !IN6_IS_ADDR_UNSPECIFIED(&a->in6.sin6_addr);
	return a->sa.sa_family == AF_INET &&
	    a->in4.sin_addr.s_addr != htonl(INADDR_ANY);
}

static int
is_loopback(const union addr *a)
{
	if (a->sa.sa_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&a->in6.sin6_addr);
	return (ntohl(a->in4.sin_addr.s_addr) >> 24) == 127;
}

int
nodeaddr_primary(const struct config *cfg, int family, union addr *out)
{
	union addr probe, src;
	socklen_t len = sizeof(src);
	int fd, rc = -1;

	memset(out, 0, sizeof(*out));
	if (cfg != NULL && cfg->bind_address.sa.sa_family == family &&
	    is_specific(&cfg->bind_address)) {
		*out = cfg->bind_address;
		addr_set_port(out, 0);
		return 0;
	}
	if (addr_parse(family == AF_INET6 ? PROBE6 : PROBE4, 9, &probe) == -1)
		return -1;
	if ((fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	memset(&src, 0, sizeof(src));
	if (connect(fd, &probe.sa, addr_len(&probe)) == 0 &&
	    getsockname(fd, &src.sa, &len) == 0 && is_specific(&src)) {
		*out = src;
		addr_set_port(out, 0);
		if (family == AF_INET6)
			out->in6.sin6_scope_id = 0;
		rc = 0;
	}
	close(fd);
	return rc;
}

void
nodeaddr_nodeport_ranges(const struct config *cfg, struct addr_prefix **out,
    size_t *n)
{
	static const int families[] = { AF_INET, AF_INET6 };
	struct addr_prefix *p;
	union addr ip;
	char buf[ADDR_STRLEN];
	size_t i, k = 0;

	*out = NULL;
	*n = 0;
	if (!cfg->nodeport_primary) {
		if (cfg->n_nodeport_addrs == 0)
			return;
		*out = xcalloc(cfg->n_nodeport_addrs, sizeof(**out));
		memcpy(*out, cfg->nodeport_addrs,
		    cfg->n_nodeport_addrs * sizeof(**out));
		*n = cfg->n_nodeport_addrs;
		return;
	}
	p = xcalloc(nitems(families), sizeof(*p));
	for (i = 0; i < nitems(families); i++) {
		if (nodeaddr_primary(cfg, families[i], &ip) == -1 ||
		    is_loopback(&ip))
			continue;
		p[k].ap_addr = ip;
		p[k++].ap_len = families[i] == AF_INET6 ? 128 : 32;
		log_info("--nodeport-addresses primary: %s",
		    addr_str(&ip, 0, buf, sizeof(buf)));
	}
	if (k == 0) {
		/*
		 * kube-proxy leaves a loopback node IP out, and an empty
		 * list means every local address.
		 */
		log_warnx("--nodeport-addresses primary: this node has no "
		    "route to tell its primary IP by; NodePorts answer on "
		    "every local address");
		free(p);
		return;
	}
	*out = p;
	*n = k;
}

int
nodeaddr_allowed(const struct addr_prefix *ranges, size_t n,
    const union addr *ip)
{
	size_t i;

	if (n == 0)
		return 1;
	for (i = 0; i < n; i++)
		if (addr_in_prefix(ip, &ranges[i]))
			return 1;
	return 0;
}

int
nodeaddr_local_in(const struct addr_prefix *ranges, size_t n,
    union addr **out)
{
	struct ifaddrs *ifa, *i;
	union addr a;
	size_t k = 0, cap = 0;

	*out = NULL;
	if (n == 0)
		return -1;
	if (getifaddrs(&ifa) == -1) {
		log_warn("getifaddrs");
		return 0;
	}
	for (i = ifa; i != NULL; i = i->ifa_next) {
		if (i->ifa_addr == NULL || (i->ifa_addr->sa_family != AF_INET &&
		    i->ifa_addr->sa_family != AF_INET6))
			continue;
		memset(&a, 0, sizeof(a));
		memcpy(&a, i->ifa_addr, i->ifa_addr->sa_family == AF_INET ?
		    sizeof(a.in4) : sizeof(a.in6));
		addr_set_port(&a, 0);
		if (!nodeaddr_allowed(ranges, n, &a))
			continue;
		if (k == cap) {
			cap = cap ? cap * 2 : 8;
			*out = xreallocarray(*out, cap, sizeof(**out));
		}
		(*out)[k++] = a;
	}
	freeifaddrs(ifa);
	return (int)k;
}
