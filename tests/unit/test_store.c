/*
 * test_store.c - the join of Services with EndpointSlices / Endpoints and
 * the per-port change reports (src/store.c).
 *
 * Objects are built by hand (not through k8s_decode) so that each test
 * states exactly what the store receives.  Every callback is recorded;
 * `new` pointers are kept and read later, so ASan/valgrind catch a store
 * that frees a port too early.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bounds.h"
#include "k8s.h"
#include "store.h"
#include "util.h"

/* ------------------------------------------------------------------ */
/* Hand-built objects. */

static struct k8s_object *
obj_new(enum k8s_kind kind, const char *ns, const char *name, const char *fp)
{
	struct k8s_object *o = xcalloc(1, sizeof(*o));

	o->kind = kind;
	o->ns = xstrdup(ns);
	o->name = xstrdup(name);
	o->resource_version = xstrdup("1");
	o->fingerprint = xstrdup(fp);
	return o;
}

static void
addr_push(union addr **arr, size_t *n, const char *ip)
{
	*arr = xreallocarray(*arr, *n + 1, sizeof(**arr));
	assert_int_equal(addr_parse(ip, 0, &(*arr)[*n]), 0);
	(*n)++;
}

/* A ClusterIP Service with one cluster IP and the default affinity. */
static struct k8s_object *
svc_new(const char *name, const char *fp, const char *cluster_ip)
{
	struct k8s_object *o = obj_new(K8S_SERVICE, "default", name, fp);

	o->svc.affinity_timeout = K8S_AFFINITY_TIMEOUT_DEFAULT;
	if (cluster_ip != NULL)
		addr_push(&o->svc.cluster_ips, &o->svc.n_cluster_ips,
		    cluster_ip);
	return o;
}

static void
svc_port(struct k8s_object *o, const char *name, enum k8s_proto proto,
    uint16_t port, uint16_t node_port)
{
	struct k8s_service_port *p;

	o->svc.ports = xreallocarray(o->svc.ports, o->svc.n_ports + 1,
	    sizeof(*o->svc.ports));
	p = &o->svc.ports[o->svc.n_ports++];
	p->name = xstrdup(name);
	p->protocol = proto;
	p->port = port;
	p->node_port = node_port;
}

/* Append a slice (EndpointSlice: the only one; Endpoints: a subset). */
static struct k8s_slice *
slice_add(struct k8s_object *o, const char *service)
{
	struct k8s_slice *sl;

	o->slices = xreallocarray(o->slices, o->n_slices + 1,
	    sizeof(*o->slices));
	sl = &o->slices[o->n_slices++];
	memset(sl, 0, sizeof(*sl));
	sl->service = service ? xstrdup(service) : NULL;
	return sl;
}

static struct k8s_object *
slice_new(const char *name, const char *fp, const char *service)
{
	struct k8s_object *o = obj_new(K8S_ENDPOINTSLICE, "default", name, fp);

	slice_add(o, service);
	return o;
}

static void
slice_port(struct k8s_slice *sl, const char *name, enum k8s_proto proto,
    uint16_t port)
{
	struct k8s_endpoint_port *p;

	sl->ports = xreallocarray(sl->ports, sl->n_ports + 1,
	    sizeof(*sl->ports));
	p = &sl->ports[sl->n_ports++];
	p->name = xstrdup(name);
	p->protocol = proto;
	p->port = port;
}

/* Split "a,b" into a new array of strings ("" or NULL: none). */
static void
names_push(char ***out, size_t *n, const char *csv)
{
	const char *p, *c;

	if (csv == NULL || *csv == '\0')
		return;
	for (p = csv; ; p = c + 1) {
		c = strchr(p, ',');
		*out = xreallocarray(*out, *n + 1, sizeof(**out));
		(*out)[*n] = xstrdup(p);
		if (c != NULL)
			(*out)[*n][c - p] = '\0';
		(*n)++;
		if (c == NULL)
			break;
	}
}

/*
 * An endpoint with its conditions (K8S_EP_*), node, zone and hints
 * (comma-separated names, NULL for none).
 */
static void
slice_ep(struct k8s_slice *sl, const char *ip, unsigned conditions,
    const char *node, const char *zone, const char *for_zones,
    const char *for_nodes)
{
	struct k8s_endpoint *ep;

	sl->endpoints = xreallocarray(sl->endpoints, sl->n_endpoints + 1,
	    sizeof(*sl->endpoints));
	ep = &sl->endpoints[sl->n_endpoints++];
	memset(ep, 0, sizeof(*ep));
	assert_int_equal(addr_parse(ip, 0, &ep->addr), 0);
	ep->conditions = conditions;
	ep->node = xstrdup(node != NULL ? node : "");
	ep->zone = xstrdup(zone != NULL ? zone : "");
	names_push(&ep->zone_hints, &ep->n_zone_hints, for_zones);
	names_push(&ep->node_hints, &ep->n_node_hints, for_nodes);
}

static void
slice_ready(struct k8s_slice *sl, const char *ip)
{
	slice_ep(sl, ip, K8S_EP_READY | K8S_EP_SERVING, NULL, NULL, NULL,
	    NULL);
}

/* ------------------------------------------------------------------ */
/* Callback recorder. */

struct event {
	char			 key[128];
	int			 had_old;
	const struct store_port	*old;	/* freed after the call: compare only */
	const struct store_port	*new;
	unsigned		 changes;
	double			 old_trigger;	/* old->trigger_time */
};

struct recorder {
	struct event	 ev[32];
	size_t		 n;
};

static void
record(void *arg, const struct store_port *old, const struct store_port *new,
    unsigned changes)
{
	struct recorder *r = arg;
	struct event *e;

	assert_true(r->n < nitems(r->ev));
	assert_true(old != NULL || new != NULL);
	e = &r->ev[r->n++];
	snprintf(e->key, sizeof(e->key), "%s", new ? new->key : old->key);
	e->had_old = old != NULL;
	e->old = old;
	e->new = new;
	e->changes = changes;
	e->old_trigger = old != NULL ? old->trigger_time : 0;
	if (old != NULL && new != NULL)
		assert_string_equal(old->key, new->key);
}

static struct event *
find_event(struct recorder *r, const char *key)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		if (strcmp(r->ev[i].key, key) == 0)
			return &r->ev[i];
	fail_msg("no callback for %s", key);
	return NULL;
}

static struct store *
setup_store(struct recorder *r)
{
	memset(r, 0, sizeof(*r));
	return store_new(record, r);
}

static size_t
flush(struct store *st, struct recorder *r)
{
	size_t n;

	r->n = 0;
	n = store_flush(st);
	assert_int_equal(n, r->n);
	return n;
}

static const struct store_port *
port_by_key(const struct store *st, const char *key)
{
	const struct store_port *p;

	for (p = store_first(st); p != NULL; p = store_next(st, p))
		if (strcmp(p->key, key) == 0)
			return p;
	return NULL;
}

/* The endpoints of a port as "a b c" (addr_str with port). */
static const char *
eps_str(const struct store_port *p, char *buf, size_t len)
{
	char a[ADDR_STRLEN];
	size_t i, off = 0;

	buf[0] = '\0';
	for (i = 0; i < p->n_endpoints && off < len; i++)
		off += snprintf(buf + off, len - off, "%s%s", i ? " " : "",
		    addr_str(&p->endpoints[i], 1, a, sizeof(a)));
	return buf;
}

#define assert_eps(p, want) do {					\
	char buf_[512];							\
	assert_non_null(p);						\
	assert_string_equal(eps_str((p), buf_, sizeof(buf_)), (want));	\
} while (0)

/* Capture stderr (where log.c writes) around a block. */
static int saved_stderr = -1;
static FILE *capture;

static void
capture_begin(void)
{
	fflush(stderr);
	capture = tmpfile();
	assert_non_null(capture);
	saved_stderr = dup(2);
	assert_true(saved_stderr >= 0);
	assert_true(dup2(fileno(capture), 2) >= 0);
}

static char *
capture_end(void)
{
	char *s;
	long n;

	fflush(stderr);
	assert_true(dup2(saved_stderr, 2) >= 0);
	close(saved_stderr);
	n = ftell(capture);
	assert_true(n >= 0);
	s = xcalloc(1, n + 1);
	rewind(capture);
	assert_int_equal(fread(s, 1, n, capture), (size_t)n);
	fclose(capture);
	return s;
}

static int
count_substr(const char *s, const char *sub)
{
	int n = 0;

	while ((s = strstr(s, sub)) != NULL) {
		n++;
		s += strlen(sub);
	}
	return n;
}

/* ------------------------------------------------------------------ */

