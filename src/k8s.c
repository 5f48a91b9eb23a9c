/*
 * k8s.c - decode Service, EndpointSlice and Endpoints objects (see k8s.h).
 *
 * Every source hands its objects to k8s_decode() as cJSON trees; this is
 * the one place where Kubernetes field names, defaults and validity rules
 * live.  Whatever passes here is safe for the store and the data path:
 * IP literals parsed, ports in range, protocols mapped to an enum.
 *
 * Field shapes and defaults: ../shared/K8S-API.md section 4, from
 * k8s.io/api core/v1 and discovery/v1 types.  JSON null is read as
 * "absent" everywhere, as Go's decoder does for optional fields.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bounds.h"
#include "k8s.h"
#include "log.h"
#include "util.h"
#include "validate.h"

#define K8S_PATH_LEN	128

/* Where a decode stands: the caller's error buffer. */
struct k8s_err {
	char	*buf;
	size_t	 len;
};

static int __attribute__((format(printf, 2, 3)))
k8s_fail(struct k8s_err *e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->buf, e->len, fmt, ap);
	va_end(ap);
	return -1;
}

/* A short description of a JSON value for error messages. */
static const char *
k8s_describe(const cJSON *v, char *buf, size_t len)
{
	if (cJSON_IsString(v))
		snprintf(buf, len, "\"%.40s%s\"", v->valuestring,
		    strlen(v->valuestring) > 40 ? "..." : "");
	else if (cJSON_IsNumber(v))
		snprintf(buf, len, "%g", v->valuedouble);
	else if (cJSON_IsBool(v))
		snprintf(buf, len, "%s", cJSON_IsTrue(v) ? "true" : "false");
	else if (cJSON_IsArray(v))
		snprintf(buf, len, "an array");
	else if (cJSON_IsObject(v))
		snprintf(buf, len, "an object");
	else
		snprintf(buf, len, "null");
	return buf;
}

static int
k8s_type_error(struct k8s_err *e, const char *path, const cJSON *v,
    const char *want)
{
	char d[64];

	return k8s_fail(e, "%s: %s is not %s", path, k8s_describe(v, d,
	    sizeof(d)), want);
}

/* A member, with JSON null folded into "absent". */
static const cJSON *
k8s_get(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsNull(v) ? NULL : v;
}

/*
 * Typed getters: 0 with *out set (NULL/default when absent), or -1 with
 * "path.key: ..." in err when the member has the wrong type.
 */
static int
k8s_get_obj(const cJSON *obj, const char *path, const char *key,
    const cJSON **out, struct k8s_err *e)
{
	char p[K8S_PATH_LEN];

	*out = k8s_get(obj, key);
	if (*out == NULL || cJSON_IsObject(*out))
		return 0;
	snprintf(p, sizeof(p), "%s%s%s", path, *path ? "." : "", key);
	return k8s_type_error(e, p, *out, "an object");
}

static int
k8s_get_arr(const cJSON *obj, const char *path, const char *key,
    const cJSON **out, struct k8s_err *e)
{
	char p[K8S_PATH_LEN];

	*out = k8s_get(obj, key);
	if (*out == NULL || cJSON_IsArray(*out))
		return 0;
	snprintf(p, sizeof(p), "%s%s%s", path, *path ? "." : "", key);
	return k8s_type_error(e, p, *out, "an array");
}

static int
k8s_get_str(const cJSON *obj, const char *path, const char *key,
    const char *def, const char **out, struct k8s_err *e)
{
	const cJSON *v = k8s_get(obj, key);
	char p[K8S_PATH_LEN];

	*out = def;
	if (v == NULL)
		return 0;
	if (cJSON_IsString(v)) {
		*out = v->valuestring;
		return 0;
	}
	snprintf(p, sizeof(p), "%s%s%s", path, *path ? "." : "", key);
	return k8s_type_error(e, p, v, "a string");
}

static int
k8s_get_bool(const cJSON *obj, const char *path, const char *key, int def,
    int *out, struct k8s_err *e)
{
	const cJSON *v = k8s_get(obj, key);
	char p[K8S_PATH_LEN];

	*out = def;
	if (v == NULL)
		return 0;
	if (cJSON_IsBool(v)) {
		*out = cJSON_IsTrue(v);
		return 0;
	}
	snprintf(p, sizeof(p), "%s%s%s", path, *path ? "." : "", key);
	return k8s_type_error(e, p, v, "a boolean");
}

