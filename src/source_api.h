/*
 * source_api.h - Services and endpoints from the Kubernetes API server.
 *
 * For Services and for discovery.k8s.io/v1 EndpointSlices (v1 Endpoints
 * when the server has no EndpointSlice API) the source lists, in pages,
 * then watches from the list's resourceVersion, resuming after every
 * clean end of a watch and relisting when that version has expired
 * (410).  Failures back off from 0.8 s to 30 s with jitter; a 429 waits
 * at least its Retry-After.  Everything goes into the store, which turns
 * a relist into a diff, so unchanged service ports keep their proxy
 * ports and connections.  The protocol: ../shared/K8S-API.md §0 and §2.
 *
 * Like kube-proxy, the source filters with the label selector
 * !service.kubernetes.io/headless,!service.kubernetes.io/service-proxy-name
 * and flushes nothing to the store's callback until both first lists are
 * complete: no proxy port or rule is made from half a picture.  While the
 * server is unreachable the last known state keeps being served.
 */
#ifndef SOURCE_API_H
#define SOURCE_API_H

#include <event2/buffer.h>
#include <event2/event.h>

struct kube_client_config;
struct store;
struct source_api;

/* Called once, after the first complete sync has been flushed. */
typedef void source_api_synced_cb(void *arg);

/*
 * Start listing.  cfg and store are borrowed and must outlive the source.
 * Returns NULL with one line in err when the client cannot be set up.
 */
struct source_api *source_api_new(struct event_base *,
		    struct kube_client_config *cfg, struct store *,
		    source_api_synced_cb *synced, void *arg,
		    char *err, size_t err_len);
void		 source_api_free(struct source_api *);

/*
 * Append the kube_uproxy_api_* metric families (Prometheus text) to out;
 * arg is the source.  Signature fits admin_add_metrics().
 */
void		 source_api_metrics(void *arg, struct evbuffer *out);

#endif
