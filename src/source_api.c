/*
 * source_api.c - list and watch the API server into the store.
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

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
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
#include "store.h"
#include "util.h"

/* kube-proxy's selector (K8S-API.md §2.8), URL-escaped. */
#define SELECTOR	"labelSelector=%21service.kubernetes.io%2Fheadless" \
			"%2C%21service.kubernetes.io%2Fservice-proxy-name"
#define PAGE_SIZE	500
#define OBJECT_MAX	(1u << 20)	/* weight of one object (json_weight) */
#define LIST_TIMEOUT_S	60L

enum resource {
	RES_SERVICES,
	RES_ENDPOINTSLICES,
	RES_ENDPOINTS,
	RES_NODES,
	RES_COUNT
};

static const struct resource_info {
	const char	*name;		/* metric label, messages */
	const char	*path;
	enum k8s_kind	 kind;
	const char	*kind_str;	/* list items carry no kind: we add it */
	const char	*api_version;
} resources[RES_COUNT] = {
	{ "services", "/api/v1/services", K8S_SERVICE, "Service", "v1" },
	{ "endpointslices", "/apis/discovery.k8s.io/v1/endpointslices",
	    K8S_ENDPOINTSLICE, "EndpointSlice", "discovery.k8s.io/v1" },
	{ "endpoints", "/api/v1/endpoints", K8S_ENDPOINTS, "Endpoints", "v1" },
	{ "nodes", "/api/v1/nodes", K8S_NODE, "Node", "v1" },
};

static const char *event_types[] = {
	"ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"
};
enum { EV_ADDED, EV_MODIFIED, EV_DELETED, EV_BOOKMARK, EV_ERROR, EV_TYPES };

struct resource_stats {
	uint64_t	lists, relists, watches, errors, skipped, broken;
	uint64_t	events[EV_TYPES];
};

enum next_step { STEP_LIST, STEP_WATCH };

struct object_name {
	char	*ns;
	char	*name;
};

struct watcher {
	struct source_api	*w_api;
	enum resource		 w_res;
	struct api_request	*w_req;		/* the request in flight */
	struct event		*w_timer;	/* backoff */
	enum next_step		 w_next;	/* what the timer starts */
	char			*w_rv;		/* last resourceVersion seen */
	int			 w_synced;	/* a first list is applied */
	int			 w_up;		/* last request went well */
	struct backoff		 w_backoff;
	int			 w_auth_retried; /* one quick retry after a 401 */
	char			*w_selector;	/* query: label or field selector */
	int			 w_quiet;	/* failures logged once (nodes) */
	/* listing */
	char			*w_continue;
	char			*w_page;	/* body of the page in flight */
	size_t			 w_page_len;
	size_t			 w_page_cap;
	struct k8s_object	**w_items;	/* decoded, applied at the end */
	size_t			 w_nitems;
	struct object_name	*w_broken;	/* listed broken: keep the old */
	size_t			 w_nbroken;
	int			 w_continue_expired; /* once per list */
	int			 w_page_over;	/* page past its bound */
	/* watching */
	struct jsonstream	 w_stream;
	uint64_t		 w_watch_start;	/* mono_ms */
	uint64_t		 w_watch_bytes;	/* of this watch */
	char			*w_end;		/* why we ended the watch, or NULL */
};

struct source_api {
	struct event_base	*sa_base;
	struct store		*sa_store;
	struct api_client	*sa_client;
	struct event		*sa_flush;	/* deferred store_flush */
	source_api_synced_cb	*sa_synced_cb;
	void			*sa_arg;
	int			 sa_synced;
	struct watcher		 sa_services;
	struct watcher		 sa_endpoints;	/* slices, or Endpoints */
	struct watcher		 sa_node;	/* our own Node, if named */
	struct resource_stats	 sa_stats[RES_COUNT];
};

static void	start_list(struct watcher *);
static void	start_watch(struct watcher *);

