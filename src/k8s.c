/*
 * k8s.c - decode Service, EndpointSlice, Endpoints and Node objects (see
 * k8s.h).
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
	const char *mode;
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
		/*
		 * ipMode Proxy: the load balancer stays in the path (it sends
		 * to the nodes, not to the IP), so kube-proxy (IsVIPMode) makes
		 * no rule for that IP.  The API admits only VIP and Proxy.
		 */
		if (k8s_get_str(v, p, "ipMode", "VIP", &mode, e) == -1)
			return -1;
		if (strcmp(mode, "Proxy") == 0)
			continue;
		if (strcmp(mode, "VIP") != 0)
			return k8s_fail(e, "%s.ipMode: \"%.20s\" is not VIP or "
			    "Proxy", p, mode);
		snprintf(p, sizeof(p), "status.loadBalancer.ingress[%zu].ip",
		    i - 1);
		if (k8s_ip(ip, p, &svc->lb_ips[svc->n_lb_ips], 0, e) == -1)
			return -1;
		svc->n_lb_ips++;
	}
	return 0;
}

/*
 * internalTrafficPolicy or externalTrafficPolicy: 1 for Local, 0 for
 * Cluster (also when absent, the API's default, and for "Global", the
 * value's name before Kubernetes 1.5), -1 for anything else.
 */
static int
k8s_policy(const cJSON *spec, const char *key, int *local,
    struct k8s_err *e)
{
	const char *s;

	*local = 0;
	if (k8s_get_str(spec, "spec", key, "Cluster", &s, e) == -1)
		return -1;
	if (strcmp(s, "Local") == 0)
		*local = 1;
	else if (*s != '\0' && strcmp(s, "Cluster") != 0 &&
	    strcmp(s, "Global") != 0)
		return k8s_fail(e, "spec.%s: \"%.40s%s\" is not Cluster or "
		    "Local", key, s, strlen(s) > 40 ? "..." : "");
	return 0;
}

/*
 * spec.loadBalancerSourceRanges: CIDRs.  The API validation lets spaces
 * around a range through and kube-proxy trims them (serviceport.go); it
 * does not read the older annotation
 * service.beta.kubernetes.io/load-balancer-source-ranges, which only
 * cloud providers and the API validation look at.
 */
static int
k8s_source_ranges(const cJSON *spec, struct k8s_service *svc,
    struct k8s_err *e)
{
	const cJSON *arr, *v;
	char buf[64], d[64];
	const char *s;
	size_t len, i = 0;

	if (k8s_get_arr(spec, "spec", "loadBalancerSourceRanges", &arr,
	    e) == -1)
		return -1;
	if (arr == NULL || cJSON_GetArraySize(arr) == 0)
		return 0;
	if (cJSON_GetArraySize(arr) > BOUND_SOURCE_RANGES_PER_SERVICE)
		return k8s_fail(e, "spec.loadBalancerSourceRanges: %d ranges, "
		    "more than the bound of %d (BOUND_SOURCE_RANGES_PER_SERVICE)",
		    cJSON_GetArraySize(arr), BOUND_SOURCE_RANGES_PER_SERVICE);
	svc->source_ranges = xcalloc(cJSON_GetArraySize(arr),
	    sizeof(*svc->source_ranges));
	cJSON_ArrayForEach(v, arr) {
		if (!cJSON_IsString(v)) {
			snprintf(buf, sizeof(buf),
			    "spec.loadBalancerSourceRanges[%zu]", i);
			return k8s_type_error(e, buf, v, "a string");
		}
		for (s = v->valuestring; *s == ' ' || *s == '\t'; s++)
			;
		len = strlen(s);
		while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
			len--;
		/* A CIDR has a length: a bare address is not one. */
		if (len >= sizeof(buf) || memchr(s, '/', len) == NULL)
			goto bad;
		memcpy(buf, s, len);
		buf[len] = '\0';
		if (addr_parse_prefix(buf, &svc->source_ranges[i]) == -1)
			goto bad;
		svc->n_source_ranges = ++i;
	}
	return 0;
bad:
	return k8s_fail(e, "spec.loadBalancerSourceRanges[%zu]: %s is not a "
	    "CIDR", i, k8s_describe(v, d, sizeof(d)));
}

