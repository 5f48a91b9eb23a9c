/*
 * fuzz_store.c - the store (store.c) against a model.
 *
 * The input is a sequence of operations on a few Services and
 * EndpointSlices in two namespaces, and our Node ("node-a"): upsert (with
 * ports, protocols, traffic policies, an external IP, endpoints with
 * conditions, nodeName and zone and node hints, all drawn from small sets,
 * so that names collide and joins happen; the Node with a zone), delete,
 * flush, and a relist (store_replace_begin, each object upserted again,
 * kept with store_keep, or left out, then store_replace_end).  Objects go
 * through k8s_decode from JSON text, as from a source.  After every flush:
 *  - the ports the store lists equal the model's join: one per TCP or UDP
 *    port of each Service, whose endpoints are those of the Service's
 *    slices with a port of the same name and protocol, at that slice
 *    port's number, one per address (the best copy), and whose internal
 *    and external sets are kube-proxy's CategorizeEndpoints, written again
 *    here without topology.c;
 *  - the ports the callback reported (added, changed, removed) are exactly
 *    the ports the store lists, pointer for pointer.
 */
#include <string.h>

#include <cjson/cJSON.h>

#include "addr.h"
#include "fuzz.h"
#include "k8s.h"
#include "store.h"

#define NNS		2
#define NSVC		3	/* Service names per namespace */
#define NSLICE		4	/* slice names per namespace */
#define MAXPORTS	3
#define MAXEPS		4
#define NOBJ		(NNS * (NSVC + NSLICE))
#define NODE		NOBJ	/* the slot of our Node, after the others */
#define MAXVIEW		64

static const char *const ns_names[NNS] = { "default", "kube-system" };
static const char *const port_names[] = { "", "http", "dns", "metrics" };
static const char *const proto_names[] = { "TCP", "UDP", "SCTP" };
static const char *const node_names[] = { "", "node-a", "node-b" };
static const char *const zone_names[] = { "", "zone-a", "zone-b" };

struct mport {
	int		 name;		/* index in port_names */
	int		 proto;		/* index in proto_names */
	uint16_t	 port;
};

/* One object of the model: a Service (svc >= 0) or a slice. */
struct mobj {
	int		 present;
	int		 is_slice;
	int		 is_node;
	int		 ns;
	int		 name;
	int		 svc;		/* slice: its Service's name */
	struct mport	 ports[MAXPORTS];
	size_t		 n_ports;
	int		 ep_ip[MAXEPS];	/* 198.18.0.N */
	int		 ep_ready[MAXEPS];
	int		 ep_cond[MAXEPS];	/* bits: serving 1, terminating 2,
						   each absent when bit 4, 8 */
	int		 ep_node[MAXEPS];	/* "", node-a, node-b */
	int		 ep_zhint[MAXEPS];	/* none, zone-a, zone-b */
	int		 ep_nhint[MAXEPS];	/* none, node-a, node-b */
	size_t		 n_eps;
	uint8_t		 cip;		/* Service: 198.19.0.N */
	int		 itp, etp, ext;	/* Service: Local, Local, externalIP */
	int		 zone;		/* Node: "", zone-a, zone-b */
	char		*json;		/* last accepted text */
};

struct view {
	const struct store_port	*ports[MAXVIEW];
	size_t			 n;
};

static void
on_change(void *arg, const struct store_port *old, const struct store_port *new,
    unsigned changes)
{
	struct view *v = arg;
	size_t i;

	FUZZ_CHECK(old != NULL || new != NULL);
	if (old != NULL && new != NULL)
		FUZZ_CHECK(changes != 0);
	if (old == NULL) {
		for (i = 0; i < v->n; i++)
			FUZZ_CHECK(strcmp(v->ports[i]->key, new->key) != 0);
		FUZZ_CHECK(v->n < MAXVIEW);
		v->ports[v->n++] = new;
		return;
	}
	for (i = 0; i < v->n; i++)
		if (v->ports[i] == old)
			break;
	FUZZ_CHECK(i < v->n);
	if (new != NULL) {
		FUZZ_CHECK(strcmp(old->key, new->key) == 0);
		v->ports[i] = new;
	} else
		v->ports[i] = v->ports[--v->n];
}

