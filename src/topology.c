/*
 * topology.c - which endpoints of a service port take which traffic (see
 * topology.h).  The rules are kube-proxy's (pkg/proxy/topology.go and
 * serviceport.go); the comments say where a rule comes from.
 */
#include <string.h>

#include "topology.h"

#define SERVING_TERMINATING	(TOPO_SERVING | TOPO_TERMINATING)

static int
serving_terminating(unsigned f)
{
	return (f & SERVING_TERMINATING) == SERVING_TERMINATING;
}

/*
 * Hints are used only when every *ready* endpoint carries them and at
 * least one is hinted for us; node hints (PreferSameNode) win over zone
 * hints.  Anything else (a hint missing on one endpoint, no endpoint for
 * our zone, our node without a zone label) means no topology at all,
 * rather than a partial one that could overload the few hinted endpoints.
 */
static enum topo_mode
mode_from_hints(const unsigned *flags, size_t n)
{
	int ready = 0, all_node = 1, node_ours = 0, all_zone = 1, zone_ours = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (!(flags[i] & TOPO_READY))
			continue;
		ready = 1;
		if (!(flags[i] & TOPO_NODE_HINTS))
			all_node = 0;
		else if (flags[i] & TOPO_NODE_OURS)
			node_ours = 1;
		if (!(flags[i] & TOPO_ZONE_HINTS))
			all_zone = 0;
		else if (flags[i] & TOPO_ZONE_OURS)
			zone_ours = 1;
	}
	if (ready && all_node && node_ours)
		return TOPO_MODE_SAME_NODE;
	if (ready && all_zone && zone_ours)
		return TOPO_MODE_SAME_ZONE;
	return TOPO_MODE_ALL;
}

static int
topology_allows(unsigned f, enum topo_mode mode)
{
	switch (mode) {
	case TOPO_MODE_SAME_NODE:
		return (f & TOPO_NODE_OURS) != 0;
	case TOPO_MODE_SAME_ZONE:
		return (f & TOPO_ZONE_OURS) != 0;
	case TOPO_MODE_ALL:
		break;
	}
	return 1;
}

/* Mark the endpoints `want` accepts with bit `set`; returns how many. */
static size_t
mark(const unsigned *flags, size_t n, unsigned char *in, unsigned set,
    int (*want)(unsigned f, enum topo_mode), enum topo_mode mode)
{
	size_t i, count = 0;

	for (i = 0; i < n; i++)
		if (want(flags[i], mode)) {
			in[i] |= set;
			count++;
		}
	return count;
}

static int
want_ready(unsigned f, enum topo_mode mode)
{
	return (f & TOPO_READY) && topology_allows(f, mode);
}

static int
want_serving_terminating(unsigned f, enum topo_mode mode)
{
	(void)mode;
	return serving_terminating(f);
}

static int
want_local_ready(unsigned f, enum topo_mode mode)
{
	(void)mode;
	return (f & (TOPO_LOCAL | TOPO_READY)) == (TOPO_LOCAL | TOPO_READY);
}

static int
want_local_serving_terminating(unsigned f, enum topo_mode mode)
{
	(void)mode;
	return (f & TOPO_LOCAL) && serving_terminating(f);
}

void
topo_categorize(const unsigned *flags, size_t n, const struct topo_policy *p,
    unsigned char *in, struct topo_choice *c)
{
	int local_ready = 0, local_st = 0;
	size_t i;

	memset(c, 0, sizeof(*c));
	memset(in, 0, n);
	/*
	 * serviceport.go: the cluster set serves internal traffic unless
	 * internalTrafficPolicy is Local, and external traffic of any policy
	 * (with Local, kube-proxy short-circuits the node's own pods to it).
	 * externalTrafficPolicy means nothing without an external address.
	 */
	c->tc_uses_cluster = !p->tp_internal_local || p->tp_external;
	c->tc_uses_local = p->tp_internal_local ||
	    (p->tp_external_local && p->tp_external);

	if (c->tc_uses_cluster) {
		c->tc_mode = mode_from_hints(flags, n);
		c->tc_n_cluster = mark(flags, n, in, TOPO_IN_CLUSTER,
		    want_ready, c->tc_mode);
		/*
		 * No ready endpoint for our topology means none anywhere (the
		 * mode falls back to all first), so terminating endpoints
		 * that still serve are better than refusing (KEP-1669).
		 */
		if (c->tc_n_cluster == 0) {
			c->tc_n_cluster = mark(flags, n, in, TOPO_IN_CLUSTER,
			    want_serving_terminating, TOPO_MODE_ALL);
			c->tc_cluster_terminating = c->tc_n_cluster > 0;
		}
		c->tc_has_any = c->tc_n_cluster > 0;
	}
	if (!c->tc_uses_local)
		return;

	for (i = 0; i < n; i++) {
		if (flags[i] & TOPO_READY) {
			c->tc_has_any = 1;
			local_ready |= (flags[i] & TOPO_LOCAL) != 0;
		} else if (serving_terminating(flags[i])) {
			c->tc_has_any = 1;
			local_st |= (flags[i] & TOPO_LOCAL) != 0;
		}
	}
	/* Topology hints never narrow the local set: it is one node already. */
	if (local_ready)
		c->tc_n_local = mark(flags, n, in, TOPO_IN_LOCAL,
		    want_local_ready, TOPO_MODE_ALL);
	else if (local_st) {
		c->tc_n_local = mark(flags, n, in, TOPO_IN_LOCAL,
		    want_local_serving_terminating, TOPO_MODE_ALL);
		c->tc_local_terminating = 1;
	}
}

unsigned
topo_internal_set(const struct topo_policy *p)
{
	return p->tp_internal_local ? TOPO_IN_LOCAL : TOPO_IN_CLUSTER;
}

unsigned
topo_external_set(const struct topo_policy *p)
{
	return p->tp_external_local && p->tp_external ? TOPO_IN_LOCAL :
	    TOPO_IN_CLUSTER;
}

const char *
topo_reason(const struct topo_choice *c, unsigned which)
{
	if (which == TOPO_IN_LOCAL) {
		if (!c->tc_uses_local)
			return "not used";
		if (c->tc_n_local == 0)
			return "no local endpoint";
		return c->tc_local_terminating ?
		    "local, serving and terminating (none ready)" :
		    "local and ready";
	}
	if (!c->tc_uses_cluster)
		return "not used";
	if (c->tc_n_cluster == 0)
		return "no ready or serving endpoint";
	if (c->tc_cluster_terminating)
		return "serving and terminating (none ready)";
	switch (c->tc_mode) {
	case TOPO_MODE_SAME_NODE:
		return "ready, hinted for our node";
	case TOPO_MODE_SAME_ZONE:
		return "ready, hinted for our zone";
	case TOPO_MODE_ALL:
		break;
	}
	return "ready";
}
