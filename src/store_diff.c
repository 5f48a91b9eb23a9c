/*
 * store_diff.c - what changed between two versions of a service port
 * (see store.h, store_int.h): the Service's own fields, or only its
 * endpoints and what topology made of them.  store_flush() reports a
 * port again only when this finds a difference.
 */
#include <string.h>

#include "store_int.h"

static int
addrs_equal(const union addr *a, size_t na, const union addr *b, size_t nb)
{
	size_t i;

	if (na != nb)
		return 0;
	for (i = 0; i < na; i++)
		if (addr_cmp(&a[i], &b[i]) != 0)
			return 0;
	return 1;
}

static int
ranges_equal(const struct store_port *a, const struct store_port *b)
{
	size_t i;

	if (a->n_source_ranges != b->n_source_ranges)
		return 0;
	for (i = 0; i < a->n_source_ranges; i++)
		if (a->source_ranges[i].ap_len != b->source_ranges[i].ap_len ||
		    addr_cmp(&a->source_ranges[i].ap_addr,
		    &b->source_ranges[i].ap_addr) != 0)
			return 0;
	return 1;
}

static int
all_endpoints_equal(const struct store_port *a, const struct store_port *b)
{
	const struct store_endpoint *x, *y;
	size_t i;

	if (a->n_all_endpoints != b->n_all_endpoints)
		return 0;
	for (i = 0; i < a->n_all_endpoints; i++) {
		x = &a->all_endpoints[i];
		y = &b->all_endpoints[i];
		if (addr_cmp(&x->se_addr, &y->se_addr) != 0 ||
		    x->se_flags != y->se_flags || x->se_in != y->se_in ||
		    strcmp(x->se_node, y->se_node) != 0 ||
		    strcmp(x->se_zone, y->se_zone) != 0)
			return 0;
	}
	return 1;
}

static int
choice_equal(const struct topo_choice *a, const struct topo_choice *b)
{
	return a->tc_mode == b->tc_mode &&
	    a->tc_uses_cluster == b->tc_uses_cluster &&
	    a->tc_uses_local == b->tc_uses_local &&
	    a->tc_cluster_terminating == b->tc_cluster_terminating &&
	    a->tc_local_terminating == b->tc_local_terminating &&
	    a->tc_has_any == b->tc_has_any &&
	    a->tc_n_cluster == b->tc_n_cluster &&
	    a->tc_n_local == b->tc_n_local;
}

/*
 * What changed between two versions of a port: the Service's own fields
 * (addresses, ports, affinity, policies, health check node port, source
 * ranges) are STORE_SERVICE_CHANGED; the endpoints, their conditions and
 * what topology made of them are STORE_ENDPOINTS_CHANGED.
 */
unsigned
store_port_diff(const struct store_port *a, const struct store_port *b)
{
	unsigned changes = 0;

	if (a->protocol != b->protocol || a->port != b->port ||
	    a->node_port != b->node_port ||
	    a->affinity_client_ip != b->affinity_client_ip ||
	    a->affinity_timeout != b->affinity_timeout ||
	    !addrs_equal(a->cluster_ips, a->n_cluster_ips, b->cluster_ips,
	    b->n_cluster_ips) ||
	    !addrs_equal(a->external_ips, a->n_external_ips, b->external_ips,
	    b->n_external_ips) ||
	    !addrs_equal(a->lb_ips, a->n_lb_ips, b->lb_ips, b->n_lb_ips) ||
	    a->policy.tp_internal_local != b->policy.tp_internal_local ||
	    a->policy.tp_external_local != b->policy.tp_external_local ||
	    a->policy.tp_external != b->policy.tp_external ||
	    a->ext_separate != b->ext_separate ||
	    a->health_check_node_port != b->health_check_node_port ||
	    !ranges_equal(a, b))
		changes |= STORE_SERVICE_CHANGED;
	if (!addrs_equal(a->endpoints, a->n_endpoints, b->endpoints,
	    b->n_endpoints) ||
	    !addrs_equal(a->ext_endpoints, a->n_ext_endpoints,
	    b->ext_endpoints, b->n_ext_endpoints) ||
	    !all_endpoints_equal(a, b) || !choice_equal(&a->choice, &b->choice))
		changes |= STORE_ENDPOINTS_CHANGED;
	return changes;
}
