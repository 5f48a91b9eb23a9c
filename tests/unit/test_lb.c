/*
 * test_lb.c - the per-port load balancer: round robin, ClientIP affinity
 * (stickiness, expiry, timeout changes, endpoint removal, retry), bounds,
 * and the cases of the Go original's roundrobin_test.go that still apply.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "bounds.h"
#include "lb.h"
#include "metrics.h"

static union addr
ep(const char *ip, uint16_t port)
{
	union addr a;

	assert_int_equal(addr_parse(ip, port, &a), 0);
	return a;
}

/* Endpoint i: 10.0.0.(i+1):80, already sorted. */
static void
make_eps(union addr *eps, size_t n)
{
	char ip[32];
	size_t i;

	for (i = 0; i < n; i++) {
		snprintf(ip, sizeof(ip), "10.0.%zu.%zu", i / 250, i % 250 + 1);
		eps[i] = ep(ip, 80);
	}
}

static union addr
client(unsigned i, uint16_t port)
{
	char ip[32];

	snprintf(ip, sizeof(ip), "127.%u.%u.%u", (i >> 16) & 255,
	    (i >> 8) & 255, i & 255);
	return ep(ip, port);
}

static size_t
index_of(const union addr *eps, size_t n, const union addr *a)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (addr_cmp(&eps[i], a) == 0)
			return i;
	fail_msg("picked endpoint not in the list");
	return n;
}

static void
test_empty(void **state)
{
	struct lb *lb = lb_new();
	union addr c = client(1, 1000);

	(void)state;
	assert_null(lb_pick(lb, &c, 0, 0));
	lb_set_affinity(lb, 1, 10);
	assert_null(lb_pick(lb, &c, 0, 0));
	assert_int_equal(lb_count(lb), 0);
	assert_int_equal(lb_affinity_count(lb), 0);
	lb_free(lb);
}

/* Go: TestLoadBalanceWorksWithSingleEndpoint, ...StickyNone. */
static void
test_single_endpoint(void **state)
{
	union addr e = ep("10.1.1.1", 40), other = ep("10.1.1.2", 40);
	union addr a = client(1, 1);
	struct lb *lb = lb_new();
	int i;

	(void)state;
	lb_set_endpoints(lb, &e, 1);
	for (i = 0; i < 4; i++)
		assert_int_equal(addr_cmp(lb_pick(lb, &a, 0, 0), &e), 0);
	/* Affinity off: no records, even for a returning client. */
	assert_int_equal(lb_affinity_count(lb), 0);
	lb_set_affinity(lb, 1, 60);
	assert_int_equal(addr_cmp(lb_pick(lb, &a, 0, 0), &e), 0);
	assert_int_equal(lb_affinity_count(lb), 1);
	/* The only endpoint is replaced: the client follows. */
	lb_set_endpoints(lb, &other, 1);
	assert_int_equal(lb_affinity_count(lb), 0);
	assert_int_equal(addr_cmp(lb_pick(lb, &a, 0, 1), &other), 0);
	/* Retry with one endpoint comes back to the same one. */
	assert_int_equal(addr_cmp(lb_pick(lb, &a, 1, 2), &other), 0);
	lb_free(lb);
}

static void
test_round_robin_cycles(void **state)
{
	union addr eps[5], c = client(1, 1000);
	struct lb *lb = lb_new();
	const union addr *p;
	size_t seen[5], cycle, i, first = 0;

	(void)state;
	make_eps(eps, 5);
	lb_set_endpoints(lb, eps, 5);
	assert_int_equal(lb_count(lb), 5);
	for (cycle = 0; cycle < 4; cycle++) {
		memset(seen, 0, sizeof(seen));
		for (i = 0; i < 5; i++) {
			p = lb_pick(lb, &c, 0, 0);
			assert_non_null(p);
			seen[index_of(eps, 5, p)]++;
			/* Same order every cycle. */
			if (cycle == 0 && i == 0)
				first = index_of(eps, 5, p);
			if (i == 0)
				assert_int_equal(index_of(eps, 5, p), first);
		}
		for (i = 0; i < 5; i++)
			assert_int_equal(seen[i], 1);
	}
	lb_free(lb);
}

