/*
 * source_api.c - list and watch the API server into the store: the
 * resource table, the watchers, their failures and backoff, the first
 * sync and the metrics.  Listing is in source_api_list.c, watching in
 * source_api_watch.c, what they share in source_api_int.h.
 *
 * One watcher per resource (Services; EndpointSlices or Endpoints; our own
 * Node, by the field selector metadata.name=NAME, as kube-proxy watches
 * it), each a small state machine (K8S-API.md §2.9):
 *
 *	LIST (pages of 500) ──ok──► WATCH from the list's resourceVersion
 *	  ▲                          │ clean end: WATCH again from the last
 *	  │                          │   resourceVersion seen (bookmarks too)
 *	  └── WAIT (backoff) ◄───────┘ an ERROR event (410 Expired too), a
 *	                               line that is not one JSON event, any
 *	                               other failure; a 429 or a refused
 *	                               connection re-opens the watch instead
 *
 * Events are framed by newlines (jsonstream.c): a bad line ends that
 * watch, whatever its bytes, and the next list starts from a clean state.
 * The backoff (backoff.c) starts over only when a watch event decodes.
 *
 * The Node watcher never holds anything back: the first sync waits for
 * Services and endpoints only, and its failures (a proxy not allowed to
 * read nodes gets 403) are logged once per outage and retried with the
 * same backoff; until it works there is no zone and no deletion state.
 *
 * A list is applied as a replacement (store_replace_*), so a relist is a
 * diff against what we had; watch events are applied one by one.  The
 * store's callback runs from one deferred event per loop iteration, so a
 * burst of events is one flush.
 */
#include <sys/random.h>

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <event2/buffer.h>
#include <event2/event.h>

#include "api_client.h"
#include "backoff.h"
#include "bounds.h"
#include "jsonstream.h"
#include "k8s.h"
#include "log.h"
#include "metrics.h"
#include "source_api.h"
#include "source_api_int.h"
#include "store.h"
#include "util.h"

const struct resource_info source_api_resources[RES_COUNT] = {
	{ "services", "/api/v1/services", K8S_SERVICE, "Service", "v1" },
	{ "endpointslices", "/apis/discovery.k8s.io/v1/endpointslices",
	    K8S_ENDPOINTSLICE, "EndpointSlice", "discovery.k8s.io/v1" },
	{ "endpoints", "/api/v1/endpoints", K8S_ENDPOINTS, "Endpoints", "v1" },
	{ "nodes", "/api/v1/nodes", K8S_NODE, "Node", "v1" },
};

const char *source_api_event_types[] = {
	"ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"
};

const char *
source_api_res_name(const struct watcher *w)
{
	return source_api_resources[w->w_res].name;
}

struct resource_stats *
source_api_stats(struct watcher *w)
{
	return &w->w_api->sa_stats[w->w_res];
}

/* --- small helpers ------------------------------------------------------ */

/* For jitter only: spreading retries, not secrecy. */
uint32_t
source_api_random_u32(void)
{
	uint32_t r;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
		r = (uint32_t)mono_ms() * 2654435761u;
	return r;
}

const char *
source_api_json_str(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/*
 * Roughly the encoded size of a JSON value, without encoding it: the
 * measure for "oversized object", the same whether the object came in a
 * list page or a watch event.
 */
static size_t
json_weight(const cJSON *j)
{
	const cJSON *c;
	size_t w = 2;

	if (j->string != NULL)
		w += strlen(j->string) + 3;
	if (cJSON_IsString(j))
		w += strlen(j->valuestring);
	else if (cJSON_IsNumber(j))
		w += 8;
	for (c = j->child; c != NULL; c = c->next)
		w += json_weight(c) + 1;
	return w;
}

/* Percent-encode a continue token (base64url today, but opaque). */
char *
source_api_url_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = xcalloc(strlen(s) * 3 + 1, 1), *p = out;

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
		    c == '~')
			*p++ = (char)c;
		else {
			*p++ = '%';
			*p++ = hex[c >> 4];
			*p++ = hex[c & 15];
		}
	}
	return out;
}

void
source_api_set_rv(struct watcher *w, const char *rv)
{
	if (rv == NULL || *rv == '\0')
		return;
	free(w->w_rv);
	w->w_rv = xstrdup(rv);
}

/* Flush the store once per loop iteration, and only once in sync. */
void
source_api_request_flush(struct source_api *sa)
{
	if (sa->sa_synced)
		event_active(sa->sa_flush, EV_TIMEOUT, 0);
}

static void
flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct source_api *sa = arg;

	(void)fd;
	(void)what;
	store_flush(sa->sa_store);
}

/* The namespace and name of an object, for deletes and kept objects. */
int
source_api_object_key(const cJSON *json, const char **ns, const char **name)
{
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(json, "metadata");

	*ns = source_api_json_str(meta, "namespace");
	*name = source_api_json_str(meta, "name");
	if (*ns == NULL)
		*ns = "";
	return *name != NULL ? 0 : -1;
}

/*
 * Decode one object of w's resource.  List items carry no kind and
 * apiVersion, so they are filled in.  Returns the object, or NULL after
 * logging why it is skipped.
 */
