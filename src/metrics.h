/*
 * metrics.h - counters of the data path and their Prometheus exposition.
 *
 * Each service port owns a struct port_stats that its proxy socket and
 * connections bump (plain increments: one thread).  When a port is
 * removed while connections still run, they move to the `retired` sink
 * (metrics_retire), so totals never go backwards and no pointer dangles.
 */
#ifndef METRICS_H
#define METRICS_H

#include <stdint.h>

#include <event2/buffer.h>

struct port_stats {
	uint64_t	tcp_accepted;		/* connections accepted */
	uint64_t	tcp_active;		/* gauge: open connections */
	uint64_t	tcp_refused;		/* no endpoint: reset at once */
	uint64_t	dial_failures;		/* connect attempts that failed */
	uint64_t	dial_retries;		/* attempts after the first */
	uint64_t	bytes_to_backend;
	uint64_t	bytes_to_client;
	uint64_t	udp_flows_active;	/* gauge */
	uint64_t	udp_flows_created;
	uint64_t	udp_flows_evicted;	/* table full: oldest evicted */
	uint64_t	udp_datagrams_in;	/* client to backend */
	uint64_t	udp_datagrams_out;	/* backend to client */
	uint64_t	udp_dropped;		/* no endpoint or send error */
};

/* Counters of ports that no longer exist, folded in by metrics_retire. */
extern struct port_stats metrics_retired;

/*
 * Add a removed port's counters, gauges included, to metrics_retired.  Call
 * it after closing the port's proxy socket (which moves surviving relays
 * to metrics_retired).
 */
void	metrics_retire(const struct port_stats *);
/* Add src into dst, all fields. */
void	metrics_add(struct port_stats *dst, const struct port_stats *src);

/*
 * Append the Prometheus text format (0.0.4) of `total` to buf: one
 * kube_uproxy_* family per field with # HELP and # TYPE.
 */
void	metrics_write(struct evbuffer *buf, const struct port_stats *total,
	    uint64_t service_ports);

#endif