static void
hints(cJSON *ep, int zone, int node)
{
	cJSON *h, *it;

	if (zone == 0 && node == 0)
		return;
	h = cJSON_AddObjectToObject(ep, "hints");
	if (zone != 0) {
		it = cJSON_CreateObject();
		cJSON_AddStringToObject(it, "name", zone_names[zone]);
		cJSON_AddItemToArray(cJSON_AddArrayToObject(h, "forZones"), it);
	}
	if (node != 0) {
		it = cJSON_CreateObject();
		cJSON_AddStringToObject(it, "name", node_names[node]);
		cJSON_AddItemToArray(cJSON_AddArrayToObject(h, "forNodes"), it);
	}
}

static char *
to_json(const struct mobj *o)
{
	cJSON *j = cJSON_CreateObject(), *meta, *arr, *it, *spec, *c;
	char name[16], ip[32];
	size_t i;
	char *s;

	meta = cJSON_AddObjectToObject(j, "metadata");
	if (o->is_node) {
		cJSON_AddStringToObject(j, "apiVersion", "v1");
		cJSON_AddStringToObject(j, "kind", "Node");
		cJSON_AddStringToObject(meta, "name", "node-a");
		cJSON_AddStringToObject(cJSON_AddObjectToObject(meta, "labels"),
		    "topology.kubernetes.io/zone", zone_names[o->zone]);
		s = cJSON_PrintUnformatted(j);
		cJSON_Delete(j);
		return s;
	}
	cJSON_AddStringToObject(meta, "namespace", ns_names[o->ns]);
	if (o->is_slice) {
		cJSON_AddStringToObject(j, "apiVersion", "discovery.k8s.io/v1");
		cJSON_AddStringToObject(j, "kind", "EndpointSlice");
		snprintf(name, sizeof(name), "e%d", o->name);
		cJSON_AddStringToObject(meta, "name", name);
		snprintf(name, sizeof(name), "s%d", o->svc);
		cJSON_AddStringToObject(cJSON_AddObjectToObject(meta, "labels"),
		    "kubernetes.io/service-name", name);
		cJSON_AddStringToObject(j, "addressType", "IPv4");
		arr = cJSON_AddArrayToObject(j, "endpoints");
		for (i = 0; i < o->n_eps; i++) {
			it = cJSON_CreateObject();
			snprintf(ip, sizeof(ip), "198.18.0.%d", o->ep_ip[i]);
			c = cJSON_AddArrayToObject(it, "addresses");
			cJSON_AddItemToArray(c, cJSON_CreateString(ip));
			c = cJSON_AddObjectToObject(it, "conditions");
			cJSON_AddBoolToObject(c, "ready", o->ep_ready[i]);
			if (!(o->ep_cond[i] & 4))
				cJSON_AddBoolToObject(c, "serving",
				    o->ep_cond[i] & 1);
			if (!(o->ep_cond[i] & 8))
				cJSON_AddBoolToObject(c, "terminating",
				    (o->ep_cond[i] & 2) != 0);
			if (o->ep_node[i] != 0)
				cJSON_AddStringToObject(it, "nodeName",
				    node_names[o->ep_node[i]]);
			hints(it, o->ep_zhint[i], o->ep_nhint[i]);
			cJSON_AddItemToArray(arr, it);
		}
		arr = cJSON_AddArrayToObject(j, "ports");
	} else {
		cJSON_AddStringToObject(j, "apiVersion", "v1");
		cJSON_AddStringToObject(j, "kind", "Service");
		snprintf(name, sizeof(name), "s%d", o->name);
		cJSON_AddStringToObject(meta, "name", name);
		spec = cJSON_AddObjectToObject(j, "spec");
		snprintf(ip, sizeof(ip), "198.19.0.%u", o->cip);
		cJSON_AddStringToObject(spec, "clusterIP", ip);
		cJSON_AddStringToObject(spec, "internalTrafficPolicy",
		    o->itp ? "Local" : "Cluster");
		cJSON_AddStringToObject(spec, "externalTrafficPolicy",
		    o->etp ? "Local" : "Cluster");
		if (o->ext)
			cJSON_AddItemToArray(cJSON_AddArrayToObject(spec,
			    "externalIPs"), cJSON_CreateString("198.18.5.1"));
		arr = cJSON_AddArrayToObject(spec, "ports");
	}
	for (i = 0; i < o->n_ports; i++) {
		it = cJSON_CreateObject();
		if (o->ports[i].name != 0)
			cJSON_AddStringToObject(it, "name",
			    port_names[o->ports[i].name]);
		cJSON_AddStringToObject(it, "protocol",
		    proto_names[o->ports[i].proto]);
		cJSON_AddNumberToObject(it, "port", o->ports[i].port);
		cJSON_AddItemToArray(arr, it);
	}
	s = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	return s;
}