static void
test_join_slices_union(void **state)
{
	struct recorder r;
	struct store *st = setup_store(&r);
	struct k8s_object *o;
	struct k8s_slice *sl;
	const struct store_port *p;
	char a[ADDR_STRLEN];

	(void)state;
	o = svc_new("web", "s1", "127.0.0.10");
	svc_port(o, "http", K8S_PROTO_TCP, 80, 30080);
	store_upsert(st, o);
	o = slice_new("web-a", "a1", "web");
	sl = &o->slices[0];
	slice_port(sl, "http", K8S_PROTO_TCP, 8080);
	slice_ready(sl, "127.0.0.3");
	slice_ready(sl, "127.0.0.2");
	store_upsert(st, o);
	o = slice_new("web-b", "b1", "web");
	sl = &o->slices[0];
	slice_port(sl, "http", K8S_PROTO_TCP, 8080);
	slice_ready(sl, "127.0.0.4");
	slice_ready(sl, "127.0.0.3");	/* also in web-a: counted once */
	store_upsert(st, o);

	assert_int_equal(flush(st, &r), 1);
	assert_false(r.ev[0].had_old);
	p = r.ev[0].new;
	assert_string_equal(p->key, "default/web:http");
	assert_string_equal(p->ns, "default");
	assert_string_equal(p->name, "web");
	assert_string_equal(p->port_name, "http");
	assert_int_equal(p->protocol, K8S_PROTO_TCP);
	assert_int_equal(p->port, 80);
	assert_int_equal(p->node_port, 30080);
	assert_int_equal(p->n_cluster_ips, 1);
	assert_string_equal(addr_str(&p->cluster_ips[0], 1, a, sizeof(a)),
	    "127.0.0.10:0");
	assert_int_equal(p->n_external_ips, 0);
	assert_int_equal(p->affinity_timeout, K8S_AFFINITY_TIMEOUT_DEFAULT);
	assert_eps(p, "127.0.0.2:8080 127.0.0.3:8080 127.0.0.4:8080");
	assert_int_equal(store_count(st), 1);
	assert_ptr_equal(store_first(st), p);
	store_free(st);
}

/*
 * A port carries the newest last-change-trigger-time of its slices, and a
 * slice upsert that changes only that time (same fingerprint) reports
 * nothing.
 */
static void
test_trigger_time(void **state)
{
	struct recorder r;
	struct store *st = setup_store(&r);
	struct k8s_object *o;

	(void)state;
	o = svc_new("web", "s1", "127.0.0.10");
	svc_port(o, "http", K8S_PROTO_TCP, 80, 0);
	store_upsert(st, o);
	o = slice_new("web-a", "a1", "web");
	slice_port(&o->slices[0], "http", K8S_PROTO_TCP, 8080);
	slice_ready(&o->slices[0], "127.0.0.2");
	o->trigger_time = 1000;
	store_upsert(st, o);
	o = slice_new("web-b", "b1", "web");
	slice_port(&o->slices[0], "http", K8S_PROTO_TCP, 8080);
	o->trigger_time = 1500.5;
	store_upsert(st, o);
	assert_int_equal(flush(st, &r), 1);
	assert_true(r.ev[0].new->trigger_time == 1500.5);

	o = slice_new("web-a", "a2", "web");
	slice_port(&o->slices[0], "http", K8S_PROTO_TCP, 8080);
	slice_ready(&o->slices[0], "127.0.0.3");
	o->trigger_time = 2000;
	store_upsert(st, o);
	assert_int_equal(flush(st, &r), 1);
	assert_int_equal(r.ev[0].changes, STORE_ENDPOINTS_CHANGED);
	assert_true(r.ev[0].old_trigger == 1500.5);
	assert_true(r.ev[0].new->trigger_time == 2000);

	o = slice_new("web-a", "a2", "web");
	slice_port(&o->slices[0], "http", K8S_PROTO_TCP, 8080);
	slice_ready(&o->slices[0], "127.0.0.3");
	o->trigger_time = 3000;
	store_upsert(st, o);
	assert_int_equal(flush(st, &r), 0);
	store_free(st);
}

/* A rollout: the named port resolves to 8080 in one slice, 9090 in another. */
static void
test_named_port_per_slice(void **state)
{
	struct recorder r;
	struct store *st = setup_store(&r);
	struct k8s_object *o;
	struct k8s_slice *sl;

	(void)state;
	o = svc_new("web", "s1", "127.0.0.10");
	svc_port(o, "http", K8S_PROTO_TCP, 80, 0);
	store_upsert(st, o);
	o = slice_new("web-old", "a1", "web");
	sl = &o->slices[0];
	slice_port(sl, "http", K8S_PROTO_TCP, 8080);
	slice_ready(sl, "127.0.0.2");
	store_upsert(st, o);
	o = slice_new("web-new", "b1", "web");
	sl = &o->slices[0];
	slice_port(sl, "http", K8S_PROTO_TCP, 9090);
	slice_ready(sl, "127.0.0.3");
	slice_ready(sl, "127.0.0.2");
	store_upsert(st, o);

	assert_int_equal(flush(st, &r), 1);
	assert_eps(r.ev[0].new,
	    "127.0.0.2:8080 127.0.0.2:9090 127.0.0.3:9090");
	store_free(st);
}

static void
test_protocol_mismatch(void **state)
{
	struct recorder r;
	struct store *st = setup_store(&r);
	struct k8s_object *o;
	struct k8s_slice *sl;

	(void)state;
	o = svc_new("dns", "s1", "127.0.0.10");
	svc_port(o, "dns", K8S_PROTO_UDP, 53, 0);
	svc_port(o, "dns-tcp", K8S_PROTO_TCP, 53, 0);
	store_upsert(st, o);
	o = slice_new("dns-a", "a1", "dns");
	sl = &o->slices[0];
	slice_port(sl, "dns", K8S_PROTO_UDP, 53);
	slice_port(sl, "dns", K8S_PROTO_TCP, 5353);	/* wrong protocol */
	slice_port(sl, "dns-tcp", K8S_PROTO_TCP, 1053);
	slice_port(sl, "dns-tcp", K8S_PROTO_UDP, 9999);	/* wrong protocol */
	slice_ready(sl, "127.0.0.2");
	store_upsert(st, o);

	assert_int_equal(flush(st, &r), 2);
	assert_eps(port_by_key(st, "default/dns:dns"), "127.0.0.2:53");
	assert_int_equal(port_by_key(st, "default/dns:dns")->protocol,
	    K8S_PROTO_UDP);
	assert_eps(port_by_key(st, "default/dns:dns-tcp"), "127.0.0.2:1053");
	store_free(st);
}

/*
 * The decoder keeps only endpoints that may take new traffic; the store
 * uses exactly what it gets, and a slice with none gives 0 endpoints.
 */
static void
test_ready_as_received(void **state)
{
	struct recorder r;
	struct store *st = setup_store(&r);
	struct k8s_object *o;
	struct k8s_slice *sl;
	struct event *e;

	(void)state;
	o = svc_new("web", "s1", "127.0.0.10");
	svc_port(o, "http", K8S_PROTO_TCP, 80, 0);
	store_upsert(st, o);
	o = slice_new("web-a", "a1", "web");
	slice_port(&o->slices[0], "http", K8S_PROTO_TCP, 8080);
	store_upsert(st, o);
	assert_int_equal(flush(st, &r), 1);
	assert_int_equal(r.ev[0].new->n_endpoints, 0);

	/* The terminating pod is gone, a new one became ready. */
	o = slice_new("web-a", "a2", "web");
	sl = &o->slices[0];
	slice_port(sl, "http", K8S_PROTO_TCP, 8080);
	slice_ready(sl, "127.0.0.5");
	store_upsert(st, o);
	assert_int_equal(flush(st, &r), 1);
	e = &r.ev[0];
	assert_true(e->had_old);
	assert_int_equal(e->changes, STORE_ENDPOINTS_CHANGED);
	assert_eps(e->new, "127.0.0.5:8080");
	store_free(st);
}

static void
test_endpoints_fallback(void **state)
{
	struct recorder r;
	struct store *st = setup_store(&r);
	struct k8s_object *o;
	struct k8s_slice *sl;

	(void)state;
	o = svc_new("web", "s1", "127.0.0.10");
	svc_port(o, "http", K8S_PROTO_TCP, 80, 0);
	store_upsert(st, o);
	/* Endpoints: two subsets, the decoder gives one k8s_slice each. */
	o = obj_new(K8S_ENDPOINTS, "default", "web", "e1");
	sl = slice_add(o, NULL);
	slice_port(sl, "http", K8S_PROTO_TCP, 8080);
	slice_ready(sl, "127.0.0.2");
	sl = slice_add(o, NULL);
	slice_port(sl, "http", K8S_PROTO_TCP, 8081);
	slice_ready(sl, "127.0.0.3");
	store_upsert(st, o);
	assert_int_equal(flush(st, &r), 1);
	assert_eps(r.ev[0].new, "127.0.0.2:8080 127.0.0.3:8081");

	/* A slice appears: the Endpoints object no longer counts. */
	o = slice_new("web-a", "a1", "web");
	sl = &o->slices[0];
	slice_port(sl, "http", K8S_PROTO_TCP, 8080);
	slice_ready(sl, "127.0.0.4");
	store_upsert(st, o);
	assert_int_equal(flush(st, &r), 1);
	assert_int_equal(r.ev[0].changes, STORE_ENDPOINTS_CHANGED);
	assert_eps(r.ev[0].new, "127.0.0.4:8080");

	/* Even an empty placeholder slice wins over Endpoints. */
	o = slice_new("web-a", "a2", "web");
	store_upsert(st, o);
	assert_int_equal(flush(st, &r), 1);
	assert_int_equal(r.ev[0].new->n_endpoints, 0);

	/* The last slice goes: back to the Endpoints object. */
	store_delete(st, K8S_ENDPOINTSLICE, "default", "web-a");
	assert_int_equal(flush(st, &r), 1);
	assert_eps(r.ev[0].new, "127.0.0.2:8080 127.0.0.3:8081");
	store_free(st);
}

