/*
 * fuzz_watch.c - the watch-stream framer (jsonstream.c) and what the API
 * source does with each event: parse it, decode its object, upsert or
 * delete it in a store.
 *
 * Input: byte 0 picks the largest event accepted (64 bytes to 16 KiB, so
 * the bound is reached too) and the chunking; the rest is the stream.  The
 * stream is fed once in one piece and once in chunks the way the network
 * may cut it: both must hand the same events to the callback and fail
 * (or not) alike.
 *
 * Watch events are framed by newlines (the API server ends every event
 * with one; issue 11 point 6): no event handed on spans a newline, and a
 * stream that was not refused holds no newline in its unfinished tail (a
 * bad line ends the watch instead of waiting forever for the rest).
 * FUZZ_WATCH_LAX=1 in the environment leaves these two checks out, to fuzz
 * the rest while jsonstream.c does not frame by lines yet.
 */
#include <string.h>

#include <cjson/cJSON.h>

#include "fuzz.h"
#include "jsonstream.h"
#include "k8s.h"
#include "store.h"

static int	lax = -1;	/* FUZZ_WATCH_LAX */

struct events {
	struct store	*st;
	uint64_t	 hash;		/* FNV-1a over every event's bytes */
	size_t		 count;
};

static void
ignore(void *arg, const struct store_port *old, const struct store_port *new,
    unsigned changes)
{
	(void)arg;
	(void)old;
	(void)new;
	(void)changes;
}

/* As source_api.c's event_cb: a malformed event ends the watch. */
static int
event_cb(void *arg, const char *value, size_t len)
{
	struct events *ev = arg;
	struct k8s_object *k = NULL;
	const char *type, *ns, *name;
	cJSON *json, *obj, *meta;
	char oname[512], err[256];
	size_t i;
	int rc = 0;

	FUZZ_CHECK(len > 0 && (value[0] == '{' || value[0] == '['));
	FUZZ_CHECK(lax || memchr(value, '\n', len) == NULL);
	ev->count++;
	for (i = 0; i < len; i++)
		ev->hash = (ev->hash ^ (uint8_t)value[i]) * 1099511628211ULL;
	json = cJSON_ParseWithLength(value, len);
	obj = cJSON_GetObjectItemCaseSensitive(json, "object");
	type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(json,
	    "type"));
	if (json == NULL || !cJSON_IsObject(obj) || type == NULL) {
		cJSON_Delete(json);
		return -1;
	}
	if (strcmp(type, "ADDED") == 0 || strcmp(type, "MODIFIED") == 0) {
		if (k8s_decode(obj, &k, oname, sizeof(oname), err,
		    sizeof(err)) == 1)
			store_upsert(ev->st, k);
	} else if (strcmp(type, "DELETED") == 0) {
		meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
		ns = cJSON_GetStringValue(
		    cJSON_GetObjectItemCaseSensitive(meta, "namespace"));
		name = cJSON_GetStringValue(
		    cJSON_GetObjectItemCaseSensitive(meta, "name"));
		if (ns != NULL && name != NULL)
			store_delete(ev->st, K8S_SERVICE, ns, name);
	} else if (strcmp(type, "ERROR") == 0)
		rc = -1;
	cJSON_Delete(json);
	return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct events whole = { 0 }, cut = { 0 };
	struct jsonstream a, b;
	size_t max, off, n;
	uint32_t seed;
	int rc_a, rc_b = 0;

	if (lax == -1)
		lax = getenv("FUZZ_WATCH_LAX") != NULL &&
		    strcmp(getenv("FUZZ_WATCH_LAX"), "1") == 0;
	if (size < 1)
		return 0;
	max = (size_t)64 << (data[0] & 7);	/* 64 .. 8 KiB */
	seed = data[0] >> 3;
	data++;
	size--;

	whole.st = store_new(ignore, NULL);
	cut.st = store_new(ignore, NULL);
	store_set_node_name(whole.st, "node-a");
	store_set_node_name(cut.st, "node-a");
	jsonstream_init(&a, max);
	jsonstream_init(&b, max);
	whole.hash = cut.hash = 14695981039346656037ULL;

	rc_a = jsonstream_feed(&a, (const char *)data, size, event_cb, &whole);
	for (off = 0; off < size && rc_b == 0; off += n) {
		/* Chunks of 1 to 32 bytes from a small LCG. */
		seed = seed * 1103515245u + 12345u;
		n = 1 + (seed >> 16) % 32;
		if (n > size - off)
			n = size - off;
		rc_b = jsonstream_feed(&b, (const char *)data + off, n,
		    event_cb, &cut);
	}
	FUZZ_CHECK(rc_a == rc_b);
	FUZZ_CHECK(whole.count == cut.count);
	FUZZ_CHECK(whole.hash == cut.hash);
	/* Our Node (seed-watch-topology) arrives the same either way. */
	FUZZ_CHECK(store_node(whole.st)->sn_seen == store_node(cut.st)->sn_seen);
	FUZZ_CHECK(strcmp(store_node(whole.st)->sn_zone,
	    store_node(cut.st)->sn_zone) == 0);
	if (rc_a == 0) {
		n = jsonstream_pending(&a);
		FUZZ_CHECK(n == jsonstream_pending(&b) && n <= size);
		FUZZ_CHECK(lax || memchr(data + size - n, '\n', n) == NULL);
	}
	store_flush(whole.st);
	store_flush(cut.st);
	jsonstream_reset(&a);
	jsonstream_reset(&b);
	store_free(whole.st);
	store_free(cut.st);
	return 0;
}
