/*
 * test_k8s.c - the object decoder (src/k8s.c) on the API samples, on a
 * YAML manifest, on broken objects, and on every single-value mutation of
 * the samples (it must never crash or leak).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "k8s.h"
#include "util.h"
#include "yamljson.h"

static char err[256], name[256];

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	if (f == NULL)
		fail_msg("cannot open %s", path);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	rewind(f);
	buf = xcalloc(1, n + 1);
	assert_int_equal(fread(buf, 1, n, f), (size_t)n);
	fclose(f);
	if (len != NULL)
		*len = n;
	return buf;
}

static cJSON *
load(const char *file)
{
	char *path = xasprintf("%s/%s", SAMPLES_DIR, file);
	char *text = slurp(path, NULL);
	cJSON *j = cJSON_Parse(text);

	if (j == NULL)
		fail_msg("%s: not JSON", path);
	free(text);
	free(path);
	return j;
}

/*
 * Items of a *List carry no kind/apiVersion on the wire: the list source
 * fills them in from the list, as this does.
 */
static cJSON *
list_item(const char *file, const char *item_name, const char *kind,
    const char *api)
{
	cJSON *list = load(file), *it, *copy = NULL;

	cJSON_ArrayForEach(it, cJSON_GetObjectItem(list, "items")) {
		const cJSON *meta = cJSON_GetObjectItem(it, "metadata");

		if (strcmp(cJSON_GetObjectItem(meta, "name")->valuestring,
		    item_name) == 0)
			copy = cJSON_Duplicate(it, 1);
	}
	cJSON_Delete(list);
	if (copy == NULL)
		fail_msg("%s: no item %s", file, item_name);
	cJSON_AddStringToObject(copy, "kind", kind);
	cJSON_AddStringToObject(copy, "apiVersion", api);
	return copy;
}

/* Decode and expect rc; returns the object (rc 1) for the caller to free. */
static struct k8s_object *
decode(const cJSON *j, int want_rc)
{
	struct k8s_object *obj = NULL;
	int rc;

	rc = k8s_decode(j, &obj, name, sizeof(name), err, sizeof(err));
	if (rc != want_rc)
		fail_msg("k8s_decode returned %d, want %d (%s: %s)", rc,
		    want_rc, name, err);
	if (rc != 1)
		assert_null(obj);
	else
		assert_non_null(obj);
	return obj;
}

static struct k8s_object *
decode_file(const char *file)
{
	cJSON *j = load(file);
	struct k8s_object *obj = decode(j, 1);

	cJSON_Delete(j);
	return obj;
}

static struct k8s_object *
decode_item(const char *file, const char *item_name, const char *kind,
    const char *api)
{
	cJSON *j = list_item(file, item_name, kind, api);
	struct k8s_object *obj = decode(j, 1);

	cJSON_Delete(j);
	return obj;
}

/* Endpoints that took new traffic before issue 12: ready, not terminating. */
static int
usable_ep(const struct k8s_endpoint *ep)
{
	return (ep->conditions & (K8S_EP_READY | K8S_EP_TERMINATING)) ==
	    K8S_EP_READY;
}

static size_t
n_usable(const struct k8s_slice *sl)
{
	size_t i, n = 0;

	for (i = 0; i < sl->n_endpoints; i++)
		n += usable_ep(&sl->endpoints[i]);
	return n;
}

static const union addr *
usable(const struct k8s_slice *sl, size_t which)
{
	size_t i;

	for (i = 0; i < sl->n_endpoints; i++)
		if (usable_ep(&sl->endpoints[i]) && which-- == 0)
			return &sl->endpoints[i].addr;
	fail_msg("no usable endpoint %zu", which);
	return NULL;
}

static void
assert_ip(const union addr *a, const char *want)
{
	char buf[ADDR_STRLEN];

	assert_string_equal(addr_str(a, 0, buf, sizeof(buf)), want);
	assert_int_equal(addr_port(a), 0);
}

static void
assert_sport(const struct k8s_service_port *p, const char *pname,
    enum k8s_proto proto, unsigned port, unsigned node_port)
{
	assert_string_equal(p->name, pname);
	assert_int_equal(p->protocol, proto);
	assert_int_equal(p->port, port);
	assert_int_equal(p->node_port, node_port);
}

static void
assert_eport(const struct k8s_endpoint_port *p, const char *pname,
    enum k8s_proto proto, unsigned port)
{
	assert_string_equal(p->name, pname);
	assert_int_equal(p->protocol, proto);
	assert_int_equal(p->port, port);
}

static void
test_service_nodeport(void **state)
{
	struct k8s_object *o;

	(void)state;
	o = decode_file("service-nodeport.json");
	assert_string_equal(name, "default/my-service");
	assert_int_equal(o->kind, K8S_SERVICE);
	assert_string_equal(o->ns, "default");
	assert_string_equal(o->name, "my-service");
	assert_string_equal(o->resource_version, "41877");
	assert_null(o->svc.skip_reason);
	assert_string_equal(o->svc.type, "NodePort");
	assert_int_equal(o->svc.n_cluster_ips, 1);
	assert_ip(&o->svc.cluster_ips[0], "10.96.45.201");
	assert_int_equal(o->svc.n_external_ips, 0);
	assert_int_equal(o->svc.n_lb_ips, 0);
	assert_int_equal(o->svc.affinity_client_ip, 0);
	assert_int_equal(o->svc.affinity_timeout, 10800);
	assert_int_equal(o->svc.n_ports, 1);
	/* The port has no name in the sample: "" (never NULL). */
	assert_sport(&o->svc.ports[0], "", K8S_PROTO_TCP, 80, 30007);
	assert_non_null(o->fingerprint);
	assert_null(strstr(o->fingerprint, "41877"));
	k8s_object_free(o);
}

static void
test_service_loadbalancer(void **state)
{
	struct k8s_object *o;

	(void)state;
	o = decode_file("service-loadbalancer.json");
	assert_string_equal(o->svc.type, "LoadBalancer");
	assert_ip(&o->svc.cluster_ips[0], "10.0.171.239");
	assert_int_equal(o->svc.n_external_ips, 1);
	assert_ip(&o->svc.external_ips[0], "80.11.12.10");
	/* The hostname-only ingress entry is not an IP: ignored. */
	assert_int_equal(o->svc.n_lb_ips, 1);
	assert_ip(&o->svc.lb_ips[0], "192.0.2.127");
	assert_int_equal(o->svc.n_ports, 2);
	assert_sport(&o->svc.ports[0], "http", K8S_PROTO_TCP, 80, 31380);
	assert_sport(&o->svc.ports[1], "https", K8S_PROTO_TCP, 443, 31390);
	k8s_object_free(o);
}

static void
test_service_skipped(void **state)
{
	struct k8s_object *o;

	(void)state;
	o = decode_file("service-headless.json");
	assert_string_equal(o->svc.skip_reason, "headless (clusterIP None)");
	assert_string_equal(name, "default/db");
	assert_int_equal(o->svc.affinity_timeout, 10800);
	k8s_object_free(o);

	o = decode_file("service-externalname.json");
	assert_string_equal(o->svc.skip_reason, "type ExternalName");
	assert_string_equal(o->svc.type, "ExternalName");
	assert_string_equal(name, "prod/my-service");
	assert_int_equal(o->svc.n_ports, 0);
	k8s_object_free(o);
}

static void
test_service_affinity(void **state)
{
	struct k8s_object *o;
	cJSON *j;

	(void)state;
	o = decode_file("service-sessionaffinity-clientip.json");
	assert_int_equal(o->svc.affinity_client_ip, 1);
	assert_int_equal(o->svc.affinity_timeout, 10800);
	assert_int_equal(o->svc.n_ports, 2);
	assert_sport(&o->svc.ports[0], "http", K8S_PROTO_TCP, 8080, 0);
	assert_sport(&o->svc.ports[1], "syslog", K8S_PROTO_UDP, 514, 0);
	k8s_object_free(o);

	j = load("service-sessionaffinity-clientip.json");
	cJSON_SetNumberValue(cJSON_GetObjectItem(cJSON_GetObjectItem(
	    cJSON_GetObjectItem(cJSON_GetObjectItem(j, "spec"),
	    "sessionAffinityConfig"), "clientIP"), "timeoutSeconds"), 60);
	o = decode(j, 1);
	assert_int_equal(o->svc.affinity_timeout, 60);
	k8s_object_free(o);
	cJSON_Delete(j);
}

