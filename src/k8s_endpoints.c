/*
 * k8s_endpoints.c - decode a discovery/v1 EndpointSlice or a v1 Endpoints
 * object into k8s_slice records (k8s_int.h): endpoint addresses, their
 * conditions, nodeName, zone and topology hints, and the ports; and free
 * them again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bounds.h"
#include "k8s.h"
#include "k8s_int.h"
#include "util.h"
#include "validate.h"

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

int
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
int
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
 * Slices the proxy does not use: no owning Service, or FQDN addresses
 * (kube-proxy ignores both).  Returns 1 when usable, 0 with a reason.
 */
int
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

void
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