static const char *
res_name(const struct watcher *w)
{
	return resources[w->w_res].name;
}

static struct resource_stats *
stats(struct watcher *w)
{
	return &w->w_api->sa_stats[w->w_res];
}

/* --- small helpers ------------------------------------------------------ */

/* For jitter only: spreading retries, not secrecy. */
static uint32_t
random_u32(void)
{
	uint32_t r;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
		r = (uint32_t)mono_ms() * 2654435761u;
	return r;
}

static const char *
json_str(const cJSON *obj, const char *key)
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
static char *
url_escape(const char *s)
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

static void
set_rv(struct watcher *w, const char *rv)
{
	if (rv == NULL || *rv == '\0')
		return;
	free(w->w_rv);
	w->w_rv = xstrdup(rv);
}

/* Flush the store once per loop iteration, and only once in sync. */
static void
request_flush(struct source_api *sa)
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
static int
object_key(const cJSON *json, const char **ns, const char **name)
{
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(json, "metadata");

	*ns = json_str(meta, "namespace");
	*name = json_str(meta, "name");
	if (*ns == NULL)
		*ns = "";
	return *name != NULL ? 0 : -1;
}

/*
 * Decode one object of w's resource.  List items carry no kind and
 * apiVersion, so they are filled in.  Returns the object, or NULL after
 * logging why it is skipped.
 */