static void
test_service_dualstack_sctp(void **state)
{
	struct k8s_object *o;

	(void)state;
	o = decode_file("service-dualstack-sctp.json");
	assert_string_equal(name, "telco/sig");
	assert_int_equal(o->svc.n_cluster_ips, 2);
	assert_ip(&o->svc.cluster_ips[0], "10.96.8.8");
	assert_ip(&o->svc.cluster_ips[1], "fd00:10:96::808");
	assert_int_equal(o->svc.n_ports, 1);
	/* SCTP is not an error: the store skips the port with a reason. */
	assert_sport(&o->svc.ports[0], "sctp", K8S_PROTO_OTHER, 3868, 0);
	assert_string_equal(k8s_proto_str(o->svc.ports[0].protocol),
	    "SCTP");
	k8s_object_free(o);
}

static void
test_service_list(void **state)
{
	struct k8s_object *o;

	(void)state;
	o = decode_item("service-list.json", "kube-dns", "Service", "v1");
	assert_string_equal(name, "kube-system/kube-dns");
	assert_ip(&o->svc.cluster_ips[0], "10.96.0.10");
	assert_int_equal(o->svc.n_ports, 3);
	assert_sport(&o->svc.ports[0], "dns", K8S_PROTO_UDP, 53, 0);
	assert_sport(&o->svc.ports[1], "dns-tcp", K8S_PROTO_TCP, 53, 0);
	assert_sport(&o->svc.ports[2], "metrics", K8S_PROTO_TCP, 9153, 0);
	k8s_object_free(o);

	o = decode_item("service-list.json", "db", "Service", "v1");
	assert_non_null(o->svc.skip_reason);
	k8s_object_free(o);

	/* managedFields do not disturb anything. */
	o = decode_item("service-list.json", "kubernetes", "Service", "v1");
	assert_sport(&o->svc.ports[0], "https", K8S_PROTO_TCP, 443, 0);
	assert_null(strstr(o->fingerprint, "managedFields"));
	k8s_object_free(o);

	o = decode_item("service-list.json", "cart", "Service", "v1");
	assert_string_equal(o->ns, "shop");
	assert_ip(&o->svc.cluster_ips[0], "10.96.33.12");
	k8s_object_free(o);
}

static void
test_endpointslices(void **state)
{
	const char *f = "endpointslice-list.json", *v = "discovery.k8s.io/v1";
	struct k8s_object *o;
	struct k8s_slice *sl;

	(void)state;
	o = decode_item(f, "kubernetes", "EndpointSlice", v);
	assert_int_equal(o->kind, K8S_ENDPOINTSLICE);
	assert_int_equal(o->n_slices, 1);
	sl = &o->slices[0];
	assert_string_equal(sl->service, "kubernetes");
	assert_int_equal(n_usable(sl), 1);
	assert_ip(usable(sl, 0), "10.0.0.10");
	assert_int_equal(sl->n_ports, 1);
	assert_eport(&sl->ports[0], "https", K8S_PROTO_TCP, 6443);
	assert_string_equal(o->resource_version, "197");
	k8s_object_free(o);

	/* Two ready endpoints; the terminating one is left out. */
	o = decode_item(f, "web-4xr7d", "EndpointSlice", v);
	assert_string_equal(name, "default/web-4xr7d");
	sl = &o->slices[0];
	assert_string_equal(sl->service, "web");
	assert_int_equal(n_usable(sl), 2);
	assert_ip(usable(sl, 0), "10.244.1.7");
	assert_ip(usable(sl, 1), "10.244.2.4");
	assert_int_equal(sl->n_ports, 2);
	assert_eport(&sl->ports[0], "https", K8S_PROTO_TCP, 8443);
	assert_eport(&sl->ports[1], "http", K8S_PROTO_TCP, 8080);
	k8s_object_free(o);

	/* Not ready: no endpoints, but the ports are known. */
	o = decode_item(f, "web-q7lmn", "EndpointSlice", v);
	assert_int_equal(n_usable(&o->slices[0]), 0);
	assert_int_equal(o->slices[0].n_ports, 2);
	assert_eport(&o->slices[0].ports[1], "http", K8S_PROTO_TCP, 8081);
	k8s_object_free(o);

	o = decode_item(f, "kube-dns-8h2xq", "EndpointSlice", v);
	assert_int_equal(n_usable(&o->slices[0]), 2);
	assert_eport(&o->slices[0].ports[1], "dns", K8S_PROTO_UDP, 53);
	k8s_object_free(o);

	/* The controller's placeholder: "endpoints": null, "ports": null. */
	o = decode_item(f, "cart-z9wfp", "EndpointSlice", v);
	assert_string_equal(o->slices[0].service, "cart");
	assert_int_equal(n_usable(&o->slices[0]), 0);
	assert_int_equal(o->slices[0].n_ports, 0);
	k8s_object_free(o);
}

static void
test_endpoints(void **state)
{
	const char *f = "endpoints-list.json";
	struct k8s_object *o;

	(void)state;
	/* web: one subset per port set; the not-ready one has no endpoints. */
	o = decode_item(f, "web", "Endpoints", "v1");
	assert_int_equal(o->kind, K8S_ENDPOINTS);
	assert_int_equal(o->n_slices, 2);
	assert_string_equal(o->slices[0].service, "web");
	assert_int_equal(n_usable(&o->slices[0]), 2);
	assert_ip(usable(&o->slices[0], 0), "10.244.1.7");
	assert_ip(usable(&o->slices[0], 1), "10.244.2.4");
	assert_int_equal(o->slices[0].n_ports, 2);
	assert_eport(&o->slices[0].ports[0], "https", K8S_PROTO_TCP, 8443);
	assert_eport(&o->slices[0].ports[1], "http", K8S_PROTO_TCP, 8080);
	assert_string_equal(o->slices[1].service, "web");
	assert_int_equal(n_usable(&o->slices[1]), 0);
	assert_eport(&o->slices[1].ports[1], "http", K8S_PROTO_TCP, 8081);
	k8s_object_free(o);

	o = decode_item(f, "kube-dns", "Endpoints", "v1");
	assert_int_equal(o->n_slices, 1);
	assert_eport(&o->slices[0].ports[1], "dns", K8S_PROTO_UDP, 53);
	k8s_object_free(o);

	/* No subsets key at all. */
	o = decode_item(f, "cart", "Endpoints", "v1");
	assert_int_equal(o->n_slices, 0);
	assert_non_null(o->fingerprint);
	k8s_object_free(o);
}

/* Every object event of the watch samples decodes. */
static void
test_watch_samples(void **state)
{
	const char *files[] = { "watch-services.jsonl",
	    "watch-endpointslices.jsonl" };
	struct k8s_object *o;
	char *text, *line, *save = NULL;
	size_t i, n = 0;

	(void)state;
	for (i = 0; i < nitems(files); i++) {
		char *path = xasprintf("%s/%s", SAMPLES_DIR, files[i]);

		text = slurp(path, NULL);
		free(path);
		for (line = strtok_r(text, "\n", &save); line != NULL;
		    line = strtok_r(NULL, "\n", &save)) {
			cJSON *ev = cJSON_Parse(line);
			const char *type = cJSON_GetStringValue(
			    cJSON_GetObjectItem(ev, "type"));

			assert_non_null(type);
			if (strcmp(type, "BOOKMARK") != 0) {
				o = decode(cJSON_GetObjectItem(ev, "object"), 1);
				assert_non_null(o->fingerprint);
				k8s_object_free(o);
				n++;
			}
			cJSON_Delete(ev);
		}
		free(text);
	}
	assert_true(n >= 8);
}

/* The YAML path: manifest.yaml through yamljson.c, then the decoder. */
static void
test_yaml_manifest(void **state)
{
	struct k8s_object *o;
	cJSON *docs;
	char *text;
	size_t len;

	(void)state;
	text = slurp(TESTDATA_DIR "/decoder/manifest.yaml", &len);
	docs = yaml_parse_stream(text, len, err, sizeof(err));
	free(text);
	assert_non_null(docs);
	assert_int_equal(cJSON_GetArraySize(docs), 3);

	o = decode(cJSON_GetArrayItem(docs, 0), 1);
	assert_string_equal(name, "default/web");	/* namespace omitted */
	assert_string_equal(o->ns, "default");
	assert_string_equal(o->resource_version, "");
	assert_string_equal(o->svc.type, "NodePort");
	assert_ip(&o->svc.cluster_ips[0], "198.18.0.10");
	assert_int_equal(o->svc.affinity_client_ip, 1);
	assert_int_equal(o->svc.affinity_timeout, 600);
	assert_sport(&o->svc.ports[0], "http", K8S_PROTO_TCP, 80, 30080);
	assert_sport(&o->svc.ports[1], "dns", K8S_PROTO_UDP, 53, 0);
	k8s_object_free(o);

	o = decode(cJSON_GetArrayItem(docs, 1), 1);
	assert_int_equal(n_usable(&o->slices[0]), 2);
	assert_ip(usable(&o->slices[0], 1), "198.18.1.12");
	assert_eport(&o->slices[0].ports[0], "http", K8S_PROTO_TCP, 8080);
	assert_eport(&o->slices[0].ports[1], "dns", K8S_PROTO_UDP, 5353);
	k8s_object_free(o);

	decode(cJSON_GetArrayItem(docs, 2), 0);
	assert_non_null(strstr(err, "Deployment"));
	assert_string_equal(name, "default/web");
	cJSON_Delete(docs);
}