static void
test_service_without_endpoints(void **state)
{
	struct recorder r;
	struct store *st = setup_store(&r);
	struct k8s_object *o;

	(void)state;
	o = svc_new("cart", "s1", "127.0.0.10");
	svc_port(o, "http", K8S_PROTO_TCP, 80, 0);
	store_upsert(st, o);
	assert_int_equal(flush(st, &r), 1);
	assert_false(r.ev[0].had_old);
	assert_non_null(r.ev[0].new);
	assert_int_equal(r.ev[0].new->n_endpoints, 0);
	assert_int_equal(store_count(st), 1);
	store_free(st);
}

static void
test_unnamed_port(void **state)
{
	struct recorder r;
	struct store *st = setup_store(&r);
	struct k8s_object *o;
	struct k8s_slice *sl;

	(void)state;
	o = svc_new("web", "s1", "127.0.0.10");
	svc_port(o, "", K8S_PROTO_TCP, 80, 0);
	store_upsert(st, o);
	o = slice_new("web-a", "a1", "web");
	sl = &o->slices[0];
	slice_port(sl, "", K8S_PROTO_TCP, 8080);
	slice_ready(sl, "127.0.0.2");
	store_upsert(st, o);
	assert_int_equal(flush(st, &r), 1);
	assert_string_equal(r.ev[0].new->key, "default/web:80");
	assert_string_equal(r.ev[0].new->port_name, "");
	assert_eps(r.ev[0].new, "127.0.0.2:8080");
	store_free(st);
}

static void
test_sctp_skipped(void **state)
{
	struct recorder r;
	struct store *st = setup_store(&r);
	struct k8s_object *o;
	struct k8s_slice *sl;
	char *out;

	(void)state;
	o = svc_new("mixed", "s1", "127.0.0.10");
	svc_port(o, "sctp-port", K8S_PROTO_OTHER, 9000, 0);
	svc_port(o, "http", K8S_PROTO_TCP, 80, 0);
	store_upsert(st, o);
	o = slice_new("mixed-a", "a1", "mixed");
	sl = &o->slices[0];
	slice_port(sl, "sctp-port", K8S_PROTO_OTHER, 9000);
	slice_port(sl, "http", K8S_PROTO_TCP, 8080);
	slice_ready(sl, "127.0.0.2");
	store_upsert(st, o);

	capture_begin();
	assert_int_equal(store_flush(st), 1);
	/* Endpoint churn re-joins the Service but must not log again. */
	o = slice_new("mixed-a", "a2", "mixed");
	sl = &o->slices[0];
	slice_port(sl, "sctp-port", K8S_PROTO_OTHER, 9000);
	slice_port(sl, "http", K8S_PROTO_TCP, 8080);
	slice_ready(sl, "127.0.0.3");
	store_upsert(st, o);
	assert_int_equal(store_flush(st), 1);
	out = capture_end();
	assert_int_equal(count_substr(out, "service default/mixed port "
	    "sctp-port: SCTP is not supported"), 1);
	free(out);

	assert_int_equal(store_count(st), 1);
	assert_string_equal(store_first(st)->key, "default/mixed:http");
	assert_eps(store_first(st), "127.0.0.3:8080");
	assert_null(store_next(st, store_first(st)));
	store_free(st);
}

static void
test_headless_skipped(void **state)
{
	struct recorder r;
	struct store *st = setup_store(&r);
	struct k8s_object *o;
	const struct store_port *kept;
	char *out;

	(void)state;
	capture_begin();
	o = svc_new("db", "s1", NULL);
	o->svc.skip_reason = "headless";
	svc_port(o, "pg", K8S_PROTO_TCP, 5432, 0);
	store_upsert(st, o);
	assert_int_equal(store_flush(st), 0);
	out = capture_end();
	assert_int_equal(count_substr(out, "default/db"), 1);
	assert_non_null(strstr(out, "headless"));
	free(out);
	assert_int_equal(store_count(st), 0);

	/* It gets a cluster IP: now served. */
	o = svc_new("db", "s2", "127.0.0.10");
	svc_port(o, "pg", K8S_PROTO_TCP, 5432, 0);
	store_upsert(st, o);
	assert_int_equal(flush(st, &r), 1);
	kept = r.ev[0].new;

	/* Headless again: the port goes. */
	o = svc_new("db", "s3", NULL);
	o->svc.skip_reason = "headless";
	svc_port(o, "pg", K8S_PROTO_TCP, 5432, 0);
	store_upsert(st, o);
	capture_begin();
	assert_int_equal(flush(st, &r), 1);
	out = capture_end();
	assert_non_null(strstr(out, "headless"));
	free(out);
	assert_true(r.ev[0].had_old);
	assert_ptr_equal(r.ev[0].old, kept);
	assert_null(r.ev[0].new);
	assert_int_equal(store_count(st), 0);
	store_free(st);
}

static void
test_slice_before_service(void **state)
{
	struct recorder r;
	struct store *st = setup_store(&r);
	struct k8s_object *o;
	struct k8s_slice *sl;

	(void)state;
	o = slice_new("web-a", "a1", "web");
	sl = &o->slices[0];
	slice_port(sl, "http", K8S_PROTO_TCP, 8080);
	slice_ready(sl, "127.0.0.2");
	store_upsert(st, o);
	assert_int_equal(flush(st, &r), 0);
	assert_int_equal(store_count(st), 0);

	o = svc_new("web", "s1", "127.0.0.10");
	svc_port(o, "http", K8S_PROTO_TCP, 80, 0);
	store_upsert(st, o);
	assert_int_equal(flush(st, &r), 1);
	assert_eps(r.ev[0].new, "127.0.0.2:8080");
	store_free(st);
}

static struct k8s_object *
two_port_service(const char *fp, uint32_t timeout, uint16_t https_node_port)
{
	struct k8s_object *o = svc_new("web", fp, "127.0.0.10");

	svc_port(o, "http", K8S_PROTO_TCP, 80, 30080);
	svc_port(o, "https", K8S_PROTO_TCP, 443, https_node_port);
	o->svc.affinity_client_ip = 1;
	o->svc.affinity_timeout = timeout;
	return o;
}

static struct k8s_object *
two_port_slice(const char *fp, const char *extra_ip)
{
	struct k8s_object *o = slice_new("web-a", fp, "web");
	struct k8s_slice *sl = &o->slices[0];

	slice_port(sl, "http", K8S_PROTO_TCP, 8080);
	slice_port(sl, "https", K8S_PROTO_TCP, 8443);
	slice_ready(sl, "127.0.0.2");
	if (extra_ip != NULL)
		slice_ready(sl, extra_ip);
	return o;
}

static void
test_service_delete(void **state)
{
	struct recorder r;
	struct store *st = setup_store(&r);

	(void)state;
	store_upsert(st, two_port_service("s1", 60, 0));
	store_upsert(st, two_port_slice("a1", NULL));
	assert_int_equal(flush(st, &r), 2);
	assert_int_equal(store_count(st), 2);

	store_delete(st, K8S_SERVICE, "default", "web");
	store_delete(st, K8S_SERVICE, "default", "absent");	/* no-op */
	assert_int_equal(flush(st, &r), 2);
	assert_null(find_event(&r, "default/web:http")->new);
	assert_true(find_event(&r, "default/web:http")->had_old);
	assert_null(find_event(&r, "default/web:https")->new);
	assert_int_equal(store_count(st), 0);
	assert_null(store_first(st));

	/* The slice stayed: a re-added Service gets its endpoints at once. */
	store_upsert(st, two_port_service("s1", 60, 0));
	assert_int_equal(flush(st, &r), 2);
	assert_eps(port_by_key(st, "default/web:https"), "127.0.0.2:8443");
	store_free(st);
}

static void
test_endpoint_only_change(void **state)
{
	struct recorder r;
	struct store *st = setup_store(&r);
	struct k8s_object *o;
	struct k8s_slice *sl;
	const struct store_port *http;

	(void)state;
	store_upsert(st, two_port_service("s1", 60, 0));
	store_upsert(st, two_port_slice("a1", NULL));
	/* https also has a pod of its own in a second slice. */
	o = slice_new("web-b", "b1", "web");
	sl = &o->slices[0];
	slice_port(sl, "https", K8S_PROTO_TCP, 8443);
	slice_ready(sl, "127.0.0.3");
	store_upsert(st, o);
	assert_int_equal(flush(st, &r), 2);
	http = port_by_key(st, "default/web:http");

	o = slice_new("web-b", "b2", "web");
	sl = &o->slices[0];
	slice_port(sl, "https", K8S_PROTO_TCP, 8443);
	slice_ready(sl, "127.0.0.4");
	store_upsert(st, o);
	assert_int_equal(flush(st, &r), 1);
	assert_string_equal(r.ev[0].key, "default/web:https");
	assert_true(r.ev[0].had_old);
	assert_int_equal(r.ev[0].changes, STORE_ENDPOINTS_CHANGED);
	assert_eps(r.ev[0].new, "127.0.0.2:8443 127.0.0.4:8443");
	/* The unchanged port is the very same object. */
	assert_ptr_equal(port_by_key(st, "default/web:http"), http);
	store_free(st);
}

