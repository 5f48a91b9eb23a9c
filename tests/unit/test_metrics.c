/*
 * test_metrics.c - the Prometheus text format (HELP/TYPE, labels and their
 * escaping, numbers, histograms with cumulative buckets and +Inf, kube-
 * proxy's bucket layouts), the per-port families, and the life of the
 * per-endpoint records as the lb and connections share them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "lb.h"
#include "metrics.h"

/* The buffer's text, NUL-terminated (caller frees); drains the buffer. */
static char *
text(struct evbuffer *b)
{
	size_t n = evbuffer_get_length(b);
	char *s = malloc(n + 1);

	assert_non_null(s);
	evbuffer_remove(b, s, n);
	s[n] = '\0';
	return s;
}

static int
has_line(const char *text_, const char *line)
{
	size_t n = strlen(line);
	const char *p;

	for (p = text_; (p = strstr(p, line)) != NULL; p++)
		if ((p == text_ || p[-1] == '\n') && p[n] == '\n')
			return 1;
	return 0;
}

static void
test_family_and_sample(void **state)
{
	struct evbuffer *b = evbuffer_new();
	const char *labels[] = { "a", "x", "b", "y", NULL };
	char *s;

	(void)state;
	metrics_family(b, "m_total", "counter", "Things counted.");
	metrics_sample(b, "m_total", labels, 42);
	metrics_sample(b, "m_total", NULL, 0.25);
	metrics_sample(b, "m_total", NULL, 18446744073709.0);
	s = text(b);
	assert_string_equal(s,
	    "# HELP m_total Things counted.\n"
	    "# TYPE m_total counter\n"
	    "m_total{a=\"x\",b=\"y\"} 42\n"
	    "m_total 0.25\n"
	    "m_total 18446744073709\n");
	free(s);
	evbuffer_free(b);
}

static void
test_label_escaping(void **state)
{
	struct evbuffer *b = evbuffer_new();
	const char *labels[] = { "v", "a\"b\\c\nd", NULL };
	char *s;

	(void)state;
	metrics_sample(b, "m", labels, 1);
	s = text(b);
	assert_string_equal(s, "m{v=\"a\\\"b\\\\c\\nd\"} 1\n");
	free(s);
	evbuffer_free(b);
}

static void
test_histogram(void **state)
{
	static const double bounds[] = { 0.1, 1, 10 };
	struct metrics_histogram h;
	struct evbuffer *b = evbuffer_new();
	char *s;

	(void)state;
	metrics_histogram_init(&h, bounds, 3);
	metrics_observe(&h, 0.05);
	metrics_observe(&h, 0.1);	/* le is "less or equal" */
	metrics_observe(&h, 5);
	metrics_observe(&h, 50);
	metrics_write_histogram(b, "d_seconds", "Durations.", &h);
	s = text(b);
	assert_string_equal(s,
	    "# HELP d_seconds Durations.\n"
	    "# TYPE d_seconds histogram\n"
	    "d_seconds_bucket{le=\"0.1\"} 2\n"
	    "d_seconds_bucket{le=\"1\"} 2\n"
	    "d_seconds_bucket{le=\"10\"} 3\n"
	    "d_seconds_bucket{le=\"+Inf\"} 4\n"
	    "d_seconds_sum 55.15\n"
	    "d_seconds_count 4\n");
	free(s);
	evbuffer_free(b);
}

static void
test_kube_proxy_buckets(void **state)
{
	struct metrics_histogram h;
	size_t i;

	(void)state;
	metrics_histogram_init_sync(&h);
	assert_int_equal(h.n_bounds, 15);
	for (i = 0; i < h.n_bounds; i++)
		assert_true(h.bounds[i] == 0.001 * (double)(1u << i));
	metrics_histogram_init_programming(&h);
	assert_int_equal(h.n_bounds, 81);
	assert_true(h.bounds[0] == 0);
	assert_true(h.bounds[1] == 0.25 && h.bounds[2] == 0.5);
	assert_true(h.bounds[3] == 1 && h.bounds[61] == 59);
	assert_true(h.bounds[62] == 60 && h.bounds[73] == 115);
	assert_true(h.bounds[74] == 120 && h.bounds[80] == 300);
	for (i = 1; i < h.n_bounds; i++)
		assert_true(h.bounds[i] > h.bounds[i - 1]);
}

static void
test_sync_families(void **state)
{
	struct sync_metrics sm;
	struct evbuffer *b = evbuffer_new();
	char *s;

	(void)state;
	metrics_sync_init(&sm);
	metrics_observe(&sm.sync_duration, 0.003);
	sm.service_changes = 3;
	sm.endpoint_pending = 1;
	metrics_write_sync(b, &sm);
	s = text(b);
	assert_true(has_line(s, "# TYPE kubeproxy_sync_proxy_rules_duration_seconds histogram"));
	assert_true(has_line(s, "kubeproxy_sync_proxy_rules_duration_seconds_bucket{le=\"0.002\"} 0"));
	assert_true(has_line(s, "kubeproxy_sync_proxy_rules_duration_seconds_bucket{le=\"0.004\"} 1"));
	assert_true(has_line(s, "kubeproxy_sync_proxy_rules_duration_seconds_bucket{le=\"16.384\"} 1"));
	assert_true(has_line(s, "kubeproxy_sync_proxy_rules_duration_seconds_bucket{le=\"+Inf\"} 1"));
	assert_true(has_line(s, "kubeproxy_sync_proxy_rules_duration_seconds_count 1"));
	assert_true(has_line(s, "# TYPE kubeproxy_sync_proxy_rules_service_changes_total counter"));
	assert_true(has_line(s, "kubeproxy_sync_proxy_rules_service_changes_total 3"));
	assert_true(has_line(s, "kubeproxy_sync_proxy_rules_endpoint_changes_pending 1"));
	assert_true(has_line(s, "# TYPE kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds gauge"));
	assert_true(has_line(s, "kubeproxy_network_programming_duration_seconds_bucket{le=\"0\"} 0"));
	assert_true(has_line(s, "kubeproxy_network_programming_duration_seconds_count 0"));
	free(s);
	evbuffer_free(b);
}

