/*
 * test_topology.c - endpoint selection by traffic policy, readiness and
 * topology hints (topology.c).  The table holds kube-proxy's own cases
 * (pkg/proxy/topology_test.go, TestCategorizeEndpoints) as facts, written
 * as flags: a zone hint is "ours" when the case's node is in that zone.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "topology.h"

#define R	(TOPO_READY | TOPO_SERVING)
#define ST	(TOPO_SERVING | TOPO_TERMINATING)	/* not ready */
#define L	TOPO_LOCAL
#define ZO	(TOPO_ZONE_HINTS | TOPO_ZONE_OURS)	/* hinted for our zone */
#define ZX	TOPO_ZONE_HINTS				/* hinted elsewhere */
#define NO	(TOPO_NODE_HINTS | TOPO_NODE_OURS)
#define NX	TOPO_NODE_HINTS

#define ITP	1	/* internalTrafficPolicy: Local */
#define ETP	2	/* externalTrafficPolicy: Local */
#define EXT	4	/* externally accessible (nodePort 8080 in kube-proxy's) */

#define UNUSED	(-1)	/* the port never uses this set (kube-proxy's nil) */

struct tcase {
	const char	*name;
	int		 policy;
	size_t		 n;
	unsigned	 flags[6];
	int		 cluster;	/* bit i: endpoint i is in the set */
	int		 local;
	int		 has_any;
};

static const struct tcase cases[] = {
	{ "zone hints: our zone's endpoints", 0, 4,
	  { R | ZO, R | ZX, R | ZX, R | ZO }, 0x9, UNUSED, 1 },
	{ "eTP Local: topology ignored for local endpoints", ETP | EXT, 4,
	  { R | ZO | L, R | ZX | L, R | ZX, R | ZO }, 0x9, 0x3, 1 },
	{ "iTP Local: topology ignored for local endpoints", ITP | EXT, 4,
	  { R | ZO | L, R | ZX | L, R | ZX, R | ZO }, 0x9, 0x3, 1 },
	/* Our node has no zone label, or another zone: no hint is ours. */
	{ "node without a zone", 0, 1, { R | ZX }, 0x1, UNUSED, 1 },
	{ "node in a zone no endpoint is hinted for", 0, 1, { R | ZX }, 0x1,
	  UNUSED, 1 },
	{ "an unready endpoint of our zone", 0, 4,
	  { R | ZO, R | ZX, R | ZX, ZO }, 0x1, UNUSED, 1 },
	{ "only unready endpoints in our zone: no filtering", 0, 4,
	  { ZO, R | ZX, R | ZX, ZO }, 0x6, UNUSED, 1 },
	{ "one endpoint without hints: no filtering", 0, 4,
	  { R | ZO, R | ZX, R, R | ZO }, 0xf, UNUSED, 1 },
	{ "several zones per endpoint", 0, 4,
	  { R | ZO, R | ZO, R | ZX, R | ZO }, 0xb, UNUSED, 1 },
	{ "topology and locality disagree", ETP | EXT, 4,
	  { R | ZO | L, R | ZX | L, R | ZO, R | ZX }, 0x5, 0x3, 1 },
	{ "iTP Local, no endpoints", ITP, 0, { 0 }, UNUSED, 0x0, 0 },
	{ "iTP Local, all endpoints remote", ITP, 2, { R, R }, UNUSED, 0x0, 1 },
	{ "iTP Local, all endpoints local", ITP, 2, { R | L, R | L }, UNUSED,
	  0x3, 1 },
	{ "iTP Local, some endpoints local", ITP, 2, { R | L, R }, UNUSED,
	  0x1, 1 },
	{ "Cluster, no endpoint ready", 0, 2, { 0, 0 }, 0x0, UNUSED, 0 },
	{ "Cluster, some endpoints ready", 0, 2, { 0, R }, 0x2, UNUSED, 1 },
	{ "Cluster, all endpoints terminating", 0, 2, { ST | L, ST }, 0x3,
	  UNUSED, 1 },
	{ "iTP Local, eTP Cluster, some endpoints local", ITP | EXT, 2,
	  { R | L, R }, 0x3, 0x1, 1 },
	{ "iTP Cluster, eTP Local, some endpoints local", ETP | EXT, 2,
	  { R | L, R }, 0x3, 0x1, 1 },
	{ "iTP Local, eTP Local, some endpoints local", ITP | ETP | EXT, 2,
	  { R | L, R }, 0x3, 0x1, 1 },
	{ "iTP Local, eTP Local, all endpoints remote", ITP | ETP | EXT, 2,
	  { R, R }, 0x3, 0x0, 1 },
	{ "iTP Local, eTP Local, all remote and terminating", ITP | ETP | EXT,
	  2, { ST, ST }, 0x3, 0x0, 1 },
	{ "iTP Cluster, eTP Local, terminating endpoints", ETP | EXT, 4,
	  { R, L, ST | L, ST }, 0x1, 0x4, 1 },
	{ "eTP Local without an external address: ignored", ETP, 2,
	  { R, R | L }, 0x3, UNUSED, 1 },
	{ "iTP Local, internal only: no cluster set", ITP, 2, { R, R | L },
	  UNUSED, 0x2, 1 },
	/* PreferSameNode (hints.forNodes) wins over zone hints. */
	{ "node hints: our node's endpoints", 0, 3,
	  { R | NO | ZO, R | NX | ZO, R | NX | ZX }, 0x1, UNUSED, 1 },
	{ "node hints, none for our node: zone hints", 0, 3,
	  { R | NX | ZO, R | NX | ZO, R | NX | ZX }, 0x3, UNUSED, 1 },
	{ "node hint missing on one: zone hints", 0, 3,
	  { R | NO | ZO, R | ZX, R | NX | ZO }, 0x5, UNUSED, 1 },
	{ "node hints on unready endpoints do not count", 0, 3,
	  { NO, R | ZO, R | ZX }, 0x2, UNUSED, 1 },
	/* Terminating fallback ignores topology: nothing is ready anywhere. */
	{ "zone hints on terminating endpoints only", 0, 2,
	  { ST | ZO, ST | ZX }, 0x3, UNUSED, 1 },
	/* Serving false with terminating: not usable. */
	{ "terminating, not serving", 0, 2,
	  { TOPO_TERMINATING, TOPO_TERMINATING | L }, 0x0, UNUSED, 0 },
	/* The local set falls back on its own: no local endpoint is ready. */
	{ "iTP Local, ready remote and terminating local", ITP, 2,
	  { R, ST | L }, UNUSED, 0x2, 1 },
};

