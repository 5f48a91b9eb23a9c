/*
 * store.c - Services joined with their endpoints into service ports
 * (see store.h).
 *
 * Three indexes, all red-black trees:
 *  - objects: every stored object by (kind, ns, name), with the generation
 *    of its last upsert (what store_replace_end() looks at);
 *  - groups: one per (ns, service name) that something refers to: the
 *    Service, its v1 Endpoints, the EndpointSlices labelled with its name,
 *    and the service ports last reported for it;
 *  - ports: every current service port by key (store_first/store_next).
 * An object change marks the groups it touches dirty; store_flush()
 * re-joins only those and diffs the result against what was reported, so
 * the work is proportional to the changes, not to the cluster.
 *
 * Services are bounded (BOUND_SERVICES): one past the bound is kept aside
 * ("parked": stored, not joined, one warning) and joined, oldest first,
 * when another Service goes.
 *
 * A service port is one allocation (struct port_node): the public struct
 * followed by its address arrays and its strings, so it is immutable by
 * construction and freed with one free().
 */
#include <stdlib.h>
#include <string.h>

#include <bsd/sys/queue.h>

#include "bounds.h"
#include "log.h"
#include "store.h"
#include "tree.h"
#include "util.h"

/* What an added or removed port reports: everything about it changed. */
#define STORE_ALL_CHANGED	\
	(STORE_SERVICE_CHANGED | STORE_ENDPOINTS_CHANGED)

struct group;

struct obj_entry {
	RB_ENTRY(obj_entry)	 entry;
	TAILQ_ENTRY(obj_entry)	 group_entry;	/* slices of the group */
	enum k8s_kind		 kind;		/* key, ns and name point */
	const char		*ns;		/* into obj */
	const char		*name;
	struct k8s_object	*obj;
	struct group		*group;		/* NULL: slice without label */
	uint64_t		 gen;
	int			 parked;	/* a Service past BOUND_SERVICES */
	TAILQ_ENTRY(obj_entry)	 park_entry;	/* store.parked */
};

struct port_node {
	RB_ENTRY(port_node)	 entry;
	struct store_port	 port;
	/* then the source ranges, the address arrays and the strings */
	struct store_endpoint	 all[];
};

struct group {
	RB_ENTRY(group)		 entry;
	TAILQ_ENTRY(group)	 dirty_entry;
	const char		*ns;		/* point into buf */
	const char		*name;
	struct obj_entry	*svc;
	struct obj_entry	*endpoints;
	TAILQ_HEAD(, obj_entry)	 slices;
	struct port_node	**ports;	/* as reported, Service order */
	size_t			 n_ports;
	int			 dirty;
	int			 svc_changed;	/* log skipped ports again */
	const char		*skip_logged;	/* static reason last logged */
	char			 buf[];
};

RB_HEAD(obj_tree, obj_entry);
RB_HEAD(group_tree, group);
RB_HEAD(port_tree, port_node);

struct store {
	store_cb		*cb;
	void			*arg;
	struct obj_tree		 objects;
	struct group_tree	 groups;
	struct port_tree	 ports;
	TAILQ_HEAD(, group)	 dirty;
	TAILQ_HEAD(, obj_entry)	 parked;	/* oldest first */
	size_t			 n_services;	/* joined, not parked */
	size_t			 n_ports;
	uint64_t		 gen;
	/* our Node: names own the strings node points into */
	char			*node_name;
	char			*node_zone;
	struct store_node	 node;
};

static int
obj_cmp(const struct obj_entry *a, const struct obj_entry *b)
{
	int r;

	if (a->kind != b->kind)
		return a->kind < b->kind ? -1 : 1;
	if ((r = strcmp(a->ns, b->ns)) != 0)
		return r;
	return strcmp(a->name, b->name);
}

static int
group_cmp(const struct group *a, const struct group *b)
{
	int r;

	if ((r = strcmp(a->ns, b->ns)) != 0)
		return r;
	return strcmp(a->name, b->name);
}

static int
port_cmp(const struct port_node *a, const struct port_node *b)
{
	return strcmp(a->port.key, b->port.key);
}

RB_GENERATE_LOCAL(obj_tree, obj_entry, entry, obj_cmp)
RB_GENERATE_LOCAL(group_tree, group, entry, group_cmp)
RB_GENERATE_LOCAL(port_tree, port_node, entry, port_cmp)

struct store *
store_new(store_cb *cb, void *arg)
{
	struct store *st = xcalloc(1, sizeof(*st));

	st->cb = cb;
	st->arg = arg;
	RB_INIT(&st->objects);
	RB_INIT(&st->groups);
	RB_INIT(&st->ports);
	TAILQ_INIT(&st->dirty);
	TAILQ_INIT(&st->parked);
	st->node_name = xstrdup("");
	st->node_zone = xstrdup("");
	st->node.sn_name = st->node_name;
	st->node.sn_zone = st->node_zone;
	return st;
}