/*
 * An integer member in [min, max].  *present says whether it was there;
 * 80.5, "80" or true are errors, not numbers rounded or parsed.
 */
static int
k8s_get_int(const cJSON *obj, const char *path, const char *key,
    long min, long max, const char *what, long *out, int *present,
    struct k8s_err *e)
{
	const cJSON *v = k8s_get(obj, key);
	char p[K8S_PATH_LEN], d[64];
	double x;

	*out = 0;
	*present = v != NULL;
	if (v == NULL)
		return 0;
	snprintf(p, sizeof(p), "%s%s%s", path, *path ? "." : "", key);
	if (!cJSON_IsNumber(v))
		return k8s_type_error(e, p, v, "a number");
	x = v->valuedouble;
	if (!isfinite(x) || x < min || x > max || x != (double)(long)x)
		return k8s_fail(e, "%s: %s is not %s", p,
		    k8s_describe(v, d, sizeof(d)), what);
	*out = (long)x;
	return 0;
}

/*
 * The API accepts exactly TCP, UDP and SCTP (core/v1 Protocol).  SCTP is
 * valid but not proxied (the store skips the port with a reason); any
 * other value means a broken object, as the API server would have
 * refused it.  Returns -1 for that.
 */
static int
k8s_proto(const char *s, enum k8s_proto *proto)
{
	if (strcmp(s, "TCP") == 0)
		*proto = K8S_PROTO_TCP;
	else if (strcmp(s, "UDP") == 0)
		*proto = K8S_PROTO_UDP;
	else if (strcmp(s, "SCTP") == 0)
		*proto = K8S_PROTO_OTHER;
	else
		return -1;
	return 0;
}

/*
 * One IP literal (a JSON string) into *out.  Service addresses that would
 * capture the node's own traffic are refused as the API server refuses
 * them; endpoint addresses are checked with validate_endpoint_ip().
 */
static int
k8s_ip(const cJSON *v, const char *path, union addr *out, int endpoint,
    struct k8s_err *e)
{
	const char *why;
	char d[64];

	if (!cJSON_IsString(v))
		return k8s_type_error(e, path, v, "a string");
	if (addr_parse(v->valuestring, 0, out) == -1)
		return k8s_fail(e, "%s: %s is not an IP address", path,
		    k8s_describe(v, d, sizeof(d)));
	why = endpoint ? validate_endpoint_ip(out) : validate_special_ip(out);
	if (why != NULL)
		return k8s_fail(e, "%s: %s is %s", path,
		    k8s_describe(v, d, sizeof(d)), why);
	return 0;
}

/* A JSON array of IP strings at obj.key into a new addr array. */
static int
k8s_ip_list(const cJSON *obj, const char *path, const char *key,
    union addr **out, size_t *n, struct k8s_err *e)
{
	const cJSON *arr, *v;
	char p[K8S_PATH_LEN];

	if (k8s_get_arr(obj, path, key, &arr, e) == -1)
		return -1;
	if (arr == NULL || cJSON_GetArraySize(arr) == 0)
		return 0;
	*out = xcalloc(cJSON_GetArraySize(arr), sizeof(**out));
	cJSON_ArrayForEach(v, arr) {
		snprintf(p, sizeof(p), "%s.%s[%zu]", path, key, *n);
		if (k8s_ip(v, p, &(*out)[*n], 0, e) == -1)
			return -1;
		(*n)++;
	}
	return 0;
}

/* Port lists of Services, EndpointSlices and Endpoints share this core. */
static int
k8s_port_common(const cJSON *v, const char *p, const char **name,
    enum k8s_proto *proto, struct k8s_err *e)
{
	const char *s, *why;

	if (!cJSON_IsObject(v))
		return k8s_type_error(e, p, v, "an object");
	if (k8s_get_str(v, p, "name", "", name, e) == -1)
		return -1;
	/* Service and endpoint port names are DNS labels (ServicePort.name). */
	if (**name != '\0' && (why = validate_dns1123_label(*name)) != NULL)
		return k8s_fail(e, "%s.name: \"%.40s%s\" %s", p, *name,
		    strlen(*name) > 40 ? "..." : "", why);
	if (k8s_get_str(v, p, "protocol", "TCP", &s, e) == -1)
		return -1;
	if (k8s_proto(s, proto) == -1)
		return k8s_fail(e, "%s.protocol: \"%.20s\" is not TCP, UDP or SCTP",
		    p, s);
	return 0;
}