/*
 * Broken or unused objects: the return value and a word of the message.
 * Templates get "spec" / slice bodies spliced in.
 */
struct bad_case {
	const char	*json;
	int		 rc;
	const char	*msg;
};

#define SVC(spec) "{\"kind\":\"Service\",\"apiVersion\":\"v1\"," \
	"\"metadata\":{\"name\":\"s\"},\"spec\":" spec "}"
#define SLICE(body) "{\"kind\":\"EndpointSlice\",\"apiVersion\":" \
	"\"discovery.k8s.io/v1\",\"metadata\":{\"name\":\"x\",\"labels\":" \
	"{\"kubernetes.io/service-name\":\"s\"}}," body "}"
#define EPS(body) "{\"kind\":\"Endpoints\",\"apiVersion\":\"v1\"," \
	"\"metadata\":{\"name\":\"s\",\"namespace\":\"n\"}," body "}"

#define NODE(body) "{\"kind\":\"Node\",\"apiVersion\":\"v1\"," body "}"
#define SLICE1(ep) SLICE("\"addressType\":\"IPv4\",\"endpoints\":[" ep "]")

static const struct bad_case bad_cases[] = {
	/* issue 12: traffic policies, health check, source ranges, ipMode */
	{ SVC("{\"type\":\"NodePort\",\"externalTrafficPolicy\":\"local\"}"),
	    -1, "spec.externalTrafficPolicy: \"local\" is not Cluster or Local" },
	{ SVC("{\"internalTrafficPolicy\":\"Node\"}"), -1,
	    "spec.internalTrafficPolicy: \"Node\" is not Cluster or Local" },
	{ SVC("{\"internalTrafficPolicy\":7}"), -1,
	    "spec.internalTrafficPolicy: 7 is not a string" },
	{ SVC("{\"type\":\"LoadBalancer\",\"externalTrafficPolicy\":"
	    "\"Local\",\"healthCheckNodePort\":65536}"), -1,
	    "spec.healthCheckNodePort: 65536 is not a valid port" },
	{ SVC("{\"healthCheckNodePort\":\"32000\"}"), -1,
	    "spec.healthCheckNodePort: \"32000\" is not a number" },
	{ SVC("{\"loadBalancerSourceRanges\":[\"10.0.0.0/33\"]}"), -1,
	    "spec.loadBalancerSourceRanges[0]: \"10.0.0.0/33\" is not a CIDR" },
	{ SVC("{\"loadBalancerSourceRanges\":[\"10.0.0.0/8\",\"10.0.0.1\"]}"),
	    -1, "spec.loadBalancerSourceRanges[1]: \"10.0.0.1\" is not a CIDR" },
	{ SVC("{\"loadBalancerSourceRanges\":[\"any\"]}"), -1,
	    "spec.loadBalancerSourceRanges[0]: \"any\" is not a CIDR" },
	{ SVC("{\"loadBalancerSourceRanges\":[\"/8\"]}"), -1,
	    "spec.loadBalancerSourceRanges[0]: \"/8\" is not a CIDR" },
	{ SVC("{\"loadBalancerSourceRanges\":[[]]}"), -1,
	    "spec.loadBalancerSourceRanges[0]: an array is not a string" },
	{ SVC("{\"loadBalancerSourceRanges\":\"10.0.0.0/8\"}"), -1,
	    "spec.loadBalancerSourceRanges: \"10.0.0.0/8\" is not an array" },
	{ SVC("{\"trafficDistribution\":true}"), -1,
	    "spec.trafficDistribution: true is not a string" },
	{ "{\"kind\":\"Service\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":"
	    "\"s\"},\"spec\":{},\"status\":{\"loadBalancer\":{\"ingress\":[{"
	    "\"ip\":\"192.0.2.1\",\"ipMode\":\"Tunnel\"}]}}}", -1,
	    "status.loadBalancer.ingress[0].ipMode: \"Tunnel\" is not VIP or "
	    "Proxy" },
	/* issue 12: endpoint conditions, placement and hints */
	{ SLICE1("{\"addresses\":[\"10.1.0.1\"],\"conditions\":"
	    "{\"serving\":\"no\"}}"), -1,
	    "endpoints[0].conditions.serving: \"no\" is not a boolean" },
	{ SLICE1("{\"addresses\":[\"10.1.0.1\"],\"nodeName\":\"Node_1\"}"),
	    -1, "endpoints[0].nodeName: \"Node_1\"" },
	{ SLICE1("{\"addresses\":[\"10.1.0.1\"],\"zone\":\"a b\"}"),
	    -1, "endpoints[0].zone: \"a b\"" },
	{ SLICE1("{\"addresses\":[\"10.1.0.1\"],\"hints\":[]}"), -1,
	    "endpoints[0].hints: an array is not an object" },
	{ SLICE1("{\"addresses\":[\"10.1.0.1\"],\"hints\":{\"forZones\":"
	    "[{\"name\":\"\"}]}}"), -1,
	    "endpoints[0].hints.forZones[0].name: \"\" is empty" },
	{ SLICE1("{\"addresses\":[\"10.1.0.1\"],\"hints\":{\"forNodes\":"
	    "[\"n1\"]}}"), -1,
	    "endpoints[0].hints.forNodes[0]: \"n1\" is not an object" },
	{ SLICE1("{\"addresses\":[\"10.1.0.1\"],\"hints\":{\"forZones\":"
	    "[{\"name\":\"a\"},{\"name\":\"b\"},{\"name\":\"c\"},"
	    "{\"name\":\"d\"},{\"name\":\"e\"},{\"name\":\"f\"},"
	    "{\"name\":\"g\"},{\"name\":\"h\"},{\"name\":\"i\"}]}}"), -1,
	    "endpoints[0].hints.forZones: 9 hints, more than the bound of 8 "
	    "(BOUND_HINTS_PER_ENDPOINT)" },
	{ SLICE("\"addressType\":\"IPv6\",\"endpoints\":[{\"addresses\":"
	    "[\"10.1.0.1\"]}]"), -1,
	    "endpoints[0].addresses[0]: \"10.1.0.1\" is not an IPv6 address" },
	{ EPS("\"subsets\":[{\"notReadyAddresses\":[{\"ip\":\"x\"}]}]"), -1,
	    "subsets[0].notReadyAddresses[0].ip: \"x\" is not an IP address" },
	{ EPS("\"subsets\":[{\"addresses\":[{\"ip\":\"10.1.0.1\","
	    "\"nodeName\":\"-bad\"}]}]"), -1,
	    "subsets[0].addresses[0].nodeName: \"-bad\"" },
	/* issue 12: Node */
	{ NODE("\"metadata\":{\"name\":\"n1\",\"labels\":{"
	    "\"topology.kubernetes.io/zone\":7}}"), -1,
	    "metadata.labels.topology.kubernetes.io/zone: 7 is not a string" },
	{ NODE("\"metadata\":{\"name\":\"n1\",\"labels\":{"
	    "\"topology.kubernetes.io/zone\":\"zone a\"}}"), -1,
	    "metadata.labels.topology.kubernetes.io/zone: \"zone a\"" },
	{ NODE("\"metadata\":{\"name\":\"n1\"},\"spec\":{\"taints\":[7]}"),
	    -1, "spec.taints[0]: 7 is not an object" },
	{ NODE("\"metadata\":{\"name\":\"N1\"}"), -1,
	    "metadata.name: \"N1\"" },
	{ NODE("\"metadata\":{\"name\":\"n1\",\"deletionTimestamp\":5}"),
	    -1, "metadata.deletionTimestamp: 5 is not a string" },
	{ "{\"kind\":\"Node\",\"apiVersion\":\"v2\",\"metadata\":"
	    "{\"name\":\"n1\"}}", 0, "Node: unsupported apiVersion \"v2\"" },
	{ SVC("{\"clusterIP\":\"1.2.3\"}"), -1,
	    "spec.clusterIP: \"1.2.3\" is not an IP address" },
	{ SVC("{\"clusterIPs\":[\"10.0.0.1\",\"fd00::zz\"]}"), -1,
	    "spec.clusterIPs[1]: \"fd00::zz\" is not an IP address" },
	{ SVC("{\"clusterIP\":\"10.0.0.1\",\"externalIPs\":[\"10.1.1.1\","
	    "\"1.2.3\"]}"), -1,
	    "spec.externalIPs[1]: \"1.2.3\" is not an IP address" },
	{ SVC("{\"externalIPs\":[\"example.com\"]}"), -1, "externalIPs[0]" },
	{ SVC("{\"externalIPs\":\"10.0.0.1\"}"), -1,
	    "spec.externalIPs: \"10.0.0.1\" is not an array" },
	{ SVC("{\"ports\":[{\"port\":0}]}"), -1,
	    "spec.ports[0].port: 0 is not a valid port" },
	{ SVC("{\"ports\":[{\"port\":80},{\"port\":70000}]}"), -1,
	    "spec.ports[1].port: 70000 is not a valid port" },
	{ SVC("{\"ports\":[{\"port\":\"80\"}]}"), -1,
	    "spec.ports[0].port: \"80\" is not a number" },
	{ SVC("{\"ports\":[{\"port\":80.5}]}"), -1,
	    "spec.ports[0].port: 80.5 is not a valid port" },
	{ SVC("{\"ports\":[{\"port\":true}]}"), -1,
	    "spec.ports[0].port: true is not a number" },
	{ SVC("{\"ports\":[{\"port\":-1}]}"), -1, "is not a valid port" },
	{ SVC("{\"ports\":[{\"name\":\"a\"}]}"), -1,
	    "spec.ports[0].port: missing" },
	{ SVC("{\"ports\":[{\"port\":80,\"nodePort\":65536}]}"), -1,
	    "spec.ports[0].nodePort: 65536 is not a valid port" },
	{ SVC("{\"ports\":[{\"port\":80,\"name\":7}]}"), -1,
	    "spec.ports[0].name: 7 is not a string" },
	{ SVC("{\"ports\":[{\"port\":80,\"protocol\":[]}]}"), -1,
	    "spec.ports[0].protocol: an array is not a string" },
	{ SVC("{\"ports\":[{\"port\":80,\"protocol\":\"BOGUS\"}]}"), -1,
	    "spec.ports[0].protocol: \"BOGUS\" is not TCP, UDP or SCTP" },
	{ SVC("{\"ports\":{\"port\":80}}"), -1,
	    "spec.ports: an object is not an array" },
	{ SVC("{\"ports\":[80]}"), -1, "spec.ports[0]: 80 is not an object" },
	{ SVC("{\"sessionAffinity\":\"ClientIP\",\"sessionAffinityConfig\":"
	    "{\"clientIP\":{\"timeoutSeconds\":0}}}"), -1,
	    "spec.sessionAffinityConfig.clientIP.timeoutSeconds: 0 is not "
	    "within 1..86400" },
	{ SVC("{\"sessionAffinity\":\"ClientIP\",\"sessionAffinityConfig\":"
	    "{\"clientIP\":{\"timeoutSeconds\":86401}}}"), -1, "86401" },
	{ SVC("{\"sessionAffinity\":\"Sticky\"}"), -1,
	    "spec.sessionAffinity: \"Sticky\" is not None or ClientIP" },
	{ SVC("[]"), -1, "spec: an array is not an object" },
	{ SVC("{\"type\":5}"), -1, "spec.type: 5 is not a string" },
	{ "{\"kind\":\"Service\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":"
	    "\"s\"},\"status\":{\"loadBalancer\":{\"ingress\":[{\"ip\":\"x\"}]}}}",
	    -1, "status.loadBalancer.ingress[0].ip: \"x\" is not an IP" },
	{ "{\"kind\":\"Service\",\"apiVersion\":\"v1\",\"metadata\":{}}", -1,
	    "metadata.name: missing" },
	{ "{\"kind\":\"Service\",\"apiVersion\":\"v1\"}", -1,
	    "metadata.name: missing" },
	{ "{\"kind\":\"Service\",\"apiVersion\":\"v1\",\"metadata\":[]}", -1,
	    "metadata: an array is not an object" },
	{ "{\"kind\":\"Service\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":"
	    "\"s\",\"namespace\":1}}", -1,
	    "metadata.namespace: 1 is not a string" },
	{ "{\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"s\"}}", -1,
	    "kind: missing" },
	{ "{\"kind\":[],\"metadata\":{\"name\":\"s\"}}", -1,
	    "kind: an array is not a string" },
	{ "[1]", -1, "not a JSON object" },
	{ "{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":"
	    "\"p\"}}", 0, "Pod" },
	{ "{\"kind\":\"Service\",\"apiVersion\":\"v2\",\"metadata\":{\"name\":"
	    "\"s\"}}", 0, "unsupported apiVersion \"v2\"" },
	{ "{\"kind\":\"EndpointSlice\",\"apiVersion\":\"discovery.k8s.io/"
	    "v1beta1\",\"metadata\":{\"name\":\"x\"}}", 0,
	    "unsupported apiVersion \"discovery.k8s.io/v1beta1\"" },
	{ "{\"kind\":\"EndpointSlice\",\"apiVersion\":\"discovery.k8s.io/v1\","
	    "\"metadata\":{\"name\":\"x\"}}", 0, "not owned by a Service" },
	{ SLICE("\"addressType\":\"FQDN\",\"endpoints\":[{\"addresses\":"
	    "[\"a.example\"]}]"), 0, "FQDN" },
	{ SLICE("\"endpoints\":[{\"addresses\":[\"1.2.3\"]}]"), -1,
	    "endpoints[0].addresses[0]: \"1.2.3\" is not an IP address" },
	{ SLICE("\"addressType\":\"IPv4\",\"endpoints\":[{\"addresses\":"
	    "[\"fd00::1\"]}]"), -1, "is not an IPv4 address" },
	{ SLICE("\"endpoints\":[{\"addresses\":\"10.0.0.1\"}]"), -1,
	    "endpoints[0].addresses: \"10.0.0.1\" is not an array" },
	{ SLICE("\"endpoints\":[{\"addresses\":[\"10.0.0.1\"],\"conditions\":"
	    "{\"ready\":\"yes\"}}]"), -1,
	    "endpoints[0].conditions.ready: \"yes\" is not a boolean" },
	{ SLICE("\"ports\":[{\"port\":0}]"), -1,
	    "ports[0].port: 0 is not a valid port" },
	{ SLICE("\"ports\":[{\"name\":\"a\",\"port\":1},{\"port\":65536}]"),
	    -1, "ports[1].port: 65536 is not a valid port" },
	{ SLICE("\"ports\":[{\"port\":\"http\"}]"), -1,
	    "ports[0].port: \"http\" is not a number" },
	{ SLICE("\"endpoints\":{}"), -1, "endpoints: an object is not an array" },
	{ EPS("\"subsets\":[{\"addresses\":[{\"ip\":\"300.1.1.1\"}]}]"), -1,
	    "subsets[0].addresses[0].ip: \"300.1.1.1\" is not an IP address" },
	{ EPS("\"subsets\":[{},{\"addresses\":[{}]}]"), -1,
	    "subsets[1].addresses[0].ip: missing" },
	{ EPS("\"subsets\":[{\"ports\":[{\"port\":99999}]}]"), -1,
	    "subsets[0].ports[0].port: 99999 is not a valid port" },
	{ EPS("\"subsets\":5"), -1, "subsets: 5 is not an array" },
	/* Issue 11: values kube-apiserver refuses. */
	{ SVC("{\"clusterIP\":\"127.0.0.1\",\"ports\":[{\"port\":80}]}"), -1,
	    "spec.clusterIP: \"127.0.0.1\" is a loopback address" },
	{ SVC("{\"clusterIPs\":[\"198.19.0.1\",\"::\"]}"), -1,
	    "spec.clusterIPs[1]: \"::\" is an unspecified address" },
	{ SVC("{\"externalIPs\":[\"127.0.0.1\"]}"), -1,
	    "spec.externalIPs[0]: \"127.0.0.1\" is a loopback address" },
	{ SVC("{\"externalIPs\":[\"169.254.169.254\"]}"), -1,
	    "is a link-local address" },
	{ SVC("{\"externalIPs\":[\"224.0.0.251\"]}"), -1,
	    "is a multicast address" },
	{ "{\"kind\":\"Service\",\"apiVersion\":\"v1\",\"metadata\":"
	    "{\"name\":\"s\"},\"spec\":{},\"status\":{\"loadBalancer\":"
	    "{\"ingress\":[{\"ip\":\"0.0.0.0\"}]}}}", -1,
	    "status.loadBalancer.ingress[0].ip: \"0.0.0.0\" is an unspecified" },
	{ SLICE("\"endpoints\":[{\"addresses\":[\"169.254.169.254\"]}]"), -1,
	    "endpoints[0].addresses[0]: \"169.254.169.254\" is a link-local" },
	{ EPS("\"subsets\":[{\"addresses\":[{\"ip\":\"ff02::1\"}]}]"), -1,
	    "subsets[0].addresses[0].ip: \"ff02::1\" is a multicast address" },
	{ SVC("{\"ports\":[{\"name\":\"HTTP\",\"port\":80}]}"), -1,
	    "spec.ports[0].name: \"HTTP\" must start and end with a lower" },
	{ SLICE("\"ports\":[{\"name\":\"a_b\",\"port\":80}]"), -1,
	    "ports[0].name: \"a_b\" must consist of" },
	{ "{\"kind\":\"Service\",\"apiVersion\":\"v1\",\"metadata\":"
	    "{\"name\":\"web.x\"}}", -1,
	    "metadata.name: \"web.x\" (5 characters) must consist of" },
	{ "{\"kind\":\"Service\",\"apiVersion\":\"v1\",\"metadata\":"
	    "{\"name\":\"s\",\"namespace\":\"Kube_System\"}}", -1,
	    "metadata.namespace: \"Kube_System\"" },
	{ "{\"kind\":\"EndpointSlice\",\"apiVersion\":\"discovery.k8s.io/v1\","
	    "\"metadata\":{\"name\":\"x..y\",\"labels\":"
	    "{\"kubernetes.io/service-name\":\"s\"}}}", -1,
	    "metadata.name: \"x..y\"" },
	{ "{\"kind\":\"EndpointSlice\",\"apiVersion\":\"discovery.k8s.io/v1\","
	    "\"metadata\":{\"name\":\"x\",\"labels\":"
	    "{\"kubernetes.io/service-name\":\"a b\"}}}", -1,
	    "kubernetes.io/service-name: \"a b\" must consist of" },
	{ "{\"kind\":\"Endpoints\",\"apiVersion\":\"v1beta1\",\"metadata\":"
	    "{\"name\":\"s\"}}", 0, "apiVersion" },
};

