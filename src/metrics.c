/*
 * metrics.c - data path counters in the Prometheus text format (0.0.4).
 *
 * Counters live in each service port's struct port_stats and each
 * endpoint's struct endpoint_stats; this file adds them up and prints
 * them.  One table names every port_stats field once, so printing cannot
 * drift from the struct.
 *
 * The format (prometheus.io/docs/instrumenting/exposition_formats):
 *
 *   # HELP name text
 *   # TYPE name counter|gauge|histogram
 *   name{label="value",...} 42
 *
 * label values escape backslash, double quote and newline; a histogram is
 * name_bucket{le="..."} with cumulative counts ending at le="+Inf", then
 * name_sum and name_count.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "util.h"

struct port_stats metrics_retired;
struct datapath_stats metrics_datapath;

#define P_TCP	1
#define P_UDP	2

static const struct {
	const char	*name;
	const char	*type;		/* "counter" or "gauge" */
	int		 protos;	/* P_TCP | P_UDP: ports it applies to */
	const char	*help;
	size_t		 off;
} fields[] = {
#define F(field, type, protos, name, help) \
	{ name, type, protos, help, offsetof(struct port_stats, field) }
	F(tcp_accepted, "counter", P_TCP,
	    "kube_uproxy_tcp_connections_accepted_total",
	    "TCP connections accepted on proxy ports."),
	F(tcp_active, "gauge", P_TCP, "kube_uproxy_tcp_connections_active",
	    "TCP connections currently connecting or relaying."),
	F(tcp_refused, "counter", P_TCP,
	    "kube_uproxy_tcp_connections_refused_total",
	    "TCP connections reset because the service port had no ready endpoint."),
	F(dial_failures, "counter", P_TCP | P_UDP,
	    "kube_uproxy_connect_failures_total",
	    "Connect attempts to endpoints that failed or timed out (UDP: ICMP unreachable)."),
	F(dial_retries, "counter", P_TCP | P_UDP,
	    "kube_uproxy_connect_retries_total",
	    "Connect attempts made after a failed one."),
	F(bytes_to_backend, "counter", P_TCP | P_UDP,
	    "kube_uproxy_bytes_to_endpoints_total",
	    "Bytes relayed from clients to endpoints."),
	F(bytes_to_client, "counter", P_TCP | P_UDP,
	    "kube_uproxy_bytes_to_clients_total",
	    "Bytes relayed from endpoints to clients."),
	F(udp_flows_active, "gauge", P_UDP, "kube_uproxy_udp_flows_active",
	    "UDP client flows currently open."),
	F(udp_flows_created, "counter", P_UDP,
	    "kube_uproxy_udp_flows_created_total",
	    "UDP client flows created."),
	F(udp_flows_evicted, "counter", P_UDP,
	    "kube_uproxy_udp_flows_evicted_total",
	    "UDP flows evicted because the flow table was full."),
	F(udp_datagrams_in, "counter", P_UDP,
	    "kube_uproxy_udp_datagrams_to_endpoints_total",
	    "UDP datagrams relayed from clients to endpoints."),
	F(udp_datagrams_out, "counter", P_UDP,
	    "kube_uproxy_udp_datagrams_to_clients_total",
	    "UDP datagrams relayed from endpoints to clients."),
	F(udp_dropped, "counter", P_UDP,
	    "kube_uproxy_udp_datagrams_dropped_total",
	    "UDP datagrams dropped (no endpoint, send error, truncation)."),
#undef F
};

static uint64_t *
field(struct port_stats *s, size_t i)
{
	return (uint64_t *)((char *)s + fields[i].off);
}

static uint64_t
field_get(const struct port_stats *s, size_t i)
{
	return *(const uint64_t *)((const char *)s + fields[i].off);
}

void
metrics_add(struct port_stats *dst, const struct port_stats *src)
{
	size_t i;

	for (i = 0; i < nitems(fields); i++)
		*field(dst, i) += field_get(src, i);
}

void
metrics_retire(const struct port_stats *s)
{
	/*
	 * Gauges are folded in too: the relays that outlive their port were
	 * counted as active there, and they decrement metrics_retired when
	 * they end.
	 */
	metrics_add(&metrics_retired, s);
}

