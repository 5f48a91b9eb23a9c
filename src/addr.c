/*
 * addr.c - parsing, ordering and printing of union addr (see addr.h).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"

int
addr_parse(const char *ip, uint16_t port, union addr *out)
{
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, ip, &out->in4.sin_addr) == 1) {
		out->in4.sin_family = AF_INET;
		out->in4.sin_port = htons(port);
		return 0;
	}
	if (inet_pton(AF_INET6, ip, &out->in6.sin6_addr) == 1) {
		out->in6.sin6_family = AF_INET6;
		out->in6.sin6_port = htons(port);
		return 0;
	}
	return -1;
}

int
addr_parse_hostport(const char *s, union addr *out)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon, *h = s;
	size_t hlen;
	char *end;
	long port;

	if (*s == '[') {
		const char *rb = strchr(s, ']');
		if (rb == NULL || rb[1] != ':')
			return -1;
		h = s + 1;
		hlen = rb - h;
		colon = rb + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL)
			return -1;
		hlen = colon - s;
	}
	if (hlen == 0 || hlen >= sizeof(host))
		return -1;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	port = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || port < 0 || port > 65535)
		return -1;
	if (*s != '[' && strchr(host, ':') != NULL)
		return -1;		/* IPv6 needs brackets */
	return addr_parse(host, (uint16_t)port, out);
}

socklen_t
addr_len(const union addr *a)
{
	return a->sa.sa_family == AF_INET6 ? sizeof(a->in6) : sizeof(a->in4);
}

uint16_t
addr_port(const union addr *a)
{
	return ntohs(a->sa.sa_family == AF_INET6 ? a->in6.sin6_port :
	    a->in4.sin_port);
}

void
addr_set_port(union addr *a, uint16_t port)
{
	if (a->sa.sa_family == AF_INET6)
		a->in6.sin6_port = htons(port);
	else
		a->in4.sin_port = htons(port);
}

int
addr_cmp_ip(const union addr *a, const union addr *b)
{
	if (a->sa.sa_family != b->sa.sa_family)
		return a->sa.sa_family < b->sa.sa_family ? -1 : 1;
	if (a->sa.sa_family == AF_INET6)
		return memcmp(&a->in6.sin6_addr, &b->in6.sin6_addr, 16);
	return memcmp(&a->in4.sin_addr, &b->in4.sin_addr, 4);
}

int
addr_cmp(const union addr *a, const union addr *b)
{
	int c = addr_cmp_ip(a, b);
	uint16_t pa, pb;

	if (c != 0)
		return c;
	pa = addr_port(a);
	pb = addr_port(b);
	return pa < pb ? -1 : pa > pb;
}

const char *
addr_str(const union addr *a, int with_port, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];
	int v6 = a->sa.sa_family == AF_INET6;

	if (inet_ntop(a->sa.sa_family, v6 ? (const void *)&a->in6.sin6_addr :
	    (const void *)&a->in4.sin_addr, ip, sizeof(ip)) == NULL)
		snprintf(ip, sizeof(ip), "?");
	if (!with_port)
		snprintf(buf, len, "%s", ip);
	else if (v6)
		snprintf(buf, len, "[%s]:%u", ip, addr_port(a));
	else
		snprintf(buf, len, "%s:%u", ip, addr_port(a));
	return buf;
}

static uint32_t
fnv1a(uint32_t h, const void *p, size_t n)
{
	const unsigned char *c = p;

	while (n--) {
		h ^= *c++;
		h *= 16777619u;
	}
	return h;
}

uint32_t
addr_hash(const union addr *a, int with_port)
{
	uint32_t h = 2166136261u;
	uint16_t port;

	h = fnv1a(h, &a->sa.sa_family, sizeof(a->sa.sa_family));
	if (a->sa.sa_family == AF_INET6)
		h = fnv1a(h, &a->in6.sin6_addr, 16);
	else
		h = fnv1a(h, &a->in4.sin_addr, 4);
	if (with_port) {
		port = addr_port(a);
		h = fnv1a(h, &port, sizeof(port));
	}
	return h;
}

/* The IP's bytes and their count (4 or 16). */
static unsigned char *
ip_bytes(union addr *a, size_t *n)
{
	if (a->sa.sa_family == AF_INET) {
		*n = 4;
		return (unsigned char *)&a->in4.sin_addr;
	}
	*n = 16;
	return (unsigned char *)&a->in6.sin6_addr;
}

int
addr_parse_prefix(const char *s, struct addr_prefix *out)
{
	char ip[INET6_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	size_t iplen = slash != NULL ? (size_t)(slash - s) : strlen(s), n, i;
	unsigned char *b;
	unsigned long len;
	char *end;

	if (iplen == 0 || iplen >= sizeof(ip))
		return -1;
	memcpy(ip, s, iplen);
	ip[iplen] = '\0';
	if (addr_parse(ip, 0, &out->ap_addr) == -1)
		return -1;
	b = ip_bytes(&out->ap_addr, &n);
	len = n * 8;
	if (slash != NULL) {
		if (slash[1] < '0' || slash[1] > '9' || strlen(slash + 1) > 3)
			return -1;
		len = strtoul(slash + 1, &end, 10);
		if (*end != '\0' || len > n * 8)
			return -1;
	}
	out->ap_len = (unsigned)len;
	for (i = 0; i < n; i++) {
		if (i * 8 >= len)
			b[i] = 0;
		else if (i * 8 + 8 > len)
			b[i] &= (unsigned char)(0xff << (8 - (len - i * 8)));
	}
	return 0;
}

int
addr_in_prefix(const union addr *a, const struct addr_prefix *p)
{
	union addr ip = *a, net = p->ap_addr;
	const unsigned char *x, *y;
	size_t n, full = p->ap_len / 8, rest = p->ap_len % 8;

	if (a->sa.sa_family != p->ap_addr.sa.sa_family)
		return 0;
	x = ip_bytes(&ip, &n);
	y = ip_bytes(&net, &n);
	if (memcmp(x, y, full) != 0)
		return 0;
	return rest == 0 ||
	    ((x[full] ^ y[full]) & (unsigned char)(0xff << (8 - rest))) == 0;
}

const char *
addr_prefix_str(const struct addr_prefix *p, char *buf, size_t len)
{
	char ip[ADDR_STRLEN];

	snprintf(buf, len, "%s/%u", addr_str(&p->ap_addr, 0, ip, sizeof(ip)),
	    p->ap_len);
	return buf;
}