/* Issue 12: policies, health check node port, distribution, ranges. */
static void
test_service_traffic(void **state)
{
	struct k8s_object *o;
	cJSON *j;
	char buf[64];

	(void)state;
	o = decode_file("service-loadbalancer.json");
	assert_int_equal(o->svc.external_local, 1);
	assert_int_equal(o->svc.internal_local, 0);
	assert_int_equal(o->svc.health_check_node_port, 32123);
	assert_int_equal(o->svc.n_source_ranges, 2);
	assert_string_equal(addr_prefix_str(&o->svc.source_ranges[0], buf,
	    sizeof(buf)), "203.0.113.0/24");
	assert_string_equal(addr_prefix_str(&o->svc.source_ranges[1], buf,
	    sizeof(buf)), "198.51.100.7/32");
	assert_string_equal(o->svc.traffic_distribution, "");
	k8s_object_free(o);

	/*
	 * Absent policies are Cluster; "Global" (before 1.5) is Cluster; a
	 * healthCheckNodePort of a NodePort Service is not kept, and eTP
	 * Local on a ClusterIP Service without externalIPs means nothing
	 * (apiservice.ExternalPolicyLocal).  Spaces around a range trimmed,
	 * host bits cleared, IPv6 ranges too.
	 */
	j = cJSON_Parse(SVC("{\"type\":\"NodePort\",\"externalTrafficPolicy\":"
	    "\"Global\",\"internalTrafficPolicy\":\"Local\","
	    "\"healthCheckNodePort\":30000,\"trafficDistribution\":"
	    "\"PreferSameNode\",\"loadBalancerSourceRanges\":[\" 10.1.2.3/8 \","
	    "\"2001:2::1/48\"]}"));
	o = decode(j, 1);
	assert_int_equal(o->svc.external_local, 0);
	assert_int_equal(o->svc.internal_local, 1);
	assert_int_equal(o->svc.health_check_node_port, 0);
	assert_string_equal(o->svc.traffic_distribution, "PreferSameNode");
	assert_int_equal(o->svc.n_source_ranges, 2);
	assert_string_equal(addr_prefix_str(&o->svc.source_ranges[0], buf,
	    sizeof(buf)), "10.0.0.0/8");
	assert_string_equal(addr_prefix_str(&o->svc.source_ranges[1], buf,
	    sizeof(buf)), "2001:2::/48");
	k8s_object_free(o);
	cJSON_Delete(j);

	j = cJSON_Parse(SVC("{\"type\":\"NodePort\",\"externalTrafficPolicy\":"
	    "\"Local\",\"healthCheckNodePort\":30000}"));
	o = decode(j, 1);
	assert_int_equal(o->svc.external_local, 1);
	assert_int_equal(o->svc.health_check_node_port, 0);
	k8s_object_free(o);
	cJSON_Delete(j);

	j = cJSON_Parse(SVC("{\"externalTrafficPolicy\":\"Local\"}"));
	o = decode(j, 1);
	assert_int_equal(o->svc.external_local, 0);
	k8s_object_free(o);
	cJSON_Delete(j);

	j = cJSON_Parse(SVC("{\"externalTrafficPolicy\":\"Local\","
	    "\"externalIPs\":[\"198.18.5.5\"]}"));
	o = decode(j, 1);
	assert_int_equal(o->svc.external_local, 1);
	k8s_object_free(o);
	cJSON_Delete(j);
}

