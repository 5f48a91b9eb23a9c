/*
 * test_proxier.c - the proxier fed by a real store (issue 12): a port
 * whose external traffic takes another endpoint set gets a second proxy
 * socket, and loses it when the sets agree again; the no-local-endpoints
 * gauge; our Node on its way out makes /healthz's node check fail.  No
 * rules (--iptables none), sockets on the loopback wildcard.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <event2/buffer.h>
#include <event2/event.h>

#include "config.h"
#include "k8s.h"
#include "proxier.h"
#include "store.h"

struct fixture {
	struct event_base	*base;
	struct config		 cfg;
	struct proxier		*p;
	struct store		*st;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->base = event_base_new();
	config_defaults(&f->cfg);
	f->cfg.iptables = IPTABLES_NONE;
	f->p = proxier_new(f->base, &f->cfg);
	assert_non_null(f->p);
	f->st = store_new(proxier_apply, f->p);
	store_set_node_name(f->st, "node-a");
	proxier_set_store(f->p, f->st);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	store_free(f->st);
	proxier_free(f->p, 0);
	config_free(&f->cfg);
	event_base_free(f->base);
	free(f);
	return 0;
}

/* Decode one object from JSON and hand it to the store. */
static void
put(struct fixture *f, const char *json)
{
	cJSON *j = cJSON_Parse(json);
	struct k8s_object *o = NULL;
	char name[256], err[256];

	assert_non_null(j);
	if (k8s_decode(j, &o, name, sizeof(name), err, sizeof(err)) != 1)
		fail_msg("decode: %s", err);
	cJSON_Delete(j);
	store_upsert(f->st, o);
	store_flush(f->st);
}

static void
service(struct fixture *f, const char *etp)
{
	char json[1024];

	snprintf(json, sizeof(json), "{\"apiVersion\":\"v1\",\"kind\":"
	    "\"Service\",\"metadata\":{\"name\":\"lb\",\"namespace\":\"ns\"},"
	    "\"spec\":{\"type\":\"LoadBalancer\",\"clusterIP\":\"198.19.0.10\","
	    "\"externalTrafficPolicy\":\"%s\",\"healthCheckNodePort\":0,"
	    "\"ports\":[{\"name\":\"web\",\"protocol\":\"TCP\",\"port\":80,"
	    "\"targetPort\":8080,\"nodePort\":30080}]},\"status\":"
	    "{\"loadBalancer\":{\"ingress\":[{\"ip\":\"198.18.200.1\"}]}}}",
	    etp);
	put(f, json);
}

/* One endpoint on our node (ready or not), one on another, ready. */
static void
slice(struct fixture *f, int local_ready)
{
	char json[1024];

	snprintf(json, sizeof(json), "{\"apiVersion\":\"discovery.k8s.io/v1\","
	    "\"kind\":\"EndpointSlice\",\"metadata\":{\"name\":\"lb-1\","
	    "\"namespace\":\"ns\",\"labels\":{\"kubernetes.io/service-name\":"
	    "\"lb\"}},\"addressType\":\"IPv4\",\"ports\":[{\"name\":\"web\","
	    "\"protocol\":\"TCP\",\"port\":8080}],\"endpoints\":["
	    "{\"addresses\":[\"198.18.0.1\"],\"nodeName\":\"node-a\","
	    "\"conditions\":{\"ready\":%s}},"
	    "{\"addresses\":[\"198.18.0.2\"],\"nodeName\":\"node-b\","
	    "\"conditions\":{\"ready\":true}}]}",
	    local_ready ? "true" : "false");
	put(f, json);
}

static const cJSON *
port_of(const cJSON *arr)
{
	assert_int_equal(cJSON_GetArraySize(arr), 1);
	return cJSON_GetArrayItem(arr, 0);
}

static double
field(const cJSON *o, const char *key)
{
	const cJSON *n = cJSON_GetObjectItem(o, key);

	assert_true(cJSON_IsNumber(n));
	return n->valuedouble;
}

static char *
ext_endpoints(const cJSON *o)
{
	return cJSON_PrintUnformatted(cJSON_GetObjectItem(o,
	    "externalEndpoints"));
}

/* The value of the no-local-endpoints gauge for one traffic policy. */
static int
no_local(struct fixture *f, const char *policy)
{
	struct evbuffer *b = evbuffer_new();
	char *text, *line, want[128];
	size_t n;
	int v = -1;

	proxier_write_metrics(f->p, b);
	n = evbuffer_get_length(b);
	text = calloc(1, n + 1);
	evbuffer_remove(b, text, n);
	evbuffer_free(b);
	snprintf(want, sizeof(want), "kubeproxy_sync_proxy_rules_no_local_"
	    "endpoints_total{traffic_policy=\"%s\"} ", policy);
	if ((line = strstr(text, want)) != NULL)
		v = atoi(line + strlen(want));
	free(text);
	return v;
}

static void
test_external_socket_follows_policy(void **state)
{
	struct fixture *f = *state;
	cJSON *arr;
	const cJSON *o;
	char *s;

	service(f, "Local");
	slice(f, 1);
	arr = proxier_debug_json(f->p);
	o = port_of(arr);
	assert_true(field(o, "proxyPort") > 0);
	assert_true(field(o, "externalProxyPort") > 0);
	assert_true(field(o, "externalProxyPort") != field(o, "proxyPort"));
	s = ext_endpoints(o);
	assert_string_equal(s, "[\"198.18.0.1:8080\"]");
	free(s);
	cJSON_Delete(arr);
	assert_int_equal(no_local(f, "external"), 0);

	/* No local endpoint ready: external gets none, the gauge says so. */
	slice(f, 0);
	arr = proxier_debug_json(f->p);
	o = port_of(arr);
	s = ext_endpoints(o);
	assert_string_equal(s, "[]");
	free(s);
	assert_true(field(o, "externalProxyPort") != field(o, "proxyPort"));
	cJSON_Delete(arr);
	assert_int_equal(no_local(f, "external"), 1);
	assert_int_equal(no_local(f, "internal"), 0);

	/* Cluster again: one socket for both, the same endpoints. */
	service(f, "Cluster");
	arr = proxier_debug_json(f->p);
	o = port_of(arr);
	assert_true(field(o, "externalProxyPort") == field(o, "proxyPort"));
	s = ext_endpoints(o);
	assert_string_equal(s, "[\"198.18.0.2:8080\"]");
	free(s);
	cJSON_Delete(arr);
	assert_int_equal(no_local(f, "external"), 0);
}

static void
node(struct fixture *f, const char *name, const char *extra)
{
	char json[1024];

	snprintf(json, sizeof(json), "{\"apiVersion\":\"v1\",\"kind\":"
	    "\"Node\",\"metadata\":{\"name\":\"%s\"%s}}", name, extra);
	put(f, json);
}

static void
test_node_eligible(void **state)
{
	struct fixture *f = *state;

	assert_true(proxier_node_eligible(f->p));
	node(f, "node-a", "");
	assert_true(proxier_node_eligible(f->p));
	/* Another node being deleted is not our business. */
	node(f, "node-b", ",\"deletionTimestamp\":\"2026-12-07T15:00:00Z\"");
	assert_true(proxier_node_eligible(f->p));
	node(f, "node-a", ",\"deletionTimestamp\":\"2026-12-07T15:00:00Z\"");
	assert_false(proxier_node_eligible(f->p));
	node(f, "node-a", "");
	assert_true(proxier_node_eligible(f->p));
}

int main(void);

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_external_socket_follows_policy,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_node_eligible, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