static void
test_random_start(void **state)
{
	union addr eps[8], c = client(1, 1000);
	int hit[8] = { 0 };
	size_t i, distinct = 0;

	(void)state;
	make_eps(eps, 8);
	/* 200 fresh lbs starting at one fixed endpoint: 8^-199 odds. */
	for (i = 0; i < 200; i++) {
		struct lb *lb = lb_new();

		lb_set_endpoints(lb, eps, 8);
		hit[index_of(eps, 8, lb_pick(lb, &c, 0, 0))]++;
		lb_free(lb);
	}
	for (i = 0; i < 8; i++)
		distinct += hit[i] > 0;
	assert_true(distinct >= 2);
}

static void
test_affinity_sticky(void **state)
{
	union addr eps[3], c1 = client(1, 1000), c2;
	struct lb *lb = lb_new();
	const union addr *p, *q;
	int used[3] = { 0 };
	unsigned i;

	(void)state;
	make_eps(eps, 3);
	lb_set_endpoints(lb, eps, 3);
	lb_set_affinity(lb, 1, 60);
	p = lb_pick(lb, &c1, 0, 1000);
	for (i = 0; i < 50; i++) {
		/* A different source port is the same client. */
		c2 = client(1, (uint16_t)(2000 + i));
		q = lb_pick(lb, &c2, 0, 1000 + i);
		assert_int_equal(addr_cmp(p, q), 0);
	}
	assert_int_equal(lb_affinity_count(lb), 1);
	/* New clients go round robin: 30 clients spread 10/10/10. */
	for (i = 2; i < 32; i++) {
		c2 = client(i, 1000);
		used[index_of(eps, 3, lb_pick(lb, &c2, 0, 2000))]++;
	}
	assert_int_equal(used[0], 10);
	assert_int_equal(used[1], 10);
	assert_int_equal(used[2], 10);
	assert_int_equal(lb_affinity_count(lb), 31);
	lb_free(lb);
}

/* Sticky picks do not advance round robin (Go: TestStickyLoadBalanceWorksWithMultipleEndpoints). */
static void
test_affinity_does_not_advance_rr(void **state)
{
	union addr eps[3], a = client(1, 1), b = client(2, 1), c = client(3, 1);
	struct lb *lb = lb_new();
	size_t ia, ib, ic;

	(void)state;
	make_eps(eps, 3);
	lb_set_endpoints(lb, eps, 3);
	lb_set_affinity(lb, 1, 0);	/* 0: the 10800 s default */
	ia = index_of(eps, 3, lb_pick(lb, &a, 0, 0));
	assert_int_equal(index_of(eps, 3, lb_pick(lb, &a, 0, 1)), ia);
	assert_int_equal(index_of(eps, 3, lb_pick(lb, &a, 0, 2)), ia);
	ib = index_of(eps, 3, lb_pick(lb, &b, 0, 3));
	assert_int_equal(ib, (ia + 1) % 3);
	assert_int_equal(index_of(eps, 3, lb_pick(lb, &a, 0, 4)), ia);
	ic = index_of(eps, 3, lb_pick(lb, &c, 0, 5));
	assert_int_equal(ic, (ia + 2) % 3);
	assert_int_equal(index_of(eps, 3, lb_pick(lb, &b, 0, 6)), ib);
	assert_int_equal(index_of(eps, 3, lb_pick(lb, &c, 0, 7)), ic);
	/* Still alive just under 10800 s after the last use. */
	assert_int_equal(index_of(eps, 3,
	    lb_pick(lb, &c, 0, 7 + 10800 * 1000 - 1)), ic);
	lb_free(lb);
}

static void
test_affinity_expiry(void **state)
{
	union addr eps[2], a = client(1, 1), b = client(2, 1);
	struct lb *lb = lb_new();
	const union addr *p, *q;

	(void)state;
	make_eps(eps, 2);
	lb_set_endpoints(lb, eps, 2);
	lb_set_affinity(lb, 1, 10);
	p = lb_pick(lb, &a, 0, 1000);
	/* Use refreshes: 9.999 s later, then again 9.999 s after that. */
	assert_ptr_equal(lb_pick(lb, &a, 0, 10999), p);
	assert_ptr_equal(lb_pick(lb, &a, 0, 20998), p);
	(void)lb_pick(lb, &b, 0, 20998);
	assert_int_equal(lb_expire(lb, 30997), 0);
	assert_int_equal(lb_affinity_count(lb), 2);
	/* Exactly the timeout after the last use: expired. */
	assert_int_equal(lb_expire(lb, 30998), 2);
	assert_int_equal(lb_affinity_count(lb), 0);

	/* Lazy expiry on lookup: an expired record takes the next RR one. */
	p = lb_pick(lb, &a, 0, 40000);
	q = lb_pick(lb, &a, 0, 50000);
	assert_int_not_equal(addr_cmp(p, q), 0);
	assert_int_equal(lb_affinity_count(lb), 1);
	lb_free(lb);
}

