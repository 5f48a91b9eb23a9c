/*
 * source_api_watch.c - watch one resource from the resourceVersion of its
 * list: the newline-framed event stream (jsonstream.c), ADDED, MODIFIED
 * and DELETED applied one by one, bookmarks that only move the
 * resourceVersion, ERROR events (410 Expired too) and bad lines that end
 * the watch for a relist, a clean end that re-opens it.  Part of
 * source_api (source_api_int.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api_client.h"
#include "backoff.h"
#include "bounds.h"
#include "jsonstream.h"
#include "k8s.h"
#include "log.h"
#include "source_api_int.h"
#include "store.h"
#include "util.h"

static int
event_type(const char *s)
{
	int i;

	for (i = 0; s != NULL && i < EV_TYPES; i++)
		if (strcmp(s, source_api_event_types[i]) == 0)
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

	rv = source_api_json_str(
	    cJSON_GetObjectItemCaseSensitive(obj, "metadata"),
	    "resourceVersion");
	switch (type) {
	case EV_ADDED:
	case EV_MODIFIED:
		/* A broken new version leaves the last good one in place. */
		if ((k = source_api_decode(w, obj)) == NULL)
			return 0;
		store_upsert(st, k);
		break;
	case EV_DELETED:
		if (source_api_object_key(obj, &ns, &name) == -1)
			return 0;
		store_delete(st, source_api_resources[w->w_res].kind, ns, name);
		break;
	case EV_BOOKMARK:
		if (rv == NULL || *rv == '\0')
			return 0;
		break;
	}
	source_api_set_rv(w, rv);
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
	type = event_type(source_api_json_str(json, "type"));
	if (json == NULL || end != value + len || !cJSON_IsObject(obj) ||
	    type == -1) {
		cJSON_Delete(json);
		source_api_stats(w)->broken++;
		return end_watch(w, "a watch line of %zu bytes that is not one "
		    "watch event", len);
	}
	source_api_stats(w)->events[type]++;
	if (type == EV_ERROR) {
		/*
		 * The server ends the stream after an ERROR (K8S-API.md §1.5).
		 * Not progress: a server that errors every watch is backed off.
		 */
		code = cJSON_GetObjectItemCaseSensitive(obj, "code");
		msg = source_api_json_str(obj, "message");
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
		source_api_went_well(w);	/* the watch is open */
		return 0;
	}
	w->w_watch_bytes += len;
	rc = jsonstream_feed(&w->w_stream, data, len, event_cb, w);
	source_api_request_flush(w->w_api);
	if (rc == -1 && (err = jsonstream_error(&w->w_stream)) != NULL) {
		source_api_stats(w)->broken++;
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
		source_api_retry_later(w, STEP_LIST, w->w_end, 0);
		free(w->w_end);
		w->w_end = NULL;
	} else if (res->error != NULL || res->status != 200) {
		/* Opening failed: a 429 or a refused connection keeps the watch. */
		source_api_request_failed(w,
		    res->status == 429 || res->refused ? STEP_WATCH : STEP_LIST,
		    res);
	} else if (partial > 0) {
		snprintf(why, sizeof(why), "watch ended inside an event (%zu bytes)",
		    partial);
		source_api_retry_later(w, STEP_LIST, why, 0);
	} else if (ran < 1000 && w->w_watch_bytes == 0) {
		/* client-go's "very short watch": the server is not well. */
		source_api_retry_later(w, STEP_LIST,
		    "watch closed at once without events", 0);
	} else {
		source_api_went_well(w);
		log_debug(2, "api: %s: watch ended after %.1f s; resuming at %s",
		    source_api_res_name(w), ran / 1000.0,
		    w->w_rv != NULL ? w->w_rv : "?");
		source_api_start_watch(w);
	}
}

void
source_api_start_watch(struct watcher *w)
{
	long timeout;
	char *path;

	/* 5 to 10 minutes, like client-go, so watches end spread out. */
	timeout = 300 + (long)(source_api_random_u32() % 300);
	path = xasprintf("%s?%s&watch=true&allowWatchBookmarks=true"
	    "&resourceVersion=%s&timeoutSeconds=%ld",
	    source_api_resources[w->w_res].path, w->w_selector,
	    w->w_rv != NULL ? w->w_rv : "0", timeout);
	w->w_watch_start = mono_ms();
	w->w_watch_bytes = 0;
	source_api_stats(w)->watches++;
	w->w_req = api_get(w->w_api->sa_client, path, timeout + 60, 0,
	    watch_data_cb, watch_done_cb, w);
	free(path);
}
