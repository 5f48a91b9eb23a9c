/*
 * test_history.c - the status page's per-port rings: per-second deltas of
 * the counters and the gauge as it is, oldest first in the JSON, the
 * window of HISTORY_SAMPLES after it wraps, a ring freed after a quiet
 * window and a port forgotten when it goes, and the endpoints' shares.
 * The history is fed by hand (no timer, no proxier).
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

#include "addr.h"
#include "history.h"
#include "metrics.h"

/* The JSON for ports, parsed (caller deletes). */
static cJSON *
json(struct history *h, const struct metrics_port *ports, size_t n)
{
	struct evbuffer *b = evbuffer_new();
	size_t len;
	char *s;
	cJSON *j;

	history_write_json(h, b, ports, n);
	len = evbuffer_get_length(b);
	s = malloc(len + 1);
	assert_non_null(s);
	evbuffer_remove(b, s, len);
	s[len] = '\0';
	j = cJSON_Parse(s);
	if (j == NULL)
		fail_msg("not JSON: %s", s);
	free(s);
	evbuffer_free(b);
	return j;
}

static const cJSON *
port_obj(const cJSON *j, int i)
{
	return cJSON_GetArrayItem(cJSON_GetObjectItem(j, "ports"), i);
}

static double
series_at(const cJSON *port, const char *series, int i)
{
	const cJSON *a = cJSON_GetObjectItem(port, series);

	assert_true(cJSON_IsArray(a));
	return cJSON_GetArrayItem(a, i)->valuedouble;
}

static void
test_deltas_and_gauge(void **state)
{
	struct port_stats st = { 0 };
	struct metrics_port mp = { "default/web:http", "TCP", &st, NULL, 0 };
	struct history *h = history_new(NULL, NULL);
	const cJSON *p;
	cJSON *j;

	(void)state;
	history_sample(h, &mp, 1);		/* quiet: no ring yet */
	j = json(h, &mp, 1);
	p = port_obj(j, 0);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(p,
	    "servicePort")), "default/web:http");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(p, "idle")));
	assert_null(cJSON_GetObjectItem(p, "newConnections"));
	cJSON_Delete(j);

	st.tcp_accepted = 5;
	st.tcp_active = 3;
	st.bytes_to_backend = 1000;
	st.bytes_to_client = 7000;
	history_sample(h, &mp, 1);
	st.tcp_accepted = 12;
	st.tcp_active = 1;
	st.bytes_to_backend = 1500;
	history_sample(h, &mp, 1);
	j = json(h, &mp, 1);
	p = port_obj(j, 0);
	assert_int_equal(cJSON_GetObjectItem(p, "samples")->valueint, 3);
	assert_null(cJSON_GetObjectItem(p, "idle"));
	/* Oldest first: the quiet second, then the two busy ones. */
	assert_int_equal(series_at(p, "newConnections", 0), 0);
	assert_int_equal(series_at(p, "newConnections", 1), 5);
	assert_int_equal(series_at(p, "newConnections", 2), 7);
	assert_int_equal(series_at(p, "active", 1), 3);
	assert_int_equal(series_at(p, "active", 2), 1);
	assert_int_equal(series_at(p, "bytesToEndpoints", 2), 500);
	assert_int_equal(series_at(p, "bytesToClients", 1), 7000);
	assert_int_equal(series_at(p, "bytesToClients", 2), 0);
	cJSON_Delete(j);

	/* A counter that goes backwards (port re-created) counts 0. */
	st.tcp_accepted = 2;
	history_sample(h, &mp, 1);
	j = json(h, &mp, 1);
	assert_int_equal(series_at(port_obj(j, 0), "newConnections", 3), 0);
	cJSON_Delete(j);
	history_free(h);
}