static struct k8s_object *
decode(const char *text)
{
	struct k8s_object *obj = NULL;
	char name[512], err[256];
	cJSON *j = cJSON_Parse(text);

	FUZZ_CHECK(j != NULL);
	if (k8s_decode(j, &obj, name, sizeof(name), err, sizeof(err)) != 1)
		obj = NULL;
	cJSON_Delete(j);
	return obj;
}

/* A new version of object slot o from the input. */
static void
generate(struct fuzz_in *in, struct mobj *o)
{
	uint8_t b = fuzz_u8(in);
	int used = 0;
	size_t i;

	if (o->is_node) {
		o->zone = b % 3;
		return;
	}
	o->n_ports = b % (MAXPORTS + 1);
	for (i = 0; i < o->n_ports; i++) {
		b = fuzz_u8(in);
		o->ports[i].name = b % 4;
		o->ports[i].proto = (b / 4) % 3;
		o->ports[i].port = (uint16_t)((o->is_slice ? 8080 : 80) +
		    (b / 12) % 3);
		if (o->is_slice && b / 36 == 6)
			o->ports[i].port = 0;
		/* Service port names unique, all named when several. */
		if (!o->is_slice && (o->n_ports > 1 || o->ports[i].name != 0)) {
			while (o->ports[i].name == 0 ||
			    (used & 1 << o->ports[i].name))
				o->ports[i].name = (o->ports[i].name + 1) % 4;
			used |= 1 << o->ports[i].name;
		}
	}
	if (o->is_slice) {
		o->svc = fuzz_u8(in) % NSVC;
		b = fuzz_u8(in);
		o->n_eps = b % (MAXEPS + 1);
		for (i = 0; i < o->n_eps; i++) {
			b = fuzz_u8(in);
			o->ep_ip[i] = 1 + b % 6;
			o->ep_ready[i] = (b & 0x80) == 0;
			o->ep_cond[i] = (b >> 3) & 15;
			b = fuzz_u8(in);
			o->ep_node[i] = b % 3;
			o->ep_zhint[i] = (b / 3) % 3;
			o->ep_nhint[i] = (b / 9) % 3;
		}
	} else {
		o->cip = (uint8_t)(1 + fuzz_u8(in) % 250);
		b = fuzz_u8(in);
		o->itp = b & 1;
		o->etp = (b >> 1) & 1;
		o->ext = (b >> 2) & 1;
	}
}

#define MAXJOIN		(NSLICE * MAXPORTS * MAXEPS)

static int
addr_qcmp(const void *a, const void *b)
{
	return addr_cmp(a, b);
}

/* The model's flags: topology.h's meaning, computed here on their own. */
enum { F_READY = 1, F_SERVING = 2, F_TERM = 4, F_LOCAL = 8, F_ZH = 16,
	F_ZO = 32, F_NH = 64, F_NO = 128 };

struct want {
	int		 ns, svc, name, proto;
	uint16_t	 port;
	union addr	 eps[MAXJOIN];	/* every endpoint, then one per address */
	unsigned	 flags[MAXJOIN];
	size_t		 n_eps;
	union addr	 internal[MAXJOIN], external[MAXJOIN];
	size_t		 n_internal, n_external;
	int		 separate;
};