/* Policies, health check node port and topology of a Service. */
static int
k8s_service_traffic(const cJSON *spec, struct k8s_service *svc,
    struct k8s_err *e)
{
	const char *td;
	long hcnp;
	int present;

	if (k8s_policy(spec, "internalTrafficPolicy", &svc->internal_local,
	    e) == -1 ||
	    k8s_policy(spec, "externalTrafficPolicy", &svc->external_local,
	    e) == -1)
		return -1;
	/*
	 * apiservice.ExternalPolicyLocal: the external policy means
	 * something only for a Service that takes external traffic.
	 */
	if (strcmp(svc->type, "LoadBalancer") != 0 &&
	    strcmp(svc->type, "NodePort") != 0 && svc->n_external_ips == 0)
		svc->external_local = 0;
	if (k8s_get_int(spec, "spec", "healthCheckNodePort", 0, 65535,
	    "a valid port", &hcnp, &present, e) == -1)
		return -1;
	/* apiservice.NeedsHealthCheck: LoadBalancer with eTP Local only. */
	if (strcmp(svc->type, "LoadBalancer") == 0 && svc->external_local)
		svc->health_check_node_port = (uint16_t)hcnp;
	/*
	 * Kept for the inspection outputs: kube-proxy reads the hints the
	 * EndpointSlice controller writes for it, not this field, and uses
	 * them whenever every ready endpoint has one (topology.c).
	 */
	if (k8s_get_str(spec, "spec", "trafficDistribution", "", &td, e) == -1)
		return -1;
	if (strlen(td) > 63)
		return k8s_fail(e, "spec.trafficDistribution: \"%.40s...\" is "
		    "longer than 63 characters", td);
	svc->traffic_distribution = xstrdup(td);
	return k8s_source_ranges(spec, svc, e);
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
	if (k8s_service_traffic(spec, svc, e) == -1)
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

/*
 * hints.forZones or hints.forNodes of one endpoint (path "...hints"):
 * the names, each a label value (zone) or a DNS-1123 subdomain (node).
 */
static int
k8s_hints(const cJSON *hints, const char *path, const char *key,
    int node, char ***out, size_t *n, struct k8s_err *e)
{
	const cJSON *arr, *v;
	const char *name, *why;
	char p[K8S_PATH_LEN];

	if (k8s_get_arr(hints, path, key, &arr, e) == -1)
		return -1;
	if (arr == NULL || cJSON_GetArraySize(arr) == 0)
		return 0;
	if (cJSON_GetArraySize(arr) > BOUND_HINTS_PER_ENDPOINT)
		return k8s_fail(e, "%s.%s: %d hints, more than the bound of %d "
		    "(BOUND_HINTS_PER_ENDPOINT)", path, key,
		    cJSON_GetArraySize(arr), BOUND_HINTS_PER_ENDPOINT);
	*out = xcalloc(cJSON_GetArraySize(arr), sizeof(**out));
	cJSON_ArrayForEach(v, arr) {
		snprintf(p, sizeof(p), "%s.%s[%zu]", path, key, *n);
		if (!cJSON_IsObject(v))
			return k8s_type_error(e, p, v, "an object");
		if (k8s_get_str(v, p, "name", "", &name, e) == -1)
			return -1;
		why = node ? validate_dns1123_subdomain(name) :
		    validate_label_value(name);
		if (*name == '\0')
			why = "is empty";
		if (why != NULL)
			return k8s_fail(e, "%s.name: \"%.40s%s\" %s", p, name,
			    strlen(name) > 40 ? "..." : "", why);
		(*out)[(*n)++] = xstrdup(name);
	}
	return 0;
}

/* A nodeName (DNS-1123 subdomain) or zone (label value) of an endpoint. */
static int
k8s_endpoint_where(const cJSON *v, const char *path, const char *key,
    int node, char **out, struct k8s_err *e)
{
	const char *s, *why;

	if (k8s_get_str(v, path, key, "", &s, e) == -1)
		return -1;
	if (*s != '\0' && (why = node ? validate_dns1123_subdomain(s) :
	    validate_label_value(s)) != NULL)
		return k8s_fail(e, "%s.%s: \"%.40s%s\" %s", path, key, s,
		    strlen(s) > 40 ? "..." : "", why);
	*out = xstrdup(s);
	return 0;
}

/* One endpoint of a slice (path "endpoints[N]"); *skip when no address. */
static int
k8s_slice_endpoint(const cJSON *v, const char *path, const char *family,
    struct k8s_endpoint *ep, int *skip, struct k8s_err *e)
{
	const cJSON *addrs, *cond, *hints;
	char p[K8S_PATH_LEN + 32];
	int ready, serving, terminating;