static int
k8s_service_ports(const cJSON *spec, struct k8s_service *svc,
    struct k8s_err *e)
{
	const cJSON *arr, *v;
	struct k8s_service_port *sp;
	char p[K8S_PATH_LEN];
	const char *name;
	long port, node_port;
	int present;

	if (k8s_get_arr(spec, "spec", "ports", &arr, e) == -1)
		return -1;
	if (arr == NULL || cJSON_GetArraySize(arr) == 0)
		return 0;
	if (cJSON_GetArraySize(arr) > BOUND_PORTS_PER_SERVICE)
		return k8s_fail(e, "spec.ports: %d ports, more than the bound "
		    "of %d (BOUND_PORTS_PER_SERVICE)", cJSON_GetArraySize(arr),
		    BOUND_PORTS_PER_SERVICE);
	svc->ports = xcalloc(cJSON_GetArraySize(arr), sizeof(*svc->ports));
	cJSON_ArrayForEach(v, arr) {
		snprintf(p, sizeof(p), "spec.ports[%zu]", svc->n_ports);
		sp = &svc->ports[svc->n_ports++];
		if (k8s_port_common(v, p, &name, &sp->protocol, e) == -1)
			return -1;
		sp->name = xstrdup(name);
		if (k8s_get_int(v, p, "port", 1, 65535, "a valid port", &port,
		    &present, e) == -1)
			return -1;
		if (!present)
			return k8s_fail(e, "%s.port: missing", p);
		if (k8s_get_int(v, p, "nodePort", 0, 65535, "a valid port",
		    &node_port, &present, e) == -1)
			return -1;
		sp->port = (uint16_t)port;
		sp->node_port = (uint16_t)node_port;
	}
	return 0;
}

static int
k8s_service_affinity(const cJSON *spec, struct k8s_service *svc,
    struct k8s_err *e)
{
	const cJSON *cfg, *cip;
	const char *s;
	long t;
	int present;

	if (k8s_get_str(spec, "spec", "sessionAffinity", "None", &s, e) == -1)
		return -1;
	if (strcmp(s, "None") == 0 || *s == '\0')
		return 0;
	if (strcmp(s, "ClientIP") != 0)
		return k8s_fail(e, "spec.sessionAffinity: \"%.40s\" is not "
		    "None or ClientIP", s);
	svc->affinity_client_ip = 1;
	if (k8s_get_obj(spec, "spec", "sessionAffinityConfig", &cfg, e) == -1)
		return -1;
	if (cfg == NULL)
		return 0;
	if (k8s_get_obj(cfg, "spec.sessionAffinityConfig", "clientIP", &cip,
	    e) == -1)
		return -1;
	if (cip == NULL)
		return 0;
	/* Range from the API's validation (MaxClientIPServiceAffinitySeconds). */
	if (k8s_get_int(cip, "spec.sessionAffinityConfig.clientIP",
	    "timeoutSeconds", 1, 86400, "within 1..86400", &t, &present,
	    e) == -1)
		return -1;
	if (present)
		svc->affinity_timeout = (uint32_t)t;
	return 0;
}

static int
k8s_service_lb(const cJSON *json, struct k8s_service *svc, struct k8s_err *e)
{
	const cJSON *status, *lb, *arr, *v, *ip;
	char p[K8S_PATH_LEN];
	size_t i = 0;

	if (k8s_get_obj(json, "", "status", &status, e) == -1)
		return -1;
	if (k8s_get_obj(status, "status", "loadBalancer", &lb, e) == -1)
		return -1;
	if (k8s_get_arr(lb, "status.loadBalancer", "ingress", &arr, e) == -1)
		return -1;
	if (arr == NULL || cJSON_GetArraySize(arr) == 0)
		return 0;
	svc->lb_ips = xcalloc(cJSON_GetArraySize(arr), sizeof(*svc->lb_ips));
	cJSON_ArrayForEach(v, arr) {
		snprintf(p, sizeof(p), "status.loadBalancer.ingress[%zu]", i++);
		if (!cJSON_IsObject(v))
			return k8s_type_error(e, p, v, "an object");
		/* Hostname-only entries (cloud DNS names) are not ours. */
		if ((ip = k8s_get(v, "ip")) == NULL)
			continue;
		snprintf(p, sizeof(p), "status.loadBalancer.ingress[%zu].ip",
		    i - 1);
		if (k8s_ip(ip, p, &svc->lb_ips[svc->n_lb_ips], 0, e) == -1)
			return -1;
		svc->n_lb_ips++;
	}
	return 0;
}

