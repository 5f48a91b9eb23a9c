/*
 * fuzz_lb.c - the load balancer (lb.c) against a model.
 *
 * The input is a sequence of operations: pick for one of 16 clients (with
 * or without retry), let time pass, replace the endpoint list (a subset
 * of 8 addresses, IPv4 and IPv6), switch ClientIP affinity and its
 * timeout, expire records.  The model knows the round-robin position
 * (after the first pick following a start from an empty list, which is
 * random by design) and each client's record, and checks:
 *  - every pick returns one of the current endpoints of the client's
 *    family, NULL only when there is none of that family;
 *  - round robin takes each family's endpoints in order, so n picks of a
 *    family visit its n endpoints once;
 *  - a client with a record younger than the timeout, whose endpoint is
 *    still listed, gets that endpoint back and round robin does not move;
 *    an expired, missing or retried one takes the next endpoint in turn
 *    and is bound to it;
 *  - the record count equals the model's, and lb_expire drops exactly the
 *    expired records.
 */
#include <string.h>

#include "addr.h"
#include "fuzz.h"
#include "lb.h"

#define NADDR		8
#define NCLIENT		16

struct client {
	int		 bound;		/* has a record */
	union addr	 ep;
	uint64_t	 last;
};

struct model {
	union addr	 eps[NADDR];	/* sorted as lb keeps them */
	size_t		 n;
	size_t		 n4;		/* eps[0, n4) are IPv4 */
	int		 next_known[2];	/* per family: 0 IPv4, 1 IPv6 */
	size_t		 next[2];	/* index in the family's slice */
	int		 affinity;
	uint64_t	 timeout_ms;
	struct client	 clients[NCLIENT];
};

static union addr	 pool[NADDR], client_addr[NCLIENT];

static void
init_pool(void)
{
	static const char *const ips[NADDR] = {
		"198.18.0.1", "198.18.0.2", "198.18.0.3", "198.18.1.1",
		"2001:2::1", "2001:2::2", "198.18.0.1", "2001:2::a",
	};
	char ip[32];
	int i;

	for (i = 0; i < NADDR; i++)
		FUZZ_CHECK(addr_parse(ips[i], (uint16_t)(8080 + (i == 6)),
		    &pool[i]) == 0);
	for (i = 0; i < NCLIENT; i++) {
		snprintf(ip, sizeof(ip), i < 12 ? "198.18.2.%d" : "2001:2::%x",
		    i + 1);
		FUZZ_CHECK(addr_parse(ip, (uint16_t)(40000 + i),
		    &client_addr[i]) == 0);
	}
}

static int
addr_qcmp(const void *a, const void *b)
{
	return addr_cmp(a, b);
}

static size_t
index_of(const struct model *m, const union addr *a)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		if (addr_cmp(&m->eps[i], a) == 0)
			return i;
	return m->n;
}

static int
fresh(const struct model *m, const struct client *c, uint64_t now)
{
	return c->bound && (now <= c->last || now - c->last < m->timeout_ms);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct fuzz_in in = { data, size };
	struct model m;
	struct client *c;
	const union addr *got;
	struct lb *lb;
	uint64_t now = 1000;
	size_t i, idx, records, ops = 0, live;
	uint8_t op, b;
	uint16_t mask;
	size_t lo, fn, old[2];
	int retry, fam;

	if (!ready) {
		init_pool();
		ready = 1;
	}
	memset(&m, 0, sizeof(m));
	m.timeout_ms = 10800 * 1000ULL;
	lb = lb_new();
	while (in.n > 0 && ops++ < 256) {
		op = fuzz_u8(&in);
		switch (op % 6) {
		case 0:
		case 1:		/* pick */
			c = &m.clients[(op >> 3) % NCLIENT];
			retry = (op & 4) && op % 6 == 1;
			got = lb_pick(lb, &client_addr[c - m.clients], retry, now);
			fam = client_addr[c - m.clients].sa.sa_family ==
			    AF_INET6;
			lo = fam ? m.n4 : 0;
			fn = fam ? m.n - m.n4 : m.n4;
			if (fn == 0) {
				FUZZ_CHECK(got == NULL);
				break;
			}
			FUZZ_CHECK(got != NULL);
			idx = index_of(&m, got);
			FUZZ_CHECK(idx >= lo && idx < lo + fn);
			if (m.affinity && !retry && fresh(&m, c, now) &&
			    index_of(&m, &c->ep) < m.n) {
				FUZZ_CHECK(addr_cmp(got, &c->ep) == 0);
				if (now > c->last)
					c->last = now;
				break;
			}
			if (m.next_known[fam])
				FUZZ_CHECK(idx - lo == m.next[fam]);
			m.next[fam] = (idx - lo + 1) % fn;
			m.next_known[fam] = 1;
			if (m.affinity) {
				c->bound = 1;
				c->ep = *got;
				c->last = now;
			}
			break;
		case 2:		/* time passes */
			b = fuzz_u8(&in);
			now += b < 128 ? b : (uint64_t)(b - 127) * 60000;
			break;
		case 3:		/* new endpoint list */
			mask = fuzz_u8(&in);
			old[0] = m.n4;
			old[1] = m.n - m.n4;
			m.n = 0;
			for (i = 0; i < NADDR; i++)
				if (mask & 1 << i)
					m.eps[m.n++] = pool[i];
			qsort(m.eps, m.n, sizeof(m.eps[0]), addr_qcmp);
			for (m.n4 = 0; m.n4 < m.n &&
			    m.eps[m.n4].sa.sa_family == AF_INET; m.n4++)
				;
			lb_set_endpoints(lb, m.eps, m.n);
			FUZZ_CHECK(lb_count(lb) == m.n);
			for (fam = 0; fam < 2; fam++) {
				fn = fam ? m.n - m.n4 : m.n4;
				if (fn == 0) {
					m.next[fam] = 0;
					m.next_known[fam] = 1;
				} else if (old[fam] == 0)
					m.next_known[fam] = 0;	/* random start */
				else
					m.next[fam] %= fn;
			}
			for (i = 0; i < NCLIENT; i++)
				if (m.clients[i].bound &&
				    index_of(&m, &m.clients[i].ep) == m.n)
					m.clients[i].bound = 0;
			break;
		case 4:		/* affinity on/off, timeout */
			b = fuzz_u8(&in);
			m.affinity = b & 1;
			m.timeout_ms = (uint64_t)(b >> 1 ? b >> 1 : 10800) * 1000;
			lb_set_affinity(lb, m.affinity, b >> 1);
			if (!m.affinity)
				for (i = 0; i < NCLIENT; i++)
					m.clients[i].bound = 0;
			break;
		case 5:		/* expire */
			records = lb_affinity_count(lb);
			live = 0;
			for (i = 0; i < NCLIENT; i++) {
				if (!m.clients[i].bound)
					continue;
				if (fresh(&m, &m.clients[i], now))
					live++;
			}
			/*
			 * lb_expire stops at the first live record of its
			 * use-ordered list: with time moving forward only,
			 * that is every expired one.
			 */
			FUZZ_CHECK(lb_expire(lb, now) == records - live);
			for (i = 0; i < NCLIENT; i++)
				if (m.clients[i].bound &&
				    !fresh(&m, &m.clients[i], now))
					m.clients[i].bound = 0;
			break;
		}
		records = 0;
		for (i = 0; i < NCLIENT; i++)
			records += m.clients[i].bound;
		FUZZ_CHECK(lb_affinity_count(lb) == records);
	}
	lb_free(lb);
	return 0;
}