static struct k8s_object *
decode(struct watcher *w, cJSON *json)
{
	const struct resource_info *ri = &resources[w->w_res];
	struct k8s_object *obj = NULL;
	const char *ns, *nm;
	char name[300], err[300];
	size_t weight;
	int rc;

	if (!cJSON_IsObject(json)) {
		log_warnx("api: %s: an item that is not an object; skipped",
		    res_name(w));
		stats(w)->skipped++;
		return NULL;
	}
	if (json_str(json, "kind") == NULL)
		cJSON_AddStringToObject(json, "kind", ri->kind_str);
	if (json_str(json, "apiVersion") == NULL)
		cJSON_AddStringToObject(json, "apiVersion", ri->api_version);
	if ((weight = json_weight(json)) > OBJECT_MAX) {
		if (object_key(json, &ns, &nm) == -1)
			nm = "(unnamed)";
		log_warnx("api: %s %s/%s: object of about %zu bytes is larger "
		    "than %u; skipped", ri->kind_str, ns, nm, weight, OBJECT_MAX);
		stats(w)->skipped++;
		return NULL;
	}
	rc = k8s_decode(json, &obj, name, sizeof(name), err, sizeof(err));
	if (rc == 1)
		return obj;
	if (rc == -1) {
		log_warnx("api: %s %s: %s; skipped", ri->kind_str,
		    name[0] != '\0' ? name : "(unnamed)", err);
		stats(w)->skipped++;
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
static void
retry_later(struct watcher *w, enum next_step next, const char *why,
    long retry_after_s)
{
	struct timeval tv;
	uint64_t delay;

	delay = backoff_fail(&w->w_backoff, mono_ms(), random_u32());
	if (retry_after_s > 0 && delay < (uint64_t)retry_after_s * 1000)
		delay = (uint64_t)retry_after_s * 1000;
	stats(w)->errors++;
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
		log_warnx("api: %s: %s; %s, retrying in %.1f s", res_name(w),
		    why, w->w_api->sa_synced ? "serving the last known state" :
		    "not synced yet", delay / 1000.0);
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
		start_watch(w);
	else
		start_list(w);
}

/* A request was accepted. */
static void
went_well(struct watcher *w)
{
	if (!w->w_up && backoff_failures(&w->w_backoff) > 0)
		log_info("api: %s: connected to %s again", res_name(w),
		    api_client_server(w->w_api->sa_client));
	w->w_up = 1;
	w->w_auth_retried = 0;
	w->w_quiet = 0;
}

/*
 * A request failed with `res`.  A 401 may just mean the token file was
 * rotated: the client re-reads it, and we try once more at once.
 */
static void
request_failed(struct watcher *w, enum next_step next,
    const struct api_result *res)
{
	if (res->status == 401 && !w->w_auth_retried) {
		w->w_auth_retried = 1;
		stats(w)->errors++;
		log_info("api: %s: %s; re-reading the token", res_name(w),
		    res->error);
		if (next == STEP_WATCH)
			start_watch(w);
		else
			start_list(w);
		return;
	}
	retry_later(w, next, res->error ? res->error : "request failed",
	    res->retry_after);
}

/* --- listing ------------------------------------------------------------ */

static void
list_reset(struct watcher *w)
{
	size_t i;

	for (i = 0; i < w->w_nitems; i++)
		k8s_object_free(w->w_items[i]);
	for (i = 0; i < w->w_nbroken; i++) {
		free(w->w_broken[i].ns);
		free(w->w_broken[i].name);
	}
	free(w->w_items);
	free(w->w_broken);
	free(w->w_page);
	free(w->w_continue);
	w->w_items = NULL;
	w->w_broken = NULL;
	w->w_page = NULL;
	w->w_continue = NULL;
	w->w_nitems = w->w_nbroken = w->w_page_len = w->w_page_cap = 0;
	w->w_page_over = 0;
}

static int
list_data_cb(void *arg, const char *data, size_t len)
{
	struct watcher *w = arg;

	if (len == 0)
		return 0;		/* headers done */
	if (len > BOUND_LIST_PAGE_BYTES - w->w_page_len) {
		/* Stop here: the page is never buffered past the bound. */
		w->w_page_over = 1;
		return -1;
	}
	if (w->w_page_len + len + 1 > w->w_page_cap) {
		/* Double (a page arrives in many small writes), up to the bound. */
		w->w_page_cap = w->w_page_cap ? w->w_page_cap * 2 : 65536;
		while (w->w_page_cap < w->w_page_len + len + 1)
			w->w_page_cap *= 2;
		if (w->w_page_cap > (size_t)BOUND_LIST_PAGE_BYTES + 1)
			w->w_page_cap = (size_t)BOUND_LIST_PAGE_BYTES + 1;
		w->w_page = xreallocarray(w->w_page, w->w_page_cap, 1);
	}
	memcpy(w->w_page + w->w_page_len, data, len);
	w->w_page_len += len;
	return 0;
}

/*
 * Everything listed becomes the new state of this resource: upsert it all
 * inside a replacement, keep the last good version of objects that came
 * back broken, and let store_replace_end() delete what is gone.
 */
static void
list_apply(struct watcher *w)
{
	struct source_api *sa = w->w_api;
	size_t i;

	store_replace_begin(sa->sa_store);
	for (i = 0; i < w->w_nitems; i++)
		store_upsert(sa->sa_store, w->w_items[i]);
	w->w_nitems = 0;
	for (i = 0; i < w->w_nbroken; i++)
		store_keep(sa->sa_store, resources[w->w_res].kind,
		    w->w_broken[i].ns, w->w_broken[i].name);
	store_replace_end(sa->sa_store, 1u << resources[w->w_res].kind);

	stats(w)->lists++;
	w->w_continue_expired = 0;
	if (w->w_synced)
		stats(w)->relists++;
	w->w_synced = 1;
	list_reset(w);
	went_well(w);

	if (!sa->sa_synced && sa->sa_services.w_synced &&
	    sa->sa_endpoints.w_synced) {
		sa->sa_synced = 1;
		store_flush(sa->sa_store);
		log_info("api: synced with %s: %zu service ports",
		    api_client_server(sa->sa_client), store_count(sa->sa_store));
		sa->sa_synced_cb(sa->sa_arg);
	} else
		request_flush(sa);
}

/* Decode one page; returns -1 (logged) when it is not a list. */
static int
list_page(struct watcher *w)
{
	cJSON *json, *items, *item, *meta;
	struct k8s_object *obj;
	const char *ns, *name, *cont;
	size_t n;

	json = cJSON_ParseWithLength(w->w_page, w->w_page_len);
	free(w->w_page);
	w->w_page = NULL;
	w->w_page_len = w->w_page_cap = 0;
	items = cJSON_GetObjectItemCaseSensitive(json, "items");
	meta = cJSON_GetObjectItemCaseSensitive(json, "metadata");
	if (json == NULL || !(cJSON_IsArray(items) || cJSON_IsNull(items)) ||
	    !cJSON_IsObject(meta)) {
		cJSON_Delete(json);
		return -1;
	}
	set_rv(w, json_str(meta, "resourceVersion"));
	free(w->w_continue);
	cont = json_str(meta, "continue");
	w->w_continue = cont != NULL && *cont != '\0' ? xstrdup(cont) : NULL;

	n = (size_t)cJSON_GetArraySize(items);
	w->w_items = xreallocarray(w->w_items, w->w_nitems + n + 1,
	    sizeof(*w->w_items));
	cJSON_ArrayForEach(item, items) {
		if ((obj = decode(w, item)) != NULL)
			w->w_items[w->w_nitems++] = obj;
		else if (object_key(item, &ns, &name) == 0) {
			w->w_broken = xreallocarray(w->w_broken, w->w_nbroken + 1,
			    sizeof(*w->w_broken));
			w->w_broken[w->w_nbroken].ns = xstrdup(ns);
			w->w_broken[w->w_nbroken].name = xstrdup(name);
			w->w_nbroken++;
		}
	}
	cJSON_Delete(json);
	return 0;
}

static void
list_done_cb(void *arg, const struct api_result *res)
{
	struct watcher *w = arg;
	struct api_result bad;
	char why[160];

	w->w_req = NULL;
	if (res->status == 404 && w->w_res == RES_ENDPOINTSLICES && !w->w_synced) {
		/* Older or trimmed servers: fall back to v1 Endpoints. */
		log_info("api: %s has no discovery.k8s.io/v1 EndpointSlices; "
		    "using v1 Endpoints", api_client_server(w->w_api->sa_client));
		list_reset(w);
		w->w_res = RES_ENDPOINTS;
		start_list(w);
		return;
	}
	if (w->w_page_over) {
		snprintf(why, sizeof(why), "a list page larger than %d bytes "
		    "(BOUND_LIST_PAGE_BYTES)", BOUND_LIST_PAGE_BYTES);
		list_reset(w);
		retry_later(w, STEP_LIST, why, 0);
		return;
	}
	if (res->status == 410 && w->w_continue != NULL) {
		/*
		 * The continue token expired (the pages were written from a
		 * snapshot the server no longer has): like client-go, list again
		 * from the start without it, at once the first time.
		 */
		list_reset(w);
		if (w->w_continue_expired) {
			retry_later(w, STEP_LIST, "list continuation expired again",
			    0);
			return;
		}
		w->w_continue_expired = 1;
		log_info("api: %s: list continuation expired; listing again "
		    "from the start", res_name(w));
		start_list(w);
		return;
	}
	if (res->error != NULL || res->status != 200) {
		list_reset(w);
		request_failed(w, STEP_LIST, res);
		return;
	}
	if (list_page(w) == -1) {
		list_reset(w);
		memset(&bad, 0, sizeof(bad));
		bad.error = "the list response is not a Kubernetes list";
		request_failed(w, STEP_LIST, &bad);
		return;
	}
	if (w->w_continue != NULL)
		start_list(w);		/* next page */
	else {
		log_debug(1, "api: %s: listed at resourceVersion %s", res_name(w),
		    w->w_rv != NULL ? w->w_rv : "?");
		list_apply(w);
		start_watch(w);
	}
}

static void
start_list(struct watcher *w)
{
	char *path, *cont = NULL;

	if (w->w_continue != NULL)
		cont = url_escape(w->w_continue);
	path = xasprintf("%s?%s&limit=%d%s%s", resources[w->w_res].path,
	    w->w_selector, PAGE_SIZE, cont ? "&continue=" : "", cont ? cont : "");
	w->w_req = api_get(w->w_api->sa_client, path, LIST_TIMEOUT_S, 0,
	    list_data_cb, list_done_cb, w);
	free(path);
	free(cont);
}

/* --- watching ----------------------------------------------------------- */

static int
event_type(const char *s)
{
	int i;

	for (i = 0; s != NULL && i < EV_TYPES; i++)
		if (strcmp(s, event_types[i]) == 0)
			return i;
	return -1;
}

/*
 * End the watch we are reading, for a reason that goes in the log (the
 * first reason wins; control bytes from the server are shown as '?').
 */
static int
end_watch(struct watcher *w, const char *fmt, ...)
{
	va_list ap;
	char *p;

	if (w->w_end == NULL) {
		va_start(ap, fmt);
		if (vasprintf(&w->w_end, fmt, ap) == -1)
			w->w_end = NULL;
		va_end(ap);
		if (w->w_end == NULL)
			w->w_end = xstrdup("watch ended");
		for (p = w->w_end; *p != '\0'; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = '?';
	}
	return -1;
}

/*
 * Apply one good event; returns 1 when it was progress (the object, or
 * the bookmark's resourceVersion, decoded), 0 when it was skipped.
 */
static int
apply_event(struct watcher *w, int type, cJSON *obj)
{
	struct store *st = w->w_api->sa_store;
	struct k8s_object *k;
	const char *ns, *name, *rv;

	rv = json_str(cJSON_GetObjectItemCaseSensitive(obj, "metadata"),
	    "resourceVersion");
	switch (type) {
	case EV_ADDED:
	case EV_MODIFIED:
		/* A broken new version leaves the last good one in place. */
		if ((k = decode(w, obj)) == NULL)
			return 0;
		store_upsert(st, k);
		break;
	case EV_DELETED:
		if (object_key(obj, &ns, &name) == -1)
			return 0;
		store_delete(st, resources[w->w_res].kind, ns, name);
		break;
	case EV_BOOKMARK:
		if (rv == NULL || *rv == '\0')
			return 0;
		break;
	}
	set_rv(w, rv);
	return 1;
}

/* One line of the watch: one event.  Returns -1 to end the watch. */
static int
event_cb(void *arg, const char *value, size_t len)
{
	struct watcher *w = arg;
	cJSON *json, *obj, *code;
	const char *end = NULL, *msg;
	int type, rc = 0;

	json = cJSON_ParseWithLengthOpts(value, len, &end, 0);
	/* jsonstream checked the framing; blanks may follow the object. */
	while (json != NULL && end < value + len &&
	    (*end == ' ' || *end == '\t' || *end == '\r'))
		end++;
	obj = cJSON_GetObjectItemCaseSensitive(json, "object");
	type = event_type(json_str(json, "type"));
	if (json == NULL || end != value + len || !cJSON_IsObject(obj) ||
	    type == -1) {
		cJSON_Delete(json);
		stats(w)->broken++;
		return end_watch(w, "a watch line of %zu bytes that is not one "
		    "watch event", len);
	}
	stats(w)->events[type]++;
	if (type == EV_ERROR) {
		/*
		 * The server ends the stream after an ERROR (K8S-API.md §1.5).
		 * Not progress: a server that errors every watch is backed off.
		 */
		code = cJSON_GetObjectItemCaseSensitive(obj, "code");
		msg = json_str(obj, "message");
		if (cJSON_IsNumber(code) && code->valuedouble == 410)
			rc = end_watch(w, "resourceVersion %s expired, relisting",
			    w->w_rv != NULL ? w->w_rv : "?");
		else
			rc = end_watch(w, "watch error %d: %.200s",
			    cJSON_IsNumber(code) && code->valuedouble >= 0 &&
			    code->valuedouble < 1000 ? code->valueint : 0,
			    msg != NULL ? msg : "");
	} else if (apply_event(w, type, obj))
		backoff_progress(&w->w_backoff);
	cJSON_Delete(json);
	return rc;
}

static int
watch_data_cb(void *arg, const char *data, size_t len)
{
	struct watcher *w = arg;
	const char *err;
	int rc;

	if (len == 0) {
		went_well(w);	/* the watch is open */
		return 0;
	}
	w->w_watch_bytes += len;
	rc = jsonstream_feed(&w->w_stream, data, len, event_cb, w);
	request_flush(w->w_api);
	if (rc == -1 && (err = jsonstream_error(&w->w_stream)) != NULL) {
		stats(w)->broken++;
		if (jsonstream_overflowed(&w->w_stream))
			end_watch(w, "a watch event line larger than %d bytes "
			    "(BOUND_WATCH_EVENT_BYTES)", BOUND_WATCH_EVENT_BYTES);
		else
			end_watch(w, "a watch line that is not one JSON object "
			    "(%s)", err);
	}
	return rc;
}

static void
watch_done_cb(void *arg, const struct api_result *res)
{
	struct watcher *w = arg;
	uint64_t ran = mono_ms() - w->w_watch_start;
	size_t partial = jsonstream_pending(&w->w_stream);
	char why[128];

	w->w_req = NULL;
	jsonstream_reset(&w->w_stream);
	if (w->w_end != NULL) {
		/* We ended it (bad line, ERROR event): relist after a backoff. */
		retry_later(w, STEP_LIST, w->w_end, 0);
		free(w->w_end);
		w->w_end = NULL;
	} else if (res->error != NULL || res->status != 200) {
		/* Opening failed: a 429 or a refused connection keeps the watch. */
		request_failed(w, res->status == 429 || res->refused ? STEP_WATCH :
		    STEP_LIST, res);
	} else if (partial > 0) {
		snprintf(why, sizeof(why), "watch ended inside an event (%zu bytes)",
		    partial);
		retry_later(w, STEP_LIST, why, 0);
	} else if (ran < 1000 && w->w_watch_bytes == 0) {
		/* client-go's "very short watch": the server is not well. */
		retry_later(w, STEP_LIST, "watch closed at once without events", 0);
	} else {
		went_well(w);
		log_debug(2, "api: %s: watch ended after %.1f s; resuming at %s",
		    res_name(w), ran / 1000.0, w->w_rv != NULL ? w->w_rv : "?");
		start_watch(w);
	}
}

static void
start_watch(struct watcher *w)
{
	long timeout;
	char *path;

	/* 5 to 10 minutes, like client-go, so watches end spread out. */
	timeout = 300 + (long)(random_u32() % 300);
	path = xasprintf("%s?%s&watch=true&allowWatchBookmarks=true"
	    "&resourceVersion=%s&timeoutSeconds=%ld", resources[w->w_res].path,
	    w->w_selector, w->w_rv != NULL ? w->w_rv : "0", timeout);
	w->w_watch_start = mono_ms();
	w->w_watch_bytes = 0;
	stats(w)->watches++;
	w->w_req = api_get(w->w_api->sa_client, path, timeout + 60, 0,
	    watch_data_cb, watch_done_cb, w);
	free(path);
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
		name = url_escape(store_node(sa->sa_store)->sn_name);
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
	list_reset(w);
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
	start_list(&sa->sa_services);
	start_list(&sa->sa_endpoints);
	if (*store_node(store)->sn_name != '\0')
		start_list(&sa->sa_node);
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
		labels[1] = resources[r].name;
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
			labels[1] = resources[r].name;
			labels[3] = event_types[t];
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