static void
test_service_change(void **state)
{
	struct recorder r;
	struct store *st = setup_store(&r);
	struct event *e;

	(void)state;
	store_upsert(st, two_port_service("s1", 60, 0));
	store_upsert(st, two_port_slice("a1", NULL));
	assert_int_equal(flush(st, &r), 2);

	/* Affinity timeout: both ports, Service change only. */
	store_upsert(st, two_port_service("s2", 120, 0));
	assert_int_equal(flush(st, &r), 2);
	e = find_event(&r, "default/web:http");
	assert_int_equal(e->changes, STORE_SERVICE_CHANGED);
	assert_int_equal(e->new->affinity_timeout, 120);
	assert_true(e->new->affinity_client_ip);
	assert_eps(e->new, "127.0.0.2:8080");
	assert_int_equal(find_event(&r, "default/web:https")->changes,
	    STORE_SERVICE_CHANGED);

	/* Only https gets a nodePort: http is not reported. */
	store_upsert(st, two_port_service("s3", 120, 30443));
	assert_int_equal(flush(st, &r), 1);
	assert_string_equal(r.ev[0].key, "default/web:https");
	assert_int_equal(r.ev[0].changes, STORE_SERVICE_CHANGED);
	assert_int_equal(r.ev[0].new->node_port, 30443);
	store_free(st);
}

static void
test_idempotent_upsert(void **state)
{
	struct recorder r;
	struct store *st = setup_store(&r);

	(void)state;
	store_upsert(st, two_port_service("s1", 60, 0));
	store_upsert(st, two_port_slice("a1", NULL));
	assert_int_equal(flush(st, &r), 2);

	/* Same fingerprint: freed, nothing to do. */
	store_upsert(st, two_port_service("s1", 60, 0));
	store_upsert(st, two_port_slice("a1", NULL));
	assert_int_equal(flush(st, &r), 0);

	/*
	 * The fingerprint is the contract: an equal one means "nothing the
	 * proxy uses changed", so the store keeps its object (this one lies).
	 */
	store_upsert(st, two_port_service("s1", 999, 0));
	assert_int_equal(flush(st, &r), 0);
	assert_int_equal(port_by_key(st, "default/web:http")->affinity_timeout,
	    60);

	/* New fingerprint (say, an annotation) but the same proxying. */
	store_upsert(st, two_port_service("s2", 60, 0));
	store_upsert(st, two_port_slice("a2", NULL));
	assert_int_equal(flush(st, &r), 0);
	assert_int_equal(store_count(st), 2);
	store_free(st);
}

static void
test_replace(void **state)
{
	struct recorder r;
	struct store *st = setup_store(&r);
	struct k8s_object *o;
	const struct store_port *web;

	(void)state;
	store_upsert(st, two_port_service("s1", 60, 0));
	store_upsert(st, two_port_slice("a1", NULL));
	o = svc_new("old", "o1", "127.0.0.11");
	svc_port(o, "http", K8S_PROTO_TCP, 80, 0);
	store_upsert(st, o);
	o = obj_new(K8S_ENDPOINTS, "default", "kept", "k1");
	slice_port(slice_add(o, NULL), "http", K8S_PROTO_TCP, 80);
	store_upsert(st, o);
	o = svc_new("kept", "k1", "127.0.0.12");
	svc_port(o, "http", K8S_PROTO_TCP, 80, 0);
	store_upsert(st, o);
	assert_int_equal(flush(st, &r), 4);
	web = port_by_key(st, "default/web:http");

	/* Relist: web and kept come back, old does not, slices vanish. */
	store_replace_begin(st);
	store_upsert(st, two_port_service("s1", 60, 0));
	o = svc_new("kept", "k1", "127.0.0.12");
	svc_port(o, "http", K8S_PROTO_TCP, 80, 0);
	store_upsert(st, o);
	store_replace_end(st, 1u << K8S_SERVICE | 1u << K8S_ENDPOINTSLICE);
	assert_int_equal(flush(st, &r), 3);
	assert_null(find_event(&r, "default/old:http")->new);
	assert_int_equal(find_event(&r, "default/web:http")->changes,
	    STORE_ENDPOINTS_CHANGED);
	assert_int_equal(find_event(&r, "default/web:https")->new->n_endpoints,
	    0);
	assert_ptr_equal(find_event(&r, "default/web:http")->old, web);
	assert_int_equal(store_count(st), 3);
	/* Endpoints were not in the mask: kept's endpoints stay. */
	assert_non_null(port_by_key(st, "default/kept:http"));

	/* A replacement with the same content reports nothing. */
	store_replace_begin(st);
	store_upsert(st, two_port_service("s1", 60, 0));
	o = svc_new("kept", "k1", "127.0.0.12");
	svc_port(o, "http", K8S_PROTO_TCP, 80, 0);
	store_upsert(st, o);
	store_replace_end(st, 1u << K8S_SERVICE);
	assert_int_equal(flush(st, &r), 0);

	/* Endpoints replaced by nothing: kept loses its Endpoints object. */
	store_replace_begin(st);
	store_replace_end(st, 1u << K8S_ENDPOINTS);
	assert_int_equal(flush(st, &r), 0);	/* it had no ready address */
	store_free(st);
}

static void
test_slice_moves(void **state)
{
	struct recorder r;
	struct store *st = setup_store(&r);
	struct k8s_object *o;
	struct k8s_slice *sl;
	struct event *e;

	(void)state;
	o = svc_new("a", "a1", "127.0.0.10");
	svc_port(o, "http", K8S_PROTO_TCP, 80, 0);
	store_upsert(st, o);
	o = svc_new("b", "b1", "127.0.0.11");
	svc_port(o, "http", K8S_PROTO_TCP, 80, 0);
	store_upsert(st, o);
	o = slice_new("s", "x1", "a");
	sl = &o->slices[0];
	slice_port(sl, "http", K8S_PROTO_TCP, 8080);
	slice_ready(sl, "127.0.0.2");
	store_upsert(st, o);
	assert_int_equal(flush(st, &r), 2);
	assert_eps(port_by_key(st, "default/a:http"), "127.0.0.2:8080");
	assert_int_equal(port_by_key(st, "default/b:http")->n_endpoints, 0);

	o = slice_new("s", "x2", "b");
	sl = &o->slices[0];
	slice_port(sl, "http", K8S_PROTO_TCP, 8080);
	slice_ready(sl, "127.0.0.2");
	store_upsert(st, o);
	assert_int_equal(flush(st, &r), 2);
	e = find_event(&r, "default/a:http");
	assert_int_equal(e->changes, STORE_ENDPOINTS_CHANGED);
	assert_int_equal(e->new->n_endpoints, 0);
	e = find_event(&r, "default/b:http");
	assert_int_equal(e->changes, STORE_ENDPOINTS_CHANGED);
	assert_eps(e->new, "127.0.0.2:8080");

	/* Losing its label detaches it from everything. */
	o = slice_new("s", "x3", NULL);
	store_upsert(st, o);
	assert_int_equal(flush(st, &r), 1);
	assert_int_equal(find_event(&r, "default/b:http")->new->n_endpoints, 0);
	store_free(st);
}

/* `new` stays valid, unchanged, until the next callback for its key. */
static void
test_new_pointer_lifetime(void **state)
{
	struct recorder r;
	struct store *st = setup_store(&r);
	struct k8s_object *o;
	const struct store_port *kept;
	int i;

	(void)state;
	store_upsert(st, two_port_service("s1", 60, 0));
	store_upsert(st, two_port_slice("a1", NULL));
	assert_int_equal(flush(st, &r), 2);
	kept = find_event(&r, "default/web:http")->new;

	/* Plenty of churn elsewhere, including the same Service's https. */
	for (i = 0; i < 5; i++) {
		char name[16], fp[16];

		snprintf(name, sizeof(name), "other%d", i);
		snprintf(fp, sizeof(fp), "o%d", i);
		o = svc_new(name, fp, "127.0.0.20");
		svc_port(o, "http", K8S_PROTO_TCP, 80, 0);
		store_upsert(st, o);
		assert_int_equal(flush(st, &r), 1);
	}
	o = slice_new("web-b", "b1", "web");
	slice_port(&o->slices[0], "https", K8S_PROTO_TCP, 8443);
	slice_ready(&o->slices[0], "127.0.0.9");
	store_upsert(st, o);
	assert_int_equal(flush(st, &r), 1);
	assert_string_equal(r.ev[0].key, "default/web:https");

	/* Still readable and unchanged (ASan/valgrind would object). */
	assert_string_equal(kept->key, "default/web:http");
	assert_eps(kept, "127.0.0.2:8080");

	/* The next report for the key hands it back as `old`. */
	store_upsert(st, two_port_slice("a2", "127.0.0.3"));
	assert_int_equal(flush(st, &r), 2);
	assert_ptr_equal(find_event(&r, "default/web:http")->old, kept);
	assert_eps(find_event(&r, "default/web:http")->new,
	    "127.0.0.2:8080 127.0.0.3:8080");
	store_free(st);
}