struct k8s_object *
source_api_decode(struct watcher *w, cJSON *json)
{
	const struct resource_info *ri = &source_api_resources[w->w_res];
	struct k8s_object *obj = NULL;
	const char *ns, *nm;
	char name[300], err[300];
	size_t weight;
	int rc;

	if (!cJSON_IsObject(json)) {
		log_warnx("api: %s: an item that is not an object; skipped",
		    source_api_res_name(w));
		source_api_stats(w)->skipped++;
		return NULL;
	}
	if (source_api_json_str(json, "kind") == NULL)
		cJSON_AddStringToObject(json, "kind", ri->kind_str);
	if (source_api_json_str(json, "apiVersion") == NULL)
		cJSON_AddStringToObject(json, "apiVersion", ri->api_version);
	if ((weight = json_weight(json)) > OBJECT_MAX) {
		if (source_api_object_key(json, &ns, &nm) == -1)
			nm = "(unnamed)";
		log_warnx("api: %s %s/%s: object of about %zu bytes is larger "
		    "than %u; skipped", ri->kind_str, ns, nm, weight, OBJECT_MAX);
		source_api_stats(w)->skipped++;
		return NULL;
	}
	rc = k8s_decode(json, &obj, name, sizeof(name), err, sizeof(err));
	if (rc == 1)
		return obj;
	if (rc == -1) {
		log_warnx("api: %s %s: %s; skipped", ri->kind_str,
		    name[0] != '\0' ? name : "(unnamed)", err);
		source_api_stats(w)->skipped++;
	} else
		log_debug(2, "api: %s", err);
	return NULL;
}

/* --- failures and backoff ----------------------------------------------- */

/*
 * Wait, then list (or re-open the watch): the backoff of backoff.c, with
 * a Retry-After as a floor.  It only shrinks back after progress, an
 * event that decodes on a watch, or after two quiet minutes: a list that
 * succeeds, an ERROR event or a bad line do not count, so a server that
 * lists fine but fails every watch is not hammered with a list a second.
 */
void
source_api_retry_later(struct watcher *w, enum next_step next, const char *why,
    long retry_after_s)
{
	struct timeval tv;
	uint64_t delay;

	delay = backoff_fail(&w->w_backoff, mono_ms(), source_api_random_u32());
	if (retry_after_s > 0 && delay < (uint64_t)retry_after_s * 1000)
		delay = (uint64_t)retry_after_s * 1000;
	source_api_stats(w)->errors++;
	if (w->w_res == RES_NODES) {
		/*
		 * Our Node only adds the zone and the deletion state: Services
		 * never wait for it, and a proxy not allowed to read nodes
		 * (a 403) says so once, not every backoff.
		 */
		if (!w->w_quiet)
			log_warnx("api: nodes: %s; going on without our Node "
			    "(no zone, no deletion state), retrying with "
			    "backoff", why);
		else
			log_debug(1, "api: nodes: %s; retrying in %.1f s", why,
			    delay / 1000.0);
		w->w_quiet = 1;
	} else
		log_warnx("api: %s: %s; %s, retrying in %.1f s",
		    source_api_res_name(w), why, w->w_api->sa_synced ?
		    "serving the last known state" : "not synced yet",
		    delay / 1000.0);
	w->w_up = 0;
	w->w_next = next;
	tv.tv_sec = delay / 1000;
	tv.tv_usec = (delay % 1000) * 1000;
	evtimer_add(w->w_timer, &tv);
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct watcher *w = arg;

	(void)fd;
	(void)what;
	if (w->w_next == STEP_WATCH)
		source_api_start_watch(w);
	else
		source_api_start_list(w);
}

/* A request was accepted. */
void
source_api_went_well(struct watcher *w)
{
	if (!w->w_up && backoff_failures(&w->w_backoff) > 0)
		log_info("api: %s: connected to %s again",
		    source_api_res_name(w),
		    api_client_server(w->w_api->sa_client));
	w->w_up = 1;
	w->w_auth_retried = 0;
	w->w_quiet = 0;
}

/*
 * A request failed with `res`.  A 401 may just mean the token file was
 * rotated: the client re-reads it, and we try once more at once.
 */
void
source_api_request_failed(struct watcher *w, enum next_step next,
    const struct api_result *res)
{
	if (res->status == 401 && !w->w_auth_retried) {
		w->w_auth_retried = 1;
		source_api_stats(w)->errors++;
		log_info("api: %s: %s; re-reading the token",
		    source_api_res_name(w), res->error);
		if (next == STEP_WATCH)
			source_api_start_watch(w);
		else
			source_api_start_list(w);
		return;
	}
	source_api_retry_later(w, next,
	    res->error ? res->error : "request failed", res->retry_after);
}

/* --- the source --------------------------------------------------------- */