static int
set_mask(const unsigned char *in, size_t n, unsigned bit)
{
	int mask = 0;
	size_t i;

	for (i = 0; i < n; i++)
		if (in[i] & bit)
			mask |= 1 << i;
	return mask;
}

static void
test_kube_proxy_cases(void **state)
{
	const struct tcase *t;
	struct topo_policy p;
	struct topo_choice c;
	unsigned char in[6];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		t = &cases[i];
		memset(&p, 0, sizeof(p));
		p.tp_internal_local = (t->policy & ITP) != 0;
		p.tp_external_local = (t->policy & ETP) != 0;
		p.tp_external = (t->policy & EXT) != 0;
		memset(in, 0xee, sizeof(in));
		topo_categorize(t->flags, t->n, &p, in, &c);

		if ((t->cluster == UNUSED) == c.tc_uses_cluster)
			fail_msg("%s: uses cluster set %d", t->name,
			    c.tc_uses_cluster);
		if ((t->local == UNUSED) == c.tc_uses_local)
			fail_msg("%s: uses local set %d", t->name,
			    c.tc_uses_local);
		if (set_mask(in, t->n, TOPO_IN_CLUSTER) !=
		    (t->cluster == UNUSED ? 0 : t->cluster))
			fail_msg("%s: cluster set %#x, want %#x", t->name,
			    set_mask(in, t->n, TOPO_IN_CLUSTER), t->cluster);
		if (set_mask(in, t->n, TOPO_IN_LOCAL) !=
		    (t->local == UNUSED ? 0 : t->local))
			fail_msg("%s: local set %#x, want %#x", t->name,
			    set_mask(in, t->n, TOPO_IN_LOCAL), t->local);
		if (c.tc_has_any != t->has_any)
			fail_msg("%s: has_any %d", t->name, c.tc_has_any);
		assert_int_equal(c.tc_n_cluster,
		    __builtin_popcount(set_mask(in, t->n, TOPO_IN_CLUSTER)));
		assert_int_equal(c.tc_n_local,
		    __builtin_popcount(set_mask(in, t->n, TOPO_IN_LOCAL)));
	}
}

static void
test_sets_by_traffic(void **state)
{
	struct topo_policy p = { 0 };

	(void)state;
	assert_int_equal(topo_internal_set(&p), TOPO_IN_CLUSTER);
	assert_int_equal(topo_external_set(&p), TOPO_IN_CLUSTER);
	p.tp_external_local = 1;	/* no external address: no meaning */
	assert_int_equal(topo_external_set(&p), TOPO_IN_CLUSTER);
	p.tp_external = 1;
	assert_int_equal(topo_external_set(&p), TOPO_IN_LOCAL);
	assert_int_equal(topo_internal_set(&p), TOPO_IN_CLUSTER);
	p.tp_internal_local = 1;
	p.tp_external_local = 0;
	assert_int_equal(topo_internal_set(&p), TOPO_IN_LOCAL);
	assert_int_equal(topo_external_set(&p), TOPO_IN_CLUSTER);
}

static void
test_reasons(void **state)
{
	static const unsigned zone[] = { R | ZO, R | ZX };
	static const unsigned node[] = { R | NO, R | NX };
	static const unsigned term[] = { ST | L, 0 };
	struct topo_policy p = { .tp_external_local = 1, .tp_external = 1 };
	struct topo_choice c;
	unsigned char in[2];

	(void)state;
	topo_categorize(zone, 2, &p, in, &c);
	assert_string_equal(topo_reason(&c, TOPO_IN_CLUSTER),
	    "ready, hinted for our zone");
	assert_string_equal(topo_reason(&c, TOPO_IN_LOCAL),
	    "no local endpoint");
	topo_categorize(node, 2, &p, in, &c);
	assert_string_equal(topo_reason(&c, TOPO_IN_CLUSTER),
	    "ready, hinted for our node");
	topo_categorize(term, 2, &p, in, &c);
	assert_string_equal(topo_reason(&c, TOPO_IN_CLUSTER),
	    "serving and terminating (none ready)");
	assert_string_equal(topo_reason(&c, TOPO_IN_LOCAL),
	    "local, serving and terminating (none ready)");
	p = (struct topo_policy){ 0 };
	topo_categorize(term + 1, 1, &p, in, &c);
	assert_string_equal(topo_reason(&c, TOPO_IN_CLUSTER),
	    "no ready or serving endpoint");
	assert_string_equal(topo_reason(&c, TOPO_IN_LOCAL), "not used");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kube_proxy_cases),
		cmocka_unit_test(test_sets_by_traffic),
		cmocka_unit_test(test_reasons),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