/* ipMode Proxy: that ingress IP is not ours to capture; VIP is. */
static void
test_service_ipmode(void **state)
{
	struct k8s_object *o;
	cJSON *j;

	(void)state;
	j = cJSON_Parse("{\"kind\":\"Service\",\"apiVersion\":\"v1\","
	    "\"metadata\":{\"name\":\"s\"},\"spec\":{\"type\":\"LoadBalancer\","
	    "\"clusterIPs\":[\"198.18.0.1\",\"2001:2::1\"],\"ipFamilies\":"
	    "[\"IPv4\",\"IPv6\"],\"externalIPs\":[\"2001:2::5\","
	    "\"198.18.5.5\"]},\"status\":{\"loadBalancer\":{\"ingress\":["
	    "{\"ip\":\"198.18.9.1\",\"ipMode\":\"Proxy\"},"
	    "{\"ip\":\"198.18.9.2\",\"ipMode\":\"VIP\"},"
	    "{\"ip\":\"2001:2::9\"},{\"hostname\":\"lb.example\","
	    "\"ipMode\":\"Proxy\"},{\"ip\":\"2001:2::8\",\"ipMode\":null}]}}}");
	o = decode(j, 1);
	assert_int_equal(o->svc.n_cluster_ips, 2);
	assert_ip(&o->svc.cluster_ips[1], "2001:2::1");
	assert_int_equal(o->svc.n_external_ips, 2);
	assert_ip(&o->svc.external_ips[0], "2001:2::5");
	assert_int_equal(o->svc.n_lb_ips, 3);
	assert_ip(&o->svc.lb_ips[0], "198.18.9.2");
	assert_ip(&o->svc.lb_ips[1], "2001:2::9");
	assert_ip(&o->svc.lb_ips[2], "2001:2::8");
	k8s_object_free(o);
	cJSON_Delete(j);
}

static void
assert_ep(const struct k8s_endpoint *ep, const char *ip, unsigned cond,
    const char *node, const char *zone)
{
	assert_ip(&ep->addr, ip);
	assert_int_equal(ep->conditions, cond);
	assert_string_equal(ep->node, node);
	assert_string_equal(ep->zone, zone);
}