static void
watcher_init(struct source_api *sa, struct watcher *w, enum resource res)
{
	char *name;

	w->w_api = sa;
	w->w_res = res;
	if (res == RES_NODES) {
		/* kube-proxy's own: metadata.name=NAME (K8S-API.md 1.8) */
		name = source_api_url_escape(store_node(sa->sa_store)->sn_name);
		w->w_selector = xasprintf("fieldSelector=metadata.name%%3D%s",
		    name);
		free(name);
	} else
		w->w_selector = xstrdup(SELECTOR);
	jsonstream_init(&w->w_stream, BOUND_WATCH_EVENT_BYTES);
	if ((w->w_timer = evtimer_new(sa->sa_base, timer_cb, w)) == NULL)
		fatalx("evtimer_new");
}

static void
watcher_free(struct watcher *w)
{
	api_cancel(w->w_req);
	if (w->w_timer != NULL)
		event_free(w->w_timer);
	source_api_list_reset(w);
	jsonstream_reset(&w->w_stream);
	free(w->w_end);
	free(w->w_rv);
	free(w->w_selector);
}

struct source_api *
source_api_new(struct event_base *base, struct kube_client_config *cfg,
    struct store *store, source_api_synced_cb *synced, void *arg,
    char *err, size_t err_len)
{
	struct source_api *sa = xcalloc(1, sizeof(*sa));

	sa->sa_base = base;
	sa->sa_store = store;
	sa->sa_synced_cb = synced;
	sa->sa_arg = arg;
	if ((sa->sa_client = api_client_new(base, cfg, err, err_len)) == NULL) {
		free(sa);
		return NULL;
	}
	if ((sa->sa_flush = event_new(base, -1, 0, flush_cb, sa)) == NULL)
		fatalx("event_new");
	watcher_init(sa, &sa->sa_services, RES_SERVICES);
	watcher_init(sa, &sa->sa_endpoints, RES_ENDPOINTSLICES);
	watcher_init(sa, &sa->sa_node, RES_NODES);
	log_info("api: listing services and endpointslices from %s",
	    api_client_server(sa->sa_client));
	source_api_start_list(&sa->sa_services);
	source_api_start_list(&sa->sa_endpoints);
	if (*store_node(store)->sn_name != '\0')
		source_api_start_list(&sa->sa_node);
	return sa;
}

void
source_api_free(struct source_api *sa)
{
	if (sa == NULL)
		return;
	watcher_free(&sa->sa_services);
	watcher_free(&sa->sa_endpoints);
	watcher_free(&sa->sa_node);
	event_free(sa->sa_flush);
	api_client_free(sa->sa_client);
	free(sa);
}

/* --- metrics ------------------------------------------------------------ */

/* One counter family with a sample per resource; offset picks the field. */
static void
per_resource(struct source_api *sa, struct evbuffer *out, const char *name,
    const char *help, size_t offset)
{
	const char *labels[] = { "resource", NULL, NULL };
	int r;

	metrics_family(out, name, "counter", help);
	for (r = 0; r < RES_COUNT; r++) {
		labels[1] = source_api_resources[r].name;
		metrics_sample(out, name, labels, (double)*(const uint64_t *)
		    ((const char *)&sa->sa_stats[r] + offset));
	}
}

void
source_api_metrics(void *arg, struct evbuffer *out)
{
	struct source_api *sa = arg;
	const char *labels[] = { "resource", NULL, "type", NULL, NULL };
	int r, t;

	per_resource(sa, out, "kube_uproxy_api_lists_total",
	    "Complete lists, the first included.",
	    offsetof(struct resource_stats, lists));
	per_resource(sa, out, "kube_uproxy_api_relists_total",
	    "Lists after the first (410, errors).",
	    offsetof(struct resource_stats, relists));
	per_resource(sa, out, "kube_uproxy_api_watches_total",
	    "Watch requests opened.", offsetof(struct resource_stats, watches));
	per_resource(sa, out, "kube_uproxy_api_errors_total",
	    "Failed list or watch requests.",
	    offsetof(struct resource_stats, errors));
	per_resource(sa, out, "kube_uproxy_api_watch_broken_total",
	    "Watches ended by a line that is not one JSON event, or is "
	    "larger than its bound.",
	    offsetof(struct resource_stats, broken));
	per_resource(sa, out, "kube_uproxy_api_objects_skipped_total",
	    "Objects skipped as broken or oversized.",
	    offsetof(struct resource_stats, skipped));
	metrics_family(out, "kube_uproxy_api_watch_events_total", "counter",
	    "Watch events received.");
	for (r = 0; r < RES_COUNT; r++)
		for (t = 0; t < EV_TYPES; t++) {
			labels[1] = source_api_resources[r].name;
			labels[3] = source_api_event_types[t];
			metrics_sample(out, "kube_uproxy_api_watch_events_total",
			    labels, (double)sa->sa_stats[r].events[t]);
		}
	metrics_family(out, "kube_uproxy_api_synced", "gauge",
	    "1 once Services and endpoints have both been listed.");
	metrics_sample(out, "kube_uproxy_api_synced", NULL, sa->sa_synced);
	metrics_family(out, "kube_uproxy_api_up", "gauge",
	    "1 while every list and watch is working, 0 while one is failing.");
	metrics_sample(out, "kube_uproxy_api_up", NULL,
	    sa->sa_services.w_up && sa->sa_endpoints.w_up);
}