static void
test_window_wraps_and_quiet_frees(void **state)
{
	struct port_stats st = { 0 };
	struct metrics_port mp = { "default/web:http", "UDP", &st, NULL, 0 };
	struct history *h = history_new(NULL, NULL);
	const cJSON *p, *a;
	cJSON *j;
	int i;

	(void)state;
	/* 400 seconds, flow i+1 created in second i: the window keeps 300. */
	for (i = 0; i < 400; i++) {
		st.udp_flows_created++;
		st.udp_flows_active = (uint64_t)i;
		history_sample(h, &mp, 1);
	}
	j = json(h, &mp, 1);
	p = port_obj(j, 0);
	assert_int_equal(cJSON_GetObjectItem(p, "samples")->valueint,
	    HISTORY_SAMPLES);
	a = cJSON_GetObjectItem(p, "active");
	assert_int_equal(cJSON_GetArraySize(a), HISTORY_SAMPLES);
	assert_int_equal(series_at(p, "active", 0), 100);	/* oldest kept */
	assert_int_equal(series_at(p, "active", HISTORY_SAMPLES - 1), 399);
	assert_int_equal(series_at(p, "newConnections", 17), 1);
	cJSON_Delete(j);

	/* A whole quiet window: the ring goes, the port says idle. */
	st.udp_flows_active = 0;
	for (i = 0; i < HISTORY_SAMPLES + 1; i++)
		history_sample(h, &mp, 1);
	j = json(h, &mp, 1);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(port_obj(j, 0), "idle")));
	cJSON_Delete(j);
	/* And comes back with zeros before the new second. */
	st.bytes_to_client += 64;
	history_sample(h, &mp, 1);
	j = json(h, &mp, 1);
	p = port_obj(j, 0);
	assert_int_equal(series_at(p, "bytesToClients", HISTORY_SAMPLES - 1), 64);
	assert_int_equal(series_at(p, "bytesToClients", 0), 0);
	cJSON_Delete(j);
	history_free(h);
}

static void
test_ports_come_and_go(void **state)
{
	struct port_stats a = { 0 }, b = { 0 };
	struct metrics_port mp[2] = {
		{ "default/a:http", "TCP", &a, NULL, 0 },
		{ "default/b:http", "TCP", &b, NULL, 0 },
	};
	struct history *h = history_new(NULL, NULL);
	cJSON *j;

	(void)state;
	a.tcp_accepted = 1;
	history_sample(h, mp, 2);
	history_sample(h, mp, 1);		/* b is gone */
	b.tcp_accepted = 4;			/* b again, a new port */
	history_sample(h, mp, 2);
	j = json(h, mp, 2);
	assert_int_equal(cJSON_GetObjectItem(port_obj(j, 0), "samples")->valueint, 3);
	assert_int_equal(cJSON_GetObjectItem(port_obj(j, 1), "samples")->valueint, 1);
	/* A new port's first second is all it has done so far. */
	assert_int_equal(series_at(port_obj(j, 1), "newConnections", 0), 4);
	cJSON_Delete(j);
	history_free(h);
}

static void
test_endpoints(void **state)
{
	struct port_stats st = { 0 };
	struct endpoint_stats *es[2];
	struct metrics_port mp = { "default/web:http", "TCP", &st, NULL, 2 };
	union addr ep;
	struct history *h = history_new(NULL, NULL);
	const cJSON *eps, *e;
	cJSON *j;

	(void)state;
	assert_int_equal(addr_parse("10.0.0.1", 80, &ep), 0);
	es[0] = metrics_endpoint_new(&ep);
	assert_int_equal(addr_parse("10.0.0.2", 80, &ep), 0);
	es[1] = metrics_endpoint_new(&ep);
	mp.endpoints = es;
	metrics_endpoint_release(metrics_endpoint_hold(es[0]));
	metrics_endpoint_hold(es[0]);
	metrics_endpoint_hold(es[1]);
	es[1]->es_dial_failures = 2;
	history_sample(h, &mp, 1);
	j = json(h, &mp, 1);
	eps = cJSON_GetObjectItem(port_obj(j, 0), "endpoints");
	assert_int_equal(cJSON_GetArraySize(eps), 2);
	e = cJSON_GetArrayItem(eps, 0);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(e,
	    "endpoint")), "10.0.0.1:80");
	assert_int_equal(cJSON_GetObjectItem(e, "connections")->valueint, 2);
	assert_int_equal(cJSON_GetObjectItem(e, "active")->valueint, 1);
	e = cJSON_GetArrayItem(eps, 1);
	assert_int_equal(cJSON_GetObjectItem(e, "connections")->valueint, 1);
	assert_int_equal(cJSON_GetObjectItem(e, "dialFailures")->valueint, 2);
	cJSON_Delete(j);
	metrics_endpoint_release(es[0]);
	metrics_endpoint_release(es[1]);
	metrics_endpoint_unlist(es[0]);
	metrics_endpoint_unlist(es[1]);
	history_free(h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deltas_and_gauge),
		cmocka_unit_test(test_window_wraps_and_quiet_frees),
		cmocka_unit_test(test_ports_come_and_go),
		cmocka_unit_test(test_endpoints),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
