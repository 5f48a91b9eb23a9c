/*
 * k8s_fingerprint.c - the canonical fingerprint of a decoded object
 * (k8s_int.h): the decoded fields only, printed as compact JSON, which
 * the store compares to tell a real change from a metadata-only write.
 */
#include <stddef.h>

#include "k8s.h"
#include "k8s_int.h"

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
int
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
