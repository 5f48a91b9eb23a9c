/*
 * history.c - per service port rings of one-second samples (history.h).
 *
 * One tick counter for the whole history: sample number t goes to slot
 * t % HISTORY_SAMPLES of every ring, so all rings are aligned and a
 * port's record only needs to know when it was first seen.  Records are
 * kept in a red-black tree keyed by the service port's name
 * ("ns/name:port"), the name the proxier gives it; a tick looks each
 * port up (O(log n)) and forgets the records no port claimed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <event2/buffer.h>

#include "history.h"
#include "httpd.h"
#include "log.h"
#include "proxier.h"
#include "tree.h"
#include "util.h"

enum { S_NEW, S_ACTIVE, S_BYTES_UP, S_BYTES_DOWN };

static const char *const series_names[HISTORY_SERIES] = {
	"newConnections", "active", "bytesToEndpoints", "bytesToClients"
};

struct history_port {
	RB_ENTRY(history_port)	 hp_entry;
	char			*hp_name;
	uint64_t		 hp_first;	/* tick it was first seen at */
	uint64_t		 hp_seen;	/* last tick it was seen at */
	uint64_t		 hp_quiet;	/* ticks in a row with all zero */
	uint64_t		 hp_last[HISTORY_SERIES]; /* counters at the last tick */
	/* [series][slot], NULL while the port was quiet for the whole window */
	uint32_t		(*hp_ring)[HISTORY_SAMPLES];
};

RB_HEAD(history_ports, history_port);

struct history {
	struct history_ports	 tree;
	uint64_t		 ticks;		/* samples taken */
	struct proxier		*proxier;
	struct event		*timer;
};

static int
hp_cmp(const struct history_port *a, const struct history_port *b)
{
	return strcmp(a->hp_name, b->hp_name);
}

RB_GENERATE_LOCAL(history_ports, history_port, hp_entry, hp_cmp)

static void
hp_free(struct history_port *hp)
{
	free(hp->hp_ring);
	free(hp->hp_name);
	free(hp);
}