static void
test_port_families(void **state)
{
	struct port_stats tcp = { 0 }, udp = { 0 };
	struct endpoint_stats *es;
	struct metrics_port ports[2];
	struct evbuffer *b = evbuffer_new();
	union addr ep;
	char *s;

	(void)state;
	assert_int_equal(addr_parse("10.0.0.1", 80, &ep), 0);
	es = metrics_endpoint_new(&ep);
	es->es_dial_failures = 2;
	tcp.tcp_accepted = 7;
	udp.udp_flows_created = 3;
	ports[0] = (struct metrics_port){ "default/web:http", "TCP", &tcp,
	    &es, 1 };
	ports[1] = (struct metrics_port){ "kube-system/dns:dns", "UDP", &udp,
	    NULL, 0 };
	metrics_write_ports(b, ports, 2);
	s = text(b);
	assert_true(has_line(s, "kube_uproxy_tcp_connections_accepted_total{service_port=\"default/web:http\",protocol=\"TCP\"} 7"));
	assert_true(has_line(s, "kube_uproxy_udp_flows_created_total{service_port=\"kube-system/dns:dns\",protocol=\"UDP\"} 3"));
	/* A family of the other protocol is left out for that port. */
	assert_null(strstr(s, "kube_uproxy_udp_flows_created_total{service_port=\"default/web:http\""));
	assert_null(strstr(s, "kube_uproxy_tcp_connections_accepted_total{service_port=\"kube-system"));
	assert_true(has_line(s, "kube_uproxy_bytes_to_clients_total{service_port=\"kube-system/dns:dns\",protocol=\"UDP\"} 0"));
	assert_true(has_line(s, "kube_uproxy_endpoint_dial_failures_total{service_port=\"default/web:http\",endpoint=\"10.0.0.1:80\"} 2"));
	assert_true(has_line(s, "# TYPE kube_uproxy_endpoint_connections_active gauge"));
	free(s);
	metrics_endpoint_unlist(es);
	evbuffer_free(b);
}

/*
 * An endpoint that stays keeps its record; one that leaves while a
 * connection holds it lives until released (ASan/valgrind see the rest).
 */
static void
test_endpoint_records(void **state)
{
	struct lb *lb = lb_new();
	union addr eps[2];
	const union addr *picked;
	struct endpoint_stats *a, *b, *held;
	uint64_t now = 1000;

	(void)state;
	assert_int_equal(addr_parse("10.0.0.1", 80, &eps[0]), 0);
	assert_int_equal(addr_parse("10.0.0.2", 80, &eps[1]), 0);
	lb_set_endpoints(lb, eps, 2);
	a = lb_endpoint_stats_all(lb)[0];
	b = lb_endpoint_stats_all(lb)[1];
	assert_int_equal(addr_cmp(&a->es_addr, &eps[0]), 0);
	picked = lb_pick(lb, &eps[0], 0, now);
	held = metrics_endpoint_hold(lb_endpoint_stats(lb, picked));
	assert_int_equal(held->es_active, 1);
	held->es_dial_failures++;

	/* Keep only the endpoint that was not picked. */
	lb_set_endpoints(lb, held == a ? &eps[1] : &eps[0], 1);
	assert_int_equal(lb_count(lb), 1);
	assert_ptr_equal(lb_endpoint_stats_all(lb)[0], held == a ? b : a);
	assert_false(held->es_listed);
	assert_int_equal(held->es_dial_failures, 1);	/* still readable */

	/* It comes back: a new record, the held one untouched. */
	lb_set_endpoints(lb, eps, 2);
	assert_ptr_not_equal(lb_endpoint_stats_all(lb)[held == a ? 0 : 1], held);
	lb_free(lb);
	assert_int_equal(held->es_active, 1);
	metrics_endpoint_release(held);		/* frees it */
	metrics_endpoint_release(NULL);
}

static void
test_retire(void **state)
{
	struct port_stats s = { 0 };

	(void)state;
	memset(&metrics_retired, 0, sizeof(metrics_retired));
	s.tcp_accepted = 5;
	s.tcp_active = 1;
	metrics_retire(&s);
	metrics_retire(&s);
	assert_int_equal(metrics_retired.tcp_accepted, 10);
	assert_int_equal(metrics_retired.tcp_active, 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_family_and_sample),
		cmocka_unit_test(test_label_escaping),
		cmocka_unit_test(test_histogram),
		cmocka_unit_test(test_kube_proxy_buckets),
		cmocka_unit_test(test_sync_families),
		cmocka_unit_test(test_port_families),
		cmocka_unit_test(test_endpoint_records),
		cmocka_unit_test(test_retire),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
