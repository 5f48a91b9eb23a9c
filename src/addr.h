/*
 * addr.h - IPv4/IPv6 socket addresses as one value type.
 *
 * Every address in kube-uproxy (service IPs, endpoints, clients) is a
 * union addr: usable directly with bind/connect/sendto, comparable and
 * printable. A plain IP is an addr with port 0.
 */
#ifndef ADDR_H
#define ADDR_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>

union addr {
	struct sockaddr		sa;
	struct sockaddr_in	in4;
	struct sockaddr_in6	in6;
};

/* "[v6]:port" at most: 46 + 2 + 1 + 5 + NUL */
#define ADDR_STRLEN	56

/* An address range, "198.18.0.0/15" or "2001:2::/48". */
struct addr_prefix {
	union addr	 ap_addr;	/* host bits zero, port 0 */
	unsigned	 ap_len;	/* prefix length, bits */
};

/*
 * Parse "IP/LEN" (a bare IP is a full-length prefix); host bits set are
 * cleared.  Returns 0, or -1 when malformed.
 */
int		 addr_parse_prefix(const char *, struct addr_prefix *);
/* Does a's IP fall within p (same family)? */
int		 addr_in_prefix(const union addr *a, const struct addr_prefix *p);
/* "IP/LEN" into buf. */
const char	*addr_prefix_str(const struct addr_prefix *, char *buf, size_t len);

/*
 * Parse a literal IPv4 or IPv6 address (no names, no zone) into *out with
 * the given port.  Returns 0, or -1 if the string is not an IP address.
 */
int		 addr_parse(const char *ip, uint16_t port, union addr *out);
/* Parse "IP:PORT" or "[IPv6]:PORT".  Returns 0 or -1. */
int		 addr_parse_hostport(const char *s, union addr *out);
socklen_t	 addr_len(const union addr *);
uint16_t	 addr_port(const union addr *);
void		 addr_set_port(union addr *, uint16_t);
/* Total order: family, then IP bytes, then port.  Like memcmp. */
int		 addr_cmp(const union addr *, const union addr *);
/* The same order on the IP only (port ignored). */
int		 addr_cmp_ip(const union addr *, const union addr *);
/* "IP:PORT" ("[IP]:PORT" for v6), or just "IP" when with_port is 0. */
const char	*addr_str(const union addr *, int with_port, char *buf, size_t len);
/* FNV-1a of family, IP (and port when with_port): for hash tables. */
uint32_t	 addr_hash(const union addr *, int with_port);

#endif