/* The Go original ignored timeout changes (kubernetes #107398). */
static void
test_affinity_timeout_change(void **state)
{
	union addr eps[2], a = client(1, 1);
	struct lb *lb = lb_new();

	(void)state;
	make_eps(eps, 2);
	lb_set_endpoints(lb, eps, 2);
	lb_set_affinity(lb, 1, 10800);
	(void)lb_pick(lb, &a, 0, 0);
	assert_int_equal(lb_expire(lb, 60000), 0);
	lb_set_affinity(lb, 1, 30);
	assert_int_equal(lb_affinity_count(lb), 1);
	assert_int_equal(lb_expire(lb, 29999), 0);
	assert_int_equal(lb_expire(lb, 30000), 1);

	/* Longer timeout: a record older than the old one survives. */
	(void)lb_pick(lb, &a, 0, 100000);
	lb_set_affinity(lb, 1, 120);
	assert_int_equal(lb_expire(lb, 100000 + 60000), 0);
	/* Turning affinity off drops every record. */
	lb_set_affinity(lb, 0, 120);
	assert_int_equal(lb_affinity_count(lb), 0);
	(void)lb_pick(lb, &a, 0, 200000);
	assert_int_equal(lb_affinity_count(lb), 0);
	lb_free(lb);
}

static void
test_endpoint_removal(void **state)
{
	union addr eps[3], fewer[2], c[6];
	size_t idx[6], i, j;
	struct lb *lb = lb_new();

	(void)state;
	make_eps(eps, 3);
	lb_set_endpoints(lb, eps, 3);
	lb_set_affinity(lb, 1, 60);
	for (i = 0; i < 6; i++) {
		c[i] = client((unsigned)i + 1, 5);
		idx[i] = index_of(eps, 3, lb_pick(lb, &c[i], 0, 0));
	}
	/* Remove eps[1]: its two clients lose affinity, the rest keep it. */
	fewer[0] = eps[0];
	fewer[1] = eps[2];
	lb_set_endpoints(lb, fewer, 2);
	assert_int_equal(lb_count(lb), 2);
	assert_int_equal(lb_affinity_count(lb), 4);
	for (i = 0; i < 6; i++) {
		const union addr *p = lb_pick(lb, &c[i], 0, 1);

		j = index_of(eps, 3, p);
		assert_int_not_equal(j, 1);
		if (idx[i] != 1)
			assert_int_equal(j, idx[i]);
	}
	assert_int_equal(lb_affinity_count(lb), 6);

	/* Adding an endpoint keeps everyone where they are. */
	lb_set_endpoints(lb, eps, 3);
	assert_int_equal(lb_affinity_count(lb), 6);
	/* Emptying the list drops everything; picks return NULL. */
	lb_set_endpoints(lb, NULL, 0);
	assert_int_equal(lb_affinity_count(lb), 0);
	assert_null(lb_pick(lb, &c[0], 0, 2));
	lb_free(lb);
}

static void
test_retry_rebinds(void **state)
{
	union addr eps[3], a = client(1, 1);
	struct lb *lb = lb_new();
	size_t first, second;

	(void)state;
	make_eps(eps, 3);
	lb_set_endpoints(lb, eps, 3);
	lb_set_affinity(lb, 1, 60);
	first = index_of(eps, 3, lb_pick(lb, &a, 0, 0));
	second = index_of(eps, 3, lb_pick(lb, &a, 1, 1));
	assert_int_equal(second, (first + 1) % 3);
	/* The client now sticks to the endpoint it was rebound to. */
	assert_int_equal(index_of(eps, 3, lb_pick(lb, &a, 0, 2)), second);
	assert_int_equal(lb_affinity_count(lb), 1);

	/* Without affinity, retry is plain round robin. */
	lb_set_affinity(lb, 0, 0);
	first = index_of(eps, 3, lb_pick(lb, &a, 1, 3));
	assert_int_equal(index_of(eps, 3, lb_pick(lb, &a, 1, 4)),
	    (first + 1) % 3);
	lb_free(lb);
}

