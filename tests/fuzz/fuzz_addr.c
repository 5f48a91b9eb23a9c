/*
 * fuzz_addr.c - addresses (addr.c): "IP" with a port, as the decoder reads
 * clusterIPs and endpoints, and "IP:PORT" / "[IPv6]:PORT", as the bind
 * address flags are read.  An accepted address prints (addr_str) to text
 * that parses back to the same address, and its length and hash agree.
 *
 * Input: two bytes of port, then the text.
 */
#include <string.h>

#include "addr.h"
#include "fuzz.h"

static void
check(const union addr *a)
{
	char buf[ADDR_STRLEN];
	union addr b;

	FUZZ_CHECK(a->sa.sa_family == AF_INET || a->sa.sa_family == AF_INET6);
	FUZZ_CHECK(addr_len(a) == (a->sa.sa_family == AF_INET ?
	    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6)));
	FUZZ_CHECK(addr_str(a, 1, buf, sizeof(buf)) != NULL);
	FUZZ_CHECK(addr_parse_hostport(buf, &b) == 0);
	FUZZ_CHECK(addr_cmp(a, &b) == 0 && addr_cmp_ip(a, &b) == 0);
	FUZZ_CHECK(addr_hash(a, 1) == addr_hash(&b, 1));
	FUZZ_CHECK(addr_str(a, 0, buf, sizeof(buf)) != NULL);
	FUZZ_CHECK(addr_parse(buf, addr_port(a), &b) == 0);
	FUZZ_CHECK(addr_cmp(a, &b) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	uint16_t port = fuzz_u16(&in);
	char *s = fuzz_strndup(in.p, in.n);
	union addr a;

	memset(&a, 0, sizeof(a));
	if (addr_parse(s, port, &a) == 0) {
		FUZZ_CHECK(addr_port(&a) == port);
		check(&a);
	}
	memset(&a, 0, sizeof(a));
	if (addr_parse_hostport(s, &a) == 0)
		check(&a);
	free(s);
	return 0;
}
