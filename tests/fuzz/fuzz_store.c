/*
 * fuzz_store.c - the store (store.c) against a model.
 *
 * The input is a sequence of operations on a few Services and
 * EndpointSlices in two namespaces: upsert (with ports, protocols, ready
 * and not-ready endpoints drawn from small sets, so that names collide and
 * joins happen), delete, flush, and a relist (store_replace_begin, each
 * object upserted again, kept with store_keep, or left out, then
 * store_replace_end).  Objects go through k8s_decode from JSON text, as
 * from a source.  After every flush:
 *  - the ports the store lists equal the model's join: one per TCP or UDP
 *    port of each Service, whose endpoints are the ready addresses of the
 *    Service's slices with a port of the same name and protocol, at that
 *    slice port's number, sorted and unique;
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
#define MAXVIEW		64

static const char *const ns_names[NNS] = { "default", "kube-system" };
static const char *const port_names[] = { "", "http", "dns", "metrics" };
static const char *const proto_names[] = { "TCP", "UDP", "SCTP" };

struct mport {
	int		 name;		/* index in port_names */
	int		 proto;		/* index in proto_names */
	uint16_t	 port;
};

/* One object of the model: a Service (svc >= 0) or a slice. */
struct mobj {
	int		 present;
	int		 is_slice;
	int		 ns;
	int		 name;
	int		 svc;		/* slice: its Service's name */
	struct mport	 ports[MAXPORTS];
	size_t		 n_ports;
	int		 ep_ip[MAXEPS];	/* 198.18.0.N */
	int		 ep_ready[MAXEPS];
	size_t		 n_eps;
	uint8_t		 cip;		/* Service: 198.19.0.N */
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

static char *
to_json(const struct mobj *o)
{
	cJSON *j = cJSON_CreateObject(), *meta, *arr, *it, *spec, *c;
	char name[16], ip[32];
	size_t i;
	char *s;

	meta = cJSON_AddObjectToObject(j, "metadata");
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
			cJSON_AddBoolToObject(cJSON_AddObjectToObject(it,
			    "conditions"), "ready", o->ep_ready[i]);
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
		}
	} else
		o->cip = (uint8_t)(1 + fuzz_u8(in) % 250);
}

struct want {
	int		 ns, svc, name, proto;
	uint16_t	 port;
	union addr	 eps[NSLICE * MAXPORTS * MAXEPS];
	size_t		 n_eps;
};

static int
addr_qcmp(const void *a, const void *b)
{
	return addr_cmp(a, b);
}

/* The model's join of Service o, appended to w. */
static size_t
join(const struct mobj *objs, const struct mobj *o, struct want *w)
{
	const struct mobj *s;
	size_t n = 0, i, j, k, e, out;
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
					if (!s->ep_ready[e])
						continue;
					snprintf(ip, sizeof(ip), "198.18.0.%d",
					    s->ep_ip[e]);
					FUZZ_CHECK(addr_parse(ip,
					    s->ports[k].port,
					    &w[n].eps[w[n].n_eps++]) == 0);
				}
			}
		}
		qsort(w[n].eps, w[n].n_eps, sizeof(union addr), addr_qcmp);
		for (e = 1, out = w[n].n_eps ? 1 : 0; e < w[n].n_eps; e++)
			if (addr_cmp(&w[n].eps[e], &w[n].eps[out - 1]) != 0)
				w[n].eps[out++] = w[n].eps[e];
		w[n].n_eps = out;
		n++;
	}
	return n;
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
		FUZZ_CHECK(p->n_endpoints == want[i].n_eps);
		for (k = 0; k < p->n_endpoints; k++)
			FUZZ_CHECK(addr_cmp(&p->endpoints[k],
			    &want[i].eps[k]) == 0);
		want[i].svc = -1;	/* matched once only */
	}
	FUZZ_CHECK(listed == n);
	FUZZ_CHECK(listed == v->n);
	FUZZ_CHECK(store_count(st) == n);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct mobj objs[NOBJ], next;
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
	st = store_new(on_change, &view);
	while (in.n > 0 && ops++ < 64) {
		op = fuzz_u8(&in);
		i = (size_t)(op >> 2) % NOBJ;
		kind = objs[i].is_slice ? K8S_ENDPOINTSLICE : K8S_SERVICE;
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
			snprintf(name, sizeof(name), "%c%d",
			    objs[i].is_slice ? 'e' : 's', objs[i].name);
			store_delete(st, kind, ns_names[objs[i].ns], name);
			objs[i].present = 0;
			break;
		case 2:		/* flush */
			store_flush(st);
			compare(st, objs, &view);
			break;
		case 3:		/* relist: each object upserted, kept or gone */
			store_replace_begin(st);
			for (i = 0; i < NOBJ; i++) {
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
					snprintf(name, sizeof(name), "%c%d",
					    objs[i].is_slice ? 'e' : 's',
					    objs[i].name);
					store_keep(st, objs[i].is_slice ?
					    K8S_ENDPOINTSLICE : K8S_SERVICE,
					    ns_names[objs[i].ns], name);
					break;
				}
			}
			store_replace_end(st, 1u << K8S_SERVICE |
			    1u << K8S_ENDPOINTSLICE);
			break;
		}
	}
	store_flush(st);
	compare(st, objs, &view);
	store_free(st);
	for (i = 0; i < NOBJ; i++)
		free(objs[i].json);
	return 0;
}