/* Go: TestLoadBalanceWorksWithServiceRemoval - ports do not interfere. */
static void
test_per_port_independent(void **state)
{
	union addr e1[3], e2[2], a = client(1, 1);
	struct lb *l1 = lb_new(), *l2 = lb_new();
	size_t i1, i2, k;

	(void)state;
	make_eps(e1, 3);
	e2[0] = ep("10.9.0.1", 8080);
	e2[1] = ep("10.9.0.2", 8080);
	lb_set_endpoints(l1, e1, 3);
	lb_set_endpoints(l2, e2, 2);
	lb_set_affinity(l1, 1, 60);
	i1 = index_of(e1, 3, lb_pick(l1, &a, 0, 0));
	i2 = index_of(e2, 2, lb_pick(l2, &a, 0, 0));
	for (k = 0; k < 4; k++) {
		assert_int_equal(index_of(e1, 3, lb_pick(l1, &a, 0, 1)), i1);
		/* l2 has no affinity: it keeps rotating. */
		assert_int_equal(index_of(e2, 2, lb_pick(l2, &a, 0, 1)),
		    (i2 + k + 1) % 2);
	}
	assert_int_equal(lb_affinity_count(l2), 0);
	lb_set_endpoints(l1, NULL, 0);
	assert_null(lb_pick(l1, &a, 0, 2));
	assert_non_null(lb_pick(l2, &a, 0, 2));
	lb_free(l1);
	lb_free(l2);
}

/* Go: TestLoadBalanceWorksWithMultipleEndpointsAndUpdates - position carries over. */
static void
test_rr_position_carries_over(void **state)
{
	union addr eps[4], more[6];
	union addr c = client(1, 1);
	struct lb *lb = lb_new();
	size_t i, n, seen[6];

	(void)state;
	make_eps(more, 6);
	memcpy(eps, more, sizeof(eps));
	lb_set_endpoints(lb, eps, 4);
	for (i = 0; i < 3; i++)
		(void)lb_pick(lb, &c, 0, 0);
	lb_set_endpoints(lb, more, 6);
	/* Still a fair cycle over the new list. */
	memset(seen, 0, sizeof(seen));
	for (i = 0; i < 6; i++)
		seen[index_of(more, 6, lb_pick(lb, &c, 0, 0))]++;
	for (n = 0; n < 6; n++)
		assert_int_equal(seen[n], 1);
	/* Shrink below the position: still valid. */
	lb_set_endpoints(lb, more, 1);
	assert_int_equal(addr_cmp(lb_pick(lb, &c, 0, 0), &more[0]), 0);
	/* Handing the lb its own array back is safe. */
	lb_set_endpoints(lb, lb_pick(lb, &c, 0, 0), 1);
	assert_int_equal(addr_cmp(lb_pick(lb, &c, 0, 0), &more[0]), 0);
	lb_free(lb);
}

static void
test_ipv6_clients(void **state)
{
	union addr eps[2], a = ep("::1", 1111), a2 = ep("::1", 2222);
	union addr b = ep("fd00::1", 1111), v4 = ep("127.0.0.1", 1111);
	struct lb *lb = lb_new();
	const union addr *p;

	(void)state;
	eps[0] = ep("fd00:1::10", 80);
	eps[1] = ep("fd00:1::11", 80);
	lb_set_endpoints(lb, eps, 2);
	lb_set_affinity(lb, 1, 60);
	p = lb_pick(lb, &a, 0, 0);
	assert_ptr_equal(lb_pick(lb, &a2, 0, 1), p);
	assert_ptr_not_equal(lb_pick(lb, &b, 0, 2), p);
	/* No IPv4 endpoint for an IPv4 client: nothing, nothing recorded. */
	assert_null(lb_pick(lb, &v4, 0, 3));
	assert_int_equal(lb_affinity_count(lb), 2);
	assert_ptr_equal(lb_pick(lb, &a, 0, 4), p);
	lb_free(lb);
}