void
store_free(struct store *st)
{
	struct obj_entry *e, *etmp;
	struct group *g, *gtmp;
	struct port_node *pn, *ptmp;

	if (st == NULL)
		return;
	RB_FOREACH_SAFE(e, obj_tree, &st->objects, etmp) {
		RB_REMOVE(obj_tree, &st->objects, e);
		k8s_object_free(e->obj);
		free(e);
	}
	RB_FOREACH_SAFE(g, group_tree, &st->groups, gtmp) {
		RB_REMOVE(group_tree, &st->groups, g);
		free(g->ports);
		free(g);
	}
	RB_FOREACH_SAFE(pn, port_tree, &st->ports, ptmp) {
		RB_REMOVE(port_tree, &st->ports, pn);
		free(pn);
	}
	free(st->node_name);
	free(st->node_zone);
	free(st);
}

/* The group of (ns, name), created empty if needed. */
static struct group *
group_get(struct store *st, const char *ns, const char *name)
{
	struct group key, *g;
	size_t nslen = strlen(ns), namelen = strlen(name);
	char *p;

	key.ns = ns;
	key.name = name;
	if ((g = RB_FIND(group_tree, &st->groups, &key)) != NULL)
		return g;
	g = xcalloc(1, sizeof(*g) + nslen + namelen + 2);
	p = g->buf;
	memcpy(p, ns, nslen + 1);
	g->ns = p;
	p += nslen + 1;
	memcpy(p, name, namelen + 1);
	g->name = p;
	TAILQ_INIT(&g->slices);
	RB_INSERT(group_tree, &st->groups, g);
	return g;
}

static void
group_dirty(struct store *st, struct group *g)
{
	if (!g->dirty) {
		g->dirty = 1;
		TAILQ_INSERT_TAIL(&st->dirty, g, dirty_entry);
	}
}

/* The Service name an object belongs to, or NULL (unlabelled slice). */
static const char *
obj_service(const struct k8s_object *obj)
{
	if (obj->kind != K8S_ENDPOINTSLICE)
		return obj->name;
	if (obj->n_slices == 0 || obj->slices[0].service == NULL ||
	    obj->slices[0].service[0] == '\0')
		return NULL;
	return obj->slices[0].service;
}

/* Every Service is joined again at the next flush (our zone changed). */
static void
dirty_all(struct store *st)
{
	struct group *g;

	RB_FOREACH(g, group_tree, &st->groups)
		if (g->svc != NULL)
			group_dirty(st, g);
}

/*
 * Our Node is now `obj` (NULL: gone).  Only its zone changes which
 * endpoints are ours by topology; deleting is read through store_node().
 */
static void
node_set(struct store *st, const struct k8s_object *obj)
{
	const char *zone = obj != NULL ? obj->node.zone : "";
	int deleting = obj != NULL && obj->node.deleting;

	if (st->node.sn_seen != (obj != NULL) ||
	    st->node.sn_deleting != deleting)
		log_info("node %s: %s%s", st->node_name, obj == NULL ? "gone" :
		    "seen", deleting ? ", being deleted (healthz fails)" : "");
	st->node.sn_seen = obj != NULL;
	st->node.sn_deleting = deleting;
	if (strcmp(zone, st->node_zone) == 0)
		return;
	log_info("node %s: zone \"%s\" (was \"%s\"); joining every service "
	    "again", st->node_name, zone, st->node_zone);
	free(st->node_zone);
	st->node_zone = xstrdup(zone);
	st->node.sn_zone = st->node_zone;
	dirty_all(st);
}

static void
obj_link(struct store *st, struct obj_entry *e)
{
	const char *svc = obj_service(e->obj);
	struct group *g;

	if (e->kind == K8S_NODE) {
		node_set(st, e->obj);
		return;
	}

	if (svc == NULL) {
		/* kube-proxy ignores slices without the service-name label. */
		log_debug(2, "endpointslice %s/%s: no service label, ignored",
		    e->ns, e->name);
		return;
	}
	g = group_get(st, e->ns, svc);
	switch (e->kind) {
	case K8S_SERVICE:
		g->svc = e;
		g->svc_changed = 1;
		break;
	case K8S_ENDPOINTS:
		g->endpoints = e;
		break;
	case K8S_ENDPOINTSLICE:
		TAILQ_INSERT_TAIL(&g->slices, e, group_entry);
		break;
	case K8S_NODE:
		break;
	}
	e->group = g;
	group_dirty(st, g);
}

