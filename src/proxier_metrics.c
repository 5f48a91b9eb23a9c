/*
 * proxier_metrics.c - the proxier's kube-proxy sync metrics and its
 * /metrics output.
 *
 * Changes are counted (and stay pending) as the store reports them; a
 * burst ends when the loop turns (proxier_batch_cb) and, with --iptables
 * legacy, when the rule sync is done (proxier_synced in proxier.c).
 * proxier_write_metrics writes them with the per port and per endpoint
 * counters, the traffic policy gauges and the health check node ports.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hc_server.h"
#include "proxier.h"
#include "proxier_int.h"
#include "util.h"

/*
 * kube-proxy counts each Service and each endpoints object that changed
 * and calls them pending until a sync has programmed them.  Here the
 * unit is the service port; an added or removed port is a Service change,
 * and an endpoint change too if it had endpoints.
 */
void
proxier_count_change(struct proxier *p, const struct store_port *old,
    const struct store_port *new, unsigned changes)
{
	const struct store_port *sp = new != NULL ? new : old;
	int svc = 0, eps = 0;

	if (old == NULL || new == NULL) {
		svc = 1;
		eps = sp->n_endpoints > 0;
	} else {
		svc = (changes & STORE_SERVICE_CHANGED) != 0;
		eps = (changes & STORE_ENDPOINTS_CHANGED) != 0;
	}
	p->sm.service_changes += svc;
	p->sm.service_pending += svc;
	p->sm.endpoint_changes += eps;
	p->sm.endpoint_pending += eps;
	p->sm.last_queued = proxier_clock_seconds(CLOCK_REALTIME);
	/*
	 * Network programming latency: from the change in the cluster (the
	 * endpoint objects' last-change-trigger-time) to now, when the new
	 * endpoints are in the lb.  Once per new trigger time.
	 */
	if (eps && new != NULL && new->trigger_time > 0 && (old == NULL ||
	    old->trigger_time != new->trigger_time))
		/* (A skewed clock could put the trigger in the future.) */
		metrics_observe(&p->sm.programming,
		    p->sm.last_queued > new->trigger_time ?
		    p->sm.last_queued - new->trigger_time : 0);
	/* The store reports a burst in one go: it ends when the loop turns. */
	if (!event_pending(p->batch_ev, EV_TIMEOUT, NULL))
		event_active(p->batch_ev, EV_TIMEOUT, 0);
}

/*
 * A burst of changes is in the load balancers and proxy sockets: endpoint
 * changes take effect right there.  Without iptables that is the whole
 * sync; with it, Service changes wait for the rule sync (proxier_synced).
 */
void
proxier_batch_cb(evutil_socket_t fd, short what, void *arg)
{
	struct proxier *p = arg;

	(void)fd;
	(void)what;
	p->sm.endpoint_pending = 0;
	if (p->portals == NULL) {
		metrics_observe(&p->sm.sync_duration, p->batch_s);
		p->sm.last_sync = proxier_clock_seconds(CLOCK_REALTIME);
		p->sm.service_pending = 0;
	}
	p->batch_s = 0;
}

void
proxier_totals(struct proxier *p, struct port_stats *total)
{
	struct proxied_port *pp;

	*total = metrics_retired;
	RB_FOREACH(pp, proxied_ports, &p->tree)
		metrics_add(total, &pp->pp_stats);
}

/*
 * kube-proxy's count of service ports whose Local policy finds no local
 * endpoint while the Service has some elsewhere (their traffic of that
 * kind is refused here): a gauge despite its name, per traffic_policy.
 * And our health check node ports.
 */