static int
k8s_service(const cJSON *json, struct k8s_service *svc, struct k8s_err *e)
{
	const cJSON *spec, *ips;
	const char *type, *cip, *first;

	svc->affinity_timeout = K8S_AFFINITY_TIMEOUT_DEFAULT;
	if (k8s_get_obj(json, "", "spec", &spec, e) == -1)
		return -1;
	if (k8s_get_str(spec, "spec", "type", "ClusterIP", &type, e) == -1)
		return -1;
	if (*type == '\0')
		type = "ClusterIP";
	svc->type = xstrdup(type);
	/*
	 * kube-proxy skips these before looking at anything else
	 * (ShouldSkipService), so their other fields are not validated.
	 */
	if (strcmp(type, "ExternalName") == 0) {
		svc->skip_reason = "type ExternalName";
		return 0;
	}
	if (k8s_get_str(spec, "spec", "clusterIP", "", &cip, e) == -1 ||
	    k8s_get_arr(spec, "spec", "clusterIPs", &ips, e) == -1)
		return -1;
	first = cJSON_GetStringValue(cJSON_GetArrayItem(ips, 0));
	if (strcmp(cip, "None") == 0 ||
	    (first != NULL && strcmp(first, "None") == 0)) {
		svc->skip_reason = "headless (clusterIP None)";
		return 0;
	}
	/* clusterIPs[0] == clusterIP when both are set; clusterIPs wins. */
	if (ips != NULL && cJSON_GetArraySize(ips) > 0) {
		if (k8s_ip_list(spec, "spec", "clusterIPs", &svc->cluster_ips,
		    &svc->n_cluster_ips, e) == -1)
			return -1;
	} else if (*cip != '\0') {
		svc->cluster_ips = xcalloc(1, sizeof(*svc->cluster_ips));
		if (k8s_ip(k8s_get(spec, "clusterIP"), "spec.clusterIP",
		    svc->cluster_ips, 0, e) == -1)
			return -1;
		svc->n_cluster_ips = 1;
	}
	if (k8s_ip_list(spec, "spec", "externalIPs", &svc->external_ips,
	    &svc->n_external_ips, e) == -1)
		return -1;
	if (k8s_service_lb(json, svc, e) == -1)
		return -1;
	if (k8s_service_affinity(spec, svc, e) == -1)
		return -1;
	return k8s_service_ports(spec, svc, e);
}

/* Endpoint ports of a slice or an Endpoints subset (path "...ports"). */
static int
k8s_endpoint_ports(const cJSON *arr, const char *path, struct k8s_slice *sl,
    struct k8s_err *e)
{
	struct k8s_endpoint_port *ep;
	enum k8s_proto proto;
	const cJSON *v;
	const char *name;
	char p[K8S_PATH_LEN];
	size_t i = 0;
	long port;
	int present;

	if (arr == NULL || cJSON_GetArraySize(arr) == 0)
		return 0;
	if (cJSON_GetArraySize(arr) > BOUND_PORTS_PER_SERVICE)
		return k8s_fail(e, "%s: %d ports, more than the bound of %d "
		    "(BOUND_PORTS_PER_SERVICE)", path, cJSON_GetArraySize(arr),
		    BOUND_PORTS_PER_SERVICE);
	sl->ports = xcalloc(cJSON_GetArraySize(arr), sizeof(*sl->ports));
	cJSON_ArrayForEach(v, arr) {
		snprintf(p, sizeof(p), "%s[%zu]", path, i++);
		if (k8s_port_common(v, p, &name, &proto, e) == -1)
			return -1;
		if (k8s_get_int(v, p, "port", 1, 65535, "a valid port", &port,
		    &present, e) == -1)
			return -1;
		/* A null port means "all ports": no Service port matches it. */
		if (!present)
			continue;
		ep = &sl->ports[sl->n_ports++];
		ep->name = xstrdup(name);
		ep->protocol = proto;
		ep->port = (uint16_t)port;
	}
	return 0;
}