/* Every endpoint kept with kube-proxy's reading of its conditions. */
static void
test_endpoint_conditions(void **state)
{
	const unsigned R = K8S_EP_READY, S = K8S_EP_SERVING,
	    T = K8S_EP_TERMINATING;
	struct k8s_object *o;
	struct k8s_slice *sl;
	cJSON *j;

	(void)state;
	o = decode_item("endpointslice-list.json", "web-4xr7d",
	    "EndpointSlice", "discovery.k8s.io/v1");
	sl = &o->slices[0];
	assert_int_equal(sl->n_endpoints, 3);
	assert_int_equal(sl->endpoints[2].conditions, S | T);
	k8s_object_free(o);

	j = cJSON_Parse(SLICE("\"addressType\":\"IPv6\",\"endpoints\":["
	    "{\"addresses\":[\"2001:2::1\"],\"nodeName\":\"node-a\","
	    "\"zone\":\"zone-a\",\"hints\":{\"forZones\":[{\"name\":\"zone-a\"},"
	    "{\"name\":\"zone-b\"}],\"forNodes\":[{\"name\":\"node-a\"}]}},"
	    "{\"addresses\":[\"2001:2::2\"],\"conditions\":{}},"
	    "{\"addresses\":[\"2001:2::3\"],\"conditions\":{\"ready\":false,"
	    "\"serving\":true,\"terminating\":true},\"hints\":{}},"
	    "{\"addresses\":[\"2001:2::4\"],\"conditions\":{\"ready\":false,"
	    "\"terminating\":true}},"
	    "{\"addresses\":[\"2001:2::5\"],\"conditions\":{\"ready\":false,"
	    "\"serving\":false,\"terminating\":false},\"nodeName\":null},"
	    "{\"addresses\":[]},{}],\"ports\":[{\"port\":80}]"));
	o = decode(j, 1);
	sl = &o->slices[0];
	assert_int_equal(sl->n_endpoints, 5);
	assert_ep(&sl->endpoints[0], "2001:2::1", R | S, "node-a", "zone-a");
	assert_int_equal(sl->endpoints[0].n_zone_hints, 2);
	assert_string_equal(sl->endpoints[0].zone_hints[1], "zone-b");
	assert_int_equal(sl->endpoints[0].n_node_hints, 1);
	assert_string_equal(sl->endpoints[0].node_hints[0], "node-a");
	assert_ep(&sl->endpoints[1], "2001:2::2", R | S, "", "");
	assert_int_equal(sl->endpoints[1].n_zone_hints, 0);
	assert_ep(&sl->endpoints[2], "2001:2::3", S | T, "", "");
	/* serving absent is true (endpointslicecache.go, the API doc) */
	assert_ep(&sl->endpoints[3], "2001:2::4", S | T, "", "");
	assert_ep(&sl->endpoints[4], "2001:2::5", 0, "", "");
	k8s_object_free(o);
	cJSON_Delete(j);

	/* v1 Endpoints: addresses ready, notReadyAddresses not; nodeName. */
	j = cJSON_Parse(EPS("\"subsets\":[{\"addresses\":[{\"ip\":\"10.1.1.1\","
	    "\"nodeName\":\"node-a\"}],\"notReadyAddresses\":[{\"ip\":"
	    "\"10.1.1.2\",\"nodeName\":\"node-b\"}],\"ports\":[{\"port\":80}]}]"));
	o = decode(j, 1);
	sl = &o->slices[0];
	assert_int_equal(sl->n_endpoints, 2);
	assert_ep(&sl->endpoints[0], "10.1.1.1", R | S, "node-a", "");
	assert_ep(&sl->endpoints[1], "10.1.1.2", 0, "node-b", "");
	k8s_object_free(o);
	cJSON_Delete(j);
}

/* Node: zone, deletionTimestamp, the autoscaler's taint; no namespace. */
static void
test_node(void **state)
{
	struct k8s_object *o;
	char *fp;
	cJSON *j;

	(void)state;
	j = cJSON_Parse(NODE("\"metadata\":{\"name\":\"node-a\",\"namespace\":"
	    "\"ignored\",\"labels\":{\"topology.kubernetes.io/zone\":"
	    "\"zone-a\"}},\"spec\":{\"taints\":[{\"key\":\"other\","
	    "\"effect\":\"NoSchedule\"}]}"));
	o = decode(j, 1);
	assert_int_equal(o->kind, K8S_NODE);
	assert_string_equal(name, "node-a");
	assert_string_equal(o->ns, "");
	assert_string_equal(o->name, "node-a");
	assert_string_equal(o->node.zone, "zone-a");
	assert_int_equal(o->node.deleting, 0);
	fp = xstrdup(o->fingerprint);
	k8s_object_free(o);
	cJSON_Delete(j);

	j = cJSON_Parse(NODE("\"metadata\":{\"name\":\"node-a\",\"labels\":{"
	    "\"topology.kubernetes.io/zone\":\"zone-a\"}},\"spec\":{\"taints\":"
	    "[{\"key\":\"ToBeDeletedByClusterAutoscaler\",\"value\":\"1\","
	    "\"effect\":\"NoSchedule\"}]}"));
	o = decode(j, 1);
	assert_int_equal(o->node.deleting, 1);
	assert_string_not_equal(o->fingerprint, fp);
	k8s_object_free(o);
	cJSON_Delete(j);
	free(fp);

	j = cJSON_Parse(NODE("\"metadata\":{\"name\":\"node-b\","
	    "\"deletionTimestamp\":\"2026-12-07T15:00:00Z\"}"));
	o = decode(j, 1);
	assert_string_equal(o->node.zone, "");
	assert_int_equal(o->node.deleting, 1);
	k8s_object_free(o);
	cJSON_Delete(j);
	assert_string_equal(k8s_kind_str(K8S_NODE), "Node");
}

static void
test_broken(void **state)
{
	struct k8s_object *o;
	size_t i;

	(void)state;
	for (i = 0; i < nitems(bad_cases); i++) {
		cJSON *j = cJSON_Parse(bad_cases[i].json);

		if (j == NULL)
			fail_msg("case %zu: bad test JSON", i);
		o = (struct k8s_object *)(uintptr_t)1;
		if (k8s_decode(j, &o, name, sizeof(name), err,
		    sizeof(err)) != bad_cases[i].rc)
			fail_msg("case %zu: want %d (%s), got %s", i,
			    bad_cases[i].rc, bad_cases[i].msg, err);
		assert_null(o);
		if (strstr(err, bad_cases[i].msg) == NULL)
			fail_msg("case %zu: \"%s\" does not contain \"%s\"", i,
			    err, bad_cases[i].msg);
		cJSON_Delete(j);
	}
}

/*
 * Issue 11: a 520-character namespace was accepted, and its name cut to
 * fit a buffer later crashed the daemon.  Now refused, with the length.
 */
static void
test_long_names(void **state)
{
	char ns[521], *json;
	struct k8s_object *o;
	cJSON *j, *ports;
	int i;

	(void)state;
	memset(ns, 'a', 520);
	ns[520] = '\0';
	json = xasprintf("{\"kind\":\"Service\",\"apiVersion\":\"v1\","
	    "\"metadata\":{\"name\":\"s\",\"namespace\":\"%s\"},"
	    "\"spec\":{\"clusterIP\":\"198.19.0.1\"}}", ns);
	j = cJSON_Parse(json);
	decode(j, -1);
	assert_non_null(strstr(err, "metadata.namespace"));
	assert_non_null(strstr(err, "(520 characters) must be no more than 63"));
	cJSON_Delete(j);
	free(json);

	/* 63 is the longest label; 253 the longest slice name. */
	ns[63] = '\0';
	json = xasprintf("{\"kind\":\"Service\",\"apiVersion\":\"v1\","
	    "\"metadata\":{\"name\":\"%s\",\"namespace\":\"%s\"}}", ns, ns);
	j = cJSON_Parse(json);
	o = decode(j, 1);
	assert_int_equal(strlen(o->ns), 63);
	k8s_object_free(o);
	cJSON_Delete(j);
	free(json);

	/* Ports per Service: BOUND_PORTS_PER_SERVICE (1024). */
	j = cJSON_Parse(SVC("{\"ports\":[]}"));
	ports = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "spec"), "ports");
	for (i = 0; i < 1025; i++) {
		cJSON *p = cJSON_CreateObject();

		cJSON_AddNumberToObject(p, "port", 1 + i);
		cJSON_AddItemToArray(ports, p);
	}
	decode(j, -1);
	assert_non_null(strstr(err, "BOUND_PORTS_PER_SERVICE"));
	cJSON_DeleteItemFromArray(ports, 0);
	o = decode(j, 1);
	assert_int_equal(o->svc.n_ports, 1024);
	k8s_object_free(o);
	cJSON_Delete(j);
}

