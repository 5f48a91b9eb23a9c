/*
 * store_join.c - one group's Service joined with its endpoints into
 * service ports (see store.h, store_int.h).
 *
 * For each port of the Service: the endpoints of the slices (or the v1
 * Endpoints) with a port of the same name and protocol, duplicate
 * addresses merged, each with its TOPO_* flags against our node;
 * topo_categorize() per address family sorts them into the sets internal
 * and external traffic use; and the result is built into one allocation
 * (struct port_node): the public struct followed by its address arrays
 * and its strings, so it is immutable by construction and freed with one
 * free().
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store_int.h"
#include "util.h"

/*
 * One endpoint of one service port while it is joined: its address with
 * the slice's port number, its TOPO_* flags against our node, and where
 * it runs (pointing into the stored object).
 */
struct join_ep {
	union addr	 addr;
	unsigned	 flags;
	const char	*node;
	const char	*zone;
};

static int
name_in(const char *name, char *const *names, size_t n)
{
	size_t i;

	if (*name == '\0')
		return 0;
	for (i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return 1;
	return 0;
}

/*
 * What one endpoint is for us (topology.h): its conditions, whether it
 * runs on our node, and whether its hints name our zone or our node.
 * With no node name or no zone of ours, nothing is local or hinted for
 * us, as in kube-proxy (an empty name matches nothing).
 */
static unsigned
endpoint_flags(const struct store *st, const struct k8s_endpoint *ep)
{
	unsigned f = 0;

	if (ep->conditions & K8S_EP_READY)
		f |= TOPO_READY;
	if (ep->conditions & K8S_EP_SERVING)
		f |= TOPO_SERVING;
	if (ep->conditions & K8S_EP_TERMINATING)
		f |= TOPO_TERMINATING;
	if (*st->node_name != '\0' && strcmp(ep->node, st->node_name) == 0)
		f |= TOPO_LOCAL;
	if (ep->n_zone_hints > 0) {
		f |= TOPO_ZONE_HINTS;
		if (name_in(st->node_zone, ep->zone_hints, ep->n_zone_hints))
			f |= TOPO_ZONE_OURS;
	}
	if (ep->n_node_hints > 0) {
		f |= TOPO_NODE_HINTS;
		if (name_in(st->node_name, ep->node_hints, ep->n_node_hints))
			f |= TOPO_NODE_OURS;
	}
	return f;
}

/* How well a copy of an endpoint serves: the best copy stands for all. */
static unsigned
endpoint_rank(unsigned f)
{
	return ((f & TOPO_LOCAL) ? 8 : 0) | ((f & TOPO_READY) ? 4 : 0) |
	    ((f & (TOPO_SERVING | TOPO_TERMINATING)) ==
	    (TOPO_SERVING | TOPO_TERMINATING) ? 2 : 0);
}

/* By address, then the best copy of an address first. */
static int
join_ep_cmp(const void *va, const void *vb)
{
	const struct join_ep *a = va, *b = vb;
	unsigned ra, rb;
	int c;

	if ((c = addr_cmp(&a->addr, &b->addr)) != 0)
		return c;
	ra = endpoint_rank(a->flags);
	rb = endpoint_rank(b->flags);
	if (ra != rb)
		return ra > rb ? -1 : 1;
	if (a->flags != b->flags)
		return a->flags > b->flags ? -1 : 1;
	if ((c = strcmp(a->node, b->node)) != 0)
		return c;
	return strcmp(a->zone, b->zone);
}

/*
 * The endpoints of one Service port: over every slice (or, with no
 * slice at all, every subset of the Endpoints object), the endpoints of
 * the slices with a port of the Service port's name and protocol, each
 * with that slice's own number (pods of one Service may resolve a named
 * targetPort differently, K8S-API.md 4.6).  Sorted by address.
 *
 * The same address may sit in two slices for a while (an endpoint moving
 * between slices): it counts once, and the copy that serves best stands
 * for it (local over remote, then ready over serving-and-terminating
 * over neither).  kube-proxy keeps the first copy unless a later one is
 * local; ranking the rest too keeps the result independent of the order
 * the slices arrived in.
 */
static struct join_ep *
join_endpoints(const struct store *st, const struct group *g,
    const struct k8s_service_port *sp, size_t *np)
{
	const struct obj_entry *e;
	const struct k8s_slice *sl;
	const struct k8s_endpoint_port *ep;
	const struct k8s_endpoint *kep;
	struct join_ep *eps = NULL;
	size_t n = 0, cap = 0, i, j, k, out;

	e = TAILQ_FIRST(&g->slices);
	if (e == NULL)
		e = g->endpoints;
	for (; e != NULL; e = e->kind == K8S_ENDPOINTSLICE ?
	    TAILQ_NEXT(e, group_entry) : NULL) {
		for (i = 0; i < e->obj->n_slices; i++) {
			sl = &e->obj->slices[i];
			for (j = 0; j < sl->n_ports; j++) {
				ep = &sl->ports[j];
				if (ep->protocol != sp->protocol ||
				    ep->port == 0 ||
				    strcmp(ep->name, sp->name) != 0)
					continue;
				if (n + sl->n_endpoints > cap) {
					cap = (n + sl->n_endpoints) * 2;
					eps = xreallocarray(eps, cap,
					    sizeof(*eps));
				}
				for (k = 0; k < sl->n_endpoints; k++) {
					kep = &sl->endpoints[k];
					eps[n].addr = kep->addr;
					addr_set_port(&eps[n].addr, ep->port);
					eps[n].flags = endpoint_flags(st, kep);
					eps[n].node = kep->node;
					eps[n].zone = kep->zone;
					n++;
				}
			}
		}
	}
	if (n > 1) {
		qsort(eps, n, sizeof(*eps), join_ep_cmp);
		for (i = 1, out = 1; i < n; i++)
			if (addr_cmp(&eps[i].addr, &eps[out - 1].addr) != 0)
				eps[out++] = eps[i];
		n = out;
	}
	*np = n;
	return eps;
}

/*
 * topo_categorize() for each address family on its own, as kube-proxy
 * runs one proxier per family: hints are all-or-nothing within a family.
 * The choices are merged: counts add up, flags are or-ed, and the mode
 * is the one of the family with the most endpoints in the cluster set.
 */
static void
join_categorize(const struct join_ep *eps, size_t n,
    const struct topo_policy *pol, unsigned char *in, struct topo_choice *c)
{
	struct topo_choice fc;
	unsigned *flags;
	size_t i, lo, best = 0;

	flags = xreallocarray(NULL, n + 1, sizeof(*flags));
	for (i = 0; i < n; i++)
		flags[i] = eps[i].flags;
	topo_categorize(flags, 0, pol, in, c);
	for (lo = 0; lo < n; lo = i) {
		for (i = lo; i < n && eps[i].addr.sa.sa_family ==
		    eps[lo].addr.sa.sa_family; i++)
			;
		topo_categorize(flags + lo, i - lo, pol, in + lo, &fc);
		if (fc.tc_n_cluster > best || lo == 0) {
			c->tc_mode = fc.tc_mode;
			best = fc.tc_n_cluster;
		}
		c->tc_cluster_terminating |= fc.tc_cluster_terminating;
		c->tc_local_terminating |= fc.tc_local_terminating;
		c->tc_has_any |= fc.tc_has_any;
		c->tc_n_cluster += fc.tc_n_cluster;
		c->tc_n_local += fc.tc_n_local;
	}
	free(flags);
}

/* The newest trigger time of the objects join_endpoints reads. */
static double
join_trigger_time(const struct group *g)
{
	const struct obj_entry *e;
	double t = 0;

	e = TAILQ_FIRST(&g->slices);
	if (e == NULL)
		e = g->endpoints;
	for (; e != NULL; e = e->kind == K8S_ENDPOINTSLICE ?
	    TAILQ_NEXT(e, group_entry) : NULL)
		if (e->obj->trigger_time > t)
			t = e->obj->trigger_time;
	return t;
}

/* Copy n addresses to *dst, point *field at them, advance *dst. */
static void
put_addrs(union addr **dst, const union addr **field, size_t *nfield,
    const union addr *src, size_t n)
{
	if (n > 0)
		memcpy(*dst, src, n * sizeof(*src));
	*field = *dst;
	*nfield = n;
	*dst += n;
}

/* The endpoints of set `which` into *dst, as put_addrs(). */
static void
put_set(union addr **dst, const union addr **field, size_t *nfield,
    const struct join_ep *eps, const unsigned char *in, size_t n,
    unsigned which)
{
	size_t i;

	*field = *dst;
	*nfield = 0;
	for (i = 0; i < n; i++)
		if (in[i] & which) {
			*(*dst)++ = eps[i].addr;
			(*nfield)++;
		}
}

static char *
put_str(char **dst, const char *s)
{
	size_t len = strlen(s) + 1;
	char *p = *dst;

	memcpy(p, s, len);
	*dst += len;
	return p;
}

/* What the port's traffic policies are, from the Service. */
static void
port_policy(const struct k8s_service *svc, const struct k8s_service_port *sp,
    struct topo_policy *pol)
{
	memset(pol, 0, sizeof(*pol));
	pol->tp_internal_local = svc->internal_local != 0;
	pol->tp_external_local = svc->external_local != 0;
	/* ServicePort.ExternallyAccessible (LB IPs of mode VIP only) */
	pol->tp_external = sp->node_port != 0 || svc->n_external_ips > 0 ||
	    svc->n_lb_ips > 0;
}

/*
 * One allocation holding the port, its arrays and its strings: the
 * store_endpoint array first (the flexible member, so it is aligned),
 * then the source ranges, the addresses and the strings.  The endpoints
 * are categorized here (topology.c) into the sets the traffic uses.
 */
static struct port_node *
port_node_new(const struct group *g, const struct k8s_service *svc,
    const struct k8s_service_port *sp, const char *key,
    const struct join_ep *eps, size_t n_eps)
{
	struct port_node *pn;
	struct store_port *p;
	struct store_endpoint *se;
	struct addr_prefix *ranges;
	struct topo_policy pol;
	struct topo_choice choice;
	unsigned char *in;
	unsigned int_set, ext_set;
	size_t n_addrs, size, i;
	union addr *a;
	char *s;

	port_policy(svc, sp, &pol);
	in = xcalloc(n_eps + 1, 1);
	join_categorize(eps, n_eps, &pol, in, &choice);
	int_set = topo_internal_set(&pol);
	ext_set = topo_external_set(&pol);

	/* Both sets at most n_eps each. */
	n_addrs = svc->n_cluster_ips + svc->n_external_ips + svc->n_lb_ips +
	    2 * n_eps;
	size = sizeof(*pn) + n_eps * sizeof(*se) +
	    svc->n_source_ranges * sizeof(*ranges) +
	    n_addrs * sizeof(union addr) + strlen(key) + strlen(g->ns) +
	    strlen(g->name) + strlen(sp->name) + 4;
	for (i = 0; i < n_eps; i++)
		size += strlen(eps[i].node) + strlen(eps[i].zone) + 2;
	pn = xcalloc(1, size);
	p = &pn->port;
	se = pn->all;
	ranges = (struct addr_prefix *)(se + n_eps);
	if (svc->n_source_ranges > 0)
		memcpy(ranges, svc->source_ranges,
		    svc->n_source_ranges * sizeof(*ranges));
	p->source_ranges = ranges;
	p->n_source_ranges = svc->n_source_ranges;
	a = (union addr *)(ranges + svc->n_source_ranges);
	put_addrs(&a, &p->cluster_ips, &p->n_cluster_ips, svc->cluster_ips,
	    svc->n_cluster_ips);
	put_addrs(&a, &p->external_ips, &p->n_external_ips,
	    svc->external_ips, svc->n_external_ips);
	put_addrs(&a, &p->lb_ips, &p->n_lb_ips, svc->lb_ips, svc->n_lb_ips);
	put_set(&a, &p->endpoints, &p->n_endpoints, eps, in, n_eps, int_set);
	/*
	 * A second set only when the two are decided differently and some
	 * traffic is external; otherwise the same array.
	 */
	p->ext_separate = int_set != ext_set && pol.tp_external;
	if (p->ext_separate)
		put_set(&a, &p->ext_endpoints, &p->n_ext_endpoints, eps, in,
		    n_eps, ext_set);
	else {
		p->ext_endpoints = p->endpoints;
		p->n_ext_endpoints = p->n_endpoints;
	}
	s = (char *)a;
	for (i = 0; i < n_eps; i++) {
		se[i].se_addr = eps[i].addr;
		se[i].se_flags = eps[i].flags;
		se[i].se_in = in[i];
		se[i].se_node = put_str(&s, eps[i].node);
		se[i].se_zone = put_str(&s, eps[i].zone);
	}
	p->all_endpoints = se;
	p->n_all_endpoints = n_eps;
	p->key = put_str(&s, key);
	p->ns = put_str(&s, g->ns);
	p->name = put_str(&s, g->name);
	p->port_name = put_str(&s, sp->name);
	p->protocol = sp->protocol;
	p->port = sp->port;
	p->node_port = sp->node_port;
	p->affinity_client_ip = svc->affinity_client_ip;
	p->affinity_timeout = svc->affinity_timeout;
	p->policy = pol;
	p->choice = choice;
	p->health_check_node_port = svc->health_check_node_port;
	free(in);
	return pn;
}

/*
 * The service ports a group should have now, in Service order.  Skipped
 * Services and ports are logged here, but only when the Service itself
 * changed, so endpoint churn does not repeat the lines.
 */
struct port_node **
store_group_join(const struct store *st, struct group *g, size_t *np)
{
	const struct k8s_service *svc;
	const struct k8s_service_port *sp;
	struct port_node **ports, *pn;
	struct join_ep *eps;
	size_t i, j, n = 0, n_eps;
	char *key;

	*np = 0;
	if (g->svc == NULL) {
		g->skip_logged = NULL;
		return NULL;
	}
	svc = &g->svc->obj->svc;
	if (svc->skip_reason != NULL) {
		if (g->skip_logged == NULL ||
		    strcmp(g->skip_logged, svc->skip_reason) != 0)
			log_info("service %s/%s: skipped: %s", g->ns, g->name,
			    svc->skip_reason);
		g->skip_logged = svc->skip_reason;
		return NULL;
	}
	g->skip_logged = NULL;
	ports = xreallocarray(NULL, svc->n_ports, sizeof(*ports));
	for (i = 0; i < svc->n_ports; i++) {
		sp = &svc->ports[i];
		if (sp->name[0] != '\0')
			key = xasprintf("%s/%s:%s", g->ns, g->name, sp->name);
		else
			key = xasprintf("%s/%s:%u", g->ns, g->name,
			    (unsigned)sp->port);
		if (sp->protocol != K8S_PROTO_TCP &&
		    sp->protocol != K8S_PROTO_UDP) {
			if (g->svc_changed)
				log_warnx("service %s/%s port %s: SCTP is "
				    "not supported", g->ns,
				    g->name, strchr(key, ':') + 1);
			free(key);
			continue;
		}
		for (j = 0; j < n; j++)
			if (strcmp(ports[j]->port.key, key) == 0)
				break;
		if (j < n) {
			/* API validation forbids this; manifests may not. */
			if (g->svc_changed)
				log_warnx("service %s/%s port %s: duplicate "
				    "port, keeping the first", g->ns, g->name,
				    strchr(key, ':') + 1);
			free(key);
			continue;
		}
		eps = join_endpoints(st, g, sp, &n_eps);
		pn = port_node_new(g, svc, sp, key, eps, n_eps);
		pn->port.trigger_time = join_trigger_time(g);
		free(eps);
		free(key);
		ports[n++] = pn;
	}
	*np = n;
	return ports;
}