static int
k8s_endpointslice(const cJSON *json, struct k8s_object *obj,
    const char *service, struct k8s_err *e)
{
	const cJSON *arr, *v, *addrs, *cond;
	struct k8s_slice *sl;
	const char *family;
	char p[K8S_PATH_LEN], cp[K8S_PATH_LEN];
	size_t i = 0;
	int ready, terminating;

	obj->slices = xcalloc(1, sizeof(*obj->slices));
	obj->n_slices = 1;
	sl = &obj->slices[0];
	sl->service = xstrdup(service);
	family = cJSON_GetStringValue(k8s_get(json, "addressType"));

	if (k8s_get_arr(json, "", "endpoints", &arr, e) == -1)
		return -1;
	if (arr != NULL && cJSON_GetArraySize(arr) > 0)
		sl->ready = xcalloc(cJSON_GetArraySize(arr),
		    sizeof(*sl->ready));
	cJSON_ArrayForEach(v, arr) {
		snprintf(p, sizeof(p), "endpoints[%zu]", i++);
		if (!cJSON_IsObject(v))
			return k8s_type_error(e, p, v, "an object");
		if (k8s_get_arr(v, p, "addresses", &addrs, e) == -1)
			return -1;
		if (k8s_get_obj(v, p, "conditions", &cond, e) == -1)
			return -1;
		snprintf(cp, sizeof(cp), "endpoints[%zu].conditions", i - 1);
		/* nil ready means ready; nil terminating means not. */
		if (k8s_get_bool(cond, cp, "ready", 1, &ready, e) == -1 ||
		    k8s_get_bool(cond, cp, "terminating", 0, &terminating,
		    e) == -1)
			return -1;
		if (!ready || terminating || cJSON_GetArraySize(addrs) == 0)
			continue;
		/* kube-proxy uses only the first address of an endpoint. */
		snprintf(p, sizeof(p), "endpoints[%zu].addresses[0]", i - 1);
		if (k8s_ip(cJSON_GetArrayItem(addrs, 0), p,
		    &sl->ready[sl->n_ready], 1, e) == -1)
			return -1;
		if (family != NULL && ((strcmp(family, "IPv4") == 0 &&
		    sl->ready[sl->n_ready].sa.sa_family != AF_INET) ||
		    (strcmp(family, "IPv6") == 0 &&
		    sl->ready[sl->n_ready].sa.sa_family != AF_INET6)))
			return k8s_fail(e, "%s: \"%.60s\" is not an %s address",
			    p, cJSON_GetArrayItem(addrs, 0)->valuestring,
			    family);
		sl->n_ready++;
	}
	if (k8s_get_arr(json, "", "ports", &arr, e) == -1)
		return -1;
	return k8s_endpoint_ports(arr, "ports", sl, e);
}

/* v1 Endpoints: one k8s_slice per subset, named after the object. */
static int
k8s_endpoints(const cJSON *json, struct k8s_object *obj, struct k8s_err *e)
{
	const cJSON *subsets, *sub, *addrs, *a, *ports;
	struct k8s_slice *sl;
	char p[K8S_PATH_LEN], ap[K8S_PATH_LEN], pp[K8S_PATH_LEN];
	size_t j;

	if (k8s_get_arr(json, "", "subsets", &subsets, e) == -1)
		return -1;
	if (subsets == NULL || cJSON_GetArraySize(subsets) == 0)
		return 0;
	obj->slices = xcalloc(cJSON_GetArraySize(subsets),
	    sizeof(*obj->slices));
	cJSON_ArrayForEach(sub, subsets) {
		snprintf(p, sizeof(p), "subsets[%zu]", obj->n_slices);
		sl = &obj->slices[obj->n_slices++];
		sl->service = xstrdup(obj->name);
		if (!cJSON_IsObject(sub))
			return k8s_type_error(e, p, sub, "an object");
		/* notReadyAddresses never receive traffic: not read at all. */
		if (k8s_get_arr(sub, p, "addresses", &addrs, e) == -1)
			return -1;
		if (addrs != NULL && cJSON_GetArraySize(addrs) > 0)
			sl->ready = xcalloc(cJSON_GetArraySize(addrs),
			    sizeof(*sl->ready));
		j = 0;
		cJSON_ArrayForEach(a, addrs) {
			snprintf(ap, sizeof(ap), "subsets[%zu].addresses[%zu]",
			    obj->n_slices - 1, j);
			if (!cJSON_IsObject(a))
				return k8s_type_error(e, ap, a, "an object");
			snprintf(ap, sizeof(ap), "subsets[%zu].addresses[%zu].ip",
			    obj->n_slices - 1, j++);
			if (k8s_get(a, "ip") == NULL)
				return k8s_fail(e, "%s: missing", ap);
			if (k8s_ip(k8s_get(a, "ip"), ap,
			    &sl->ready[sl->n_ready], 1, e) == -1)
				return -1;
			sl->n_ready++;
		}
		if (k8s_get_arr(sub, p, "ports", &ports, e) == -1)
			return -1;
		snprintf(pp, sizeof(pp), "subsets[%zu].ports", obj->n_slices - 1);
		if (k8s_endpoint_ports(ports, pp, sl, e) == -1)
			return -1;
	}
	return 0;
}

