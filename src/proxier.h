/*
 * proxier.h - turns service ports into running proxy sockets.
 *
 * The store's callback lands here.  For each service port the proxier owns
 * a load balancer, a proxy port from the allocator and a TCP or UDP proxy
 * socket.  An endpoint change only updates the load balancer; a service
 * change that keeps protocol and port keeps the socket (and so the proxy
 * port and every open connection).  A port whose socket could not be
 * opened is retried at every sync.  A port whose external traffic takes
 * another endpoint set gets a second socket and lb for it; a Service
 * with a healthCheckNodePort gets its health check server.
 */
#ifndef PROXIER_H
#define PROXIER_H

#include <stdint.h>

#include <cjson/cJSON.h>
#include <event2/buffer.h>
#include <event2/event.h>

#include "metrics.h"
#include "store.h"

struct config;
struct proxier;

/*
 * cfg is borrowed and must outlive the proxier.  With --iptables legacy our
 * chains are flushed first; returns NULL (logged) when that fails.
 */
struct proxier	*proxier_new(struct event_base *, const struct config *cfg);
/*
 * Close every proxy socket; with `cleanup` also remove our iptables jumps
 * and chains (SIGTERM).  Returns 0, or -1 if the cleanup failed (logged).
 */
int		 proxier_free(struct proxier *, int cleanup);

/* The store callback (store_cb); arg is the proxier. */
void		 proxier_apply(void *arg, const struct store_port *old,
		    const struct store_port *new, unsigned changes);

/*
 * A source finished a full sync (manifests read, API lists done): from
 * now on /healthz may say 200.
 */
void		 proxier_mark_synced(struct proxier *);
/*
 * The proxy's own health: synced once, and no rule change waiting for
 * more than two --iptables-sync-periods.  /healthz (and the health check
 * node ports' serviceProxyHealthy) also want proxier_node_eligible.
 */
int		 proxier_healthy(const struct proxier *);
/*
 * The store, to read our Node (store_node) from: main.c sets it once both
 * exist.  Borrowed; without it our Node is taken as eligible.
 */
void		 proxier_set_store(struct proxier *, const struct store *);
/*
 * 0 while our Node is being deleted (deletionTimestamp) or carries the
 * cluster autoscaler's ToBeDeletedByClusterAutoscaler taint: kube-proxy
 * (>= 1.29) then answers /healthz 503 so that load balancers drain the
 * node first.  /livez is not affected.
 */
int		 proxier_node_eligible(const struct proxier *);
/* Wall-clock time of the last applied change or sync (for /healthz). */
int64_t		 proxier_last_update(const struct proxier *);

/*
 * Rule syncs asked for by changes, done, and failed (all 0 with --iptables
 * none).  A sync that finds the table already right commits nothing, but
 * still counts as done.
 */
void		 proxier_rule_syncs(const struct proxier *, uint64_t *requested,
		    uint64_t *ok, uint64_t *failed);

/* Sum of all ports' counters plus retired ones. */
void		 proxier_totals(struct proxier *, struct port_stats *total);
size_t		 proxier_count(const struct proxier *);

/*
 * /metrics: append kube-proxy's sync families, every kube_uproxy_* family
 * of the data path (per service port and endpoint) and the rule syncs.
 */
void		 proxier_write_metrics(struct proxier *, struct evbuffer *);

/*
 * /debug/services: a JSON array, one object per service port (caller frees):
 * DESIGN.md section 2's keys, plus "scheduler" ("rr"), "activeConnections"
 * (TCP connections or UDP flows) and "endpointStats", one object per
 * endpoint: "endpoint", "activeConnections", "dialFailures", "dialRetries".
 * Issue 12's: "externalProxyPort", "internalTrafficPolicy",
 * "externalTrafficPolicy", "healthCheckNodePort",
 * "loadBalancerSourceRanges", "topology", "externalEndpoints",
 * "internalTraffic" and "externalTraffic" ({"endpointSet", "endpoints",
 * "reason", "proxyPort"}) and "allEndpoints" (each endpoint of the slices:
 * "endpoint", "nodeName", "zone", "local", "ready", "serving",
 * "terminating", "internal", "external").
 */
cJSON		*proxier_debug_json(struct proxier *);

/*
 * Every open service port as a metrics_port (the status page's history
 * samples them), sorted by key, *n of them.  The caller frees the array;
 * its pointers are the proxier's, good until the loop runs again.  NULL
 * when out of memory: a sampler skips that round.
 */
struct metrics_port *proxier_ports(struct proxier *, size_t *n);

#endif
