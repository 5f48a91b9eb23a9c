/*
 * metrics.c - data path counters in the Prometheus text format (0.0.4).
 *
 * Counters live in each service port's struct port_stats; this file only
 * knows how to add them up and print them.  One table names every field
 * once, so printing cannot drift from the struct.
 */
#include <stddef.h>

#include "metrics.h"
#include "util.h"

struct port_stats metrics_retired;

static const struct {
	const char	*name;
	const char	*type;		/* "counter" or "gauge" */
	const char	*help;
	size_t		 off;
} fields[] = {
#define F(field, type, name, help) \
	{ name, type, help, offsetof(struct port_stats, field) }
	F(tcp_accepted, "counter", "kube_uproxy_tcp_connections_accepted_total",
	    "TCP connections accepted on proxy ports."),
	F(tcp_active, "gauge", "kube_uproxy_tcp_connections_active",
	    "TCP connections currently connecting or relaying."),
	F(tcp_refused, "counter", "kube_uproxy_tcp_connections_refused_total",
	    "TCP connections reset because the service port had no ready endpoint."),
	F(dial_failures, "counter", "kube_uproxy_endpoint_dial_failures_total",
	    "Connect attempts to endpoints that failed or timed out."),
	F(dial_retries, "counter", "kube_uproxy_endpoint_dial_retries_total",
	    "Connect attempts made after a failed one."),
	F(bytes_to_backend, "counter", "kube_uproxy_bytes_to_endpoints_total",
	    "Bytes relayed from clients to endpoints."),
	F(bytes_to_client, "counter", "kube_uproxy_bytes_to_clients_total",
	    "Bytes relayed from endpoints to clients."),
	F(udp_flows_active, "gauge", "kube_uproxy_udp_flows_active",
	    "UDP client flows currently open."),
	F(udp_flows_created, "counter", "kube_uproxy_udp_flows_created_total",
	    "UDP client flows created."),
	F(udp_flows_evicted, "counter", "kube_uproxy_udp_flows_evicted_total",
	    "UDP flows evicted because the flow table was full."),
	F(udp_datagrams_in, "counter", "kube_uproxy_udp_datagrams_to_endpoints_total",
	    "UDP datagrams relayed from clients to endpoints."),
	F(udp_datagrams_out, "counter", "kube_uproxy_udp_datagrams_to_clients_total",
	    "UDP datagrams relayed from endpoints to clients."),
	F(udp_dropped, "counter", "kube_uproxy_udp_datagrams_dropped_total",
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

void
metrics_write(struct evbuffer *buf, const struct port_stats *total,
    uint64_t service_ports)
{
	size_t i;

	evbuffer_add_printf(buf,
	    "# HELP kube_uproxy_service_ports Service ports with a proxy socket.\n"
	    "# TYPE kube_uproxy_service_ports gauge\n"
	    "kube_uproxy_service_ports %llu\n",
	    (unsigned long long)service_ports);
	for (i = 0; i < nitems(fields); i++)
		evbuffer_add_printf(buf, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n",
		    fields[i].name, fields[i].help, fields[i].name,
		    fields[i].type, fields[i].name,
		    (unsigned long long)field_get(total, i));
}