/* Valid corner cases that must not be refused. */
static void
test_valid_corners(void **state)
{
	struct k8s_object *o;
	cJSON *j;

	(void)state;
	/* No ports, no clusterIP: valid, nothing to serve yet. */
	j = cJSON_Parse(SVC("{}"));
	o = decode(j, 1);
	assert_string_equal(name, "default/s");
	assert_string_equal(o->svc.type, "ClusterIP");
	assert_null(o->svc.skip_reason);
	assert_int_equal(o->svc.n_cluster_ips, 0);
	assert_int_equal(o->svc.n_ports, 0);
	assert_int_equal(o->svc.affinity_timeout, 10800);
	k8s_object_free(o);
	cJSON_Delete(j);

	/* Defaults, nulls, clusterIP only, nodePort 0, SCTP. */
	j = cJSON_Parse(SVC("{\"clusterIP\":\"fd00::10\",\"clusterIPs\":null,"
	    "\"ports\":[{\"port\":65535,\"nodePort\":0,\"protocol\":null},"
	    "{\"port\":1,\"name\":null,\"protocol\":\"SCTP\"}],"
	    "\"sessionAffinity\":\"ClientIP\",\"externalIPs\":null}"));
	o = decode(j, 1);
	assert_int_equal(o->svc.n_cluster_ips, 1);
	assert_ip(&o->svc.cluster_ips[0], "fd00::10");
	assert_int_equal(o->svc.affinity_client_ip, 1);
	assert_int_equal(o->svc.affinity_timeout, 10800);
	assert_sport(&o->svc.ports[0], "", K8S_PROTO_TCP, 65535, 0);
	assert_sport(&o->svc.ports[1], "", K8S_PROTO_OTHER, 1, 0);
	k8s_object_free(o);
	cJSON_Delete(j);

	/* Headless by clusterIPs only. */
	j = cJSON_Parse(SVC("{\"clusterIPs\":[\"None\"]}"));
	o = decode(j, 1);
	assert_non_null(o->svc.skip_reason);
	k8s_object_free(o);
	cJSON_Delete(j);

	/*
	 * Slice: conditions absent = ready, terminating out, empty addresses
	 * skipped, a null port skips that port entry, duplicates kept.
	 */
	j = cJSON_Parse(SLICE("\"addressType\":\"IPv6\",\"endpoints\":["
	    "{\"addresses\":[\"fd00::1\",\"bogus\"]},"
	    "{\"addresses\":[\"fd00::2\"],\"conditions\":{\"terminating\":true}},"
	    "{\"addresses\":[]},"
	    "{\"addresses\":[\"fd00::1\"],\"conditions\":{\"ready\":null}}],"
	    "\"ports\":[{\"port\":null,\"name\":\"all\"},{\"port\":53,"
	    "\"protocol\":\"UDP\"},{\"port\":54,\"protocol\":\"SCTP\","
	    "\"name\":null}]"));
	o = decode(j, 1);
	assert_string_equal(name, "default/x");
	assert_int_equal(n_usable(&o->slices[0]), 2);
	assert_ip(usable(&o->slices[0], 0), "fd00::1");
	assert_ip(usable(&o->slices[0], 1), "fd00::1");
	assert_int_equal(o->slices[0].n_ports, 2);
	assert_eport(&o->slices[0].ports[0], "", K8S_PROTO_UDP, 53);
	assert_eport(&o->slices[0].ports[1], "", K8S_PROTO_OTHER, 54);
	k8s_object_free(o);
	cJSON_Delete(j);

	/* Endpoints: namespace kept, service is the object's name. */
	j = cJSON_Parse(EPS("\"subsets\":[{\"addresses\":[{\"ip\":\"10.1.1.1\"}],"
	    "\"notReadyAddresses\":[{\"ip\":\"10.1.1.2\"}],\"ports\":[{"
	    "\"port\":80}]}]"));
	o = decode(j, 1);
	assert_string_equal(name, "n/s");
	assert_string_equal(o->slices[0].service, "s");
	assert_int_equal(n_usable(&o->slices[0]), 1);
	assert_eport(&o->slices[0].ports[0], "", K8S_PROTO_TCP, 80);
	k8s_object_free(o);
	cJSON_Delete(j);

	assert_string_equal(k8s_kind_str(K8S_SERVICE), "Service");
	assert_string_equal(k8s_kind_str(K8S_ENDPOINTSLICE), "EndpointSlice");
	assert_string_equal(k8s_kind_str(K8S_ENDPOINTS), "Endpoints");
	assert_string_equal(k8s_proto_str(K8S_PROTO_TCP), "TCP");
	assert_string_equal(k8s_proto_str(K8S_PROTO_UDP), "UDP");
}

/* The fingerprint of j after edit(j); the caller frees it. */
static char *
fingerprint(const cJSON *orig, void (*edit)(cJSON *))
{
	cJSON *j = cJSON_Duplicate(orig, 1);
	struct k8s_object *o;
	char *fp;

	if (edit != NULL)
		edit(j);
	o = decode(j, 1);
	fp = xstrdup(o->fingerprint);
	k8s_object_free(o);
	cJSON_Delete(j);
	return fp;
}

static cJSON *
at(cJSON *j, const char *path)
{
	char *copy = xstrdup(path), *tok, *save = NULL;

	for (tok = strtok_r(copy, ".", &save); tok != NULL && j != NULL;
	    tok = strtok_r(NULL, ".", &save))
		j = cJSON_IsArray(j) ? cJSON_GetArrayItem(j, atoi(tok)) :
		    cJSON_GetObjectItem(j, tok);
	free(copy);
	assert_non_null(j);
	return j;
}

static void
edit_metadata(cJSON *j)
{
	cJSON *meta = at(j, "metadata");

	cJSON_ReplaceItemInObject(meta, "resourceVersion",
	    cJSON_CreateString("99999"));
	cJSON_AddItemToObject(meta, "annotations", cJSON_CreateObject());
	cJSON_AddStringToObject(cJSON_GetObjectItem(meta, "annotations"),
	    "note", "changed");
	cJSON_AddItemToObject(meta, "managedFields", cJSON_CreateArray());
	cJSON_ReplaceItemInObject(meta, "uid", cJSON_CreateString("other"));
}

static void
edit_svc_port(cJSON *j)
{
	cJSON_SetNumberValue(at(j, "spec.ports.0.port"), 8080);
}

static void
edit_svc_nodeport(cJSON *j)
{
	cJSON_SetNumberValue(at(j, "spec.ports.1.nodePort"), 31391);
}

static void
edit_svc_lb(cJSON *j)
{
	cJSON_SetValuestring(at(j, "status.loadBalancer.ingress.0.ip"),
	    "192.0.2.128");
}

static void
edit_svc_unused(cJSON *j)
{
	/* Fields the proxy does not read. */
	cJSON_SetNumberValue(at(j, "spec.ports.0.targetPort"), 1);
	cJSON_DeleteItemFromObject(at(j, "spec"), "selector");
}

/* Set obj.key to a string, whether it was there or not. */
static void
set_str(cJSON *obj, const char *key, const char *value)
{
	cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
	cJSON_AddStringToObject(obj, key, value);
}

static void
edit_svc_etp(cJSON *j)
{
	cJSON_SetValuestring(at(j, "spec.externalTrafficPolicy"), "Cluster");
}

static void
edit_svc_itp(cJSON *j)
{
	set_str(at(j, "spec"), "internalTrafficPolicy", "Local");
}

static void
edit_svc_hcnp(cJSON *j)
{
	cJSON_SetNumberValue(at(j, "spec.healthCheckNodePort"), 32124);
}

static void
edit_svc_ranges(cJSON *j)
{
	cJSON_SetValuestring(at(j, "spec.loadBalancerSourceRanges.0"),
	    "203.0.114.0/24");
}

static void
edit_svc_td(cJSON *j)
{
	set_str(at(j, "spec"), "trafficDistribution", "PreferClose");
}

static void
edit_svc_ipmode(cJSON *j)
{
	set_str(at(j, "status.loadBalancer.ingress.0"), "ipMode", "Proxy");
}

static void
edit_slice_node(cJSON *j)
{
	cJSON_SetValuestring(at(j, "endpoints.0.nodeName"), "node-z");
}

static void
edit_slice_zone(cJSON *j)
{
	cJSON_SetValuestring(at(j, "endpoints.0.zone"), "elsewhere");
}

static void
edit_slice_hints(cJSON *j)
{
	cJSON *h = cJSON_AddObjectToObject(at(j, "endpoints.0"), "hints");
	cJSON *z = cJSON_AddArrayToObject(h, "forZones"), *o;

	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "name", "zone-a");
	cJSON_AddItemToArray(z, o);
}

static void
edit_slice_serving(cJSON *j)
{
	cJSON_ReplaceItemInObject(at(j, "endpoints.2.conditions"),
	    "serving", cJSON_CreateFalse());
}

static void
edit_slice_endpoint(cJSON *j)
{
	cJSON_SetValuestring(at(j, "endpoints.1.addresses.0"), "10.244.2.5");
}

static void
edit_slice_ready(cJSON *j)
{
	cJSON_ReplaceItemInObject(at(j, "endpoints.2.conditions"),
	    "terminating", cJSON_CreateFalse());
	cJSON_ReplaceItemInObject(at(j, "endpoints.2.conditions"),
	    "ready", cJSON_CreateTrue());
}

static void
edit_slice_port(cJSON *j)
{
	cJSON_SetNumberValue(at(j, "ports.1.port"), 8082);
}

static void
edit_slice_unused(cJSON *j)
{
	cJSON_AddStringToObject(at(j, "endpoints.0"), "hostname", "pod-0");
	edit_metadata(j);
}