static void
obj_unlink(struct store *st, struct obj_entry *e)
{
	struct group *g = e->group;

	/* A Node is linked to nothing; obj_remove() reports it gone. */
	if (g == NULL || e->kind == K8S_NODE)
		return;
	switch (e->kind) {
	case K8S_NODE:
		break;
	case K8S_SERVICE:
		g->svc = NULL;
		g->svc_changed = 1;
		break;
	case K8S_ENDPOINTS:
		g->endpoints = NULL;
		break;
	case K8S_ENDPOINTSLICE:
		TAILQ_REMOVE(&g->slices, e, group_entry);
		break;
	}
	e->group = NULL;
	group_dirty(st, g);
}

void
store_upsert(struct store *st, struct k8s_object *obj)
{
	struct obj_entry key, *e;
	struct k8s_object *old = NULL;

	/* Other nodes' objects (manifests may list every Node) say nothing. */
	if (obj->kind == K8S_NODE && strcmp(obj->name, st->node_name) != 0) {
		log_debug(2, "node %s: not ours (%s), ignored", obj->name,
		    st->node_name);
		k8s_object_free(obj);
		return;
	}
	key.kind = obj->kind;
	key.ns = obj->ns;
	key.name = obj->name;
	if ((e = RB_FIND(obj_tree, &st->objects, &key)) != NULL) {
		e->gen = st->gen;
		if (e->obj->fingerprint != NULL && obj->fingerprint != NULL &&
		    strcmp(e->obj->fingerprint, obj->fingerprint) == 0) {
			k8s_object_free(obj);
			return;
		}
		obj_unlink(st, e);
		old = e->obj;
	} else {
		e = xcalloc(1, sizeof(*e));
		e->kind = obj->kind;
		e->gen = st->gen;
		if (e->kind == K8S_SERVICE && st->n_services >= BOUND_SERVICES) {
			log_warnx("service %s/%s: more than %d services "
			    "(BOUND_SERVICES); skipped until others go",
			    obj->ns, obj->name, BOUND_SERVICES);
			e->parked = 1;
			TAILQ_INSERT_TAIL(&st->parked, e, park_entry);
		} else if (e->kind == K8S_SERVICE)
			st->n_services++;
	}
	/* Same key values, so the tree order holds while pointers move. */
	e->obj = obj;
	e->ns = obj->ns;
	e->name = obj->name;
	if (old == NULL)
		RB_INSERT(obj_tree, &st->objects, e);
	k8s_object_free(old);
	if (!e->parked)
		obj_link(st, e);
}

static void
obj_remove(struct store *st, struct obj_entry *e)
{
	struct obj_entry *next;

	obj_unlink(st, e);
	if (e->kind == K8S_NODE)
		node_set(st, NULL);
	RB_REMOVE(obj_tree, &st->objects, e);
	if (e->parked)
		TAILQ_REMOVE(&st->parked, e, park_entry);
	else if (e->kind == K8S_SERVICE) {
		st->n_services--;
		/* Room for the Service that waited longest. */
		if ((next = TAILQ_FIRST(&st->parked)) != NULL) {
			TAILQ_REMOVE(&st->parked, next, park_entry);
			next->parked = 0;
			st->n_services++;
			log_info("service %s/%s: served now that another has "
			    "gone (BOUND_SERVICES)", next->ns, next->name);
			obj_link(st, next);
		}
	}
	k8s_object_free(e->obj);
	free(e);
}

static struct obj_entry *
obj_find(struct store *st, enum k8s_kind kind, const char *ns,
    const char *name)
{
	struct obj_entry key;

	key.kind = kind;
	key.ns = ns;
	key.name = name;
	return RB_FIND(obj_tree, &st->objects, &key);
}

void
store_delete(struct store *st, enum k8s_kind kind, const char *ns,
    const char *name)
{
	struct obj_entry *e;

	if ((e = obj_find(st, kind, ns, name)) != NULL)
		obj_remove(st, e);
}

void
store_keep(struct store *st, enum k8s_kind kind, const char *ns,
    const char *name)
{
	struct obj_entry *e;

	if ((e = obj_find(st, kind, ns, name)) != NULL)
		e->gen = st->gen;
}

void
store_replace_begin(struct store *st)
{
	st->gen++;
}

void
store_replace_end(struct store *st, unsigned kinds)
{
	struct obj_entry *e, *tmp;

	RB_FOREACH_SAFE(e, obj_tree, &st->objects, tmp) {
		if ((kinds & (1u << e->kind)) && e->gen != st->gen)
			obj_remove(st, e);
	}
}

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
static unsigned
port_diff(const struct store_port *a, const struct store_port *b)
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

/*
 * The service ports a group should have now, in Service order.  Skipped
 * Services and ports are logged here, but only when the Service itself
 * changed, so endpoint churn does not repeat the lines.
 */
static struct port_node **
group_join(const struct store *st, struct group *g, size_t *np)
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