/* The same format as the error messages and the store use: addr_str. */
static void
k8s_fp_ips(cJSON *o, const char *key, const union addr *a, size_t n)
{
	cJSON *arr = cJSON_AddArrayToObject(o, key);
	char buf[ADDR_STRLEN];
	size_t i;

	for (i = 0; i < n; i++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(addr_str(&a[i], 0,
		    buf, sizeof(buf))));
}

static cJSON *
k8s_fp_port(const char *name, enum k8s_proto proto, unsigned port)
{
	cJSON *p = cJSON_CreateObject();

	cJSON_AddStringToObject(p, "name", name);
	cJSON_AddStringToObject(p, "protocol", k8s_proto_str(proto));
	cJSON_AddNumberToObject(p, "port", port);
	return p;
}

/*
 * Canonical JSON of the decoded fields only: metadata such as
 * resourceVersion, annotations or managedFields changes on every write
 * and must not make the store believe that anything changed.
 */
static int
k8s_fingerprint(struct k8s_object *obj, struct k8s_err *e)
{
	const struct k8s_service *svc = &obj->svc;
	cJSON *fp = cJSON_CreateObject(), *arr, *s, *p;
	size_t i, j;

	cJSON_AddStringToObject(fp, "kind", k8s_kind_str(obj->kind));
	cJSON_AddStringToObject(fp, "namespace", obj->ns);
	cJSON_AddStringToObject(fp, "name", obj->name);
	if (obj->kind == K8S_SERVICE) {
		cJSON_AddStringToObject(fp, "type", svc->type);
		if (svc->skip_reason != NULL)
			cJSON_AddStringToObject(fp, "skip", svc->skip_reason);
		k8s_fp_ips(fp, "clusterIPs", svc->cluster_ips,
		    svc->n_cluster_ips);
		k8s_fp_ips(fp, "externalIPs", svc->external_ips,
		    svc->n_external_ips);
		k8s_fp_ips(fp, "loadBalancerIPs", svc->lb_ips, svc->n_lb_ips);
		cJSON_AddBoolToObject(fp, "clientIPAffinity",
		    svc->affinity_client_ip);
		cJSON_AddNumberToObject(fp, "affinityTimeout",
		    svc->affinity_timeout);
		arr = cJSON_AddArrayToObject(fp, "ports");
		for (i = 0; i < svc->n_ports; i++) {
			p = k8s_fp_port(svc->ports[i].name,
			    svc->ports[i].protocol, svc->ports[i].port);
			cJSON_AddNumberToObject(p, "nodePort",
			    svc->ports[i].node_port);
			cJSON_AddItemToArray(arr, p);
		}
	} else {
		arr = cJSON_AddArrayToObject(fp, "slices");
		for (i = 0; i < obj->n_slices; i++) {
			const struct k8s_slice *sl = &obj->slices[i];
			cJSON *ports;

			s = cJSON_CreateObject();
			cJSON_AddStringToObject(s, "service", sl->service);
			ports = cJSON_AddArrayToObject(s, "ports");
			for (j = 0; j < sl->n_ports; j++)
				cJSON_AddItemToArray(ports, k8s_fp_port(
				    sl->ports[j].name, sl->ports[j].protocol,
				    sl->ports[j].port));
			k8s_fp_ips(s, "ready", sl->ready, sl->n_ready);
			cJSON_AddItemToArray(arr, s);
		}
	}
	obj->fingerprint = cJSON_PrintUnformatted(fp);
	cJSON_Delete(fp);
	/* Its size follows the object's: not a reason to exit. */
	if (obj->fingerprint == NULL)
		return k8s_fail(e, "out of memory for its fingerprint");
	return 0;
}

/* The name for messages, before anything is validated. */
static void
k8s_name_hint(const cJSON *json, char *name_out, size_t name_len)
{
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(json, "metadata");
	const char *ns, *name;

	if (name_len == 0)
		return;
	name_out[0] = '\0';
	name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(meta,
	    "name"));
	ns = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(meta,
	    "namespace"));
	if (name == NULL || *name == '\0')
		return;
	snprintf(name_out, name_len, "%s/%s", ns != NULL && *ns != '\0' ?
	    ns : "default", name);
}

