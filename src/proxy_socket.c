/*
 * proxy_socket.c - the socket of a proxy port (see proxy_socket.h).
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "proxy_socket.h"

int
proxy_addr_is_wildcard(const union addr *a)
{
	if (a->sa.sa_family == AF_INET)
		return a->in4.sin_addr.s_addr == htonl(INADDR_ANY);
	return IN6_IS_ADDR_UNSPECIFIED(&a->in6.sin6_addr);
}

int
proxy_socket(const union addr *bind_addr, int type, union addr *as)
{
	int fd, off = 0;

	*as = *bind_addr;
	type |= SOCK_NONBLOCK | SOCK_CLOEXEC;
	if (!proxy_addr_is_wildcard(bind_addr))
		return socket(bind_addr->sa.sa_family, type, 0);
	memset(as, 0, sizeof(*as));
	as->in6.sin6_family = AF_INET6;
	as->in6.sin6_port = htons(addr_port(bind_addr));
	if ((fd = socket(AF_INET6, type, 0)) == -1) {
		if (errno != EAFNOSUPPORT || bind_addr->sa.sa_family != AF_INET)
			return -1;
		/* No IPv6 on this host: IPv4 alone. */
		*as = *bind_addr;
		return socket(AF_INET, type, 0);
	}
	/* Both families whatever net.ipv6.bindv6only says. */
	if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)) == -1) {
		/* (Not expected on Linux: then the family asked for alone.) */
		close(fd);
		*as = *bind_addr;
		return socket(bind_addr->sa.sa_family, type, 0);
	}
	return fd;
}