static void
test_ipv6(void **state)
{
	struct recorder r;
	struct store *st = setup_store(&r);
	struct k8s_object *o;
	struct k8s_slice *sl;
	const struct store_port *p;
	char a[ADDR_STRLEN];

	(void)state;
	o = svc_new("web", "s1", "::1");
	addr_push(&o->svc.cluster_ips, &o->svc.n_cluster_ips, "127.0.0.10");
	svc_port(o, "http", K8S_PROTO_TCP, 80, 0);
	store_upsert(st, o);
	/* One slice per address family, as the controller does. */
	o = slice_new("web-v6", "a1", "web");
	sl = &o->slices[0];
	slice_port(sl, "http", K8S_PROTO_TCP, 8080);
	slice_ready(sl, "::ffff:127.0.0.2");
	slice_ready(sl, "::1");
	slice_ready(sl, "0:0:0:0:0:0:0:1");	/* the same as ::1 */
	store_upsert(st, o);
	o = slice_new("web-v4", "b1", "web");
	sl = &o->slices[0];
	slice_port(sl, "http", K8S_PROTO_TCP, 8080);
	slice_ready(sl, "127.0.0.2");
	store_upsert(st, o);
	assert_int_equal(flush(st, &r), 1);
	p = r.ev[0].new;
	assert_int_equal(p->n_cluster_ips, 2);
	assert_string_equal(addr_str(&p->cluster_ips[0], 0, a, sizeof(a)),
	    "::1");
	assert_eps(p, "127.0.0.2:8080 [::1]:8080 [::ffff:127.0.0.2]:8080");
	store_free(st);
}

static void
test_iteration_and_duplicates(void **state)
{
	struct recorder r;
	struct store *st = setup_store(&r);
	struct k8s_object *o;
	const struct store_port *p;
	const char *want[] = {
		"default/a:http", "default/b:dns", "default/b:http",
		"default/c:8080",
	};
	size_t i = 0;
	char *out;

	(void)state;
	o = svc_new("c", "c1", "127.0.0.12");
	svc_port(o, "", K8S_PROTO_TCP, 8080, 0);
	store_upsert(st, o);
	o = svc_new("b", "b1", "127.0.0.11");
	svc_port(o, "http", K8S_PROTO_TCP, 80, 0);
	svc_port(o, "dns", K8S_PROTO_UDP, 53, 0);
	svc_port(o, "http", K8S_PROTO_TCP, 81, 0);	/* duplicate name */
	store_upsert(st, o);
	o = svc_new("a", "a1", "127.0.0.10");
	svc_port(o, "http", K8S_PROTO_TCP, 80, 0);
	store_upsert(st, o);
	capture_begin();
	assert_int_equal(store_flush(st), 4);
	out = capture_end();
	assert_int_equal(count_substr(out, "service default/b port http:"), 1);
	free(out);

	assert_int_equal(store_count(st), nitems(want));
	for (p = store_first(st); p != NULL; p = store_next(st, p)) {
		assert_true(i < nitems(want));
		assert_string_equal(p->key, want[i]);
		i++;
	}
	assert_int_equal(i, nitems(want));
	assert_int_equal(port_by_key(st, "default/b:http")->port, 80);
	assert_int_equal(port_by_key(st, "default/b:dns")->protocol,
	    K8S_PROTO_UDP);
	store_free(st);
}

/* Pending changes and objects without a Service are freed too. */
static void
test_free_unflushed(void **state)
{
	struct recorder r;
	struct store *st = setup_store(&r);

	(void)state;
	store_upsert(st, two_port_service("s1", 60, 0));
	store_upsert(st, two_port_slice("a1", NULL));
	assert_int_equal(flush(st, &r), 2);
	store_delete(st, K8S_SERVICE, "default", "web");
	store_upsert(st, slice_new("orphan", "x1", "nothing"));
	store_upsert(st, slice_new("unlabelled", "x1", NULL));
	r.n = 0;
	store_free(st);
	assert_int_equal(r.n, 0);	/* no callbacks from store_free */
}

int main(void);

/*
 * Issue 11: Services in total are bounded.  One past BOUND_SERVICES is
 * skipped (kept aside, not served) and served when another goes.
 */
static void
test_services_bound(void **state)
{
	struct k8s_object *o;
	struct store *st;
	char name[32];
	size_t i;

	(void)state;
	st = store_new(NULL, NULL);
	for (i = 0; i < BOUND_SERVICES + 2; i++) {
		snprintf(name, sizeof(name), "s%zu", i);
		o = svc_new(name, name, "198.19.0.10");
		svc_port(o, "p", K8S_PROTO_TCP, 80, 0);
		store_upsert(st, o);
	}
	store_flush(st);
	assert_int_equal(store_count(st), BOUND_SERVICES);
	snprintf(name, sizeof(name), "default/s%d:p", BOUND_SERVICES);
	assert_null(port_by_key(st, name));
	/* An update of a waiting Service keeps it waiting. */
	name[strlen(name) - 2] = '\0';
	o = svc_new(name + 8, "changed", "198.19.0.11");
	svc_port(o, "p", K8S_PROTO_TCP, 80, 0);
	store_upsert(st, o);
	store_flush(st);
	assert_int_equal(store_count(st), BOUND_SERVICES);

	/* One goes: the first that waited comes in, with its update. */
	store_delete(st, K8S_SERVICE, "default", "s7");
	store_flush(st);
	assert_int_equal(store_count(st), BOUND_SERVICES);
	assert_null(port_by_key(st, "default/s7:p"));
	snprintf(name, sizeof(name), "default/s%d:p", BOUND_SERVICES);
	assert_non_null(port_by_key(st, name));
	assert_string_equal(addr_str(&port_by_key(st, name)->cluster_ips[0], 0,
	    name, sizeof(name)), "198.19.0.11");
	snprintf(name, sizeof(name), "default/s%d:p", BOUND_SERVICES + 1);
	assert_null(port_by_key(st, name));
	/* A waiting one that goes leaves nothing behind. */
	snprintf(name, sizeof(name), "s%d", BOUND_SERVICES + 1);
	store_delete(st, K8S_SERVICE, "default", name);
	store_delete(st, K8S_SERVICE, "default", "s8");
	store_flush(st);
	assert_int_equal(store_count(st), BOUND_SERVICES - 1);
	store_free(st);
}

/* ------------------------------------------------------------------ */
/* Issue 12: traffic policies, terminating endpoints, topology. */

#define RS	(K8S_EP_READY | K8S_EP_SERVING)
#define STM	(K8S_EP_SERVING | K8S_EP_TERMINATING)	/* not ready */

/* Our Node, as a source hands it over. */
static struct k8s_object *
node_new(const char *name, const char *fp, const char *zone, int deleting)
{
	struct k8s_object *o = obj_new(K8S_NODE, "", name, fp);

	o->node.zone = xstrdup(zone);
	o->node.deleting = deleting;
	return o;
}

/* The addresses of an array as "a b c" (with ports). */
static const char *
addrs_str(const union addr *a, size_t n, char *buf, size_t len)
{
	char s[ADDR_STRLEN];
	size_t i, off = 0;

	buf[0] = '\0';
	for (i = 0; i < n && off < len; i++)
		off += snprintf(buf + off, len - off, "%s%s", i ? " " : "",
		    addr_str(&a[i], 1, s, sizeof(s)));
	return buf;
}

#define assert_ext_eps(p, want) do {					\
	char buf_[512];							\
	assert_non_null(p);						\
	assert_string_equal(addrs_str((p)->ext_endpoints,		\
	    (p)->n_ext_endpoints, buf_, sizeof(buf_)), (want));		\
} while (0)

struct ep_spec {
	const char	*ip;
	unsigned	 cond;
	const char	*node;
	const char	*for_zones;
	const char	*for_nodes;
};

#define P_ITP	1	/* internalTrafficPolicy: Local */
#define P_ETP	2	/* externalTrafficPolicy: Local */
#define P_NP	4	/* a nodePort (30080) */

struct join_case {
	const char	*name;
	const char	*zone;		/* our Node's zone; NULL: no Node */
	int		 policy;
	struct ep_spec	 eps[6];
	const char	*internal;	/* endpoints, port 80 */
	const char	*external;	/* ext_endpoints */
	int		 ext_separate;
	int		 has_any;
};

/*
 * kube-proxy's TestCategorizeEndpoints (pkg/proxy/topology_test.go) as
 * facts, but through the store: the flags come from nodeName and hints
 * compared with our node "node-a" and our Node's zone.
 */