	*skip = 0;
	if (!cJSON_IsObject(v))
		return k8s_type_error(e, path, v, "an object");
	if (k8s_get_arr(v, path, "addresses", &addrs, e) == -1 ||
	    k8s_get_obj(v, path, "conditions", &cond, e) == -1 ||
	    k8s_get_obj(v, path, "hints", &hints, e) == -1)
		return -1;
	snprintf(p, sizeof(p), "%s.conditions", path);
	/*
	 * endpointslicecache.go: ready and serving absent are true,
	 * terminating absent is false (the API documents the same).
	 */
	if (k8s_get_bool(cond, p, "ready", 1, &ready, e) == -1 ||
	    k8s_get_bool(cond, p, "serving", 1, &serving, e) == -1 ||
	    k8s_get_bool(cond, p, "terminating", 0, &terminating, e) == -1)
		return -1;
	if (cJSON_GetArraySize(addrs) == 0) {
		*skip = 1;
		return 0;
	}
	ep->conditions = (ready ? K8S_EP_READY : 0) |
	    (serving ? K8S_EP_SERVING : 0) |
	    (terminating ? K8S_EP_TERMINATING : 0);
	/* kube-proxy uses only the first address of an endpoint. */
	snprintf(p, sizeof(p), "%s.addresses[0]", path);
	if (k8s_ip(cJSON_GetArrayItem(addrs, 0), p, &ep->addr, 1, e) == -1)
		return -1;
	if (family != NULL && ((strcmp(family, "IPv4") == 0 &&
	    ep->addr.sa.sa_family != AF_INET) ||
	    (strcmp(family, "IPv6") == 0 && ep->addr.sa.sa_family != AF_INET6)))
		return k8s_fail(e, "%s: \"%.60s\" is not an %s address", p,
		    cJSON_GetArrayItem(addrs, 0)->valuestring, family);
	if (k8s_endpoint_where(v, path, "nodeName", 1, &ep->node, e) == -1 ||
	    k8s_endpoint_where(v, path, "zone", 0, &ep->zone, e) == -1)
		return -1;
	snprintf(p, sizeof(p), "%s.hints", path);
	if (k8s_hints(hints, p, "forZones", 0, &ep->zone_hints,
	    &ep->n_zone_hints, e) == -1 ||
	    k8s_hints(hints, p, "forNodes", 1, &ep->node_hints,
	    &ep->n_node_hints, e) == -1)
		return -1;
	return 0;
}

static void
k8s_endpoint_free(struct k8s_endpoint *ep)
{
	size_t i;

	for (i = 0; i < ep->n_zone_hints; i++)
		free(ep->zone_hints[i]);
	for (i = 0; i < ep->n_node_hints; i++)
		free(ep->node_hints[i]);
	free(ep->zone_hints);
	free(ep->node_hints);
	free(ep->node);
	free(ep->zone);
	memset(ep, 0, sizeof(*ep));
}

static int
k8s_endpointslice(const cJSON *json, struct k8s_object *obj,
    const char *service, struct k8s_err *e)
{
	const cJSON *arr, *v;
	struct k8s_slice *sl;
	const char *family;
	char p[K8S_PATH_LEN];
	size_t i = 0;
	int skip;

	obj->slices = xcalloc(1, sizeof(*obj->slices));
	obj->n_slices = 1;
	sl = &obj->slices[0];
	sl->service = xstrdup(service);
	family = cJSON_GetStringValue(k8s_get(json, "addressType"));

	if (k8s_get_arr(json, "", "endpoints", &arr, e) == -1)
		return -1;
	if (arr != NULL && cJSON_GetArraySize(arr) > 0)
		sl->endpoints = xcalloc(cJSON_GetArraySize(arr),
		    sizeof(*sl->endpoints));
	cJSON_ArrayForEach(v, arr) {
		snprintf(p, sizeof(p), "endpoints[%zu]", i++);
		/* Counted first: a failure halfway is freed with the rest. */
		sl->n_endpoints++;
		if (k8s_slice_endpoint(v, p, family,
		    &sl->endpoints[sl->n_endpoints - 1], &skip, e) == -1)
			return -1;
		if (skip)
			sl->n_endpoints--;
	}
	if (k8s_get_arr(json, "", "ports", &arr, e) == -1)
		return -1;
	return k8s_endpoint_ports(arr, "ports", sl, e);
}

/*
 * The addresses of one v1 Endpoints subset: ready and serving
 * (addresses) or neither (notReadyAddresses); each with its nodeName.
 */
static int
k8s_subset_addresses(const cJSON *sub, const char *path, const char *key,
    unsigned conditions, struct k8s_slice *sl, struct k8s_err *e)
{
	const cJSON *addrs, *a;
	struct k8s_endpoint *ep;
	char ap[K8S_PATH_LEN];
	size_t j = 0;

	if (k8s_get_arr(sub, path, key, &addrs, e) == -1)
		return -1;
	cJSON_ArrayForEach(a, addrs) {
		snprintf(ap, sizeof(ap), "%s.%s[%zu]", path, key, j++);
		ep = &sl->endpoints[sl->n_endpoints++];
		ep->conditions = conditions;
		if (!cJSON_IsObject(a))
			return k8s_type_error(e, ap, a, "an object");
		if (k8s_endpoint_where(a, ap, "nodeName", 1, &ep->node,
		    e) == -1)
			return -1;
		ep->zone = xstrdup("");
		snprintf(ap, sizeof(ap), "%s.%s[%zu].ip", path, key, j - 1);
		if (k8s_get(a, "ip") == NULL)
			return k8s_fail(e, "%s: missing", ap);
		if (k8s_ip(k8s_get(a, "ip"), ap, &ep->addr, 1, e) == -1)
			return -1;
	}
	return 0;
}

/* v1 Endpoints: one k8s_slice per subset, named after the object. */
static int
k8s_endpoints(const cJSON *json, struct k8s_object *obj, struct k8s_err *e)
{
	const cJSON *subsets, *sub, *ready, *not_ready, *ports;
	struct k8s_slice *sl;
	char p[K8S_PATH_LEN], pp[K8S_PATH_LEN];
	size_t n;

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
		if (k8s_get_arr(sub, p, "addresses", &ready, e) == -1 ||
		    k8s_get_arr(sub, p, "notReadyAddresses", &not_ready,
		    e) == -1)
			return -1;
		n = (size_t)cJSON_GetArraySize(ready) +
		    (size_t)cJSON_GetArraySize(not_ready);
		if (n > 0)
			sl->endpoints = xcalloc(n, sizeof(*sl->endpoints));
		if (k8s_subset_addresses(sub, p, "addresses",
		    K8S_EP_READY | K8S_EP_SERVING, sl, e) == -1 ||
		    k8s_subset_addresses(sub, p, "notReadyAddresses", 0, sl,
		    e) == -1)
			return -1;
		if (k8s_get_arr(sub, p, "ports", &ports, e) == -1)
			return -1;
		snprintf(pp, sizeof(pp), "subsets[%zu].ports", obj->n_slices - 1);
		if (k8s_endpoint_ports(ports, pp, sl, e) == -1)
			return -1;
	}
	return 0;
}