static void
test_fingerprint(void **state)
{
	void (*svc_changes[])(cJSON *) = { edit_svc_port, edit_svc_nodeport,
	    edit_svc_lb, edit_svc_etp, edit_svc_itp, edit_svc_hcnp,
	    edit_svc_ranges, edit_svc_td, edit_svc_ipmode };
	void (*slice_changes[])(cJSON *) = { edit_slice_endpoint,
	    edit_slice_ready, edit_slice_port, edit_slice_node,
	    edit_slice_zone, edit_slice_hints, edit_slice_serving };
	cJSON *svc, *slice;
	char *base, *fp;
	size_t i;

	(void)state;
	svc = load("service-loadbalancer.json");
	base = fingerprint(svc, NULL);
	fp = fingerprint(svc, edit_metadata);
	assert_string_equal(base, fp);
	free(fp);
	fp = fingerprint(svc, edit_svc_unused);
	assert_string_equal(base, fp);
	free(fp);
	for (i = 0; i < nitems(svc_changes); i++) {
		fp = fingerprint(svc, svc_changes[i]);
		if (strcmp(base, fp) == 0)
			fail_msg("service change %zu not in fingerprint", i);
		free(fp);
	}
	free(base);
	cJSON_Delete(svc);

	slice = list_item("endpointslice-list.json", "web-4xr7d",
	    "EndpointSlice", "discovery.k8s.io/v1");
	base = fingerprint(slice, NULL);
	fp = fingerprint(slice, edit_slice_unused);
	assert_string_equal(base, fp);
	free(fp);
	for (i = 0; i < nitems(slice_changes); i++) {
		fp = fingerprint(slice, slice_changes[i]);
		if (strcmp(base, fp) == 0)
			fail_msg("slice change %zu not in fingerprint", i);
		free(fp);
	}
	free(base);

	/*
	 * The fingerprint is written straight into a buffer: it is JSON, and
	 * a string with quotes, backslashes and control characters comes
	 * back whole (escaped as cJSON escapes it), so no two values of a
	 * field can print alike.
	 */
	{
		static const char odd[] = "z\"o\\n\n\t\x01\x1f\xc3\xa9";
		cJSON *fpj, *spec;
		struct k8s_object *o = NULL;
		char hint[64], err[256];
		char *printed;

		svc = load("service-loadbalancer.json");
		spec = cJSON_GetObjectItem(svc, "spec");
		cJSON_DeleteItemFromObject(spec, "trafficDistribution");
		cJSON_AddStringToObject(spec, "trafficDistribution", odd);
		assert_int_equal(k8s_decode(svc, &o, hint, sizeof(hint), err,
		    sizeof(err)), 1);
		cJSON_Delete(svc);
		assert_non_null(fpj = cJSON_Parse(o->fingerprint));
		assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(fpj,
		    "trafficDistribution")), odd);
		assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(
		    fpj, "name")), o->name);
		/* Byte for byte what cJSON prints of the same tree. */
		assert_non_null(printed = cJSON_PrintUnformatted(fpj));
		assert_string_equal(printed, o->fingerprint);
		free(printed);
		cJSON_Delete(fpj);
		k8s_object_free(o);
	}
	cJSON_Delete(slice);
}

/* endpoints.kubernetes.io/last-change-trigger-time, in its RFC 3339 forms. */
static void
test_trigger_time(void **state)
{
	static const struct {
		const char	*value;
		double		 want;
	} cases[] = {
		{ "2024-05-06T07:08:09Z", 1714979289 },
		{ "2024-05-06T07:08:09.25Z", 1714979289.25 },
		{ "2024-05-06T09:08:09+02:00", 1714979289 },
		{ "2024-05-06T02:08:09.5-05:00", 1714979289.5 },
		{ "yesterday", 0 },
		{ "2024-05-06T07:08:09", 0 },
		{ "2024-05-06T07:08:09Zjunk", 0 },
	};
	struct k8s_object *obj;
	cJSON *slice, *meta, *ann;
	char *base, *fp;
	size_t i;

	(void)state;
	slice = list_item("endpointslice-list.json", "web-4xr7d",
	    "EndpointSlice", "discovery.k8s.io/v1");
	obj = decode(slice, 1);
	base = xstrdup(obj->fingerprint);
	k8s_object_free(obj);
	meta = cJSON_GetObjectItem(slice, "metadata");
	cJSON_DeleteItemFromObject(meta, "annotations");
	ann = cJSON_AddObjectToObject(meta, "annotations");
	for (i = 0; i < nitems(cases); i++) {
		cJSON_DeleteItemFromObject(ann,
		    "endpoints.kubernetes.io/last-change-trigger-time");
		cJSON_AddStringToObject(ann,
		    "endpoints.kubernetes.io/last-change-trigger-time",
		    cases[i].value);
		obj = decode(slice, 1);
		if (obj->trigger_time != cases[i].want)
			fail_msg("%s: got %f, want %f", cases[i].value,
			    obj->trigger_time, cases[i].want);
		/* A new trigger time alone is no change. */
		fp = obj->fingerprint;
		assert_string_equal(fp, base);
		k8s_object_free(obj);
	}
	free(base);
	cJSON_Delete(slice);
}

/*
 * Replace the n-th value of the tree (pre-order, root excluded) with
 * repl.  Returns 1 when done, 0 when the tree has fewer values.
 */
static int
replace_nth(cJSON *parent, size_t *n, cJSON *repl)
{
	cJSON *c;

	for (c = parent->child; c != NULL; c = c->next) {
		if ((*n)-- == 0) {
			cJSON_ReplaceItemViaPointer(parent, c, repl);
			return 1;
		}
		if (replace_nth(c, n, repl))
			return 1;
	}
	return 0;
}

static void
mutate_all(const cJSON *orig, size_t *runs)
{
	const char *values[] = { "null", "\"x\"", "\"None\"", "80.5", "0",
	    "-1", "70000", "true", "{}", "[]", "[1]", "[\"1.2.3.4\"]" };
	struct k8s_object *o;
	size_t idx, v, n;
	int rc;

	for (idx = 0;; idx++) {
		for (v = 0; v < nitems(values); v++) {
			cJSON *j = cJSON_Duplicate(orig, 1);
			cJSON *repl = cJSON_Parse(values[v]);

			n = idx;
			if (!replace_nth(j, &n, repl)) {
				cJSON_Delete(repl);
				cJSON_Delete(j);
				return;
			}
			o = NULL;
			rc = k8s_decode(j, &o, name, sizeof(name), err,
			    sizeof(err));
			assert_true(rc >= -1 && rc <= 1);
			assert_true((rc == 1) == (o != NULL));
			if (rc != 1)
				assert_true(err[0] != '\0');
			k8s_object_free(o);
			cJSON_Delete(j);
			(*runs)++;
		}
	}
}

/* Never crash, never leak: every value of every sample replaced. */
static void
test_mutations(void **state)
{
	const char *files[] = { "service-loadbalancer.json",
	    "service-sessionaffinity-clientip.json",
	    "service-dualstack-sctp.json", "service-headless.json" };
	cJSON *j;
	size_t i, runs = 0;

	(void)state;
	for (i = 0; i < nitems(files); i++) {
		j = load(files[i]);
		mutate_all(j, &runs);
		cJSON_Delete(j);
	}
	j = list_item("endpointslice-list.json", "web-4xr7d", "EndpointSlice",
	    "discovery.k8s.io/v1");
	mutate_all(j, &runs);
	cJSON_Delete(j);
	j = list_item("endpoints-list.json", "web", "Endpoints", "v1");
	mutate_all(j, &runs);
	cJSON_Delete(j);
	assert_true(runs > 1000);
}

int main(void);

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_service_nodeport),
		cmocka_unit_test(test_service_loadbalancer),
		cmocka_unit_test(test_service_skipped),
		cmocka_unit_test(test_service_affinity),
		cmocka_unit_test(test_service_dualstack_sctp),
		cmocka_unit_test(test_service_list),
		cmocka_unit_test(test_endpointslices),
		cmocka_unit_test(test_endpoints),
		cmocka_unit_test(test_watch_samples),
		cmocka_unit_test(test_yaml_manifest),
		cmocka_unit_test(test_trigger_time),
		cmocka_unit_test(test_broken),
		cmocka_unit_test(test_long_names),
		cmocka_unit_test(test_valid_corners),
		cmocka_unit_test(test_fingerprint),
		cmocka_unit_test(test_service_traffic),
		cmocka_unit_test(test_service_ipmode),
		cmocka_unit_test(test_endpoint_conditions),
		cmocka_unit_test(test_node),
		cmocka_unit_test(test_mutations),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
