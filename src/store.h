/*
 * store.h - Services joined with their endpoints into service ports.
 *
 * Sources (manifest files, the API) feed decoded objects in; the store
 * joins each Service with its EndpointSlices (label
 * kubernetes.io/service-name, ports matched by name and protocol,
 * duplicates across slices counted once: the copy that serves best) or,
 * when a Service has no slice at all, with its v1 Endpoints object; sorts
 * the endpoints of each port into the sets internal and external traffic
 * use (topology.h, against our node's name and zone); and reports what
 * changed per *service port* through one callback.  Work is O(changes):
 * only Services touched by an object change are re-joined.
 */
#ifndef STORE_H
#define STORE_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "k8s.h"
#include "topology.h"

/*
 * One endpoint of a service port as its slices list it (ready or not),
 * with what it is for us: topology.h's TOPO_* flags, computed against our
 * node's name and zone, and the sets topo_categorize put it in.  For the
 * inspection outputs; traffic uses the address arrays of store_port.
 */
struct store_endpoint {
	union addr	 se_addr;	/* IP:targetPort */
	unsigned	 se_flags;	/* TOPO_READY ... TOPO_NODE_OURS */
	unsigned char	 se_in;		/* TOPO_IN_CLUSTER | TOPO_IN_LOCAL */
	const char	*se_node;	/* nodeName, "" when absent */
	const char	*se_zone;	/* zone, "" when absent */
};

/*
 * Our own Node, as the sources last saw it (the Node object named
 * --hostname-override, from the API or the manifests).
 */
struct store_node {
	const char	*sn_name;	/* the configured node name */
	const char	*sn_zone;	/* topology.kubernetes.io/zone, "" if none */
	int		 sn_seen;	/* a Node object of that name exists */
	int		 sn_deleting;	/* deletionTimestamp set, or the taint
					   ToBeDeletedByClusterAutoscaler */
};

/*
 * One port of one Service, joined with its ready endpoints: what the
 * proxier turns into a proxy socket, a load balancer and rules.
 * Immutable once reported; owned by the store.
 */
struct store_port {
	char		*key;		/* "ns/name:portname" (or ":port" when unnamed) */
	char		*ns;
	char		*name;		/* Service name */
	char		*port_name;	/* "" when unnamed */
	enum k8s_proto	 protocol;	/* TCP or UDP only */
	uint16_t	 port;
	uint16_t	 node_port;	/* 0: none */
	const union addr *cluster_ips;	/* port 0; arrays owned by this port */
	size_t		 n_cluster_ips;
	const union addr *external_ips;
	size_t		 n_external_ips;
	const union addr *lb_ips;
	size_t		 n_lb_ips;
	int		 affinity_client_ip;
	uint32_t	 affinity_timeout;
	/*
	 * The endpoints internal (cluster IP) traffic may use, IP:targetPort,
	 * sorted by addr_cmp, unique: topo_internal_set of the categorized
	 * endpoints.  Empty: such connections are refused.
	 */
	const union addr *endpoints;
	size_t		 n_endpoints;
	/*
	 * The same for external traffic (nodePort, external IPs, LB ingress
	 * IPs): topo_external_set.  ext_separate is set when the two sets
	 * are decided differently (one policy Local, the other Cluster, and
	 * the port has an external address): that traffic then needs a proxy
	 * port of its own.  Otherwise the arrays are equal.
	 */
	const union addr *ext_endpoints;
	size_t		 n_ext_endpoints;
	int		 ext_separate;
	/* Policies, and what topo_categorize made of all_endpoints. */
	struct topo_policy policy;
	struct topo_choice choice;
	const struct store_endpoint *all_endpoints;	/* sorted by address */
	size_t		 n_all_endpoints;
	/* spec.healthCheckNodePort (LoadBalancer + eTP Local), 0: none */
	uint16_t	 health_check_node_port;
	/*
	 * spec.loadBalancerSourceRanges: when not empty, traffic to lb_ips
	 * from other sources is dropped in the rules.  (LB ingress IPs with
	 * ipMode Proxy are left out of lb_ips when the Service is decoded.)
	 */
	const struct addr_prefix *source_ranges;
	size_t		 n_source_ranges;
	/*
	 * The newest last-change-trigger-time (k8s_object.trigger_time) of
	 * the endpoint objects joined, 0 if none has one.  It alone is not a
	 * change.
	 */
	double		 trigger_time;
};

enum store_change {
	STORE_SERVICE_CHANGED	= 1 << 0,	/* addresses, ports, affinity */
	STORE_ENDPOINTS_CHANGED	= 1 << 1,	/* only the endpoint lists */
};

/*
 * Called once per changed service port: old NULL for an added port, new
 * NULL for a removed one, both for a change (what in `changes`).  `new`
 * stays valid until the callback is called again for the same key (with it
 * as `old`) or the store is freed; `old` is freed right after the call.
 */
typedef void store_cb(void *arg, const struct store_port *old,
    const struct store_port *new, unsigned changes);

struct store;

struct store	*store_new(store_cb *cb, void *arg);
/* Frees everything without reporting removals. */
void		 store_free(struct store *);

/*
 * Add or replace an object (the store takes ownership of obj; an object
 * whose fingerprint equals the stored one is freed and changes nothing).
 * Effects are reported at the next store_flush().
 */
void		 store_upsert(struct store *, struct k8s_object *obj);
/* Remove an object; no-op if absent.  Reported at the next store_flush(). */
void		 store_delete(struct store *, enum k8s_kind, const char *ns,
		    const char *name);

/*
 * Full replacement (a relist, or re-reading all manifests): between
 * store_replace_begin() and store_replace_end(), upsert every object of the
 * new state; store_replace_end() deletes objects of the given kinds (bit
 * mask of 1 << enum k8s_kind) that were not upserted since begin.  Only
 * real differences reach the callback.
 */
void		 store_replace_begin(struct store *);
/*
 * Inside a replacement: keep the stored object (kind, ns, name) as it is,
 * because its new version is broken and the last good one is better than
 * none.  No-op if absent.
 */
void		 store_keep(struct store *, enum k8s_kind, const char *ns,
		    const char *name);
void		 store_replace_end(struct store *, unsigned kinds);

/* Re-join touched Services and report changed ports.  Returns how many. */
size_t		 store_flush(struct store *);

/*
 * Skipped Services and ports (headless, ExternalName, SCTP) are logged
 * once with their reason when they change.  Iterate current ports, in key
 * order: for /debug/services.
 */
const struct store_port *store_first(const struct store *);
const struct store_port *store_next(const struct store *, const struct store_port *);
size_t		 store_count(const struct store *);

/*
 * Our node's name (from config, before the first object): endpoints whose
 * nodeName is this are local, Node objects of other names are ignored.
 * A change of our Node's zone re-joins every Service.
 */
void		 store_set_node_name(struct store *, const char *name);
const struct store_node *store_node(const struct store *);

#endif