struct endpoint_stats *
metrics_endpoint_new(const union addr *ep)
{
	struct endpoint_stats *es = xcalloc(1, sizeof(*es));

	es->es_addr = *ep;
	es->es_listed = 1;
	return es;
}

struct endpoint_stats *
metrics_endpoint_list(struct endpoint_stats *es)
{
	es->es_listed++;
	return es;
}

void
metrics_endpoint_unlist(struct endpoint_stats *es)
{
	if (--es->es_listed == 0 && es->es_active == 0)
		free(es);
}

struct endpoint_stats *
metrics_endpoint_hold(struct endpoint_stats *es)
{
	es->es_active++;
	es->es_connections++;
	return es;
}

void
metrics_endpoint_release(struct endpoint_stats *es)
{
	if (es == NULL)
		return;
	if (--es->es_active == 0 && !es->es_listed)
		free(es);
}

void
metrics_histogram_init(struct metrics_histogram *h, const double *bounds,
    size_t n)
{
	memset(h, 0, sizeof(*h));
	if (n > METRICS_BUCKETS_MAX)
		n = METRICS_BUCKETS_MAX;
	memcpy(h->bounds, bounds, n * sizeof(*bounds));
	h->n_bounds = n;
}

void
metrics_histogram_init_sync(struct metrics_histogram *h)
{
	double b[15];
	size_t i;

	for (i = 0; i < nitems(b); i++)
		b[i] = 0.001 * (double)(1u << i);
	metrics_histogram_init(h, b, nitems(b));
}

/*
 * 0 first (kube-proxy's MergeBuckets starts its list with it), then 0.25,
 * 0.5, 1 to 59 by 1, 60 to 115 by 5, 120 to 300 by 30.
 */
void
metrics_histogram_init_programming(struct metrics_histogram *h)
{
	double b[1 + 2 + 59 + 12 + 7];
	size_t n = 0;
	int i;

	b[n++] = 0;
	for (i = 1; i <= 2; i++)
		b[n++] = 0.25 * i;
	for (i = 1; i <= 59; i++)
		b[n++] = i;
	for (i = 0; i < 12; i++)
		b[n++] = 60 + 5 * i;
	for (i = 0; i < 7; i++)
		b[n++] = 120 + 30 * i;
	metrics_histogram_init(h, b, n);
}

void
metrics_observe(struct metrics_histogram *h, double v)
{
	size_t i;

	/* Buckets are few and observations rare (one per sync): scan. */
	for (i = 0; i < h->n_bounds && v > h->bounds[i]; i++)
		;
	h->counts[i]++;		/* i == n_bounds: only in +Inf */
	h->count++;
	h->sum += v;
}

void
metrics_sync_init(struct sync_metrics *s)
{
	memset(s, 0, sizeof(*s));
	metrics_histogram_init_sync(&s->sync_duration);
	metrics_histogram_init_programming(&s->programming);
}

/* The shortest text that reads back as the same double (as Go prints). */
static const char *
number_str(double v, char *buf, size_t len)
{
	if (isinf(v))
		snprintf(buf, len, "%s", v > 0 ? "+Inf" : "-Inf");
	else if (isnan(v))
		snprintf(buf, len, "NaN");
	else {
		snprintf(buf, len, "%.15g", v);
		if (strtod(buf, NULL) != v)
			snprintf(buf, len, "%.17g", v);
	}
	return buf;
}

static void
put_escaped(struct evbuffer *b, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\')
			evbuffer_add(b, "\\\\", 2);
		else if (*s == '"')
			evbuffer_add(b, "\\\"", 2);
		else if (*s == '\n')
			evbuffer_add(b, "\\n", 2);
		else
			evbuffer_add(b, s, 1);
	}
}

void
metrics_family(struct evbuffer *b, const char *name, const char *type,
    const char *help)
{
	/* HELP text escapes only backslash and newline; ours has neither. */
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help,
	    name, type);
}

void
metrics_sample(struct evbuffer *b, const char *name,
    const char *const *labels, double value)
{
	char num[64];
	size_t i;

	evbuffer_add(b, name, strlen(name));
	if (labels != NULL && labels[0] != NULL) {
		evbuffer_add(b, "{", 1);
		for (i = 0; labels[i] != NULL && labels[i + 1] != NULL; i += 2) {
			evbuffer_add_printf(b, "%s%s=\"", i > 0 ? "," : "",
			    labels[i]);
			put_escaped(b, labels[i + 1]);
			evbuffer_add(b, "\"", 1);
		}
		evbuffer_add(b, "}", 1);
	}
	evbuffer_add_printf(b, " %s\n", number_str(value, num, sizeof(num)));
}