static void
write_policy_metrics(struct proxier *p, struct evbuffer *b)
{
	const char *labels[] = { "traffic_policy", NULL, NULL };
	const struct store_port *sp;
	struct proxied_port *pp;
	struct hc_entry *he;
	uint64_t internal = 0, external = 0, ok, unavailable;
	size_t listening = 0;

	RB_FOREACH(pp, proxied_ports, &p->tree) {
		sp = pp->pp_sp;
		if (!sp->choice.tc_has_any)
			continue;
		if (sp->policy.tp_internal_local && sp->n_endpoints == 0)
			internal++;
		if (sp->policy.tp_external_local && sp->policy.tp_external &&
		    (sp->ext_separate ? sp->n_ext_endpoints :
		    sp->n_endpoints) == 0)
			external++;
	}
	metrics_family(b, "kubeproxy_sync_proxy_rules_no_local_endpoints_total",
	    "gauge", "Number of services with a Local traffic policy and no "
	    "endpoints");
	labels[1] = "internal";
	metrics_sample(b, "kubeproxy_sync_proxy_rules_no_local_endpoints_total",
	    labels, (double)internal);
	labels[1] = "external";
	metrics_sample(b, "kubeproxy_sync_proxy_rules_no_local_endpoints_total",
	    labels, (double)external);

	RB_FOREACH(he, hc_entries, &p->hcs)
		listening += hc_server_port(he->he_hs) == he->he_port;
	hc_server_answers(&ok, &unavailable);
	metrics_family(b, "kube_uproxy_health_check_node_ports", "gauge",
	    "Health check node ports listening (one per LoadBalancer Service "
	    "with externalTrafficPolicy Local).");
	metrics_sample(b, "kube_uproxy_health_check_node_ports", NULL,
	    (double)listening);
	metrics_family(b, "kube_uproxy_proxy_sockets_missing", "gauge",
	    "Proxy sockets wanted but not open (retried every second).");
	metrics_sample(b, "kube_uproxy_proxy_sockets_missing", NULL,
	    (double)p->failed);
	metrics_family(b, "kube_uproxy_health_check_node_ports_unbound",
	    "gauge", "Health check node ports wanted but not listening "
	    "(retried every second).");
	metrics_sample(b, "kube_uproxy_health_check_node_ports_unbound", NULL,
	    (double)p->hc_unbound);
	metrics_family(b, "kube_uproxy_health_check_answers_total", "counter",
	    "Answers of the health check node ports, by HTTP code.");
	labels[0] = "code";
	labels[1] = "200";
	metrics_sample(b, "kube_uproxy_health_check_answers_total", labels,
	    (double)ok);
	labels[1] = "503";
	metrics_sample(b, "kube_uproxy_health_check_answers_total", labels,
	    (double)unavailable);
	metrics_family(b, "kube_uproxy_health_check_connections", "gauge",
	    "Open connections to the health check node ports (at most "
	    "BOUND_HEALTH_CHECK_CONNECTIONS).");
	metrics_sample(b, "kube_uproxy_health_check_connections", NULL,
	    (double)hc_server_connections());
}

/* Each port's families; none when out of memory (the rest is written). */
static void
write_port_metrics(struct proxier *p, struct evbuffer *b)
{
	struct metrics_port *ports;
	struct proxied_port *pp;
	size_t n = 0;
	int retired;

	/* Ports gone with relays still open, or ever: the "(removed)" row. */
	retired = memcmp(&metrics_retired, &(struct port_stats){ 0 },
	    sizeof(metrics_retired)) != 0;
	if ((ports = reallocarray(NULL, p->count + 1, sizeof(*ports))) == NULL)
		return;
	RB_FOREACH(pp, proxied_ports, &p->tree) {
		ports[n].name = pp->pp_sp->key;
		ports[n].protocol = k8s_proto_str(pp->pp_sp->protocol);
		ports[n].stats = &pp->pp_stats;
		ports[n].endpoints = pp->pp_es;
		ports[n].n_endpoints = pp->pp_nes;
		n++;
	}
	if (retired) {
		ports[n].name = "(removed)";
		ports[n].protocol = "";
		ports[n].stats = &metrics_retired;
		ports[n].endpoints = NULL;
		ports[n].n_endpoints = 0;
		n++;
	}
	metrics_write_ports(b, ports, n);
	free(ports);
}

void
proxier_write_metrics(struct proxier *p, struct evbuffer *b)
{
	uint64_t requested, ok, failed;

	metrics_write_sync(b, &p->sm);
	write_port_metrics(p, b);

	write_policy_metrics(p, b);

	proxier_rule_syncs(p, &requested, &ok, &failed);
	metrics_family(b, "kube_uproxy_rule_sync_requests_total", "counter",
	    "Rule syncs asked for by service changes.");
	metrics_sample(b, "kube_uproxy_rule_sync_requests_total", NULL,
	    (double)requested);
	metrics_family(b, "kube_uproxy_rule_syncs_total", "counter",
	    "Syncs of the nat rules that succeeded (a sync that finds the "
	    "rules right commits nothing).");
	metrics_sample(b, "kube_uproxy_rule_syncs_total", NULL, (double)ok);
	metrics_family(b, "kube_uproxy_rule_sync_failures_total", "counter",
	    "Syncs of the nat rules that failed.");
	metrics_sample(b, "kube_uproxy_rule_sync_failures_total", NULL,
	    (double)failed);
}
