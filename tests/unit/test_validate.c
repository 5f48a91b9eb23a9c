/*
 * test_validate.c - the API server's value checks (src/validate.c): DNS-1123
 * labels and subdomains, label values, special addresses and the
 * node-port range.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "k8s.h"
#include "util.h"
#include "validate.h"

static char *
repeat(char c, size_t n)
{
	char *s = xcalloc(1, n + 1);

	memset(s, c, n);
	return s;
}

static void
test_labels(void **state)
{
	char *s;

	(void)state;
	assert_null(validate_dns1123_label("default"));
	assert_null(validate_dns1123_label("a"));
	assert_null(validate_dns1123_label("0abc-9"));
	assert_non_null(validate_dns1123_label(""));
	assert_non_null(validate_dns1123_label("-a"));
	assert_non_null(validate_dns1123_label("a-"));
	assert_non_null(validate_dns1123_label("Default"));
	assert_non_null(validate_dns1123_label("a.b"));
	assert_non_null(validate_dns1123_label("a_b"));
	assert_non_null(validate_dns1123_label("a/b"));
	s = repeat('a', 63);
	assert_null(validate_dns1123_label(s));
	free(s);
	/* Issue 11: a 520-character namespace. */
	s = repeat('a', 520);
	assert_string_equal(validate_dns1123_label(s),
	    "must be no more than 63 characters");
	free(s);
}

static void
test_subdomains(void **state)
{
	char *s;

	(void)state;
	assert_null(validate_dns1123_subdomain("web-abc12"));
	assert_null(validate_dns1123_subdomain("a.b.c"));
	assert_non_null(validate_dns1123_subdomain(""));
	assert_non_null(validate_dns1123_subdomain("a..b"));
	assert_non_null(validate_dns1123_subdomain(".a"));
	assert_non_null(validate_dns1123_subdomain("a."));
	assert_non_null(validate_dns1123_subdomain("a.-b"));
	assert_non_null(validate_dns1123_subdomain("A.b"));
	s = repeat('a', 253);
	memset(s + 60, '.', 1);
	memset(s + 120, '.', 1);
	memset(s + 180, '.', 1);
	assert_null(validate_dns1123_subdomain(s));
	free(s);
	s = repeat('a', 254);
	assert_non_null(validate_dns1123_subdomain(s));
	free(s);
}

static void
test_names(void **state)
{
	char err[160], *s;

	(void)state;
	assert_int_equal(validate_names(1, "", "web", err, sizeof(err)), 0);
	assert_int_equal(validate_names(0, "kube-system", "web-x.y", err,
	    sizeof(err)), 0);
	assert_int_equal(validate_names(1, "default", "web-x.y", err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "metadata.name: \"web-x.y\" (7 characters)"));
	s = repeat('n', 520);
	assert_int_equal(validate_names(1, s, "web", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "metadata.namespace: \"nnnn"));
	assert_non_null(strstr(err, "...\" (520 characters) must be no more "
	    "than 63 characters"));
	free(s);
}

static void
test_label_values(void **state)
{
	char *s;

	(void)state;
	assert_null(validate_label_value(""));
	assert_null(validate_label_value("My_svc.v1-2"));
	assert_non_null(validate_label_value("_a"));
	assert_non_null(validate_label_value("a b"));
	assert_non_null(validate_label_value("a/b"));
	s = repeat('a', 64);
	assert_non_null(validate_label_value(s));
	free(s);
}

static const char *
special(const char *ip, int endpoint)
{
	union addr a;

	assert_int_equal(addr_parse(ip, 0, &a), 0);
	return endpoint ? validate_endpoint_ip(&a) : validate_special_ip(&a);
}

static void
test_special_ips(void **state)
{
	(void)state;
	assert_null(special("198.19.0.10", 0));
	assert_null(special("10.0.0.1", 0));
	assert_null(special("2001:2::1", 0));
	assert_string_equal(special("127.0.0.1", 0), "a loopback address");
	assert_string_equal(special("127.1.2.3", 0), "a loopback address");
	assert_string_equal(special("::1", 0), "a loopback address");
	assert_string_equal(special("::ffff:127.0.0.1", 0),
	    "a loopback address");
	assert_string_equal(special("0.0.0.0", 0), "an unspecified address");
	assert_string_equal(special("::", 0), "an unspecified address");
	assert_string_equal(special("169.254.169.254", 0),
	    "a link-local address");
	assert_string_equal(special("fe80::1", 0), "a link-local address");
	assert_string_equal(special("224.0.0.1", 0), "a multicast address");
	assert_string_equal(special("239.255.255.250", 0),
	    "a multicast address");
	assert_string_equal(special("ff02::1", 0), "a multicast address");
	/* Endpoints: loopback allowed (manifests on one node), not the rest. */
	assert_null(special("127.0.0.11", 1));
	assert_null(special("::1", 1));
	assert_non_null(special("169.254.169.254", 1));
	assert_non_null(special("0.0.0.0", 1));
	assert_non_null(special("224.0.0.1", 1));
}

static void
test_node_ports(void **state)
{
	struct k8s_service_port ports[2];
	struct k8s_object obj;
	char err[128];

	(void)state;
	memset(&obj, 0, sizeof(obj));
	memset(ports, 0, sizeof(ports));
	obj.kind = K8S_SERVICE;
	obj.svc.ports = ports;
	obj.svc.n_ports = 2;
	ports[0].node_port = 30000;
	ports[1].node_port = 0;
	assert_int_equal(validate_node_ports(&obj, 30000, 32767, err,
	    sizeof(err)), 0);
	ports[1].node_port = 22;
	assert_int_equal(validate_node_ports(&obj, 30000, 32767, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "spec.ports[1].nodePort: 22 is not in the "
	    "node-port range 30000-32767");
	assert_int_equal(validate_node_ports(&obj, 20, 30000, err,
	    sizeof(err)), 0);
	ports[1].node_port = 32768;
	assert_int_equal(validate_node_ports(&obj, 30000, 32767, err,
	    sizeof(err)), -1);
	/* Issue 12: the health check node port comes from the same range. */
	ports[1].node_port = 0;
	obj.svc.health_check_node_port = 32000;
	assert_int_equal(validate_node_ports(&obj, 30000, 32767, err,
	    sizeof(err)), 0);
	obj.svc.health_check_node_port = 10256;
	assert_int_equal(validate_node_ports(&obj, 30000, 32767, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "spec.healthCheckNodePort: 10256 is not in "
	    "the node-port range 30000-32767");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_labels),
		cmocka_unit_test(test_subdomains),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_label_values),
		cmocka_unit_test(test_special_ips),
		cmocka_unit_test(test_node_ports),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
