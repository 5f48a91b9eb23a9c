/*
 * proxier_debug.c - what the proxier shows of itself.
 *
 * The per endpoint records of a service port gathered for output
 * (pp_es), the /debug/services JSON (also read by `show`) and the
 * status page's list of ports.
 */
#include <stdint.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

#include "lb.h"
#include "proxier.h"
#include "proxier_int.h"
#include "topology.h"
#include "util.h"

/* Rebuild pp_es: the union of both lbs' records, by a merge. */
void
proxier_pp_collect_stats(struct proxied_port *pp)
{
	struct endpoint_stats *const *a, *const *b;
	size_t na, nb, i = 0, j = 0, n = 0;
	int c;

	a = lb_endpoint_stats_all(pp->pp_main.ps_lb);
	na = lb_count(pp->pp_main.ps_lb);
	b = pp->pp_ext.ps_lb != NULL ?
	    lb_endpoint_stats_all(pp->pp_ext.ps_lb) : NULL;
	nb = pp->pp_ext.ps_lb != NULL ? lb_count(pp->pp_ext.ps_lb) : 0;
	free(pp->pp_es);
	pp->pp_es = na + nb > 0 ?
	    xreallocarray(NULL, na + nb, sizeof(*pp->pp_es)) : NULL;
	while (i < na || j < nb) {
		if (i == na)
			c = 1;
		else if (j == nb)
			c = -1;
		else
			c = addr_cmp(&a[i]->es_addr, &b[j]->es_addr);
		if (c <= 0)
			pp->pp_es[n++] = a[i++];
		else
			pp->pp_es[n++] = b[j++];
		/* The same endpoint in both: one shared record, once. */
		if (c == 0)
			j++;
	}
	pp->pp_nes = n;
}

static cJSON *
addrs_json(const union addr *a, size_t n, int with_port)
{
	cJSON *arr = cJSON_CreateArray();
	char buf[ADDR_STRLEN];
	size_t i;

	for (i = 0; i < n; i++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(
		    addr_str(&a[i], with_port, buf, sizeof(buf))));
	return arr;
}

/* Per endpoint, as ipvsadm -Ln lists real servers with their ActiveConn. */
static cJSON *
endpoint_stats_json(const struct proxied_port *pp)
{
	cJSON *arr = cJSON_CreateArray(), *o;
	char buf[ADDR_STRLEN];
	size_t i;

	for (i = 0; i < pp->pp_nes; i++) {
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "endpoint",
		    addr_str(&pp->pp_es[i]->es_addr, 1, buf, sizeof(buf)));
		cJSON_AddNumberToObject(o, "activeConnections",
		    pp->pp_es[i]->es_active);
		cJSON_AddNumberToObject(o, "dialFailures",
		    pp->pp_es[i]->es_dial_failures);
		cJSON_AddNumberToObject(o, "dialRetries",
		    pp->pp_es[i]->es_dial_retries);
		cJSON_AddItemToArray(arr, o);
	}
	return arr;
}

static const char *
topo_mode_str(enum topo_mode m)
{
	switch (m) {
	case TOPO_MODE_SAME_ZONE:
		return "PreferSameZone";
	case TOPO_MODE_SAME_NODE:
		return "PreferSameNode";
	case TOPO_MODE_ALL:
		break;
	}
	return "All";
}

/*
 * How one kind of traffic is served: which set ("cluster" or "local"),
 * how many endpoints, and why (topo_reason).
 */
static cJSON *
traffic_json(const struct store_port *sp, unsigned set, size_t n,
    uint16_t proxy_port)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "endpointSet",
	    set == TOPO_IN_LOCAL ? "local" : "cluster");
	cJSON_AddNumberToObject(o, "endpoints", (double)n);
	cJSON_AddStringToObject(o, "reason", topo_reason(&sp->choice, set));
	cJSON_AddNumberToObject(o, "proxyPort", proxy_port);
	return o;
}

/*
 * Every endpoint the slices list, ready or not, with what it is for us
 * and which traffic may use it.
 */
static cJSON *
all_endpoints_json(const struct store_port *sp)
{
	const struct store_endpoint *se;
	unsigned in_set = topo_internal_set(&sp->policy);
	unsigned ex_set = topo_external_set(&sp->policy);
	cJSON *arr = cJSON_CreateArray(), *o;
	char buf[ADDR_STRLEN];
	size_t i;

	for (i = 0; i < sp->n_all_endpoints; i++) {
		se = &sp->all_endpoints[i];
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "endpoint",
		    addr_str(&se->se_addr, 1, buf, sizeof(buf)));
		cJSON_AddStringToObject(o, "nodeName",
		    se->se_node != NULL ? se->se_node : "");
		cJSON_AddStringToObject(o, "zone",
		    se->se_zone != NULL ? se->se_zone : "");
		cJSON_AddBoolToObject(o, "local",
		    (se->se_flags & TOPO_LOCAL) != 0);
		cJSON_AddBoolToObject(o, "ready",
		    (se->se_flags & TOPO_READY) != 0);
		cJSON_AddBoolToObject(o, "serving",
		    (se->se_flags & TOPO_SERVING) != 0);
		cJSON_AddBoolToObject(o, "terminating",
		    (se->se_flags & TOPO_TERMINATING) != 0);
		cJSON_AddBoolToObject(o, "internal", (se->se_in & in_set) != 0);
		cJSON_AddBoolToObject(o, "external", sp->policy.tp_external &&
		    (se->se_in & ex_set) != 0);
		cJSON_AddItemToArray(arr, o);
	}
	return arr;
}