/* kube-proxy's reading of one endpoint, against node-a and our zone. */
static unsigned
model_flags(const struct mobj *s, size_t e, int zone)
{
	unsigned f = 0;

	if (s->ep_ready[e])
		f |= F_READY;
	if ((s->ep_cond[e] & 4) || (s->ep_cond[e] & 1))
		f |= F_SERVING;
	if (!(s->ep_cond[e] & 8) && (s->ep_cond[e] & 2))
		f |= F_TERM;
	if (s->ep_node[e] == 1)
		f |= F_LOCAL;
	if (s->ep_zhint[e] != 0)
		f |= F_ZH | (zone != 0 && s->ep_zhint[e] == zone ? F_ZO : 0);
	if (s->ep_nhint[e] != 0)
		f |= F_NH | (s->ep_nhint[e] == 1 ? F_NO : 0);
	return f;
}

static unsigned
rank(unsigned f)
{
	return ((f & F_LOCAL) ? 8 : 0) | ((f & F_READY) ? 4 : 0) |
	    ((f & (F_SERVING | F_TERM)) == (F_SERVING | F_TERM) ? 2 : 0);
}

/*
 * CategorizeEndpoints (pkg/proxy/topology.go) for one port: `in` gets bit
 * 1 for the cluster set, 2 for the local set.
 */
static void
model_categorize(const unsigned *f, size_t n, int itp, int etp, int ext,
    int *in)
{
	int all_zone = 1, all_node = 1, zone_ours = 0, node_ours = 0;
	int ready = 0, mode = 0, local_ready = 0, local_st = 0, any;
	size_t i;

	for (i = 0; i < n; i++)
		in[i] = 0;
	if (!itp || ext) {
		for (i = 0; i < n; i++) {
			if (!(f[i] & F_READY))
				continue;
			ready = 1;
			if (!(f[i] & F_NH))
				all_node = 0;
			if (f[i] & F_NO)
				node_ours = 1;
			if (!(f[i] & F_ZH))
				all_zone = 0;
			if (f[i] & F_ZO)
				zone_ours = 1;
		}
		if (ready && all_node && node_ours)
			mode = 2;
		else if (ready && all_zone && zone_ours)
			mode = 1;
		for (any = 0, i = 0; i < n; i++)
			if ((f[i] & F_READY) && (mode == 0 ||
			    (mode == 1 && (f[i] & F_ZO)) ||
			    (mode == 2 && (f[i] & F_NO)))) {
				in[i] |= 1;
				any = 1;
			}
		for (i = 0; !any && i < n; i++)
			if ((f[i] & (F_SERVING | F_TERM)) == (F_SERVING | F_TERM))
				in[i] |= 1;
	}
	if (!(itp || (etp && ext)))
		return;
	for (i = 0; i < n; i++) {
		if ((f[i] & (F_LOCAL | F_READY)) == (F_LOCAL | F_READY))
			local_ready = 1;
		else if ((f[i] & F_LOCAL) && !(f[i] & F_READY) &&
		    (f[i] & (F_SERVING | F_TERM)) == (F_SERVING | F_TERM))
			local_st = 1;
	}
	for (i = 0; i < n; i++)
		if ((f[i] & F_LOCAL) && (local_ready ? (f[i] & F_READY) != 0 :
		    local_st && (f[i] & (F_SERVING | F_TERM)) ==
		    (F_SERVING | F_TERM)))
			in[i] |= 2;
}

