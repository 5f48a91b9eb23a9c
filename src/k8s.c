/*
 * k8s.c - decode Service, EndpointSlice, Endpoints and Node objects (see
 * k8s.h): k8s_decode() checks kind and apiVersion, reads the metadata and
 * hands the rest to the decoder of that kind; k8s_object_free() and the
 * name functions.
 *
 * Every source hands its objects to k8s_decode() as cJSON trees; the k8s
 * files are the one place where Kubernetes field names, defaults and
 * validity rules live.  Whatever passes here is safe for the store and the
 * data path: IP literals parsed, ports in range, protocols mapped to an
 * enum.  The decoder is split by concern, sharing k8s_int.h:
 *   k8s_field.c        JSON field helpers: typed getters, IPs, port names
 *   k8s_service.c      Service
 *   k8s_endpoints.c    EndpointSlice and v1 Endpoints
 *   k8s_node.c         Node
 *   k8s_fingerprint.c  the canonical fingerprint of a decoded object
 *
 * Field shapes and defaults: ../shared/K8S-API.md section 4, from
 * k8s.io/api core/v1 and discovery/v1 types.  JSON null is read as
 * "absent" everywhere, as Go's decoder does for optional fields.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "k8s.h"
#include "k8s_int.h"
#include "util.h"
#include "validate.h"

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

struct k8s_object *
k8s_object_ref(struct k8s_object *obj)
{
	obj->refs++;
	return obj;
}

void
k8s_object_free(struct k8s_object *obj)
{
	size_t i;

	if (obj == NULL)
		return;
	if (obj->refs > 0) {
		obj->refs--;
		return;
	}
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

int
k8s_key_cmp(enum k8s_kind kind, const char *ns, const char *name,
    enum k8s_kind kind2, const char *ns2, const char *name2)
{
	int r;

	if (kind != kind2)
		return kind < kind2 ? -1 : 1;
	if ((r = strcmp(ns, ns2)) != 0)
		return r;
	return strcmp(name, name2);
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