/*
 * A Node: its zone label, and whether it is going away (kube-proxy's
 * healthz: deletionTimestamp, or the cluster autoscaler's taint).
 */
static int
k8s_node(const cJSON *json, struct k8s_node *node, struct k8s_err *e)
{
	const cJSON *meta, *labels, *spec, *taints, *t;
	const char *zone, *ts, *key, *why;
	char p[K8S_PATH_LEN];
	size_t i = 0;

	meta = k8s_get(json, "metadata");
	if (k8s_get_obj(meta, "metadata", "labels", &labels, e) == -1 ||
	    k8s_get_str(labels, "metadata.labels",
	    "topology.kubernetes.io/zone", "", &zone, e) == -1 ||
	    k8s_get_str(meta, "metadata", "deletionTimestamp", "", &ts,
	    e) == -1)
		return -1;
	if (*zone != '\0' && (why = validate_label_value(zone)) != NULL)
		return k8s_fail(e, "metadata.labels.topology.kubernetes.io/zone: "
		    "\"%.40s%s\" %s", zone, strlen(zone) > 40 ? "..." : "", why);
	node->zone = xstrdup(zone);
	node->deleting = *ts != '\0';
	if (k8s_get_obj(json, "", "spec", &spec, e) == -1 ||
	    k8s_get_arr(spec, "spec", "taints", &taints, e) == -1)
		return -1;
	cJSON_ArrayForEach(t, taints) {
		snprintf(p, sizeof(p), "spec.taints[%zu]", i++);
		if (!cJSON_IsObject(t))
			return k8s_type_error(e, p, t, "an object");
		if (k8s_get_str(t, p, "key", "", &key, e) == -1)
			return -1;
		if (strcmp(key, "ToBeDeletedByClusterAutoscaler") == 0)
			node->deleting = 1;
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
static void
k8s_fp_names(cJSON *o, const char *key, char *const *names, size_t n)
{
	cJSON *arr;
	size_t i;

	if (n == 0)
		return;
	arr = cJSON_AddArrayToObject(o, key);
	for (i = 0; i < n; i++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(names[i]));
}

static void
k8s_fp_service(cJSON *fp, const struct k8s_service *svc)
{
	cJSON *arr, *p;
	char buf[ADDR_STRLEN + 4];
	size_t i;

	cJSON_AddStringToObject(fp, "type", svc->type);
	if (svc->skip_reason != NULL)
		cJSON_AddStringToObject(fp, "skip", svc->skip_reason);
	k8s_fp_ips(fp, "clusterIPs", svc->cluster_ips, svc->n_cluster_ips);
	k8s_fp_ips(fp, "externalIPs", svc->external_ips, svc->n_external_ips);
	k8s_fp_ips(fp, "loadBalancerIPs", svc->lb_ips, svc->n_lb_ips);
	cJSON_AddBoolToObject(fp, "clientIPAffinity", svc->affinity_client_ip);
	cJSON_AddNumberToObject(fp, "affinityTimeout", svc->affinity_timeout);
	cJSON_AddBoolToObject(fp, "internalLocal", svc->internal_local);
	cJSON_AddBoolToObject(fp, "externalLocal", svc->external_local);
	cJSON_AddNumberToObject(fp, "healthCheckNodePort",
	    svc->health_check_node_port);
	cJSON_AddStringToObject(fp, "trafficDistribution",
	    svc->traffic_distribution != NULL ? svc->traffic_distribution : "");
	arr = cJSON_AddArrayToObject(fp, "sourceRanges");
	for (i = 0; i < svc->n_source_ranges; i++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(addr_prefix_str(
		    &svc->source_ranges[i], buf, sizeof(buf))));
	arr = cJSON_AddArrayToObject(fp, "ports");
	for (i = 0; i < svc->n_ports; i++) {
		p = k8s_fp_port(svc->ports[i].name, svc->ports[i].protocol,
		    svc->ports[i].port);
		cJSON_AddNumberToObject(p, "nodePort", svc->ports[i].node_port);
		cJSON_AddItemToArray(arr, p);
	}
}

static void
k8s_fp_slices(cJSON *fp, const struct k8s_object *obj)
{
	const struct k8s_slice *sl;
	const struct k8s_endpoint *ep;
	cJSON *arr, *s, *ports, *eps, *o;
	char buf[ADDR_STRLEN];
	size_t i, j;

	arr = cJSON_AddArrayToObject(fp, "slices");
	for (i = 0; i < obj->n_slices; i++) {
		sl = &obj->slices[i];
		s = cJSON_CreateObject();
		cJSON_AddStringToObject(s, "service", sl->service);
		ports = cJSON_AddArrayToObject(s, "ports");
		for (j = 0; j < sl->n_ports; j++)
			cJSON_AddItemToArray(ports, k8s_fp_port(
			    sl->ports[j].name, sl->ports[j].protocol,
			    sl->ports[j].port));
		eps = cJSON_AddArrayToObject(s, "endpoints");
		for (j = 0; j < sl->n_endpoints; j++) {
			ep = &sl->endpoints[j];
			o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "ip", addr_str(&ep->addr, 0,
			    buf, sizeof(buf)));
			cJSON_AddNumberToObject(o, "conditions",
			    ep->conditions);
			cJSON_AddStringToObject(o, "nodeName", ep->node);
			cJSON_AddStringToObject(o, "zone", ep->zone);
			k8s_fp_names(o, "forZones", ep->zone_hints,
			    ep->n_zone_hints);
			k8s_fp_names(o, "forNodes", ep->node_hints,
			    ep->n_node_hints);
			cJSON_AddItemToArray(eps, o);
		}
		cJSON_AddItemToArray(arr, s);
	}
}

/*
 * Canonical JSON of the decoded fields only: metadata such as
 * resourceVersion, annotations or managedFields changes on every write
 * and must not make the store believe that anything changed.
 */
static int
k8s_fingerprint(struct k8s_object *obj, struct k8s_err *e)
{
	cJSON *fp = cJSON_CreateObject();

	cJSON_AddStringToObject(fp, "kind", k8s_kind_str(obj->kind));
	cJSON_AddStringToObject(fp, "namespace", obj->ns);
	cJSON_AddStringToObject(fp, "name", obj->name);
	switch (obj->kind) {
	case K8S_SERVICE:
		k8s_fp_service(fp, &obj->svc);
		break;
	case K8S_NODE:
		cJSON_AddStringToObject(fp, "zone", obj->node.zone);
		cJSON_AddBoolToObject(fp, "deleting", obj->node.deleting);
		break;
	case K8S_ENDPOINTSLICE:
	case K8S_ENDPOINTS:
		k8s_fp_slices(fp, obj);
		break;
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
	const char *ns, *name, *kind;

	if (name_len == 0)
		return;
	name_out[0] = '\0';
	name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(meta,
	    "name"));
	ns = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(meta,
	    "namespace"));
	if (name == NULL || *name == '\0')
		return;
	/* Nodes are cluster-scoped: a name alone. */
	kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(json,
	    "kind"));
	if (kind != NULL && strcmp(kind, "Node") == 0) {
		snprintf(name_out, name_len, "%s", name);
		return;
	}
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
	/* Nodes are cluster-scoped: no namespace, whatever is written. */
	if (obj->kind == K8S_NODE)
		ns = "";
	if (validate_names(obj->kind == K8S_SERVICE, ns, name, e->buf,
	    e->len) == -1)
		return -1;
	/* Manifests usually leave the namespace to kubectl's default. */
	obj->ns = xstrdup(*ns != '\0' || obj->kind == K8S_NODE ? ns :
	    "default");
	obj->name = xstrdup(name);
	obj->resource_version = xstrdup(rv);
	trigger = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(meta, "annotations"),
	    "endpoints.kubernetes.io/last-change-trigger-time"));
	if ((obj->kind == K8S_ENDPOINTSLICE || obj->kind == K8S_ENDPOINTS) &&
	    trigger != NULL)
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
	} else if (strcmp(kind, "Node") == 0) {
		k = K8S_NODE;
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
	case K8S_NODE:
		rc = k8s_node(json, &obj->node, &e);
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
	for (i = 0; i < sl->n_endpoints; i++)
		k8s_endpoint_free(&sl->endpoints[i]);
	free(sl->ports);
	free(sl->endpoints);
	free(sl->service);
}

void
k8s_object_free(struct k8s_object *obj)
{
	size_t i;

	if (obj == NULL)
		return;
	if (obj->kind == K8S_NODE)
		free(obj->node.zone);
	else if (obj->kind == K8S_SERVICE) {
		free(obj->svc.type);
		free(obj->svc.traffic_distribution);
		free(obj->svc.source_ranges);
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
	case K8S_NODE:
		return "Node";
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
