/*
 * lb.h - the load balancer of one service port.
 *
 * Round robin over the ready endpoints, or ClientIP session affinity: a
 * client IP keeps its endpoint while it returns within the timeout.
 * Each family apart: a client's connections go to endpoints of its own
 * family (IPv4-mapped IPv6 clients of a dual-stack socket are IPv4), each
 * family with its round-robin position; none of its family: no endpoint.
 * Unlike the Go original, the affinity timeout is applied whenever it
 * changes, affinity to endpoints that left is dropped while the rest is
 * kept, and a failed connect rebinds the client to the next endpoint.
 *
 * Time is passed in (monotonic milliseconds) so tests control it.
 */
#ifndef LB_H
#define LB_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"

struct endpoint_stats;
struct lb;

/* The most affinity records one port keeps; beyond it the oldest go. */
#define LB_AFFINITY_MAX		65536

struct lb	*lb_new(void);
void		 lb_free(struct lb *);

/*
 * Replace the endpoint list (copied; sorted/unique as store_port gives it).
 * Affinity records pointing at endpoints no longer present are dropped;
 * others are kept.  The round-robin position carries over.
 */
void		 lb_set_endpoints(struct lb *, const union addr *eps, size_t n);
/* Enable/disable ClientIP affinity and set its timeout (seconds, >0). */
void		 lb_set_affinity(struct lb *, int client_ip, uint32_t timeout_s);
size_t		 lb_count(const struct lb *);
/* 0 for IPv4 and IPv4-mapped IPv6 addresses, 1 for other IPv6 ones. */
int		 lb_family_index(const union addr *);
/* Endpoints of one family (lb_family_index's numbering). */
size_t		 lb_count_family(const struct lb *, int family_index);

/*
 * Make a and b (two lbs of one service port: its internal and external
 * traffic) share their endpoints' counters: an endpoint that enters one
 * list while the other lists it takes the other's record, so a port has
 * one record per endpoint.  b NULL: a shares with nobody.  lb_free
 * undoes it.
 */
void		 lb_share_stats(struct lb *a, struct lb *b);

/*
 * Choose an endpoint for a connection or flow from `client`, among the
 * endpoints of the client's family.  Allocates nothing but an affinity
 * record.
 *
 * With affinity: a live record for the client's IP (age < timeout) is used
 * and refreshed, without advancing round robin; otherwise the next
 * round-robin endpoint is taken and recorded.  `retry` (set after a failed
 * connect) skips the record, takes the next endpoint and rebinds the
 * client to it.  Returns a pointer into the lb's endpoint array (valid
 * until the next lb_set_endpoints), or NULL when there is no endpoint of
 * the client's family.
 */
const union addr *lb_pick(struct lb *, const union addr *client, int retry,
		    uint64_t now_ms);

/*
 * The counters of the endpoint `picked` (a pointer the last lb_pick
 * returned, before any lb_set_endpoints).  A connection keeps them past
 * endpoint changes with metrics_endpoint_hold.  Each endpoint keeps its
 * record across lb_set_endpoints calls while it stays in the list.
 */
struct endpoint_stats *lb_endpoint_stats(const struct lb *,
		    const union addr *picked);
/* The records of the listed endpoints, lb_count of them, in list order. */
struct endpoint_stats *const *lb_endpoint_stats_all(const struct lb *);

/* Drop expired affinity records; returns how many were dropped. */
size_t		 lb_expire(struct lb *, uint64_t now_ms);
size_t		 lb_affinity_count(const struct lb *);

/*
 * The bound of affinity records over every lb (default
 * BOUND_AFFINITY_TOTAL; tests lower it).  Past it a new client's record
 * replaces the expired ones, else the oldest, of its own port; a port with
 * none to give serves the client by round robin without recording it
 * (one line a second at most).
 */
void		 lb_set_affinity_total_bound(size_t);

#endif