static void
test_affinity_bound(void **state)
{
	union addr eps[2], c0 = client(0, 1), c;
	struct lb *lb = lb_new();
	const union addr *p0;
	unsigned i;

	(void)state;
	make_eps(eps, 2);
	lb_set_endpoints(lb, eps, 2);
	lb_set_affinity(lb, 1, 3600);
	p0 = lb_pick(lb, &c0, 0, 0);
	for (i = 1; i < LB_AFFINITY_MAX; i++) {
		c = client(i, 1);
		(void)lb_pick(lb, &c, 0, 1);
	}
	assert_int_equal(lb_affinity_count(lb), LB_AFFINITY_MAX);
	/* Client 0 uses its record again: client 1 is now the oldest. */
	assert_ptr_equal(lb_pick(lb, &c0, 0, 2), p0);
	c = client(LB_AFFINITY_MAX, 1);
	(void)lb_pick(lb, &c, 0, 3);
	assert_int_equal(lb_affinity_count(lb), LB_AFFINITY_MAX);
	/* Client 0 survived; client 1 was evicted and gets a new record. */
	assert_ptr_equal(lb_pick(lb, &c0, 0, 4), p0);
	assert_int_equal(lb_expire(lb, 5), 0);

	/* When full, expired records go first (all but the newest two). */
	c = client(LB_AFFINITY_MAX + 1, 1);
	(void)lb_pick(lb, &c, 0, 3600 * 1000 + 2);
	assert_int_equal(lb_affinity_count(lb), 3);
	lb_free(lb);
}

/* Go: TestStickyLoadBalanceWorksWithEndpointFails-style flapping list. */
static void
test_same_list_reset_keeps_state(void **state)
{
	union addr eps[3], a = client(1, 1), picked;
	struct lb *lb = lb_new();

	(void)state;
	make_eps(eps, 3);
	lb_set_endpoints(lb, eps, 3);
	lb_set_affinity(lb, 1, 60);
	/* By value: the pointer dies with the next lb_set_endpoints. */
	picked = *lb_pick(lb, &a, 0, 0);
	/* Reordered input is the same set: affinity intact. */
	{
		union addr rev[3] = { eps[2], eps[1], eps[0] };

		lb_set_endpoints(lb, rev, 3);
	}
	assert_int_equal(addr_cmp(lb_pick(lb, &a, 0, 1), &picked), 0);
	assert_int_equal(lb_affinity_count(lb), 1);
	lb_free(lb);
}

/*
 * Records over every port are bounded too (BOUND_AFFINITY_TOTAL): with
 * every port full, a port with records of its own replaces its oldest, a
 * port with none serves the client by round robin without recording it;
 * no other port loses a record.
 */
static void
test_affinity_total_bound(void **state)
{
	enum { NLB = BOUND_AFFINITY_TOTAL / LB_AFFINITY_MAX };
	struct lb *full[NLB], *other = lb_new();
	union addr eps[2], c;
	uint64_t refused = metrics_datapath.affinity_refused;
	unsigned i, j;

	(void)state;
	make_eps(eps, 2);
	for (i = 0; i < NLB; i++) {
		full[i] = lb_new();
		lb_set_endpoints(full[i], eps, 2);
		lb_set_affinity(full[i], 1, 3600);
		for (j = 0; j < LB_AFFINITY_MAX; j++) {
			c = client(j, 1);
			(void)lb_pick(full[i], &c, 0, 1);
		}
	}
	assert_int_equal(metrics_datapath.affinity_total, BOUND_AFFINITY_TOTAL);
	lb_set_endpoints(other, eps, 2);
	lb_set_affinity(other, 1, 3600);
	c = client(1, 1);
	assert_non_null(lb_pick(other, &c, 0, 2));
	assert_int_equal(lb_affinity_count(other), 0);
	assert_int_equal(metrics_datapath.affinity_refused, refused + 1);
	for (i = 0; i < NLB; i++)
		assert_int_equal(lb_affinity_count(full[i]), LB_AFFINITY_MAX);
	assert_int_equal(metrics_datapath.affinity_total, BOUND_AFFINITY_TOTAL);
	lb_free(full[0]);
	for (i = 1; i < NLB; i++)
		lb_free(full[i]);
	assert_int_equal(metrics_datapath.affinity_total, 0);
	lb_free(other);
}