/* The model's join of Service o, appended to w. */
static size_t
join(const struct mobj *objs, const struct mobj *o, struct want *w)
{
	const struct mobj *s;
	size_t n = 0, i, j, k, e, out, best;
	int zone = objs[NODE].present ? objs[NODE].zone : 0;
	int in[MAXJOIN], iset, eset, ext;
	char ip[32];

	for (i = 0; i < o->n_ports; i++) {
		if (o->ports[i].proto == 2)	/* SCTP: skipped */
			continue;
		w[n].ns = o->ns;
		w[n].svc = o->name;
		w[n].name = o->ports[i].name;
		w[n].proto = o->ports[i].proto;
		w[n].port = o->ports[i].port;
		w[n].n_eps = 0;
		for (j = 0; j < NOBJ; j++) {
			s = &objs[j];
			if (!s->present || !s->is_slice || s->ns != o->ns ||
			    s->svc != o->name)
				continue;
			for (k = 0; k < s->n_ports; k++) {
				if (s->ports[k].name != o->ports[i].name ||
				    s->ports[k].proto != o->ports[i].proto ||
				    s->ports[k].port == 0)
					continue;
				for (e = 0; e < s->n_eps; e++) {
					snprintf(ip, sizeof(ip), "198.18.0.%d",
					    s->ep_ip[e]);
					FUZZ_CHECK(addr_parse(ip,
					    s->ports[k].port,
					    &w[n].eps[w[n].n_eps]) == 0);
					w[n].flags[w[n].n_eps++] =
					    model_flags(s, e, zone);
				}
			}
		}
		/* One per address: the best copy (rank, then flags). */
		for (out = 0, e = 0; e < w[n].n_eps; e++) {
			for (best = 0; best < out; best++)
				if (addr_cmp(&w[n].eps[best], &w[n].eps[e]) == 0)
					break;
			if (best == out) {
				w[n].eps[out] = w[n].eps[e];
				w[n].flags[out++] = w[n].flags[e];
			} else if (rank(w[n].flags[e]) > rank(w[n].flags[best]) ||
			    (rank(w[n].flags[e]) == rank(w[n].flags[best]) &&
			    w[n].flags[e] > w[n].flags[best]))
				w[n].flags[best] = w[n].flags[e];
		}
		w[n].n_eps = out;
		/* Services here have an external IP or nothing external. */
		ext = o->ext;
		model_categorize(w[n].flags, out, o->itp, o->etp, ext, in);
		iset = o->itp ? 2 : 1;
		eset = o->etp && ext ? 2 : 1;
		w[n].separate = iset != eset && ext;
		w[n].n_internal = w[n].n_external = 0;
		for (e = 0; e < out; e++) {
			if (in[e] & iset)
				w[n].internal[w[n].n_internal++] = w[n].eps[e];
			if (in[e] & (w[n].separate ? eset : iset))
				w[n].external[w[n].n_external++] = w[n].eps[e];
		}
		qsort(w[n].internal, w[n].n_internal, sizeof(union addr),
		    addr_qcmp);
		qsort(w[n].external, w[n].n_external, sizeof(union addr),
		    addr_qcmp);
		n++;
	}
	return n;
}

static void
compare_addrs(const union addr *got, size_t n_got, const union addr *want,
    size_t n_want)
{
	size_t k;

	FUZZ_CHECK(n_got == n_want);
	for (k = 0; k < n_got; k++)
		FUZZ_CHECK(addr_cmp(&got[k], &want[k]) == 0);
}

static void
compare(const struct store *st, const struct mobj *objs, const struct view *v)
{
	static struct want want[NNS * NSVC * MAXPORTS];
	const struct store_port *p;
	char name[16];
	size_t n = 0, i, listed = 0, k;

	for (i = 0; i < NOBJ; i++)
		if (objs[i].present && !objs[i].is_slice)
			n += join(objs, &objs[i], want + n);
	for (p = store_first(st); p != NULL; p = store_next(st, p)) {
		listed++;
		for (k = 0; k < v->n; k++)
			if (v->ports[k] == p)
				break;
		FUZZ_CHECK(k < v->n);	/* reported through the callback */
		for (i = 0; i < n; i++) {
			snprintf(name, sizeof(name), "s%d", want[i].svc);
			if (strcmp(p->ns, ns_names[want[i].ns]) == 0 &&
			    strcmp(p->name, name) == 0 &&
			    strcmp(p->port_name, port_names[want[i].name]) == 0 &&
			    p->protocol == (want[i].proto == 0 ?
			    K8S_PROTO_TCP : K8S_PROTO_UDP))
				break;
		}
		FUZZ_CHECK(i < n);	/* a port the model has */
		FUZZ_CHECK(p->port == want[i].port);
		compare_addrs(p->endpoints, p->n_endpoints, want[i].internal,
		    want[i].n_internal);
		compare_addrs(p->ext_endpoints, p->n_ext_endpoints,
		    want[i].external, want[i].n_external);
		FUZZ_CHECK(p->ext_separate == want[i].separate);
		FUZZ_CHECK(p->n_all_endpoints == want[i].n_eps);
		for (k = 0; k < p->n_all_endpoints; k++) {
			FUZZ_CHECK(k == 0 || addr_cmp(&p->all_endpoints[k - 1].
			    se_addr, &p->all_endpoints[k].se_addr) < 0);
			FUZZ_CHECK(p->all_endpoints[k].se_node != NULL &&
			    p->all_endpoints[k].se_zone != NULL);
		}
		want[i].svc = -1;	/* matched once only */
	}
	FUZZ_CHECK(listed == n);
	FUZZ_CHECK(listed == v->n);
	FUZZ_CHECK(store_count(st) == n);
}

