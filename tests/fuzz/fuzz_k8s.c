/*
 * fuzz_k8s.c - the object decoder (k8s.c): one JSON object, as a watch
 * event or a list item carries it, to a Service, EndpointSlice or
 * Endpoints.  Checks what the store relies on: a decoded object has a
 * namespace, a name and a fingerprint (JSON that names it), names are never
 * NULL, and decoding is deterministic (same input, same fingerprint).
 */
#include <string.h>

#include <cjson/cJSON.h>

#include "fuzz.h"
#include "bounds.h"
#include "k8s.h"

static void
check_object(const struct k8s_object *o)
{
	const char *v;
	cJSON *fp;
	size_t i, j;

	FUZZ_CHECK(o->ns != NULL && o->name != NULL);
	FUZZ_CHECK(o->fingerprint != NULL && o->resource_version != NULL);
	FUZZ_CHECK(k8s_kind_str(o->kind) != NULL);
	/* Written by hand (k8s_fingerprint.c), it is JSON all the same. */
	fp = cJSON_Parse(o->fingerprint);
	FUZZ_CHECK(fp != NULL);
	v = cJSON_GetStringValue(cJSON_GetObjectItem(fp, "name"));
	FUZZ_CHECK(v != NULL && strcmp(v, o->name) == 0);
	v = cJSON_GetStringValue(cJSON_GetObjectItem(fp, "namespace"));
	FUZZ_CHECK(v != NULL && strcmp(v, o->ns) == 0);
	cJSON_Delete(fp);
	switch (o->kind) {
	case K8S_SERVICE:
		if (o->svc.skip_reason != NULL)
			break;
		for (i = 0; i < o->svc.n_ports; i++) {
			FUZZ_CHECK(o->svc.ports[i].name != NULL);
			FUZZ_CHECK(k8s_proto_str(o->svc.ports[i].protocol) != NULL);
		}
		break;
	case K8S_ENDPOINTSLICE:
	case K8S_ENDPOINTS:
		for (i = 0; i < o->n_slices; i++) {
			for (j = 0; j < o->slices[i].n_ports; j++)
				FUZZ_CHECK(o->slices[i].ports[j].name != NULL);
			for (j = 0; j < o->slices[i].n_endpoints; j++) {
				const struct k8s_endpoint *ep =
				    &o->slices[i].endpoints[j];
				sa_family_t f = ep->addr.sa.sa_family;

				FUZZ_CHECK(f == AF_INET || f == AF_INET6);
				FUZZ_CHECK(ep->node != NULL && ep->zone != NULL);
				FUZZ_CHECK(ep->n_zone_hints <=
				    BOUND_HINTS_PER_ENDPOINT);
				FUZZ_CHECK(ep->n_node_hints <=
				    BOUND_HINTS_PER_ENDPOINT);
				FUZZ_CHECK((ep->conditions & ~7u) == 0);
			}
		}
		break;
	case K8S_NODE:
		FUZZ_CHECK(o->node.zone != NULL && *o->ns == '\0');
		break;
	default:
		FUZZ_CHECK(!"unknown kind");
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct k8s_object *a = NULL, *b = NULL;
	char name[512], err[256];
	cJSON *json;
	int rc, rc2;

	if ((json = cJSON_ParseWithLength((const char *)data, size)) == NULL)
		return 0;
	name[0] = err[0] = '\0';
	rc = k8s_decode(json, &a, name, sizeof(name), err, sizeof(err));
	FUZZ_CHECK(rc >= -1 && rc <= 1);
	FUZZ_CHECK(memchr(name, '\0', sizeof(name)) != NULL);
	if (rc == 1) {
		FUZZ_CHECK(a != NULL);
		check_object(a);
		rc2 = k8s_decode(json, &b, name, sizeof(name), err, sizeof(err));
		FUZZ_CHECK(rc2 == 1 && b != NULL);
		FUZZ_CHECK(strcmp(a->fingerprint, b->fingerprint) == 0);
		k8s_object_free(b);
		k8s_object_free(a);
	} else {
		FUZZ_CHECK(a == NULL);
		FUZZ_CHECK(err[0] != '\0');
	}
	cJSON_Delete(json);
	return 0;
}