static const struct join_case join_cases[] = {
	{ "zone hints: our zone's endpoints", "zone-a", 0, {
	    { "10.1.2.3", RS, "node-b", "zone-a", NULL },
	    { "10.1.2.4", RS, "node-c", "zone-b", NULL },
	    { "10.1.2.5", RS, "node-d", "zone-c", NULL },
	    { "10.1.2.6", RS, "node-e", "zone-a", NULL } },
	  "10.1.2.3:80 10.1.2.6:80", "10.1.2.3:80 10.1.2.6:80", 0, 1 },
	{ "eTP Local: topology ignored for local endpoints", "zone-a",
	  P_ETP | P_NP, {
	    { "10.1.2.3", RS, "node-a", "zone-a", NULL },
	    { "10.1.2.4", RS, "node-a", "zone-b", NULL },
	    { "10.1.2.5", RS, "node-c", "zone-c", NULL },
	    { "10.1.2.6", RS, "node-d", "zone-a", NULL } },
	  "10.1.2.3:80 10.1.2.6:80", "10.1.2.3:80 10.1.2.4:80", 1, 1 },
	{ "iTP Local: topology ignored for local endpoints", "zone-a",
	  P_ITP | P_NP, {
	    { "10.1.2.3", RS, "node-a", "zone-a", NULL },
	    { "10.1.2.4", RS, "node-a", "zone-b", NULL },
	    { "10.1.2.5", RS, "node-c", "zone-c", NULL },
	    { "10.1.2.6", RS, "node-d", "zone-a", NULL } },
	  "10.1.2.3:80 10.1.2.4:80", "10.1.2.3:80 10.1.2.6:80", 1, 1 },
	{ "no Node: no zone, no zone filtering", NULL, 0, {
	    { "10.1.2.3", RS, "node-b", "zone-a", NULL },
	    { "10.1.2.4", RS, "node-c", "zone-b", NULL } },
	  "10.1.2.3:80 10.1.2.4:80", "10.1.2.3:80 10.1.2.4:80", 0, 1 },
	{ "Node without a zone label", "", 0, {
	    { "10.1.2.3", RS, "node-b", "zone-a", NULL } },
	  "10.1.2.3:80", "10.1.2.3:80", 0, 1 },
	{ "no endpoint hinted for our zone", "zone-z", 0, {
	    { "10.1.2.3", RS, "node-b", "zone-a", NULL },
	    { "10.1.2.4", RS, "node-c", "zone-b", NULL } },
	  "10.1.2.3:80 10.1.2.4:80", "10.1.2.3:80 10.1.2.4:80", 0, 1 },
	{ "an unready endpoint of our zone is not used", "zone-a", 0, {
	    { "10.1.2.3", RS, "node-b", "zone-a", NULL },
	    { "10.1.2.4", RS, "node-c", "zone-b", NULL },
	    { "10.1.2.6", 0, "node-e", "zone-a", NULL } },
	  "10.1.2.3:80", "10.1.2.3:80", 0, 1 },
	{ "only unready endpoints in our zone: no filtering", "zone-a", 0, {
	    { "10.1.2.3", 0, "node-b", "zone-a", NULL },
	    { "10.1.2.4", RS, "node-c", "zone-b", NULL },
	    { "10.1.2.5", RS, "node-d", "zone-c", NULL } },
	  "10.1.2.4:80 10.1.2.5:80", "10.1.2.4:80 10.1.2.5:80", 0, 1 },
	{ "one ready endpoint without hints: no filtering", "zone-a", 0, {
	    { "10.1.2.3", RS, "node-b", "zone-a", NULL },
	    { "10.1.2.4", RS, "node-c", NULL, NULL } },
	  "10.1.2.3:80 10.1.2.4:80", "10.1.2.3:80 10.1.2.4:80", 0, 1 },
	{ "several zones per endpoint", "zone-a", 0, {
	    { "10.1.2.3", RS, "node-b", "zone-b,zone-a", NULL },
	    { "10.1.2.4", RS, "node-c", "zone-c", NULL } },
	  "10.1.2.3:80", "10.1.2.3:80", 0, 1 },
	{ "node hints: ours wins over zone hints", "zone-a", 0, {
	    { "10.1.2.3", RS, "node-a", "zone-a", "node-a" },
	    { "10.1.2.4", RS, "node-b", "zone-a", "node-b" } },
	  "10.1.2.3:80", "10.1.2.3:80", 0, 1 },
	{ "node hints not for us: zone hints", "zone-a", 0, {
	    { "10.1.2.3", RS, "node-c", "zone-a", "node-c" },
	    { "10.1.2.4", RS, "node-b", "zone-b", "node-b" } },
	  "10.1.2.3:80", "10.1.2.3:80", 0, 1 },
	{ "iTP Local, all endpoints remote", "zone-a", P_ITP, {
	    { "10.0.0.0", RS, "node-b", NULL, NULL },
	    { "10.0.0.1", RS, "node-c", NULL, NULL } },
	  "", "", 0, 1 },
	{ "iTP Local, some endpoints local", "zone-a", P_ITP, {
	    { "10.0.0.0", RS, "node-a", NULL, NULL },
	    { "10.0.0.1", RS, "node-c", NULL, NULL } },
	  "10.0.0.0:80", "10.0.0.0:80", 0, 1 },
	{ "Cluster, no endpoint ready", NULL, 0, {
	    { "10.0.0.0", 0, "node-a", NULL, NULL },
	    { "10.0.0.1", 0, "node-b", NULL, NULL } },
	  "", "", 0, 0 },
	{ "Cluster, all endpoints serving and terminating", NULL, 0, {
	    { "10.0.0.0", STM, "node-a", NULL, NULL },
	    { "10.0.0.1", STM, "node-b", NULL, NULL },
	    { "10.0.0.2", K8S_EP_TERMINATING, "node-b", NULL, NULL } },
	  "10.0.0.0:80 10.0.0.1:80", "10.0.0.0:80 10.0.0.1:80", 0, 1 },
	{ "terminating fallback ignores hints", "zone-a", 0, {
	    { "10.0.0.0", STM, "node-b", "zone-b", NULL },
	    { "10.0.0.1", STM, "node-c", "zone-a", NULL } },
	  "10.0.0.0:80 10.0.0.1:80", "10.0.0.0:80 10.0.0.1:80", 0, 1 },
	{ "ready wins over terminating", NULL, 0, {
	    { "10.0.0.0", STM, "node-a", NULL, NULL },
	    { "10.0.0.1", RS, "node-b", NULL, NULL } },
	  "10.0.0.1:80", "10.0.0.1:80", 0, 1 },
	{ "iTP Local, eTP Cluster, some endpoints local", NULL, P_ITP | P_NP, {
	    { "10.0.0.0", RS, "node-a", NULL, NULL },
	    { "10.0.0.1", RS, "node-b", NULL, NULL } },
	  "10.0.0.0:80", "10.0.0.0:80 10.0.0.1:80", 1, 1 },
	{ "iTP Cluster, eTP Local, some endpoints local", NULL, P_ETP | P_NP, {
	    { "10.0.0.0", RS, "node-a", NULL, NULL },
	    { "10.0.0.1", RS, "node-b", NULL, NULL } },
	  "10.0.0.0:80 10.0.0.1:80", "10.0.0.0:80", 1, 1 },
	{ "iTP Local, eTP Local: one set", NULL, P_ITP | P_ETP | P_NP, {
	    { "10.0.0.0", RS, "node-a", NULL, NULL },
	    { "10.0.0.1", RS, "node-b", NULL, NULL } },
	  "10.0.0.0:80", "10.0.0.0:80", 0, 1 },
	{ "eTP Local, all remote: external refused", NULL, P_ETP | P_NP, {
	    { "10.0.0.0", RS, "node-b", NULL, NULL },
	    { "10.0.0.1", RS, "node-c", NULL, NULL } },
	  "10.0.0.0:80 10.0.0.1:80", "", 1, 1 },
	{ "eTP Local, local endpoint terminating", NULL, P_ETP | P_NP, {
	    { "10.0.0.0", STM, "node-a", NULL, NULL },
	    { "10.0.0.1", RS, "node-c", NULL, NULL } },
	  "10.0.0.1:80", "10.0.0.0:80", 1, 1 },
	{ "eTP Local, local ready and terminating", NULL, P_ETP | P_NP, {
	    { "10.0.0.0", STM, "node-a", NULL, NULL },
	    { "10.0.0.1", RS, "node-a", NULL, NULL },
	    { "10.0.0.2", RS, "node-c", NULL, NULL } },
	  "10.0.0.1:80 10.0.0.2:80", "10.0.0.1:80", 1, 1 },
	{ "eTP Local without an external address: one set", NULL, P_ETP, {
	    { "10.0.0.0", RS, "node-a", NULL, NULL },
	    { "10.0.0.1", RS, "node-b", NULL, NULL } },
	  "10.0.0.0:80 10.0.0.1:80", "10.0.0.0:80 10.0.0.1:80", 0, 1 },
	{ "iTP Local, none local but terminating remote", NULL, P_ITP, {
	    { "10.0.0.0", STM, "node-b", NULL, NULL } },
	  "", "", 0, 1 },
	{ "families decided apart: v4 hinted, v6 not", "zone-a", 0, {
	    { "10.0.0.0", RS, "node-b", "zone-a", NULL },
	    { "10.0.0.1", RS, "node-c", "zone-b", NULL },
	    { "2001:2::1", RS, "node-b", "zone-a", NULL },
	    { "2001:2::2", RS, "node-c", NULL, NULL } },
	  "10.0.0.0:80 [2001:2::1]:80 [2001:2::2]:80",
	  "10.0.0.0:80 [2001:2::1]:80 [2001:2::2]:80", 0, 1 },
};