/*
 * An RFC 3339 time as the API writes it ("2024-05-06T07:08:09Z", maybe
 * with fractional seconds or a numeric offset) in Unix seconds, or 0.
 */
static double
k8s_rfc3339(const char *s)
{
	struct tm tm;
	const char *p;
	double frac = 0, scale = 0.1;
	time_t t;
	int sign, hh, mm;

	memset(&tm, 0, sizeof(tm));
	if ((p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)) == NULL)
		return 0;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
			frac += (*p - '0') * scale;
	if ((t = timegm(&tm)) == (time_t)-1)
		return 0;
	if ((p[0] == 'Z' || p[0] == 'z') && p[1] == '\0')
		return (double)t + frac;
	if ((p[0] != '+' && p[0] != '-') ||
	    sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2 || strlen(p) != 6)
		return 0;
	sign = p[0] == '+' ? 1 : -1;
	return (double)t + frac - sign * (hh * 3600 + mm * 60);
}

/*
 * Names as the API server admits them: a namespace and a Service name are
 * DNS-1123 labels, an EndpointSlice or Endpoints name a DNS-1123
 * subdomain.  Also what keeps every name short enough for messages.
 */
static int
k8s_names_valid(enum k8s_kind kind, const char *ns, const char *name,
    struct k8s_err *e)
{
	const char *why;

	if (*ns != '\0' && (why = validate_dns1123_label(ns)) != NULL)
		return k8s_fail(e, "metadata.namespace: \"%.40s%s\" (%zu "
		    "characters) %s", ns, strlen(ns) > 40 ? "..." : "",
		    strlen(ns), why);
	why = kind == K8S_SERVICE ? validate_dns1123_label(name) :
	    validate_dns1123_subdomain(name);
	if (why != NULL)
		return k8s_fail(e, "metadata.name: \"%.40s%s\" (%zu "
		    "characters) %s", name, strlen(name) > 40 ? "..." : "",
		    strlen(name), why);
	return 0;
}

static int
k8s_metadata(const cJSON *json, struct k8s_object *obj, struct k8s_err *e)
{
	const cJSON *meta;
	const char *ns, *name, *rv, *trigger;

	if (k8s_get_obj(json, "", "metadata", &meta, e) == -1)
		return -1;
	if (k8s_get_str(meta, "metadata", "name", "", &name, e) == -1 ||
	    k8s_get_str(meta, "metadata", "namespace", "", &ns, e) == -1 ||
	    k8s_get_str(meta, "metadata", "resourceVersion", "", &rv, e) == -1)
		return -1;
	if (*name == '\0')
		return k8s_fail(e, "metadata.name: missing");
	if (k8s_names_valid(obj->kind, ns, name, e) == -1)
		return -1;
	/* Manifests usually leave the namespace to kubectl's default. */
	obj->ns = xstrdup(*ns != '\0' ? ns : "default");
	obj->name = xstrdup(name);
	obj->resource_version = xstrdup(rv);
	trigger = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(meta, "annotations"),
	    "endpoints.kubernetes.io/last-change-trigger-time"));
	if (obj->kind != K8S_SERVICE && trigger != NULL)
		obj->trigger_time = k8s_rfc3339(trigger);
	return 0;
}

/*
 * Slices the proxy does not use: no owning Service, or FQDN addresses
 * (kube-proxy ignores both).  Returns 1 when usable, 0 with a reason.
 */
static int
k8s_slice_usable(const cJSON *json, const char **service, struct k8s_err *e)
{
	const cJSON *labels;
	const char *type, *why;

	if (k8s_get_obj(cJSON_GetObjectItemCaseSensitive(json, "metadata"),
	    "metadata", "labels", &labels, e) == -1 ||
	    k8s_get_str(labels, "metadata.labels",
	    "kubernetes.io/service-name", "", service, e) == -1 ||
	    k8s_get_str(json, "", "addressType", "", &type, e) == -1)
		return -1;
	if (**service == '\0') {
		k8s_fail(e, "EndpointSlice not owned by a Service (no "
		    "kubernetes.io/service-name label)");
		return 0;
	}
	if ((why = validate_label_value(*service)) != NULL)
		return k8s_fail(e, "metadata.labels.kubernetes.io/service-name: "
		    "\"%.40s%s\" %s", *service, strlen(*service) > 40 ?
		    "..." : "", why);
	if (*type != '\0' && strcmp(type, "IPv4") != 0 &&
	    strcmp(type, "IPv6") != 0) {
		k8s_fail(e, "EndpointSlice addressType \"%.20s\" is not proxied",
		    type);
		return 0;
	}
	return 1;
}

