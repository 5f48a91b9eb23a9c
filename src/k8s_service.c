/*
 * k8s_service.c - decode a v1 Service (k8s_int.h): its IPs, load balancer
 * ingress, session affinity, traffic policies, source ranges and ports.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bounds.h"
#include "k8s.h"
#include "k8s_int.h"
#include "util.h"

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

int
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
