/*
 * source_api_list.c - list one resource into the store: pages of
 * PAGE_SIZE followed by their continue tokens, a page bounded by
 * BOUND_LIST_PAGE_BYTES, an expired continue token (410) listed again
 * from the start, the EndpointSlices to Endpoints fallback (404), and the
 * whole list applied as a diff through store_replace_*.  Part of
 * source_api (source_api_int.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api_client.h"
#include "bounds.h"
#include "k8s.h"
#include "log.h"
#include "source_api_int.h"
#include "store.h"
#include "util.h"

void
source_api_list_reset(struct watcher *w)
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
		store_keep(sa->sa_store, source_api_resources[w->w_res].kind,
		    w->w_broken[i].ns, w->w_broken[i].name);
	store_replace_end(sa->sa_store,
	    1u << source_api_resources[w->w_res].kind);

	source_api_stats(w)->lists++;
	w->w_continue_expired = 0;
	if (w->w_synced)
		source_api_stats(w)->relists++;
	w->w_synced = 1;
	source_api_list_reset(w);
	source_api_went_well(w);

	if (!sa->sa_synced && sa->sa_services.w_synced &&
	    sa->sa_endpoints.w_synced) {
		sa->sa_synced = 1;
		store_flush(sa->sa_store);
		log_info("api: synced with %s: %zu service ports",
		    api_client_server(sa->sa_client), store_count(sa->sa_store));
		sa->sa_synced_cb(sa->sa_arg);
	} else
		source_api_request_flush(sa);
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
	source_api_set_rv(w, source_api_json_str(meta, "resourceVersion"));
	free(w->w_continue);
	cont = source_api_json_str(meta, "continue");
	w->w_continue = cont != NULL && *cont != '\0' ? xstrdup(cont) : NULL;

	n = (size_t)cJSON_GetArraySize(items);
	w->w_items = xreallocarray(w->w_items, w->w_nitems + n + 1,
	    sizeof(*w->w_items));
	cJSON_ArrayForEach(item, items) {
		if ((obj = source_api_decode(w, item)) != NULL)
			w->w_items[w->w_nitems++] = obj;
		else if (source_api_object_key(item, &ns, &name) == 0) {
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
		source_api_list_reset(w);
		w->w_res = RES_ENDPOINTS;
		source_api_start_list(w);
		return;
	}
	if (w->w_page_over) {
		snprintf(why, sizeof(why), "a list page larger than %d bytes "
		    "(BOUND_LIST_PAGE_BYTES)", BOUND_LIST_PAGE_BYTES);
		source_api_list_reset(w);
		source_api_retry_later(w, STEP_LIST, why, 0);
		return;
	}
	if (res->status == 410 && w->w_continue != NULL) {
		/*
		 * The continue token expired (the pages were written from a
		 * snapshot the server no longer has): like client-go, list again
		 * from the start without it, at once the first time.
		 */
		source_api_list_reset(w);
		if (w->w_continue_expired) {
			source_api_retry_later(w, STEP_LIST,
			    "list continuation expired again", 0);
			return;
		}
		w->w_continue_expired = 1;
		log_info("api: %s: list continuation expired; listing again "
		    "from the start", source_api_res_name(w));
		source_api_start_list(w);
		return;
	}
	if (res->error != NULL || res->status != 200) {
		source_api_list_reset(w);
		source_api_request_failed(w, STEP_LIST, res);
		return;
	}
	if (list_page(w) == -1) {
		source_api_list_reset(w);
		memset(&bad, 0, sizeof(bad));
		bad.error = "the list response is not a Kubernetes list";
		source_api_request_failed(w, STEP_LIST, &bad);
		return;
	}
	if (w->w_continue != NULL)
		source_api_start_list(w);		/* next page */
	else {
		log_debug(1, "api: %s: listed at resourceVersion %s",
		    source_api_res_name(w), w->w_rv != NULL ? w->w_rv : "?");
		list_apply(w);
		source_api_start_watch(w);
	}
}

void
source_api_start_list(struct watcher *w)
{
	char *path, *cont = NULL;

	if (w->w_continue != NULL)
		cont = source_api_url_escape(w->w_continue);
	path = xasprintf("%s?%s&limit=%d%s%s",
	    source_api_resources[w->w_res].path, w->w_selector, PAGE_SIZE,
	    cont ? "&continue=" : "", cont ? cont : "");
	w->w_req = api_get(w->w_api->sa_client, path, LIST_TIMEOUT_S, 0,
	    list_data_cb, list_done_cb, w);
	free(path);
	free(cont);
}
