/*
 * store.h - Services joined with their endpoints into service ports.
 *
 * Sources (manifest files, the API) feed decoded objects in; the store
 * joins each Service with its EndpointSlices (label
 * kubernetes.io/service-name, ports matched by name and protocol, ready
 * endpoints only, duplicates across slices counted once) or, when a Service
 * has no slice at all, with its v1 Endpoints object; and reports what
 * changed per *service port* through one callback.  Work is O(changes):
 * only Services touched by an object change are re-joined.
 */
#ifndef STORE_H
#define STORE_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "k8s.h"

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
	const union addr *endpoints;	/* IP:targetPort, sorted by addr_cmp, unique */
	size_t		 n_endpoints;
	/*
	 * The newest last-change-trigger-time (k8s_object.trigger_time) of
	 * the endpoint objects joined, 0 if none has one.  It alone is not a
	 * change.
	 */
	double		 trigger_time;
};

enum store_change {
	STORE_SERVICE_CHANGED	= 1 << 0,	/* addresses, ports, affinity */
	STORE_ENDPOINTS_CHANGED	= 1 << 1,	/* only the endpoint list */
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

#endif
