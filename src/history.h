/*
 * history.h - the last five minutes of every service port, for the
 * status page's sparklines (GET /debug/history).
 *
 * Once a second a timer reads the counters the data path already keeps
 * (struct port_stats) and stores, per service port, four numbers in a
 * ring of HISTORY_SAMPLES slots: new connections (TCP) or flows (UDP) in
 * that second, connections or flows open, and bytes relayed towards the
 * endpoints and towards the clients in that second.  The data path pays
 * nothing: it bumps the same counters as before.
 *
 * Memory: a ring is HISTORY_SERIES * HISTORY_SAMPLES 32-bit slots, 4800
 * bytes, allocated when its port first carries traffic and freed after
 * HISTORY_SAMPLES quiet seconds; a port without one costs its small
 * record (about 100 bytes plus its name).  So 10,000 idle service ports
 * cost about 1.3 MB, and each one busy in the last five minutes 4.7 KiB
 * more.  A second's value above 2^32 - 1 is stored as 2^32 - 1.
 */
#ifndef HISTORY_H
#define HISTORY_H

#include <stddef.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "metrics.h"

#define HISTORY_SAMPLES	300	/* one a second: five minutes */
#define HISTORY_SERIES	4	/* new, active, bytes up, bytes down */

struct history;
struct proxier;

/*
 * A history of the ports of `proxier`, sampled every second on base by a
 * timer of its own.  With base NULL there is no timer: the caller feeds
 * history_sample (the unit tests).  proxier is borrowed.
 */
struct history	*history_new(struct event_base *base, struct proxier *proxier);
void		 history_free(struct history *);

/*
 * One tick: the n ports' counters now.  A port seen for the first time
 * starts its history here; one no longer given is forgotten, ring and
 * all.  A counter that went backwards (a port removed and added again
 * between two ticks) counts as 0 for that second.
 */
void		 history_sample(struct history *, const struct metrics_port *,
		    size_t n);

/*
 * /debug/history: one JSON object with "interval" (seconds), "length"
 * (HISTORY_SAMPLES), "ticks" (samples taken so far) and "ports", one
 * object per port of `ports` (the live list, so that endpoints are
 * current): "servicePort", "protocol", "samples" (how many seconds it has
 * been sampled, at most HISTORY_SAMPLES), the four series
 * "newConnections", "active", "bytesToEndpoints", "bytesToClients" as
 * arrays of `samples` numbers, oldest first (left out, with "idle":true,
 * when the port was quiet for the whole window), and "endpoints": objects
 * with "endpoint", "connections", "active", "dialFailures".
 */
void		 history_write_json(struct history *, struct evbuffer *,
		    const struct metrics_port *ports, size_t n);

/* The same for the proxier's ports now. */
void		 history_write_json_live(struct history *, struct evbuffer *);

struct httpd_req;
/* The GET /debug/history handler for httpd_route; arg is the history. */
void		 history_http_cb(struct httpd_req *, void *arg);

#endif