static void
test_join_topology(void **state)
{
	struct recorder r;
	struct store *st;
	struct k8s_object *o;
	struct k8s_slice *sl;
	const struct join_case *c;
	const struct store_port *p;
	const struct ep_spec *e;
	char buf[512];
	size_t i, j;

	(void)state;
	for (i = 0; i < nitems(join_cases); i++) {
		c = &join_cases[i];
		st = setup_store(&r);
		store_set_node_name(st, "node-a");
		if (c->zone != NULL)
			store_upsert(st, node_new("node-a", "n", c->zone, 0));
		o = svc_new("web", "s1", "198.19.0.1");
		svc_port(o, "http", K8S_PROTO_TCP, 80,
		    (c->policy & P_NP) ? 30080 : 0);
		o->svc.internal_local = (c->policy & P_ITP) != 0;
		o->svc.external_local = (c->policy & P_ETP) != 0;
		store_upsert(st, o);
		o = slice_new("web-1", "a", "web");
		sl = &o->slices[0];
		slice_port(sl, "http", K8S_PROTO_TCP, 80);
		for (j = 0; j < nitems(c->eps) && c->eps[j].ip != NULL; j++) {
			e = &c->eps[j];
			slice_ep(sl, e->ip, e->cond, e->node, NULL,
			    e->for_zones, e->for_nodes);
		}
		store_upsert(st, o);
		flush(st, &r);
		p = port_by_key(st, "default/web:http");
		if (p == NULL)
			fail_msg("%s: no port", c->name);
		if (strcmp(eps_str(p, buf, sizeof(buf)), c->internal) != 0)
			fail_msg("%s: internal \"%s\", want \"%s\"", c->name,
			    buf, c->internal);
		addrs_str(p->ext_endpoints, p->n_ext_endpoints, buf,
		    sizeof(buf));
		if (strcmp(buf, c->external) != 0)
			fail_msg("%s: external \"%s\", want \"%s\"", c->name,
			    buf, c->external);
		if (p->ext_separate != c->ext_separate)
			fail_msg("%s: ext_separate %d", c->name,
			    p->ext_separate);
		if ((int)p->choice.tc_has_any != c->has_any)
			fail_msg("%s: has_any %d", c->name,
			    p->choice.tc_has_any);
		assert_int_equal(p->n_all_endpoints, j);
		if (!p->ext_separate)
			assert_ptr_equal(p->ext_endpoints, p->endpoints);
		store_free(st);
	}
}

/*
 * all_endpoints: every endpoint once, sorted, with its flags, its sets,
 * node and zone; an address in two slices counts once, the copy that
 * serves best standing for it (here the ready local one).
 */
static void
test_join_all_endpoints(void **state)
{
	struct recorder r;
	struct store *st = setup_store(&r);
	struct k8s_object *o;
	struct k8s_slice *sl;
	const struct store_port *p;
	const struct store_endpoint *se;
	char a[ADDR_STRLEN];

	(void)state;
	store_set_node_name(st, "node-a");
	store_upsert(st, node_new("node-a", "n", "zone-a", 0));
	o = svc_new("web", "s1", "198.19.0.1");
	svc_port(o, "http", K8S_PROTO_TCP, 80, 30080);
	o->svc.external_local = 1;
	store_upsert(st, o);
	o = slice_new("web-1", "a", "web");
	sl = &o->slices[0];
	slice_port(sl, "http", K8S_PROTO_TCP, 8080);
	slice_ep(sl, "10.0.0.2", 0, "node-b", "zone-b", NULL, NULL);
	slice_ep(sl, "10.0.0.1", RS, "node-b", "zone-b", "zone-b", NULL);
	store_upsert(st, o);
	o = slice_new("web-2", "b", "web");
	sl = &o->slices[0];
	slice_port(sl, "http", K8S_PROTO_TCP, 8080);
	slice_ep(sl, "10.0.0.2", RS, "node-a", "zone-a", "zone-a", NULL);
	slice_ep(sl, "10.0.0.3", STM, "node-a", "zone-a", NULL, "node-a");
	store_upsert(st, o);
	assert_int_equal(flush(st, &r), 1);
	p = port_by_key(st, "default/web:http");
	assert_int_equal(p->n_all_endpoints, 3);
	se = p->all_endpoints;
	assert_string_equal(addr_str(&se[0].se_addr, 1, a, sizeof(a)),
	    "10.0.0.1:8080");
	assert_int_equal(se[0].se_flags, TOPO_READY | TOPO_SERVING |
	    TOPO_ZONE_HINTS);
	/* Every ready endpoint is hinted, one for our zone: zone mode. */
	assert_int_equal(se[0].se_in, 0);
	assert_string_equal(se[0].se_node, "node-b");
	assert_string_equal(se[0].se_zone, "zone-b");
	assert_string_equal(addr_str(&se[1].se_addr, 1, a, sizeof(a)),
	    "10.0.0.2:8080");
	assert_int_equal(se[1].se_flags, TOPO_READY | TOPO_SERVING |
	    TOPO_LOCAL | TOPO_ZONE_HINTS | TOPO_ZONE_OURS);
	assert_int_equal(se[1].se_in, TOPO_IN_CLUSTER | TOPO_IN_LOCAL);
	assert_string_equal(se[1].se_node, "node-a");
	assert_int_equal(se[2].se_flags, TOPO_SERVING | TOPO_TERMINATING |
	    TOPO_LOCAL | TOPO_NODE_HINTS | TOPO_NODE_OURS);
	assert_int_equal(se[2].se_in, 0);
	/* 10.0.0.3 has no zone hint, but it is not ready: it does not count. */
	assert_int_equal(p->choice.tc_mode, TOPO_MODE_SAME_ZONE);
	assert_eps(p, "10.0.0.2:8080");
	assert_ext_eps(p, "10.0.0.2:8080");
	/* Decided differently (zone versus node), equal by chance. */
	assert_int_equal(p->ext_separate, 1);
	assert_int_equal(p->policy.tp_external_local, 1);
	assert_int_equal(p->policy.tp_external, 1);
	assert_int_equal(p->choice.tc_n_cluster, 1);
	assert_int_equal(p->choice.tc_n_local, 1);
	store_free(st);
}

/* Which change is which: endpoint sets versus the Service's own fields. */
static void
test_join_change_kinds(void **state)
{
	struct recorder r;
	struct store *st = setup_store(&r);
	struct k8s_object *o;
	struct k8s_slice *sl;
	const struct store_port *p;
	char buf[64];

	(void)state;
	store_set_node_name(st, "node-a");
	o = svc_new("web", "s1", "198.19.0.1");
	svc_port(o, "http", K8S_PROTO_TCP, 80, 30080);
	o->svc.type = xstrdup("LoadBalancer");
	store_upsert(st, o);
	o = slice_new("web-1", "a1", "web");
	sl = &o->slices[0];
	slice_port(sl, "http", K8S_PROTO_TCP, 80);
	slice_ep(sl, "10.0.0.1", RS, "node-a", NULL, NULL, NULL);
	store_upsert(st, o);
	assert_int_equal(flush(st, &r), 1);

	/* The endpoint starts terminating: the sets change, nothing else. */
	o = slice_new("web-1", "a2", "web");
	sl = &o->slices[0];
	slice_port(sl, "http", K8S_PROTO_TCP, 80);
	slice_ep(sl, "10.0.0.1", STM, "node-a", NULL, NULL, NULL);
	store_upsert(st, o);
	assert_int_equal(flush(st, &r), 1);
	assert_int_equal(r.ev[0].changes, STORE_ENDPOINTS_CHANGED);
	p = r.ev[0].new;
	assert_eps(p, "10.0.0.1:80");
	assert_int_equal(p->choice.tc_cluster_terminating, 1);

	/* Only the node name of an endpoint: still an endpoint change. */
	o = slice_new("web-1", "a3", "web");
	sl = &o->slices[0];
	slice_port(sl, "http", K8S_PROTO_TCP, 80);
	slice_ep(sl, "10.0.0.1", STM, "node-b", NULL, NULL, NULL);
	store_upsert(st, o);
	assert_int_equal(flush(st, &r), 1);
	assert_int_equal(r.ev[0].changes, STORE_ENDPOINTS_CHANGED);

	/* eTP Local and its health check node port: a Service change. */
	o = svc_new("web", "s2", "198.19.0.1");
	svc_port(o, "http", K8S_PROTO_TCP, 80, 30080);
	o->svc.type = xstrdup("LoadBalancer");
	o->svc.external_local = 1;
	o->svc.health_check_node_port = 32000;
	store_upsert(st, o);
	assert_int_equal(flush(st, &r), 1);
	assert_true(r.ev[0].changes & STORE_SERVICE_CHANGED);
	p = r.ev[0].new;
	assert_int_equal(p->health_check_node_port, 32000);
	assert_int_equal(p->ext_separate, 1);
	assert_ext_eps(p, "");

	/* Only the health check node port. */
	o = svc_new("web", "s3", "198.19.0.1");
	svc_port(o, "http", K8S_PROTO_TCP, 80, 30080);
	o->svc.type = xstrdup("LoadBalancer");
	o->svc.external_local = 1;
	o->svc.health_check_node_port = 32001;
	store_upsert(st, o);
	assert_int_equal(flush(st, &r), 1);
	assert_int_equal(r.ev[0].changes, STORE_SERVICE_CHANGED);

	/* Only the source ranges. */
	o = svc_new("web", "s4", "198.19.0.1");
	svc_port(o, "http", K8S_PROTO_TCP, 80, 30080);
	o->svc.type = xstrdup("LoadBalancer");
	o->svc.external_local = 1;
	o->svc.health_check_node_port = 32001;
	o->svc.source_ranges = xcalloc(1, sizeof(*o->svc.source_ranges));
	assert_int_equal(addr_parse_prefix("203.0.113.0/24",
	    o->svc.source_ranges), 0);
	o->svc.n_source_ranges = 1;
	store_upsert(st, o);
	assert_int_equal(flush(st, &r), 1);
	assert_int_equal(r.ev[0].changes, STORE_SERVICE_CHANGED);
	p = r.ev[0].new;
	assert_int_equal(p->n_source_ranges, 1);
	assert_string_equal(addr_prefix_str(&p->source_ranges[0], buf,
	    sizeof(buf)), "203.0.113.0/24");
	/* The same again: nothing. */
	o = svc_new("web", "s4", "198.19.0.1");
	store_upsert(st, o);
	assert_int_equal(flush(st, &r), 0);
	store_free(st);
}