static void
report(struct store *st, const struct port_node *old,
    const struct port_node *new, unsigned changes)
{
	if (st->cb != NULL)
		st->cb(st->arg, old ? &old->port : NULL,
		    new ? &new->port : NULL, changes);
}

/*
 * Re-join one group and report the difference.  Returns the callbacks.
 * The port tree is consistent whenever the callback runs (it may read the
 * store, not change it); an unchanged port keeps its object, so its `new`
 * pointer from an earlier callback stays valid.
 */
static size_t
group_flush(struct store *st, struct group *g)
{
	struct port_node **next, **kept, *old;
	size_t n_next, n_kept = 0, i, j, count = 0;
	unsigned changes;

	next = group_join(st, g, &n_next);
	g->svc_changed = 0;

	/* Removals first: a renamed port frees its socket before the new. */
	for (i = 0; i < g->n_ports; i++) {
		old = g->ports[i];
		for (j = 0; j < n_next; j++)
			if (strcmp(old->port.key, next[j]->port.key) == 0)
				break;
		if (j < n_next)
			continue;
		RB_REMOVE(port_tree, &st->ports, old);
		st->n_ports--;
		report(st, old, NULL, STORE_ALL_CHANGED);
		free(old);
		g->ports[i] = NULL;
		count++;
	}

	kept = xreallocarray(NULL, n_next, sizeof(*kept));
	for (j = 0; j < n_next; j++) {
		old = NULL;
		for (i = 0; i < g->n_ports; i++)
			if (g->ports[i] != NULL && strcmp(g->ports[i]->port.key,
			    next[j]->port.key) == 0) {
				old = g->ports[i];
				g->ports[i] = NULL;
				break;
			}
		if (old != NULL) {
			changes = port_diff(&old->port, &next[j]->port);
			if (changes == 0) {
				free(next[j]);
				kept[n_kept++] = old;
				continue;
			}
			RB_REMOVE(port_tree, &st->ports, old);
			RB_INSERT(port_tree, &st->ports, next[j]);
			report(st, old, next[j], changes);
			free(old);
		} else {
			if (RB_INSERT(port_tree, &st->ports, next[j]) != NULL) {
				/* Only odd names ("a:b") could collide. */
				log_warnx("service %s/%s: port key %s already "
				    "used, port ignored", g->ns, g->name,
				    next[j]->port.key);
				free(next[j]);
				continue;
			}
			st->n_ports++;
			report(st, NULL, next[j], STORE_ALL_CHANGED);
		}
		kept[n_kept++] = next[j];
		count++;
	}
	free(next);
	free(g->ports);
	g->ports = kept;
	g->n_ports = n_kept;
	return count;
}

size_t
store_flush(struct store *st)
{
	struct group *g;
	size_t count = 0;

	while ((g = TAILQ_FIRST(&st->dirty)) != NULL) {
		TAILQ_REMOVE(&st->dirty, g, dirty_entry);
		g->dirty = 0;
		count += group_flush(st, g);
		if (g->svc == NULL && g->endpoints == NULL &&
		    TAILQ_EMPTY(&g->slices) && g->n_ports == 0) {
			RB_REMOVE(group_tree, &st->groups, g);
			free(g->ports);
			free(g);
		}
	}
	return count;
}

/*
 * Walk the port tree by hand: the generated functions want a non-const
 * head, and these readers get a const store.
 */
const struct store_port *
store_first(const struct store *st)
{
	const struct port_node *pn = RB_ROOT(&st->ports);

	if (pn == NULL)
		return NULL;
	while (RB_LEFT(pn, entry) != NULL)
		pn = RB_LEFT(pn, entry);
	return &pn->port;
}

const struct store_port *
store_next(const struct store *st, const struct store_port *p)
{
	struct port_node *pn = RB_ROOT(&st->ports);
	int r;

	while (pn != NULL) {
		if ((r = strcmp(p->key, pn->port.key)) == 0)
			break;
		pn = r < 0 ? RB_LEFT(pn, entry) : RB_RIGHT(pn, entry);
	}
	if (pn == NULL || (pn = RB_NEXT(port_tree, &st->ports, pn)) == NULL)
		return NULL;
	return &pn->port;
}

size_t
store_count(const struct store *st)
{
	return st->n_ports;
}

void
store_set_node_name(struct store *st, const char *name)
{
	struct obj_entry *e;

	if (strcmp(name, st->node_name) == 0)
		return;
	free(st->node_name);
	st->node_name = xstrdup(name);
	st->node.sn_name = st->node_name;
	/* Which endpoints are local changed: every Service again. */
	dirty_all(st);
	e = obj_find(st, K8S_NODE, "", name);
	node_set(st, e != NULL ? e->obj : NULL);
}

const struct store_node *
store_node(const struct store *st)
{
	return &st->node;
}
