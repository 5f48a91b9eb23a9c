/*
 * store.c - Services joined with their endpoints into service ports
 * (see store.h): the indexes, our Node, and what store_flush() reports.
 *
 * Three indexes, all red-black trees:
 *  - objects: every stored object by (kind, ns, name), with the generation
 *    of its last upsert (what store_replace_end() looks at);
 *  - groups: one per (ns, service name) that something refers to: the
 *    Service, its v1 Endpoints, the EndpointSlices labelled with its name,
 *    and the service ports last reported for it;
 *  - ports: every current service port by key (store_first/store_next).
 * An object change marks the groups it touches dirty; store_flush()
 * re-joins only those (store_join.c) and diffs the result against what
 * was reported (store_diff.c), so the work is proportional to the
 * changes, not to the cluster.
 *
 * Services are bounded (BOUND_SERVICES): one past the bound is kept aside
 * ("parked": stored, not joined, one warning) and joined, oldest first,
 * when another Service goes.
 *
 * The structures shared by the store files are in store_int.h.
 */
#include <stdlib.h>
#include <string.h>

#include "bounds.h"
#include "log.h"
#include "store_int.h"
#include "util.h"

/* What an added or removed port reports: everything about it changed. */
#define STORE_ALL_CHANGED	\
	(STORE_SERVICE_CHANGED | STORE_ENDPOINTS_CHANGED)

static int
obj_cmp(const struct obj_entry *a, const struct obj_entry *b)
{
	return k8s_key_cmp(a->kind, a->ns, a->name, b->kind, b->ns, b->name);
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

	next = store_group_join(st, g, &n_next);
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
			changes = store_port_diff(&old->port, &next[j]->port);
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
