/*
 * k8s_fingerprint.c - the canonical fingerprint of a decoded object
 * (k8s_int.h): the decoded fields only, as compact JSON, which the store
 * compares to tell a real change from a metadata-only write.
 *
 * It is written straight into one buffer, not built as a cJSON tree and
 * printed: every object of every list, watch event and manifest read
 * gets one, and the tree cost a dozen allocations per object (an eighth
 * of a 10,000-Service cold start).  The text is what cJSON prints for
 * the same tree, byte for byte; only its equality matters.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "k8s.h"
#include "k8s_int.h"

/* Most fingerprints fit here; a longer one moves to the heap. */
#define FP_STACK	1024

struct fp {
	char	*buf;
	size_t	 len, cap;
	int	 oom;
	char	 stack[FP_STACK];
};

static void
fp_put(struct fp *f, const char *s, size_t n)
{
	size_t cap;
	char *p;

	if (f->oom)
		return;
	if (n > f->cap - f->len) {
		cap = f->cap;
		while (n > cap - f->len) {
			if (cap > SIZE_MAX / 2) {
				f->oom = 1;
				return;
			}
			cap *= 2;
		}
		p = f->buf == f->stack ? malloc(cap) : realloc(f->buf, cap);
		if (p == NULL) {
			f->oom = 1;
			return;
		}
		if (f->buf == f->stack)
			memcpy(p, f->stack, f->len);
		f->buf = p;
		f->cap = cap;
	}
	memcpy(f->buf + f->len, s, n);
	f->len += n;
}

/* A comma unless this opens an object or array, or follows its key. */
static void
fp_sep(struct fp *f)
{
	char c = f->len > 0 ? f->buf[f->len - 1] : '{';

	if (!f->oom && c != '{' && c != '[' && c != ':')
		fp_put(f, ",", 1);
}

/* A JSON string, escaped as cJSON escapes it (NULL prints as ""). */
static void
fp_str(struct fp *f, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const char *run;
	char esc[6];

	fp_sep(f);
	fp_put(f, "\"", 1);
	for (run = s; s != NULL && *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c >= 32 && c != '"' && c != '\\')
			continue;
		fp_put(f, run, (size_t)(s - run));
		run = s + 1;
		esc[0] = '\\';
		switch (c) {
		case '"': case '\\': esc[1] = (char)c; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			fp_put(f, esc, 6);
			continue;
		}
		fp_put(f, esc, 2);
	}
	if (s != NULL)
		fp_put(f, run, (size_t)(s - run));
	fp_put(f, "\"", 1);
}

/* Keys are this file's literals: nothing in them to escape. */
static void
fp_key(struct fp *f, const char *key)
{
	fp_sep(f);
	fp_put(f, "\"", 1);
	fp_put(f, key, strlen(key));
	fp_put(f, "\":", 2);
}

static void
fp_open(struct fp *f, const char *key, char c)
{
	if (key != NULL)
		fp_key(f, key);
	else
		fp_sep(f);
	fp_put(f, &c, 1);
}

static void
fp_close(struct fp *f, char c)
{
	fp_put(f, &c, 1);
}

static void
fp_kstr(struct fp *f, const char *key, const char *s)
{
	fp_key(f, key);
	fp_str(f, s);
}

static void
fp_knum(struct fp *f, const char *key, uint32_t v)
{
	char buf[10], *p = buf + sizeof(buf);

	fp_key(f, key);
	do
		*--p = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	fp_put(f, p, (size_t)(buf + sizeof(buf) - p));
}

static void
fp_kbool(struct fp *f, const char *key, int v)
{
	fp_key(f, key);
	if (v)
		fp_put(f, "true", 4);
	else
		fp_put(f, "false", 5);
}

/* The same format as the error messages and the store use: addr_str. */
static void
fp_ips(struct fp *f, const char *key, const union addr *a, size_t n)
{
	char buf[ADDR_STRLEN];
	size_t i;

	fp_open(f, key, '[');
	for (i = 0; i < n; i++)
		fp_str(f, addr_str(&a[i], 0, buf, sizeof(buf)));
	fp_close(f, ']');
}

/* An absent list of names is left out, not written as []. */
static void
fp_names(struct fp *f, const char *key, char *const *names, size_t n)
{
	size_t i;

	if (n == 0)
		return;
	fp_open(f, key, '[');
	for (i = 0; i < n; i++)
		fp_str(f, names[i]);
	fp_close(f, ']');
}

/* A port's fields; the caller closes it (a Service port has one more). */
static void
fp_port(struct fp *f, const char *name, enum k8s_proto proto, unsigned port)
{
	fp_open(f, NULL, '{');
	fp_kstr(f, "name", name);
	fp_kstr(f, "protocol", k8s_proto_str(proto));
	fp_knum(f, "port", port);
}