/*
 * Our Node: other names ignored; its zone re-joins every Service (and
 * only then reports the ports whose sets changed); deletion states; a
 * relist without it, or its deletion, forgets it.
 */
static void
test_node_identity(void **state)
{
	struct recorder r;
	struct store *st = setup_store(&r);
	struct k8s_object *o;
	struct k8s_slice *sl;
	const struct store_node *n;
	const struct store_port *p;

	(void)state;
	n = store_node(st);
	assert_string_equal(n->sn_name, "");
	store_set_node_name(st, "node-a");
	n = store_node(st);
	assert_string_equal(n->sn_name, "node-a");
	assert_string_equal(n->sn_zone, "");
	assert_int_equal(n->sn_seen, 0);

	/* Two Services: one with zone hints, one without. */
	o = svc_new("web", "s1", "198.19.0.1");
	svc_port(o, "http", K8S_PROTO_TCP, 80, 0);
	store_upsert(st, o);
	o = slice_new("web-1", "a1", "web");
	sl = &o->slices[0];
	slice_port(sl, "http", K8S_PROTO_TCP, 80);
	slice_ep(sl, "10.0.0.1", RS, "node-b", "zone-a", "zone-a", NULL);
	slice_ep(sl, "10.0.0.2", RS, "node-c", "zone-b", "zone-b", NULL);
	store_upsert(st, o);
	o = svc_new("db", "d1", "198.19.0.2");
	svc_port(o, "sql", K8S_PROTO_TCP, 5432, 0);
	store_upsert(st, o);
	o = slice_new("db-1", "b1", "db");
	sl = &o->slices[0];
	slice_port(sl, "sql", K8S_PROTO_TCP, 5432);
	slice_ep(sl, "10.0.1.1", RS, "node-b", "zone-a", NULL, NULL);
	store_upsert(st, o);
	assert_int_equal(flush(st, &r), 2);
	assert_eps(port_by_key(st, "default/web:http"),
	    "10.0.0.1:80 10.0.0.2:80");

	/* Another node's object says nothing. */
	store_upsert(st, node_new("node-b", "x", "zone-a", 1));
	assert_int_equal(flush(st, &r), 0);
	assert_int_equal(store_node(st)->sn_seen, 0);

	/* Ours, in zone-a: web narrows, db (no hints) is not reported. */
	store_upsert(st, node_new("node-a", "n1", "zone-a", 0));
	assert_int_equal(flush(st, &r), 1);
	assert_string_equal(r.ev[0].key, "default/web:http");
	assert_int_equal(r.ev[0].changes, STORE_ENDPOINTS_CHANGED);
	assert_eps(r.ev[0].new, "10.0.0.1:80");
	assert_int_equal(r.ev[0].new->choice.tc_mode, TOPO_MODE_SAME_ZONE);
	n = store_node(st);
	assert_int_equal(n->sn_seen, 1);
	assert_string_equal(n->sn_zone, "zone-a");
	assert_int_equal(n->sn_deleting, 0);

	/* Moved to zone-b. */
	store_upsert(st, node_new("node-a", "n2", "zone-b", 0));
	assert_int_equal(flush(st, &r), 1);
	assert_eps(r.ev[0].new, "10.0.0.2:80");

	/* Being deleted: no re-join, but store_node() says so. */
	store_upsert(st, node_new("node-a", "n3", "zone-b", 1));
	assert_int_equal(flush(st, &r), 0);
	assert_int_equal(store_node(st)->sn_deleting, 1);

	/* A relist of nodes without it: gone, no zone, all endpoints. */
	store_replace_begin(st);
	store_replace_end(st, 1u << K8S_NODE);
	assert_int_equal(store_node(st)->sn_seen, 0);
	assert_int_equal(store_node(st)->sn_deleting, 0);
	assert_string_equal(store_node(st)->sn_zone, "");
	assert_int_equal(flush(st, &r), 1);
	assert_eps(r.ev[0].new, "10.0.0.1:80 10.0.0.2:80");

	/* Back, then deleted by name. */
	store_upsert(st, node_new("node-a", "n4", "zone-a", 0));
	assert_int_equal(flush(st, &r), 1);
	store_delete(st, K8S_NODE, "", "node-a");
	assert_int_equal(flush(st, &r), 1);
	assert_int_equal(store_node(st)->sn_seen, 0);

	/* Renaming our node re-joins: 10.0.1.1 on node-b becomes local. */
	o = svc_new("db", "d2", "198.19.0.2");
	svc_port(o, "sql", K8S_PROTO_TCP, 5432, 0);
	o->svc.internal_local = 1;
	store_upsert(st, o);
	assert_int_equal(flush(st, &r), 1);
	assert_eps(port_by_key(st, "default/db:sql"), "");
	/* web's endpoint on node-b becomes local too: both reported. */
	store_set_node_name(st, "node-b");
	assert_int_equal(flush(st, &r), 2);
	p = port_by_key(st, "default/db:sql");
	assert_eps(p, "10.0.1.1:5432");
	assert_int_equal(p->all_endpoints[0].se_flags & TOPO_LOCAL, TOPO_LOCAL);
	store_free(st);
}

/* v1 Endpoints: notReadyAddresses kept but never used; nodeName local. */
static void
test_join_endpoints_object(void **state)
{
	struct recorder r;
	struct store *st = setup_store(&r);
	struct k8s_object *o;
	struct k8s_slice *sl;
	const struct store_port *p;

	(void)state;
	store_set_node_name(st, "node-a");
	o = svc_new("web", "s1", "198.19.0.1");
	svc_port(o, "http", K8S_PROTO_TCP, 80, 0);
	o->svc.internal_local = 1;
	store_upsert(st, o);
	o = obj_new(K8S_ENDPOINTS, "default", "web", "e1");
	sl = slice_add(o, "web");
	slice_port(sl, "http", K8S_PROTO_TCP, 8080);
	slice_ep(sl, "10.0.0.1", RS, "node-b", NULL, NULL, NULL);
	slice_ep(sl, "10.0.0.2", RS, "node-a", NULL, NULL, NULL);
	slice_ep(sl, "10.0.0.3", 0, "node-a", NULL, NULL, NULL);
	store_upsert(st, o);
	assert_int_equal(flush(st, &r), 1);
	p = port_by_key(st, "default/web:http");
	assert_eps(p, "10.0.0.2:8080");
	assert_int_equal(p->n_all_endpoints, 3);
	store_free(st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_join_slices_union),
		cmocka_unit_test(test_trigger_time),
		cmocka_unit_test(test_named_port_per_slice),
		cmocka_unit_test(test_protocol_mismatch),
		cmocka_unit_test(test_ready_as_received),
		cmocka_unit_test(test_endpoints_fallback),
		cmocka_unit_test(test_service_without_endpoints),
		cmocka_unit_test(test_unnamed_port),
		cmocka_unit_test(test_sctp_skipped),
		cmocka_unit_test(test_headless_skipped),
		cmocka_unit_test(test_slice_before_service),
		cmocka_unit_test(test_service_delete),
		cmocka_unit_test(test_endpoint_only_change),
		cmocka_unit_test(test_service_change),
		cmocka_unit_test(test_idempotent_upsert),
		cmocka_unit_test(test_replace),
		cmocka_unit_test(test_slice_moves),
		cmocka_unit_test(test_new_pointer_lifetime),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_iteration_and_duplicates),
		cmocka_unit_test(test_free_unflushed),
		cmocka_unit_test(test_services_bound),
		cmocka_unit_test(test_join_topology),
		cmocka_unit_test(test_join_all_endpoints),
		cmocka_unit_test(test_join_change_kinds),
		cmocka_unit_test(test_node_identity),
		cmocka_unit_test(test_join_endpoints_object),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
