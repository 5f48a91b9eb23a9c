/*
 * metrics.h - counters of the data path and their Prometheus exposition.
 *
 * Each service port owns a struct port_stats that its proxy socket and
 * connections bump (plain increments: one thread).  When a port is
 * removed while connections still run, they move to the `retired` sink
 * (metrics_retire), so totals never go backwards and no pointer dangles.
 *
 * Each endpoint of a port has a struct endpoint_stats, created by the
 * port's lb and held by every connection or UDP flow using the endpoint;
 * see metrics_endpoint_hold.
 *
 * The rest is the text format (0.0.4) itself: families, labelled samples
 * with escaping, and histograms with kube-proxy's buckets.
 */
#ifndef METRICS_H
#define METRICS_H

#include <stddef.h>
#include <stdint.h>

#include <event2/buffer.h>

#include "addr.h"

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

/*
 * Process-wide data path bounds (not per port): the relay memory pool,
 * the connection bound derived from RLIMIT_NOFILE, and the totals of UDP
 * flows and ClientIP affinity records over every port.  Written by the
 * modules that enforce them, exported by metrics_write_ports.
 */
struct datapath_stats {
	uint64_t	relay_pool_bytes;	/* gauge: buffers and pipes allocated */
	uint64_t	relay_pool_limit;	/* gauge: --relay-memory */
	uint64_t	relay_pool_full;	/* reads done in place: pool full */
	uint64_t	tcp_conn_limit;		/* gauge: connections allowed */
	uint64_t	tcp_conn_refused;	/* reset: connection bound reached */
	uint64_t	tcp_fin_timeouts;	/* half-closed relays closed idle */
	uint64_t	tcp_peer_timeouts;	/* relays ended by keepalive (ETIMEDOUT) */
	uint64_t	udp_flows_total;	/* gauge: flows of every port */
	uint64_t	udp_flows_limit;	/* gauge: flows allowed at once */
	uint64_t	udp_flows_refused;	/* total bound: datagram dropped */
	uint64_t	affinity_total;		/* gauge: records of every port */
	uint64_t	affinity_refused;	/* total bound: client not recorded */
};

extern struct datapath_stats metrics_datapath;

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
 * One endpoint (IP:port) of one service port.  Two owners share it: the
 * lb, while the endpoint is in its list (es_listed), and each connection
 * or flow relaying to it (es_active counts them).  It is freed when both
 * are gone, so a connection that outlives its endpoint, or its whole
 * service port, never points at freed memory, and the records alive are
 * bounded by the endpoints listed plus the connections open.  An endpoint
 * that leaves and comes back while old connections still run gets a new
 * record; the old one counts only those connections down.
 */
struct endpoint_stats {
	union addr	es_addr;
	uint64_t	es_active;		/* gauge and reference count */
	uint64_t	es_dial_failures;	/* attempts to it that failed */
	uint64_t	es_dial_retries;	/* attempts to it after a failure */
	uint64_t	es_connections;		/* connections or flows sent to it */
	int		es_listed;		/* lbs listing it (0, 1 or 2) */
};

/* A new listed record for ep (the lb's side). */
struct endpoint_stats *metrics_endpoint_new(const union addr *ep);
/*
 * A second lb of the same service port lists the endpoint too (its
 * external traffic's, lb_share_stats): es_listed counts the lbs.
 * Returns es.
 */
struct endpoint_stats *metrics_endpoint_list(struct endpoint_stats *);
/* An lb drops the endpoint: frees the record unless a holder remains. */
void	metrics_endpoint_unlist(struct endpoint_stats *);
/*
 * A connection or flow starts using es: es_active++ and es_connections++
 * (each connect attempt counts, a retry on another endpoint too: the
 * share of connections each endpoint was sent).  Returns es.
 */
struct endpoint_stats *metrics_endpoint_hold(struct endpoint_stats *);
/* ... and stops: es_active--, freed if unlisted and unused.  NULL is ok. */
void	metrics_endpoint_release(struct endpoint_stats *);

/* A histogram with fixed upper bounds (le), as Prometheus' client has. */
#define METRICS_BUCKETS_MAX	96

struct metrics_histogram {
	double		 bounds[METRICS_BUCKETS_MAX];	/* ascending; +Inf implied */
	size_t		 n_bounds;
	uint64_t	 counts[METRICS_BUCKETS_MAX + 1]; /* per bucket, +Inf last */
	uint64_t	 count;
	double		 sum;
};

/* Empty, with the n (<= METRICS_BUCKETS_MAX) upper bounds given. */
void	metrics_histogram_init(struct metrics_histogram *,
	    const double *bounds, size_t n);
/* kube-proxy's buckets: ExponentialBuckets(0.001, 2, 15). */
void	metrics_histogram_init_sync(struct metrics_histogram *);
/* kube-proxy's network programming buckets: 0, 0.25, 0.5, 1..59, 60..115, 120..300. */
void	metrics_histogram_init_programming(struct metrics_histogram *);
void	metrics_observe(struct metrics_histogram *, double value);

/*
 * What kube-proxy exports about syncing its rules (pkg/proxy/metrics),
 * kept by the proxier.  Timestamps are Unix seconds, 0 until set.
 */
struct sync_metrics {
	struct metrics_histogram sync_duration;
	struct metrics_histogram programming;
	double		last_sync;		/* last successful sync */
	double		last_queued;		/* last change queued */
	uint64_t	service_changes;
	uint64_t	service_pending;
	uint64_t	endpoint_changes;
	uint64_t	endpoint_pending;
};

void	metrics_sync_init(struct sync_metrics *);

/* Exposition.  `# HELP` and `# TYPE` lines of one family. */
void	metrics_family(struct evbuffer *, const char *name, const char *type,
	    const char *help);
/*
 * One sample.  labels: NULL-terminated name, value, name, value, ...
 * (values escaped here), or NULL for none.
 */
void	metrics_sample(struct evbuffer *, const char *name,
	    const char *const *labels, double value);
/* A whole histogram family: _bucket{le} (cumulative, +Inf), _sum, _count. */
void	metrics_write_histogram(struct evbuffer *, const char *name,
	    const char *help, const struct metrics_histogram *);
void	metrics_write_sync(struct evbuffer *, const struct sync_metrics *);

/* A labelled port for metrics_write_ports. */
struct metrics_port {
	const char		*name;		/* "ns/name:port" */
	const char		*protocol;	/* "TCP", "UDP" or "" (retired) */
	const struct port_stats	*stats;
	struct endpoint_stats	*const *endpoints; /* listed ones */
	size_t			 n_endpoints;
};

/*
 * Every kube_uproxy_* data path family, one sample per port (labels
 * service_port and protocol; families of the other protocol are left
 * out), and the per-endpoint families (labels service_port, endpoint).
 */
void	metrics_write_ports(struct evbuffer *, const struct metrics_port *,
	    size_t n);

#endif