/* The same at a small bound: a port with records replaces its own oldest. */
static void
test_affinity_total_bound_small(void **state)
{
	struct lb *a = lb_new(), *b = lb_new();
	union addr eps[2], c0 = client(0, 1), c;
	const union addr *p0;
	unsigned i;

	(void)state;
	lb_set_affinity_total_bound(8);
	make_eps(eps, 2);
	lb_set_endpoints(a, eps, 2);
	lb_set_endpoints(b, eps, 2);
	lb_set_affinity(a, 1, 60);
	lb_set_affinity(b, 1, 60);
	p0 = lb_pick(b, &c0, 0, 0);
	for (i = 1; i < 8; i++) {
		c = client(i, 1);
		(void)lb_pick(a, &c, 0, 1);
	}
	assert_int_equal(metrics_datapath.affinity_total, 8);
	/* a replaces its own oldest; b's only record stays. */
	c = client(100, 1);
	(void)lb_pick(a, &c, 0, 2);
	assert_int_equal(lb_affinity_count(a), 7);
	assert_int_equal(lb_affinity_count(b), 1);
	assert_ptr_equal(lb_pick(b, &c0, 0, 3), p0);
	/* Expired records of the port go before live ones. */
	c = client(101, 1);
	(void)lb_pick(b, &c, 0, 60 * 1000 + 10);
	assert_int_equal(lb_affinity_count(b), 1);
	assert_int_equal(metrics_datapath.affinity_total, 8);
	lb_free(a);
	lb_free(b);
	assert_int_equal(metrics_datapath.affinity_total, 0);
	lb_set_affinity_total_bound(BOUND_AFFINITY_TOTAL);
}

/* Endpoints 2 IPv4 and 3 IPv6, sorted as the store gives them. */
static void
make_dual(union addr *eps)
{
	eps[0] = ep("198.18.0.1", 80);
	eps[1] = ep("198.18.0.2", 80);
	eps[2] = ep("2001:2::1", 80);
	eps[3] = ep("2001:2::2", 80);
	eps[4] = ep("2001:2::3", 80);
}

static int
is_v4(const union addr *a)
{
	return a->sa.sa_family == AF_INET;
}

/*
 * Each family's clients go to that family's endpoints, each family in
 * round robin of its own; an IPv4-mapped client (a dual-stack socket's
 * IPv4 client) is IPv4.
 */
static void
test_family_split(void **state)
{
	union addr eps[5], c4 = ep("198.18.9.1", 1000);
	union addr c6 = ep("2001:2::99", 1000), cm = ep("::ffff:198.18.9.2", 7);
	struct lb *lb = lb_new();
	const union addr *p;
	int seen[5] = { 0 }, i;

	(void)state;
	make_dual(eps);
	lb_set_endpoints(lb, eps, 5);
	assert_int_equal(lb_count_family(lb, 0), 2);
	assert_int_equal(lb_count_family(lb, 1), 3);
	assert_int_equal(lb_family_index(&c4), 0);
	assert_int_equal(lb_family_index(&cm), 0);
	assert_int_equal(lb_family_index(&c6), 1);
	for (i = 0; i < 12; i++) {
		p = lb_pick(lb, &c4, 0, 0);
		assert_true(is_v4(p));
		seen[index_of(eps, 5, p)]++;
		p = lb_pick(lb, &c6, 0, 0);
		assert_false(is_v4(p));
		seen[index_of(eps, 5, p)]++;
		p = lb_pick(lb, &cm, 0, 0);
		assert_true(is_v4(p));
		seen[index_of(eps, 5, p)]++;
	}
	/* 24 IPv4 picks over 2, 12 IPv6 picks over 3: round robin each. */
	assert_int_equal(seen[0], 12);
	assert_int_equal(seen[1], 12);
	assert_int_equal(seen[2], 4);
	assert_int_equal(seen[3], 4);
	assert_int_equal(seen[4], 4);
	/* The IPv6 endpoints go: IPv6 clients have none, IPv4 ones do. */
	lb_set_endpoints(lb, eps, 2);
	assert_null(lb_pick(lb, &c6, 0, 0));
	assert_null(lb_pick(lb, &c6, 1, 0));
	assert_non_null(lb_pick(lb, &c4, 0, 0));
	/* Only IPv6 ones: the reverse. */
	lb_set_endpoints(lb, &eps[2], 3);
	assert_null(lb_pick(lb, &c4, 0, 0));
	assert_null(lb_pick(lb, &cm, 0, 0));
	assert_false(is_v4(lb_pick(lb, &c6, 0, 0)));
	lb_free(lb);
}