static uint32_t
clamp32(uint64_t v)
{
	return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

/* The current counter (or gauge) of series s of a port. */
static uint64_t
counter(const struct metrics_port *mp, int s)
{
	int udp = strcmp(mp->protocol, "UDP") == 0;

	switch (s) {
	case S_NEW:
		return udp ? mp->stats->udp_flows_created :
		    mp->stats->tcp_accepted;
	case S_ACTIVE:
		return udp ? mp->stats->udp_flows_active :
		    mp->stats->tcp_active;
	case S_BYTES_UP:
		return mp->stats->bytes_to_backend;
	default:
		return mp->stats->bytes_to_client;
	}
}

static void
sample_port(struct history *h, struct history_port *hp,
    const struct metrics_port *mp, int first)
{
	uint32_t v[HISTORY_SERIES];
	uint64_t now;
	int s, quiet = 1;

	for (s = 0; s < HISTORY_SERIES; s++) {
		now = counter(mp, s);
		if (s == S_ACTIVE)
			v[s] = clamp32(now);
		else if (first)
			/* A port is new when first seen: all it did, it did now. */
			v[s] = clamp32(now);
		else
			v[s] = now >= hp->hp_last[s] ?
			    clamp32(now - hp->hp_last[s]) : 0;
		hp->hp_last[s] = now;
		if (v[s] != 0)
			quiet = 0;
	}
	hp->hp_quiet = quiet ? hp->hp_quiet + 1 : 0;
	/* Out of memory: no ring yet, the next busy second tries again. */
	if (hp->hp_ring == NULL && !quiet)
		hp->hp_ring = calloc(HISTORY_SERIES, sizeof(*hp->hp_ring));
	if (hp->hp_ring != NULL) {
		for (s = 0; s < HISTORY_SERIES; s++)
			hp->hp_ring[s][h->ticks % HISTORY_SAMPLES] = v[s];
		/* Nothing but zeros in the window: the ring says no more. */
		if (hp->hp_quiet >= HISTORY_SAMPLES) {
			free(hp->hp_ring);
			hp->hp_ring = NULL;
		}
	}
}

void
history_sample(struct history *h, const struct metrics_port *ports, size_t n)
{
	struct history_port key, *hp, *next;
	size_t i;
	int first;

	for (i = 0; i < n; i++) {
		key.hp_name = (char *)(uintptr_t)ports[i].name;
		first = 0;
		if ((hp = RB_FIND(history_ports, &h->tree, &key)) == NULL) {
			/* Out of memory: this port is seen the next second. */
			if ((hp = calloc(1, sizeof(*hp))) == NULL)
				continue;
			if ((hp->hp_name = strdup(ports[i].name)) == NULL) {
				free(hp);
				continue;
			}
			hp->hp_first = h->ticks;
			RB_INSERT(history_ports, &h->tree, hp);
			first = 1;
		}
		hp->hp_seen = h->ticks;
		sample_port(h, hp, &ports[i], first);
	}
	RB_FOREACH_SAFE(hp, history_ports, &h->tree, next) {
		if (hp->hp_seen != h->ticks) {
			RB_REMOVE(history_ports, &h->tree, hp);
			hp_free(hp);
		}
	}
	h->ticks++;
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct history *h = arg;
	struct metrics_port *ports;
	size_t n;

	(void)fd;
	(void)what;
	/* Out of memory: a sample missed, nothing worse (see sample_port). */
	if ((ports = proxier_ports(h->proxier, &n)) == NULL)
		return;
	history_sample(h, ports, n);
	free(ports);
}

struct history *
history_new(struct event_base *base, struct proxier *proxier)
{
	struct history *h = xcalloc(1, sizeof(*h));
	struct timeval one_s = { 1, 0 };

	RB_INIT(&h->tree);
	h->proxier = proxier;
	if (base == NULL)
		return h;
	if ((h->timer = event_new(base, -1, EV_PERSIST, tick_cb, h)) == NULL ||
	    event_add(h->timer, &one_s) == -1) {
		/* The page then shows flat lines; nothing else depends on it. */
		log_warnx("status page history: cannot start its timer");
		if (h->timer != NULL)
			event_free(h->timer);
		h->timer = NULL;
	}
	return h;
}

void
history_free(struct history *h)
{
	struct history_port *hp, *next;

	if (h == NULL)
		return;
	if (h->timer != NULL)
		event_free(h->timer);
	RB_FOREACH_SAFE(hp, history_ports, &h->tree, next) {
		RB_REMOVE(history_ports, &h->tree, hp);
		hp_free(hp);
	}
	free(h);
}

/* A JSON string; names are Kubernetes names, but escape all the same. */
static void
put_json_string(struct evbuffer *b, const char *s)
{
	evbuffer_add(b, "\"", 1);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			evbuffer_add_printf(b, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			evbuffer_add_printf(b, "\\u%04x", (unsigned char)*s);
		else
			evbuffer_add(b, s, 1);
	}
	evbuffer_add(b, "\"", 1);
}

static void
put_endpoints(struct evbuffer *b, const struct metrics_port *mp)
{
	const struct endpoint_stats *es;
	char ep[ADDR_STRLEN];
	size_t i;

	evbuffer_add_printf(b, ",\"endpoints\":[");
	for (i = 0; i < mp->n_endpoints; i++) {
		es = mp->endpoints[i];
		evbuffer_add_printf(b, "%s{\"endpoint\":", i > 0 ? "," : "");
		put_json_string(b, addr_str(&es->es_addr, 1, ep, sizeof(ep)));
		evbuffer_add_printf(b, ",\"connections\":%llu,\"active\":%llu,"
		    "\"dialFailures\":%llu}",
		    (unsigned long long)es->es_connections,
		    (unsigned long long)es->es_active,
		    (unsigned long long)es->es_dial_failures);
	}
	evbuffer_add(b, "]", 1);
}

void
history_write_json(struct history *h, struct evbuffer *b,
    const struct metrics_port *ports, size_t n)
{
	struct history_port key, *hp;
	uint64_t samples, t;
	size_t i;
	int s;

	evbuffer_add_printf(b, "{\"interval\":1,\"length\":%d,\"ticks\":%llu,"
	    "\"ports\":[", HISTORY_SAMPLES, (unsigned long long)h->ticks);
	for (i = 0; i < n; i++) {
		key.hp_name = (char *)(uintptr_t)ports[i].name;
		hp = RB_FIND(history_ports, &h->tree, &key);
		samples = hp == NULL ? 0 : h->ticks - hp->hp_first;
		if (samples > HISTORY_SAMPLES)
			samples = HISTORY_SAMPLES;
		evbuffer_add_printf(b, "%s{\"servicePort\":", i > 0 ? "," : "");
		put_json_string(b, ports[i].name);
		evbuffer_add_printf(b, ",\"protocol\":");
		put_json_string(b, ports[i].protocol);
		evbuffer_add_printf(b, ",\"samples\":%llu",
		    (unsigned long long)samples);
		if (hp == NULL || hp->hp_ring == NULL)
			evbuffer_add_printf(b, ",\"idle\":true");
		else
			for (s = 0; s < HISTORY_SERIES; s++) {
				evbuffer_add_printf(b, ",\"%s\":[",
				    series_names[s]);
				for (t = h->ticks - samples; t < h->ticks; t++)
					evbuffer_add_printf(b, "%s%u",
					    t > h->ticks - samples ? "," : "",
					    hp->hp_ring[s][t % HISTORY_SAMPLES]);
				evbuffer_add(b, "]", 1);
			}
		put_endpoints(b, &ports[i]);
		evbuffer_add(b, "}", 1);
	}
	evbuffer_add(b, "]}\n", 3);
}

void
history_write_json_live(struct history *h, struct evbuffer *b)
{
	struct metrics_port *ports;
	size_t n;

	/* Out of memory: an empty answer rather than none. */
	if ((ports = proxier_ports(h->proxier, &n)) == NULL)
		n = 0;
	history_write_json(h, b, ports, n);
	free(ports);
}

void
history_http_cb(struct httpd_req *req, void *arg)
{
	struct history *h = arg;
	struct evbuffer *b = evbuffer_new();

	if (b == NULL) {
		httpd_reply_text(req, 500, "500 out of memory\n");
		return;
	}
	history_write_json_live(h, b);
	httpd_reply(req, 200, "application/json", "Cache-Control: no-store\r\n",
	    b);
	evbuffer_free(b);
}