static void
obj_key(const struct mobj *o, char *name, size_t len)
{
	if (o->is_node)
		snprintf(name, len, "node-a");
	else
		snprintf(name, len, "%c%d", o->is_slice ? 'e' : 's', o->name);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct mobj objs[NOBJ + 1], next;
	struct view view = { .n = 0 };
	struct k8s_object *k;
	struct store *st;
	char name[16];
	size_t i, ops = 0;
	uint8_t op;
	int kind;

	memset(objs, 0, sizeof(objs));
	for (i = 0; i < NOBJ; i++) {
		objs[i].ns = (int)(i / (NSVC + NSLICE));
		objs[i].is_slice = i % (NSVC + NSLICE) >= NSVC;
		objs[i].name = (int)(i % (NSVC + NSLICE)) -
		    (objs[i].is_slice ? NSVC : 0);
	}
	objs[NODE].is_node = 1;
	st = store_new(on_change, &view);
	store_set_node_name(st, "node-a");
	while (in.n > 0 && ops++ < 64) {
		op = fuzz_u8(&in);
		i = (size_t)(op >> 2) % (NOBJ + 1);
		kind = objs[i].is_node ? K8S_NODE : objs[i].is_slice ?
		    K8S_ENDPOINTSLICE : K8S_SERVICE;
		switch (op & 3) {
		case 0:		/* upsert */
			next = objs[i];
			next.json = NULL;
			generate(&in, &next);
			next.json = to_json(&next);
			if ((k = decode(next.json)) == NULL) {
				free(next.json);
				break;
			}
			store_upsert(st, k);
			free(objs[i].json);
			objs[i] = next;
			objs[i].present = 1;
			break;
		case 1:		/* delete */
			obj_key(&objs[i], name, sizeof(name));
			store_delete(st, kind, objs[i].is_node ? "" :
			    ns_names[objs[i].ns], name);
			objs[i].present = 0;
			break;
		case 2:		/* flush */
			store_flush(st);
			compare(st, objs, &view);
			break;
		case 3:		/* relist: each object upserted, kept or gone */
			store_replace_begin(st);
			for (i = 0; i <= NOBJ; i++) {
				if (!objs[i].present)
					continue;
				switch (fuzz_u8(&in) % 3) {
				case 0:
					objs[i].present = 0;
					break;
				case 1:
					k = decode(objs[i].json);
					FUZZ_CHECK(k != NULL);
					store_upsert(st, k);
					break;
				case 2:
					obj_key(&objs[i], name, sizeof(name));
					store_keep(st, objs[i].is_node ?
					    K8S_NODE : objs[i].is_slice ?
					    K8S_ENDPOINTSLICE : K8S_SERVICE,
					    objs[i].is_node ? "" :
					    ns_names[objs[i].ns], name);
					break;
				}
			}
			store_replace_end(st, 1u << K8S_SERVICE |
			    1u << K8S_ENDPOINTSLICE | 1u << K8S_NODE);
			break;
		}
	}
	store_flush(st);
	compare(st, objs, &view);
	FUZZ_CHECK(store_node(st)->sn_seen == objs[NODE].present);
	FUZZ_CHECK(strcmp(store_node(st)->sn_zone, objs[NODE].present ?
	    zone_names[objs[NODE].zone] : "") == 0);
	store_free(st);
	for (i = 0; i <= NOBJ; i++)
		free(objs[i].json);
	return 0;
}
