/*
 * k8s.h - the Kubernetes objects a service proxy needs, decoded from JSON.
 *
 * One decoder serves every source: the API (JSON on the wire) and manifest
 * files (JSON, or YAML turned into the same cJSON tree by yamljson.c).  The
 * decoder validates everything the data path will rely on (IP literals,
 * port ranges, protocols) so that later stages never see bad input.
 *
 * Shapes: ../shared/K8S-API.md section 4.
 */
#ifndef K8S_H
#define K8S_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "addr.h"

enum k8s_kind {
	K8S_SERVICE = 1,
	K8S_ENDPOINTSLICE,
	K8S_ENDPOINTS,
	K8S_NODE,		/* only our own Node is used (store.h) */
};

enum k8s_proto {
	K8S_PROTO_TCP = 1,
	K8S_PROTO_UDP,
	K8S_PROTO_OTHER,	/* SCTP: valid, but the store skips it */
};

#define K8S_AFFINITY_TIMEOUT_DEFAULT	10800	/* seconds, 3 h */

struct k8s_service_port {
	char		*name;		/* "" when unnamed, never NULL */
	enum k8s_proto	 protocol;
	uint16_t	 port;
	uint16_t	 node_port;	/* 0: none */
};

struct k8s_service {
	/*
	 * Non-NULL when the proxy must not serve this Service at all
	 * ("headless", "type ExternalName"); the other fields may then be
	 * empty.  Points to a static string.
	 */
	const char		*skip_reason;
	char			*type;		/* "ClusterIP", "NodePort", ... */
	union addr		*cluster_ips;	/* clusterIPs (or clusterIP), port 0 */
	size_t			 n_cluster_ips;
	union addr		*external_ips;	/* spec.externalIPs */
	size_t			 n_external_ips;
	union addr		*lb_ips;	/* status.loadBalancer.ingress[].ip */
	size_t			 n_lb_ips;
	int			 affinity_client_ip;	/* sessionAffinity: ClientIP */
	uint32_t		 affinity_timeout;	/* seconds; default applied */
	struct k8s_service_port	*ports;
	size_t			 n_ports;
	/*
	 * Traffic policies as kube-proxy reads them (pkg/api/v1/service):
	 * internal_local is internalTrafficPolicy Local; external_local is
	 * externalTrafficPolicy Local on a Service that can take external
	 * traffic at all (type NodePort or LoadBalancer, or externalIPs).
	 * Absent, or the legacy "Global", is Cluster.
	 */
	int			 internal_local;
	int			 external_local;
	/* spec.healthCheckNodePort, kept only for LoadBalancer + eTP Local */
	uint16_t		 health_check_node_port;
	/* spec.trafficDistribution as written, "" when absent */
	char			*traffic_distribution;
	/*
	 * spec.loadBalancerSourceRanges (kube-proxy trims the spaces the API
	 * validation lets through, and does not read the annotation).
	 */
	struct addr_prefix	*source_ranges;
	size_t			 n_source_ranges;
};

struct k8s_endpoint_port {
	char		*name;		/* "" when unnamed */
	enum k8s_proto	 protocol;
	uint16_t	 port;
};

/* Conditions of one endpoint, kube-proxy's reading of absent values. */
enum {
	K8S_EP_READY		= 1 << 0,	/* ready: absent is true */
	K8S_EP_SERVING		= 1 << 1,	/* serving: absent is true */
	K8S_EP_TERMINATING	= 1 << 2,	/* terminating: absent is false */
};

/*
 * One endpoint: its first address (kube-proxy uses only that one), its
 * conditions and where it runs.  Hints are kept as names: whether one
 * is ours is decided by the store, which knows our node and zone.
 */
struct k8s_endpoint {
	union addr		 addr;		/* port 0 */
	unsigned		 conditions;	/* K8S_EP_* */
	char			*node;		/* nodeName, "" when absent */
	char			*zone;		/* zone, "" when absent */
	char			**zone_hints;	/* hints.forZones[].name */
	size_t			 n_zone_hints;
	char			**node_hints;	/* hints.forNodes[].name */
	size_t			 n_node_hints;
};

/*
 * An EndpointSlice, or one subset of a v1 Endpoints object (the decoder
 * turns Endpoints into one k8s_slice per subset, so the store joins both
 * the same way).  Every endpoint with an address is kept, ready or not:
 * for Endpoints, subsets[].addresses are ready and serving,
 * notReadyAddresses neither.
 */
struct k8s_slice {
	char			*service;	/* kubernetes.io/service-name label */
	struct k8s_endpoint_port *ports;
	size_t			 n_ports;
	struct k8s_endpoint	*endpoints;
	size_t			 n_endpoints;
};

/* A Node: what kube-proxy reads of its own one. */
struct k8s_node {
	char			*zone;		/* topology.kubernetes.io/zone, "" */
	/*
	 * metadata.deletionTimestamp set, or the taint
	 * ToBeDeletedByClusterAutoscaler (kube-proxy's /healthz then fails,
	 * so load balancers drain the node first).
	 */
	int			 deleting;
};

struct k8s_object {
	/*
	 * Holders beyond the first (k8s_object_ref): the store and the
	 * manifest file that read it share one decoded object, which nobody
	 * changes after k8s_decode.  0 for an object with one owner.
	 */
	unsigned		 refs;
	enum k8s_kind		 kind;
	char			*ns;
	char			*name;
	char			*resource_version;	/* "" if absent */
	/*
	 * EndpointSlice and Endpoints: the annotation
	 * endpoints.kubernetes.io/last-change-trigger-time (when the change
	 * behind this version happened, for network programming latency),
	 * Unix seconds; 0 if absent or unreadable.  Not in the fingerprint.
	 */
	double			 trigger_time;
	/*
	 * Canonical JSON of the parts the proxy uses: two objects with equal
	 * fingerprints proxy identically, so a re-read or relist that brings
	 * the same object back changes nothing.
	 */
	char			*fingerprint;
	union {
		struct k8s_service	 svc;		/* K8S_SERVICE */
		struct k8s_node		 node;		/* K8S_NODE (ns "") */
		struct {			/* K8S_ENDPOINTSLICE: 1 slice, */
			struct k8s_slice *slices;	/* K8S_ENDPOINTS: 1 per subset */
			size_t		  n_slices;
		};
	};
};

/*
 * Decode one object (a cJSON object with kind, metadata, ...).
 *
 * Returns 1 and sets *out (caller owns it, free with k8s_object_free) for a
 * Service, discovery.k8s.io/v1 EndpointSlice, v1 Endpoints or v1 Node; 0 for a kind
 * we do not use (*out NULL; err says which kind, for a debug line); -1 for
 * a broken object, with a one-line reason in err (e.g. "spec.ports[1].port:
 * 70000 is not a valid port") that the caller prefixes with the object's
 * name.  When the name is readable it is stored in name_out (may be "").
 */
int	k8s_decode(const cJSON *json, struct k8s_object **out,
	    char *name_out, size_t name_len, char *err, size_t err_len);
/* One more holder; each holder lets go with k8s_object_free. */
struct k8s_object *k8s_object_ref(struct k8s_object *);
void	k8s_object_free(struct k8s_object *);

const char *k8s_kind_str(enum k8s_kind);
const char *k8s_proto_str(enum k8s_proto);
/* Order of object keys (kind, namespace, name), for trees keyed so. */
int	k8s_key_cmp(enum k8s_kind, const char *ns, const char *name,
	    enum k8s_kind, const char *ns2, const char *name2);

#endif