/* Affinity per family: a client of each family sticks to its own. */
static void
test_family_affinity(void **state)
{
	union addr eps[5], c4 = ep("198.18.9.1", 1000), c6 = ep("2001:2::99", 1);
	struct lb *lb = lb_new();
	const union addr *p4, *p6;
	int i;

	(void)state;
	make_dual(eps);
	lb_set_endpoints(lb, eps, 5);
	lb_set_affinity(lb, 1, 60);
	p4 = lb_pick(lb, &c4, 0, 0);
	p6 = lb_pick(lb, &c6, 0, 0);
	assert_true(is_v4(p4));
	assert_false(is_v4(p6));
	for (i = 1; i < 10; i++) {
		assert_ptr_equal(lb_pick(lb, &c4, 0, i), p4);
		assert_ptr_equal(lb_pick(lb, &c6, 0, i), p6);
	}
	assert_int_equal(lb_affinity_count(lb), 2);
	/* A retry moves within the family. */
	assert_false(is_v4(lb_pick(lb, &c6, 1, 20)));
	assert_ptr_not_equal(lb_pick(lb, &c6, 0, 21), p6);
	/* The client's endpoint leaves: the record goes, the other stays. */
	lb_set_endpoints(lb, &eps[2], 3);
	assert_int_equal(lb_affinity_count(lb), 1);
	lb_free(lb);
}

/*
 * Two lbs of one port (internal and external traffic) share one counter
 * record per endpoint, whichever lb lists it first, and it lives while
 * either lists it or a connection holds it.
 */
static void
test_shared_stats(void **state)
{
	union addr eps[3], c = ep("198.18.9.1", 1000);
	struct lb *in = lb_new(), *ex = lb_new();
	struct endpoint_stats *es, *held;

	(void)state;
	make_eps(eps, 3);
	lb_share_stats(in, ex);
	lb_set_endpoints(in, eps, 3);
	lb_set_endpoints(ex, &eps[1], 1);
	es = lb_endpoint_stats_all(in)[1];
	assert_ptr_equal(lb_endpoint_stats_all(ex)[0], es);
	assert_int_equal(es->es_listed, 2);
	/* In only ex for a while, then back in both: the same record. */
	lb_set_endpoints(in, eps, 1);
	assert_int_equal(es->es_listed, 1);
	lb_set_endpoints(in, eps, 3);
	assert_ptr_equal(lb_endpoint_stats_all(in)[1], es);
	assert_int_equal(es->es_listed, 2);
	/* A connection through ex holds it past both lists. */
	held = metrics_endpoint_hold(lb_endpoint_stats(ex, lb_pick(ex, &c, 0, 0)));
	assert_ptr_equal(held, es);
	lb_set_endpoints(ex, NULL, 0);
	lb_set_endpoints(in, eps, 1);
	assert_int_equal(held->es_listed, 0);
	assert_int_equal(held->es_active, 1);
	metrics_endpoint_release(held);
	/* Freeing one lb unshares: the other goes on alone. */
	lb_free(ex);
	lb_set_endpoints(in, eps, 3);
	assert_int_equal(lb_endpoint_stats_all(in)[2]->es_listed, 1);
	lb_free(in);
}

int main(void);

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_single_endpoint),
		cmocka_unit_test(test_round_robin_cycles),
		cmocka_unit_test(test_random_start),
		cmocka_unit_test(test_affinity_sticky),
		cmocka_unit_test(test_affinity_does_not_advance_rr),
		cmocka_unit_test(test_affinity_expiry),
		cmocka_unit_test(test_affinity_timeout_change),
		cmocka_unit_test(test_endpoint_removal),
		cmocka_unit_test(test_retry_rebinds),
		cmocka_unit_test(test_per_port_independent),
		cmocka_unit_test(test_rr_position_carries_over),
		cmocka_unit_test(test_ipv6_clients),
		cmocka_unit_test(test_affinity_bound),
		cmocka_unit_test(test_same_list_reset_keeps_state),
		cmocka_unit_test(test_affinity_total_bound),
		cmocka_unit_test(test_affinity_total_bound_small),
		cmocka_unit_test(test_family_split),
		cmocka_unit_test(test_family_affinity),
		cmocka_unit_test(test_shared_stats),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