static cJSON *
prefixes_json(const struct addr_prefix *p, size_t n)
{
	cJSON *arr = cJSON_CreateArray();
	char buf[ADDR_STRLEN + 4];
	size_t i;

	for (i = 0; i < n; i++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(
		    addr_prefix_str(&p[i], buf, sizeof(buf))));
	return arr;
}

cJSON *
proxier_debug_json(struct proxier *p)
{
	cJSON *arr = cJSON_CreateArray(), *o;
	struct proxied_port *pp;
	const struct store_port *sp;
	uint16_t ext_port;
	char *svc;

	RB_FOREACH(pp, proxied_ports, &p->tree) {
		sp = pp->pp_sp;
		o = cJSON_CreateObject();
		svc = xasprintf("%s/%s", sp->ns, sp->name);
		cJSON_AddStringToObject(o, "service", svc);
		free(svc);
		cJSON_AddStringToObject(o, "portName", sp->port_name);
		cJSON_AddStringToObject(o, "protocol", k8s_proto_str(sp->protocol));
		cJSON_AddItemToObject(o, "clusterIPs",
		    addrs_json(sp->cluster_ips, sp->n_cluster_ips, 0));
		cJSON_AddNumberToObject(o, "port", sp->port);
		cJSON_AddNumberToObject(o, "nodePort", sp->node_port);
		cJSON_AddItemToObject(o, "externalIPs",
		    addrs_json(sp->external_ips, sp->n_external_ips, 0));
		cJSON_AddItemToObject(o, "loadBalancerIPs",
		    addrs_json(sp->lb_ips, sp->n_lb_ips, 0));
		cJSON_AddNumberToObject(o, "proxyPort", pp->pp_main.ps_port);
		/* External traffic's own proxy port, or the same one. */
		ext_port = pp->pp_ext.ps_lb != NULL ? pp->pp_ext.ps_port :
		    pp->pp_main.ps_port;
		cJSON_AddNumberToObject(o, "externalProxyPort", ext_port);
		cJSON_AddStringToObject(o, "sessionAffinity",
		    sp->affinity_client_ip ? "ClientIP" : "None");
		cJSON_AddNumberToObject(o, "affinityTimeoutSeconds",
		    sp->affinity_timeout);
		cJSON_AddStringToObject(o, "internalTrafficPolicy",
		    sp->policy.tp_internal_local ? "Local" : "Cluster");
		cJSON_AddStringToObject(o, "externalTrafficPolicy",
		    sp->policy.tp_external_local ? "Local" : "Cluster");
		cJSON_AddNumberToObject(o, "healthCheckNodePort",
		    sp->health_check_node_port);
		cJSON_AddItemToObject(o, "loadBalancerSourceRanges",
		    prefixes_json(sp->source_ranges, sp->n_source_ranges));
		cJSON_AddStringToObject(o, "topology",
		    topo_mode_str(sp->choice.tc_mode));
		cJSON_AddItemToObject(o, "endpoints",
		    addrs_json(sp->endpoints, sp->n_endpoints, 1));
		/* (Equal to the internal ones unless ext_separate.) */
		cJSON_AddItemToObject(o, "externalEndpoints", sp->ext_separate ?
		    addrs_json(sp->ext_endpoints, sp->n_ext_endpoints, 1) :
		    addrs_json(sp->endpoints, sp->n_endpoints, 1));
		cJSON_AddItemToObject(o, "internalTraffic", traffic_json(sp,
		    topo_internal_set(&sp->policy), sp->n_endpoints,
		    pp->pp_main.ps_port));
		if (sp->policy.tp_external)
			cJSON_AddItemToObject(o, "externalTraffic",
			    traffic_json(sp, topo_external_set(&sp->policy),
			    sp->ext_separate ? sp->n_ext_endpoints :
			    sp->n_endpoints, ext_port));
		cJSON_AddItemToObject(o, "allEndpoints", all_endpoints_json(sp));
		cJSON_AddStringToObject(o, "scheduler", "rr");
		cJSON_AddNumberToObject(o, "activeConnections",
		    sp->protocol == K8S_PROTO_UDP ?
		    pp->pp_stats.udp_flows_active : pp->pp_stats.tcp_active);
		cJSON_AddItemToObject(o, "endpointStats",
		    endpoint_stats_json(pp));
		cJSON_AddItemToArray(arr, o);
	}
	return arr;
}

struct metrics_port *
proxier_ports(struct proxier *p, size_t *n)
{
	struct metrics_port *ports;
	struct proxied_port *pp;

	*n = 0;
	if ((ports = calloc(p->count + 1, sizeof(*ports))) == NULL)
		return NULL;
	RB_FOREACH(pp, proxied_ports, &p->tree) {
		ports[*n].name = pp->pp_sp->key;
		ports[*n].protocol = k8s_proto_str(pp->pp_sp->protocol);
		ports[*n].stats = &pp->pp_stats;
		ports[*n].endpoints = pp->pp_es;
		ports[*n].n_endpoints = pp->pp_nes;
		(*n)++;
	}
	return ports;
}