void
metrics_write_histogram(struct evbuffer *b, const char *name,
    const char *help, const struct metrics_histogram *h)
{
	char sample[128], le[64];
	const char *labels[] = { "le", le, NULL };
	uint64_t cumulative = 0;
	size_t i;

	metrics_family(b, name, "histogram", help);
	snprintf(sample, sizeof(sample), "%s_bucket", name);
	for (i = 0; i < h->n_bounds; i++) {
		cumulative += h->counts[i];
		number_str(h->bounds[i], le, sizeof(le));
		metrics_sample(b, sample, labels, (double)cumulative);
	}
	cumulative += h->counts[h->n_bounds];
	snprintf(le, sizeof(le), "+Inf");
	metrics_sample(b, sample, labels, (double)cumulative);
	snprintf(sample, sizeof(sample), "%s_sum", name);
	metrics_sample(b, sample, NULL, h->sum);
	snprintf(sample, sizeof(sample), "%s_count", name);
	metrics_sample(b, sample, NULL, (double)h->count);
}

static void
gauge(struct evbuffer *b, const char *name, const char *type,
    const char *help, double v)
{
	metrics_family(b, name, type, help);
	metrics_sample(b, name, NULL, v);
}

void
metrics_write_sync(struct evbuffer *b, const struct sync_metrics *s)
{
	/* Names, types and help texts as kube-proxy's pkg/proxy/metrics. */
	metrics_write_histogram(b, "kubeproxy_sync_proxy_rules_duration_seconds",
	    "SyncProxyRules latency in seconds", &s->sync_duration);
	gauge(b, "kubeproxy_sync_proxy_rules_last_timestamp_seconds", "gauge",
	    "The last time proxy rules were successfully synced", s->last_sync);
	gauge(b, "kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds",
	    "gauge", "The last time a sync of proxy rules was queued",
	    s->last_queued);
	gauge(b, "kubeproxy_sync_proxy_rules_service_changes_total", "counter",
	    "Cumulative proxy rules Service changes",
	    (double)s->service_changes);
	gauge(b, "kubeproxy_sync_proxy_rules_service_changes_pending", "gauge",
	    "Pending proxy rules Service changes", (double)s->service_pending);
	gauge(b, "kubeproxy_sync_proxy_rules_endpoint_changes_total", "counter",
	    "Cumulative proxy rules Endpoint changes",
	    (double)s->endpoint_changes);
	gauge(b, "kubeproxy_sync_proxy_rules_endpoint_changes_pending", "gauge",
	    "Pending proxy rules Endpoint changes", (double)s->endpoint_pending);
	metrics_write_histogram(b, "kubeproxy_network_programming_duration_seconds",
	    "In Cluster Network Programming Latency in seconds", &s->programming);
}

static int
port_protos(const struct metrics_port *p)
{
	if (strcmp(p->protocol, "TCP") == 0)
		return P_TCP;
	if (strcmp(p->protocol, "UDP") == 0)
		return P_UDP;
	return P_TCP | P_UDP;
}