int
k8s_decode(const cJSON *json, struct k8s_object **out, char *name_out,
    size_t name_len, char *err, size_t err_len)
{
	struct k8s_err e = { err, err_len };
	struct k8s_object *obj;
	const char *kind, *api, *want, *service = NULL;
	enum k8s_kind k;
	int rc;

	*out = NULL;
	if (err_len > 0)
		err[0] = '\0';
	if (name_len > 0)
		name_out[0] = '\0';
	if (!cJSON_IsObject(json))
		return k8s_fail(&e, "not a JSON object");
	k8s_name_hint(json, name_out, name_len);

	if (k8s_get_str(json, "", "kind", "", &kind, &e) == -1 ||
	    k8s_get_str(json, "", "apiVersion", "", &api, &e) == -1)
		return -1;
	if (*kind == '\0')
		return k8s_fail(&e, "kind: missing");
	if (strcmp(kind, "Service") == 0) {
		k = K8S_SERVICE;
		want = "v1";
	} else if (strcmp(kind, "EndpointSlice") == 0) {
		k = K8S_ENDPOINTSLICE;
		want = "discovery.k8s.io/v1";
	} else if (strcmp(kind, "Endpoints") == 0) {
		k = K8S_ENDPOINTS;
		want = "v1";
	} else {
		k8s_fail(&e, "kind %.40s is not used by the proxy", kind);
		return 0;
	}
	if (strcmp(api, want) != 0) {
		/* e.g. discovery.k8s.io/v1beta1, removed in Kubernetes 1.25 */
		k8s_fail(&e, "%s: unsupported apiVersion \"%.40s\"", kind, api);
		return 0;
	}

	obj = xcalloc(1, sizeof(*obj));
	obj->kind = k;
	if (k8s_metadata(json, obj, &e) == -1)
		goto fail;
	switch (k) {
	case K8S_SERVICE:
		rc = k8s_service(json, &obj->svc, &e);
		break;
	case K8S_ENDPOINTSLICE:
		if ((rc = k8s_slice_usable(json, &service, &e)) != 1) {
			k8s_object_free(obj);
			return rc;
		}
		rc = k8s_endpointslice(json, obj, service, &e);
		break;
	default:
		rc = k8s_endpoints(json, obj, &e);
		break;
	}
	if (rc == -1 || k8s_fingerprint(obj, &e) == -1)
		goto fail;
	*out = obj;
	return 1;
fail:
	k8s_object_free(obj);
	return -1;
}

static void
k8s_slice_free(struct k8s_slice *sl)
{
	size_t i;

	for (i = 0; i < sl->n_ports; i++)
		free(sl->ports[i].name);
	free(sl->ports);
	free(sl->ready);
	free(sl->service);
}

void
k8s_object_free(struct k8s_object *obj)
{
	size_t i;

	if (obj == NULL)
		return;
	if (obj->kind == K8S_SERVICE) {
		free(obj->svc.type);
		free(obj->svc.cluster_ips);
		free(obj->svc.external_ips);
		free(obj->svc.lb_ips);
		for (i = 0; i < obj->svc.n_ports; i++)
			free(obj->svc.ports[i].name);
		free(obj->svc.ports);
	} else {
		for (i = 0; i < obj->n_slices; i++)
			k8s_slice_free(&obj->slices[i]);
		free(obj->slices);
	}
	free(obj->ns);
	free(obj->name);
	free(obj->resource_version);
	free(obj->fingerprint);
	free(obj);
}

const char *
k8s_kind_str(enum k8s_kind kind)
{
	switch (kind) {
	case K8S_SERVICE:
		return "Service";
	case K8S_ENDPOINTSLICE:
		return "EndpointSlice";
	case K8S_ENDPOINTS:
		return "Endpoints";
	}
	return "unknown";
}

const char *
k8s_proto_str(enum k8s_proto proto)
{
	switch (proto) {
	case K8S_PROTO_TCP:
		return "TCP";
	case K8S_PROTO_UDP:
		return "UDP";
	case K8S_PROTO_OTHER:
		break;
	}
	return "SCTP";
}
