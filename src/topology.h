/*
 * topology.h - which endpoints of a service port take which traffic.
 *
 * A Service port's endpoints are not all equal today: traffic policies
 * (internalTrafficPolicy, externalTrafficPolicy: Local), terminating
 * endpoints (KEP-1669) and topology hints (EndpointSlice hints.forZones
 * and hints.forNodes, written by the EndpointSlice controller for
 * trafficDistribution PreferClose, PreferSameZone and PreferSameNode) each
 * narrow the set a new connection may go to.  This module is kube-proxy's
 * decision (pkg/proxy/topology.go, CategorizeEndpoints) as one pure
 * function over per-endpoint flags: no allocation, no I/O, so the store
 * can run it on every change and the tests can run kube-proxy's own cases.
 *
 * The two sets it computes:
 *  - the *cluster* set: ready endpoints, narrowed to our zone or node when
 *    every ready endpoint carries hints and one is hinted for us; when
 *    none is ready anywhere, the serving-and-terminating ones instead;
 *  - the *local* set: ready endpoints on our node; when none, the local
 *    serving-and-terminating ones.  Topology does not apply to it.
 * Internal (cluster IP) traffic uses the local set with
 * internalTrafficPolicy Local, else the cluster set; external traffic
 * (NodePort, externalIPs, LoadBalancer IPs) the local set with
 * externalTrafficPolicy Local, else the cluster set.
 */
#ifndef TOPOLOGY_H
#define TOPOLOGY_H

#include <stddef.h>

/*
 * What one endpoint is, as flags.  EndpointSlice conditions as kube-proxy
 * reads them (endpointslicecache.go): ready absent means ready, serving
 * absent means serving, terminating absent means not terminating.  The hint flags are
 * computed against our own node name and zone when the endpoint is
 * decoded, so the choice below compares no strings.
 */
enum {
	TOPO_READY	 = 1 << 0,
	TOPO_SERVING	 = 1 << 1,
	TOPO_TERMINATING = 1 << 2,
	TOPO_LOCAL	 = 1 << 3,	/* nodeName is our node */
	TOPO_ZONE_HINTS	 = 1 << 4,	/* hints.forZones is not empty */
	TOPO_ZONE_OURS	 = 1 << 5,	/* ... and names our zone */
	TOPO_NODE_HINTS	 = 1 << 6,	/* hints.forNodes is not empty */
	TOPO_NODE_OURS	 = 1 << 7,	/* ... and names our node */
};

/* Membership of one endpoint in the two sets (topo_categorize's `in`). */
enum {
	TOPO_IN_CLUSTER	 = 1 << 0,
	TOPO_IN_LOCAL	 = 1 << 1,
};

enum topo_mode {
	TOPO_MODE_ALL,		/* no topology: every usable endpoint */
	TOPO_MODE_SAME_ZONE,	/* hints.forZones of our zone */
	TOPO_MODE_SAME_NODE,	/* hints.forNodes of our node */
};

/* A service port's policies, API defaults applied (Cluster, Cluster). */
struct topo_policy {
	unsigned	 tp_internal_local:1;	/* internalTrafficPolicy: Local */
	unsigned	 tp_external_local:1;	/* externalTrafficPolicy: Local */
	unsigned	 tp_external:1;		/* has a nodePort, an externalIP
						   or a LoadBalancer ingress IP */
};

/* What topo_categorize decided, for the proxier, logs and /debug. */
struct topo_choice {
	enum topo_mode	 tc_mode;		/* of the cluster set */
	unsigned	 tc_uses_cluster:1;	/* some traffic uses each set */
	unsigned	 tc_uses_local:1;
	unsigned	 tc_cluster_terminating:1; /* fell back to serving and */
	unsigned	 tc_local_terminating:1;   /* terminating endpoints */
	/*
	 * Some endpoint anywhere could take traffic (ready, or serving and
	 * terminating), even when neither set has one: kube-proxy then
	 * drops rather than rejects.
	 */
	unsigned	 tc_has_any:1;
	size_t		 tc_n_cluster, tc_n_local;
};

/*
 * Decide both sets for the n endpoints whose flags are in `flags`: in[i]
 * gets TOPO_IN_CLUSTER and/or TOPO_IN_LOCAL (the caller provides n
 * bytes).  A set the port never uses (the cluster set with
 * internalTrafficPolicy Local and no external address; the local set with
 * both policies Cluster) stays empty.
 */
void	topo_categorize(const unsigned *flags, size_t n,
	    const struct topo_policy *, unsigned char *in,
	    struct topo_choice *);

/* The set internal (cluster IP) traffic uses: TOPO_IN_CLUSTER or _LOCAL. */
unsigned	topo_internal_set(const struct topo_policy *);
/* The set external (NodePort, externalIP, LB IP) traffic uses. */
unsigned	topo_external_set(const struct topo_policy *);

/*
 * Why the set `which` (TOPO_IN_CLUSTER or TOPO_IN_LOCAL) holds what it
 * holds, in a few words ("ready, hinted for our zone", "no local
 * endpoint", "serving and terminating (none ready)").  Static string.
 */
const char	*topo_reason(const struct topo_choice *, unsigned which);

#endif
