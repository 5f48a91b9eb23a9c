/*
 * proxier_hc.c - the health check node ports of the proxier.
 *
 * One health check node port server (hc_server.h) per Service that has
 * spec.healthCheckNodePort, fed with the count of its local ready
 * endpoints; proxier_apply calls proxier_hc_port_changed after each port
 * change.  Ports that cannot listen are retried with the sockets.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "hc_server.h"
#include "log.h"
#include "nodeaddr.h"
#include "proxier.h"
#include "proxier_int.h"
#include "util.h"

static int
he_cmp(const struct hc_entry *a, const struct hc_entry *b)
{
	int c = strcmp(a->he_ns, b->he_ns);

	return c != 0 ? c : strcmp(a->he_name, b->he_name);
}

RB_GENERATE(hc_entries, hc_entry, he_entry, he_cmp)

/* ---- health check node ports (one per Service) ---- */

static int
addr_qsort_cmp(const void *a, const void *b)
{
	return addr_cmp(a, b);
}

static int
proxier_hc_healthy(void *arg)
{
	struct proxier *p = arg;

	return proxier_healthy(p) && proxier_node_eligible(p);
}

static struct hc_entry *
hc_find(struct proxier *p, const char *ns, const char *name)
{
	struct hc_entry key;

	key.he_ns = (char *)(uintptr_t)ns;
	key.he_name = (char *)(uintptr_t)name;
	return RB_FIND(hc_entries, &p->hcs, &key);
}

void
proxier_hc_remove(struct proxier *p, struct hc_entry *he)
{
	log_debug(LOG_V_SERVICE, "service %s/%s: health check node port %u "
	    "closed", he->he_ns, he->he_name, he->he_port);
	if (hc_server_port(he->he_hs) != he->he_port)
		p->hc_unbound--;
	RB_REMOVE(hc_entries, &p->hcs, he);
	hc_server_free(he->he_hs);
	free(he->he_ns);
	free(he->he_name);
	free(he);
}

/*
 * Listen on the wanted port if not yet: on every local address (the
 * wildcard of both families) as NodePorts answer, or with
 * --nodeport-addresses on each local address within those ranges, as
 * they are when the port opens.
 */
void
proxier_hc_listen(struct proxier *p, struct hc_entry *he)
{
	union addr wild, *addrs = NULL;
	int n, rc;

	if (hc_server_port(he->he_hs) == he->he_port)
		return;
	if ((n = nodeaddr_local_in(p->np_ranges, p->n_np_ranges, &addrs)) ==
	    -1) {
		if (addr_parse("0.0.0.0", 0, &wild) == -1)
			return;
		rc = hc_server_listen(he->he_hs, he->he_port, &wild, 1);
	} else {
		if (n == 0 && he->he_warned != he->he_port)
			log_warnx("service %s/%s: health check node port %u: "
			    "no local address in --nodeport-addresses %s",
			    he->he_ns, he->he_name, he->he_port,
			    p->cfg->nodeport_addresses_str);
		rc = hc_server_listen(he->he_hs, he->he_port, addrs,
		    (size_t)n);
		if (n == 0)
			he->he_warned = he->he_port;
	}
	free(addrs);
	if (rc == 0) {
		if (he->he_warned == he->he_port && n != 0)
			log_info("service %s/%s: health check node port %u "
			    "listening now", he->he_ns, he->he_name,
			    he->he_port);
		if (n != 0)
			he->he_warned = 0;
		return;
	}
	/* Someone else has it (or no descriptor): retried every second. */
	if (he->he_warned != he->he_port)
		log_warn("service %s/%s: cannot listen on health check node "
		    "port %u", he->he_ns, he->he_name, he->he_port);
	he->he_warned = he->he_port;
}

/*
 * Bring Service ns/name's health check node port in line with its ports:
 * open, moved or closed with spec.healthCheckNodePort, and its count of
 * local endpoints as kube-proxy counts it (LocalReadyEndpoints): distinct
 * IPs, ready (not terminating), on our node, over every port of the
 * Service.  O(the Service's ports and endpoints).
 */
static void
hc_sync_service(struct proxier *p, const char *ns, const char *name)
{
	struct store_port key_sp;
	struct proxied_port key, *pp;
	struct hc_entry *he;
	const struct store_endpoint *se;
	union addr *ips = NULL;
	size_t nips = 0, cap = 0, klen, i, local;
	uint16_t port = 0;
	int was_unbound;

	memset(&key_sp, 0, sizeof(key_sp));
	key_sp.key = xasprintf("%s/%s:", ns, name);
	klen = strlen(key_sp.key);
	key.pp_sp = &key_sp;
	/* Keys "ns/name:port" of one Service sort next to each other. */
	for (pp = RB_NFIND(proxied_ports, &p->tree, &key); pp != NULL &&
	    strncmp(pp->pp_sp->key, key_sp.key, klen) == 0;
	    pp = RB_NEXT(proxied_ports, &p->tree, pp)) {
		if (port == 0)
			port = pp->pp_sp->health_check_node_port;
		for (i = 0; i < pp->pp_sp->n_all_endpoints; i++) {
			se = &pp->pp_sp->all_endpoints[i];
			if ((se->se_flags & (TOPO_READY | TOPO_LOCAL)) !=
			    (TOPO_READY | TOPO_LOCAL))
				continue;
			if (nips == cap) {
				cap = cap ? cap * 2 : 16;
				ips = xreallocarray(ips, cap, sizeof(*ips));
			}
			ips[nips] = se->se_addr;
			addr_set_port(&ips[nips++], 0);
		}
	}
	free(key_sp.key);
	if (nips > 0)
		qsort(ips, nips, sizeof(*ips), addr_qsort_cmp);
	for (i = 0, local = 0; i < nips; i++)
		if (i == 0 || addr_cmp(&ips[i], &ips[i - 1]) != 0)
			local++;
	free(ips);

	he = hc_find(p, ns, name);
	if (port == 0) {
		if (he != NULL)
			proxier_hc_remove(p, he);
		return;
	}
	if (he == NULL) {
		he = xcalloc(1, sizeof(*he));
		he->he_ns = xstrdup(ns);
		he->he_name = xstrdup(name);
		he->he_hs = hc_server_new(p->base, ns, name,
		    proxier_hc_healthy, p);
		RB_INSERT(hc_entries, &p->hcs, he);
		was_unbound = 0;
	} else
		was_unbound = hc_server_port(he->he_hs) != he->he_port;
	he->he_port = port;
	hc_server_set_local(he->he_hs, (unsigned)local);
	proxier_hc_listen(p, he);
	p->hc_unbound = p->hc_unbound - was_unbound +
	    (hc_server_port(he->he_hs) != he->he_port);
	proxier_schedule_retry(p);
}

/* After a change of one port: its Service's health check, if any. */
void
proxier_hc_port_changed(struct proxier *p, const struct store_port *old,
    const struct store_port *new)
{
	const struct store_port *sp = new != NULL ? new : old;

	if ((old == NULL || old->health_check_node_port == 0) &&
	    (new == NULL || new->health_check_node_port == 0) &&
	    hc_find(p, sp->ns, sp->name) == NULL)
		return;
	hc_sync_service(p, sp->ns, sp->name);
}