static void
fp_service(struct fp *f, const struct k8s_service *svc)
{
	char buf[ADDR_STRLEN + 4];
	size_t i;

	fp_kstr(f, "type", svc->type);
	if (svc->skip_reason != NULL)
		fp_kstr(f, "skip", svc->skip_reason);
	fp_ips(f, "clusterIPs", svc->cluster_ips, svc->n_cluster_ips);
	fp_ips(f, "externalIPs", svc->external_ips, svc->n_external_ips);
	fp_ips(f, "loadBalancerIPs", svc->lb_ips, svc->n_lb_ips);
	fp_kbool(f, "clientIPAffinity", svc->affinity_client_ip);
	fp_knum(f, "affinityTimeout", svc->affinity_timeout);
	fp_kbool(f, "internalLocal", svc->internal_local);
	fp_kbool(f, "externalLocal", svc->external_local);
	fp_knum(f, "healthCheckNodePort", svc->health_check_node_port);
	fp_kstr(f, "trafficDistribution", svc->traffic_distribution != NULL ?
	    svc->traffic_distribution : "");
	fp_open(f, "sourceRanges", '[');
	for (i = 0; i < svc->n_source_ranges; i++)
		fp_str(f, addr_prefix_str(&svc->source_ranges[i], buf,
		    sizeof(buf)));
	fp_close(f, ']');
	fp_open(f, "ports", '[');
	for (i = 0; i < svc->n_ports; i++) {
		fp_port(f, svc->ports[i].name, svc->ports[i].protocol,
		    svc->ports[i].port);
		fp_knum(f, "nodePort", svc->ports[i].node_port);
		fp_close(f, '}');
	}
	fp_close(f, ']');
}

static void
fp_slices(struct fp *f, const struct k8s_object *obj)
{
	const struct k8s_slice *sl;
	const struct k8s_endpoint *ep;
	char buf[ADDR_STRLEN];
	size_t i, j;

	fp_open(f, "slices", '[');
	for (i = 0; i < obj->n_slices; i++) {
		sl = &obj->slices[i];
		fp_open(f, NULL, '{');
		fp_kstr(f, "service", sl->service);
		fp_open(f, "ports", '[');
		for (j = 0; j < sl->n_ports; j++) {
			fp_port(f, sl->ports[j].name, sl->ports[j].protocol,
			    sl->ports[j].port);
			fp_close(f, '}');
		}
		fp_close(f, ']');
		fp_open(f, "endpoints", '[');
		for (j = 0; j < sl->n_endpoints; j++) {
			ep = &sl->endpoints[j];
			fp_open(f, NULL, '{');
			fp_kstr(f, "ip", addr_str(&ep->addr, 0, buf,
			    sizeof(buf)));
			fp_knum(f, "conditions", ep->conditions);
			fp_kstr(f, "nodeName", ep->node);
			fp_kstr(f, "zone", ep->zone);
			fp_names(f, "forZones", ep->zone_hints,
			    ep->n_zone_hints);
			fp_names(f, "forNodes", ep->node_hints,
			    ep->n_node_hints);
			fp_close(f, '}');
		}
		fp_close(f, ']');
		fp_close(f, '}');
	}
	fp_close(f, ']');
}

/*
 * Canonical JSON of the decoded fields only: metadata such as
 * resourceVersion, annotations or managedFields changes on every write
 * and must not make the store believe that anything changed.
 */
int
k8s_fingerprint(struct k8s_object *obj, struct k8s_err *e)
{
	struct fp f;

	f.buf = f.stack;
	f.len = 0;
	f.cap = sizeof(f.stack);
	f.oom = 0;
	fp_put(&f, "{", 1);
	fp_kstr(&f, "kind", k8s_kind_str(obj->kind));
	fp_kstr(&f, "namespace", obj->ns);
	fp_kstr(&f, "name", obj->name);
	switch (obj->kind) {
	case K8S_SERVICE:
		fp_service(&f, &obj->svc);
		break;
	case K8S_NODE:
		fp_kstr(&f, "zone", obj->node.zone);
		fp_kbool(&f, "deleting", obj->node.deleting);
		break;
	case K8S_ENDPOINTSLICE:
	case K8S_ENDPOINTS:
		fp_slices(&f, obj);
		break;
	}
	fp_put(&f, "}", 2);		/* with its NUL */
	if (!f.oom && f.buf == f.stack &&
	    (obj->fingerprint = malloc(f.len)) != NULL)
		memcpy(obj->fingerprint, f.stack, f.len);
	else if (!f.oom && f.buf != f.stack)
		obj->fingerprint = f.buf;	/* (a little spare room) */
	else if (f.buf != f.stack)
		free(f.buf);
	/* Its size follows the object's: not a reason to exit. */
	if (obj->fingerprint == NULL)
		return k8s_fail(e, "out of memory for its fingerprint");
	return 0;
}