/* The process-wide families of struct datapath_stats. */
static void
metrics_write_datapath(struct evbuffer *b)
{
	const struct datapath_stats *d = &metrics_datapath;

	gauge(b, "kube_uproxy_relay_memory_bytes", "gauge",
	    "Relay buffers and pipes allocated (bounded by --relay-memory).",
	    (double)d->relay_pool_bytes);
	gauge(b, "kube_uproxy_relay_memory_limit_bytes", "gauge",
	    "The bound of relay buffers and pipes (--relay-memory).",
	    (double)d->relay_pool_limit);
	gauge(b, "kube_uproxy_relay_memory_full_total", "counter",
	    "Reads that found the relay pool full and moved only what the "
	    "destination took, leaving the rest in the kernel.",
	    (double)d->relay_pool_full);
	gauge(b, "kube_uproxy_tcp_connections_limit", "gauge",
	    "TCP connections allowed at once (from RLIMIT_NOFILE).",
	    (double)d->tcp_conn_limit);
	gauge(b, "kube_uproxy_tcp_connections_over_limit_total", "counter",
	    "TCP clients reset because the connection bound was reached.",
	    (double)d->tcp_conn_refused);
	gauge(b, "kube_uproxy_tcp_fin_timeouts_total", "counter",
	    "Half-closed relays closed after --tcp-fin-timeout of silence.",
	    (double)d->tcp_fin_timeouts);
	gauge(b, "kube_uproxy_tcp_peer_timeouts_total", "counter",
	    "Relays ended because a peer stopped answering keepalive probes.",
	    (double)d->tcp_peer_timeouts);
	gauge(b, "kube_uproxy_udp_flows_open", "gauge",
	    "UDP flows open over every service port.",
	    (double)d->udp_flows_total);
	gauge(b, "kube_uproxy_udp_flows_limit", "gauge",
	    "UDP flows allowed at once over every service port "
	    "(BOUND_UDP_FLOWS_TOTAL, or a quarter of the descriptors).",
	    (double)d->udp_flows_limit);
	gauge(b, "kube_uproxy_udp_flows_over_limit_total", "counter",
	    "UDP datagrams dropped: the total flow bound was reached.",
	    (double)d->udp_flows_refused);
	gauge(b, "kube_uproxy_affinity_records", "gauge",
	    "ClientIP affinity records over every service port.",
	    (double)d->affinity_total);
	gauge(b, "kube_uproxy_affinity_over_limit_total", "counter",
	    "Clients not recorded for affinity: the total bound was reached.",
	    (double)d->affinity_refused);
}

void
metrics_write_ports(struct evbuffer *b, const struct metrics_port *ports,
    size_t n)
{
	static const struct {
		const char	*name;
		const char	*type;
		const char	*help;
		size_t		 off;
	} ep_fields[] = {
		{ "kube_uproxy_endpoint_connections_active", "gauge",
		    "Connections (TCP) or flows (UDP) currently relaying to the endpoint.",
		    offsetof(struct endpoint_stats, es_active) },
		{ "kube_uproxy_endpoint_dial_failures_total", "counter",
		    "Connect attempts to the endpoint that failed or timed out.",
		    offsetof(struct endpoint_stats, es_dial_failures) },
		{ "kube_uproxy_endpoint_dial_retries_total", "counter",
		    "Connect attempts to the endpoint made after a failed one.",
		    offsetof(struct endpoint_stats, es_dial_retries) },
		{ "kube_uproxy_endpoint_connections_total", "counter",
		    "Connections (TCP) or flows (UDP) sent to the endpoint, "
		    "retries included.",
		    offsetof(struct endpoint_stats, es_connections) },
	};
	const char *labels[] = { "service_port", NULL, "protocol", NULL, NULL };
	const char *ep_labels[] = { "service_port", NULL, "endpoint", NULL,
	    NULL };
	char ep[ADDR_STRLEN];
	size_t f, i, j;
	uint64_t v;

	for (f = 0; f < nitems(fields); f++) {
		metrics_family(b, fields[f].name, fields[f].type, fields[f].help);
		for (i = 0; i < n; i++) {
			if (!(port_protos(&ports[i]) & fields[f].protos))
				continue;
			labels[1] = ports[i].name;
			labels[3] = ports[i].protocol;
			metrics_sample(b, fields[f].name, labels,
			    (double)field_get(ports[i].stats, f));
		}
	}
	for (f = 0; f < nitems(ep_fields); f++) {
		metrics_family(b, ep_fields[f].name, ep_fields[f].type,
		    ep_fields[f].help);
		for (i = 0; i < n; i++) {
			ep_labels[1] = ports[i].name;
			for (j = 0; j < ports[i].n_endpoints; j++) {
				memcpy(&v, (const char *)ports[i].endpoints[j] +
				    ep_fields[f].off, sizeof(v));
				ep_labels[3] = addr_str(&ports[i].endpoints[j]->es_addr,
				    1, ep, sizeof(ep));
				metrics_sample(b, ep_fields[f].name, ep_labels,
				    (double)v);
			}
		}
	}
	metrics_write_datapath(b);
}
