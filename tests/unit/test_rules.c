/*
 * test_rules.c - planning nat rules from service ports (src/rules.c).
 *
 * The expected strings are what `iptables-legacy -t nat -S` printed for
 * the same rules installed by hand (tests/tools/iptc_check.sh compares
 * against the kernel for real).  IPv6 addresses are IPv4-mapped test
 * addresses or loopback.
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
#include "rules.h"
#include "store.h"

#define MAXIPS	4

/* A store_port built from strings, owning its address arrays. */
struct tport {
	struct store_port sp;
	union addr	 cluster[MAXIPS], external[MAXIPS], lb[MAXIPS];
	char		 key[300];
};

static void
parse_list(const char *list, union addr *out, size_t *n)
{
	char buf[256], *tok, *save = NULL;

	*n = 0;
	if (list == NULL)
		return;
	snprintf(buf, sizeof(buf), "%s", list);
	for (tok = strtok_r(buf, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		assert_true(*n < MAXIPS);
		assert_int_equal(addr_parse(tok, 0, &out[(*n)++]), 0);
	}
}

static void
tport_init(struct tport *t, const char *key, enum k8s_proto proto,
    uint16_t port, uint16_t node_port, const char *cluster,
    const char *external, const char *lb)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->key, sizeof(t->key), "%s", key);
	t->sp.key = t->key;
	t->sp.protocol = proto;
	t->sp.port = port;
	t->sp.node_port = node_port;
	parse_list(cluster, t->cluster, &t->sp.n_cluster_ips);
	parse_list(external, t->external, &t->sp.n_external_ips);
	parse_list(lb, t->lb, &t->sp.n_lb_ips);
	t->sp.cluster_ips = t->cluster;
	t->sp.external_ips = t->external;
	t->sp.lb_ips = t->lb;
}

/* The sorted set, rendered, must be exactly `expect` (NULL-terminated). */
static void
assert_rendered(struct rule_set *rs, const char *const *expect)
{
	char line[1024];
	size_t i;

	rules_sort(rs);
	for (i = 0; expect[i] != NULL; i++) {
		assert_true(i < rs->rs_n);
		rules_render(&rs->rs_rules[i], line, sizeof(line));
		assert_string_equal(line, expect[i]);
	}
	assert_int_equal(i, rs->rs_n);
}

static void
test_clusterip_only(void **state)
{
	static const char *const expect[] = {
		"-A KUBE-PORTALS-CONTAINER -d 198.19.0.10/32 -p tcp -m tcp "
		"--dport 80 -m comment --comment \"default/nginx-svc:http\" "
		"-j REDIRECT --to-ports 40123",
		"-A KUBE-PORTALS-HOST -d 198.19.0.10/32 -p tcp -m tcp --dport 80 "
		"-m comment --comment \"default/nginx-svc:http\" "
		"-j REDIRECT --to-ports 40123",
		NULL
	};
	struct rule_set rs = { 0 };
	struct tport t;

	(void)state;
	tport_init(&t, "default/nginx-svc:http", K8S_PROTO_TCP, 80, 0,
	    "198.19.0.10", NULL, NULL);
	assert_int_equal(rules_plan_port(&rs, &t.sp, 40123, NULL), 2);
	assert_int_equal(rs.rs_rules[0].r_family, AF_INET);
	assert_string_equal(rs.rs_rules[0].r_comment, "default/nginx-svc:http");
	assert_rendered(&rs, expect);
	rules_set_free(&rs);
	assert_int_equal(rs.rs_n, 0);
	assert_null(rs.rs_rules);
}

static void
test_nodeport_udp(void **state)
{
	static const char *const expect[] = {
		"-A KUBE-NODEPORT-CONTAINER -p udp -m udp --dport 30053 "
		"-m comment --comment \"kube-system/dns:dns\" "
		"-j REDIRECT --to-ports 41000",
		"-A KUBE-NODEPORT-HOST -p udp -m udp --dport 30053 "
		"-m comment --comment \"kube-system/dns:dns\" "
		"-j REDIRECT --to-ports 41000",
		"-A KUBE-PORTALS-CONTAINER -d 198.19.0.53/32 -p udp -m udp "
		"--dport 53 -m comment --comment \"kube-system/dns:dns\" "
		"-j REDIRECT --to-ports 41000",
		"-A KUBE-PORTALS-HOST -d 198.19.0.53/32 -p udp -m udp --dport 53 "
		"-m comment --comment \"kube-system/dns:dns\" "
		"-j REDIRECT --to-ports 41000",
		NULL
	};
	struct rule_set rs = { 0 };
	struct tport t;
	union addr any;

	(void)state;
	assert_int_equal(addr_parse("0.0.0.0", 0, &any), 0);
	tport_init(&t, "kube-system/dns:dns", K8S_PROTO_UDP, 53, 30053,
	    "198.19.0.53", NULL, NULL);
	/* 0.0.0.0 is the wildcard: REDIRECT, as with no bind address */
	assert_int_equal(rules_plan_port(&rs, &t.sp, 41000, &any), 4);
	assert_rendered(&rs, expect);
	rules_set_free(&rs);
}

/*
 * A nodePort that cannot be held: its NodePort rules are dropped from
 * the port's rules (and only from those), the portal rules kept.
 */
static void
test_drop_nodeports(void **state)
{
	static const char *const expect[] = {
		"-A KUBE-NODEPORT-CONTAINER -p tcp -m tcp --dport 30001 "
		"-m comment --comment \"default/a:http\" "
		"-j REDIRECT --to-ports 41001",
		"-A KUBE-NODEPORT-HOST -p tcp -m tcp --dport 30001 "
		"-m comment --comment \"default/a:http\" "
		"-j REDIRECT --to-ports 41001",
		"-A KUBE-PORTALS-CONTAINER -d 198.19.0.1/32 -p tcp -m tcp "
		"--dport 80 -m comment --comment \"default/a:http\" "
		"-j REDIRECT --to-ports 41001",
		"-A KUBE-PORTALS-CONTAINER -d 198.19.0.2/32 -p tcp -m tcp "
		"--dport 80 -m comment --comment \"default/b:http\" "
		"-j REDIRECT --to-ports 41002",
		"-A KUBE-PORTALS-HOST -d 198.19.0.1/32 -p tcp -m tcp --dport 80 "
		"-m comment --comment \"default/a:http\" "
		"-j REDIRECT --to-ports 41001",
		"-A KUBE-PORTALS-HOST -d 198.19.0.2/32 -p tcp -m tcp --dport 80 "
		"-m comment --comment \"default/b:http\" "
		"-j REDIRECT --to-ports 41002",
		NULL
	};
	struct rule_set rs = { 0 };
	struct tport a, b;
	size_t from;

	(void)state;
	tport_init(&a, "default/a:http", K8S_PROTO_TCP, 80, 30001,
	    "198.19.0.1", NULL, NULL);
	tport_init(&b, "default/b:http", K8S_PROTO_TCP, 80, 30002,
	    "198.19.0.2", NULL, NULL);
	assert_int_equal(rules_plan_port(&rs, &a.sp, 41001, NULL), 4);
	from = rs.rs_n;
	assert_int_equal(rules_plan_port(&rs, &b.sp, 41002, NULL), 4);
	assert_int_equal(rules_drop_nodeports(&rs, from), 2);
	assert_int_equal(rules_drop_nodeports(&rs, from), 0);
	assert_int_equal(rules_drop_nodeports(&rs, rs.rs_n), 0);
	assert_rendered(&rs, expect);
	rules_set_free(&rs);
}

static void
test_loadbalancer(void **state)
{
	struct rule_set rs = { 0 };
	struct tport t;
	char line[1024];
	size_t i, with_dst = 0, lb = 0;

	(void)state;
	tport_init(&t, "shop/front:https", K8S_PROTO_TCP, 443, 31443,
	    "198.19.1.1", NULL, "198.18.200.1");
	assert_int_equal(rules_plan_port(&rs, &t.sp, 40443, NULL), 6);
	rules_sort(&rs);
	for (i = 0; i < rs.rs_n; i++) {
		rules_render(&rs.rs_rules[i], line, sizeof(line));
		if (rs.rs_rules[i].r_has_dst)
			with_dst++;
		if (strstr(line, " -d 198.18.200.1/32 -p tcp -m tcp --dport 443 "))
			lb++;
		assert_non_null(strstr(line, "--comment \"shop/front:https\""));
	}
	assert_int_equal(with_dst, 4);
	assert_int_equal(lb, 2);
	rules_render(&rs.rs_rules[0], line, sizeof(line));
	assert_string_equal(line, "-A KUBE-NODEPORT-CONTAINER -p tcp -m tcp "
	    "--dport 31443 -m comment --comment \"shop/front:https\" "
	    "-j REDIRECT --to-ports 40443");
	rules_set_free(&rs);
}

/*
 * A port whose external traffic has a proxy port of its own: cluster IPs
 * to one, externalIPs, LB IPs and the nodePort to the other; an external
 * IP equal to the cluster IP stays internal; external port 0: no
 * external rule at all.
 */
static void
test_external_port(void **state)
{
	struct rule_set rs = { 0 };
	struct tport t;
	char line[1024];
	size_t i, internal = 0, external = 0;

	(void)state;
	tport_init(&t, "shop/front:https", K8S_PROTO_TCP, 443, 31443,
	    "198.19.1.1", "198.18.7.7,198.19.1.1", "198.18.200.1");
	assert_int_equal(rules_plan_port_ext(&rs, &t.sp, 40443, 40444, NULL),
	    8);
	for (i = 0; i < rs.rs_n; i++) {
		rules_render(&rs.rs_rules[i], line, sizeof(line));
		if (strstr(line, "-d 198.19.1.1/32") != NULL) {
			assert_non_null(strstr(line, "--to-ports 40443"));
			internal++;
		} else {
			assert_non_null(strstr(line, "--to-ports 40444"));
			external++;
		}
	}
	assert_int_equal(internal, 2);
	assert_int_equal(external, 6);
	rules_set_free(&rs);
	assert_int_equal(rules_plan_port_ext(&rs, &t.sp, 40443, 0, NULL), 2);
	for (i = 0; i < rs.rs_n; i++)
		assert_int_equal(addr_port(&rs.rs_rules[i].r_to), 40443);
	rules_set_free(&rs);
}

static void
test_external_ips(void **state)
{
	static const char *const expect[] = {
		"-A KUBE-PORTALS-CONTAINER -d 198.18.0.7/32 -p tcp -m tcp "
		"--dport 8080 -m comment --comment \"ns/ext:\" "
		"-j REDIRECT --to-ports 40001",
		"-A KUBE-PORTALS-CONTAINER -d 198.18.0.8/32 -p tcp -m tcp "
		"--dport 8080 -m comment --comment \"ns/ext:\" "
		"-j REDIRECT --to-ports 40001",
		"-A KUBE-PORTALS-CONTAINER -d 198.19.2.2/32 -p tcp -m tcp "
		"--dport 8080 -m comment --comment \"ns/ext:\" "
		"-j REDIRECT --to-ports 40001",
		"-A KUBE-PORTALS-HOST -d 198.18.0.7/32 -p tcp -m tcp "
		"--dport 8080 -m comment --comment \"ns/ext:\" "
		"-j REDIRECT --to-ports 40001",
		"-A KUBE-PORTALS-HOST -d 198.18.0.8/32 -p tcp -m tcp "
		"--dport 8080 -m comment --comment \"ns/ext:\" "
		"-j REDIRECT --to-ports 40001",
		"-A KUBE-PORTALS-HOST -d 198.19.2.2/32 -p tcp -m tcp "
		"--dport 8080 -m comment --comment \"ns/ext:\" "
		"-j REDIRECT --to-ports 40001",
		NULL
	};
	struct rule_set rs = { 0 };
	struct tport t;

	(void)state;
	/* an unnamed port: the key ends with ':' */
	tport_init(&t, "ns/ext:", K8S_PROTO_TCP, 8080, 0, "198.19.2.2",
	    "198.18.0.8,198.18.0.7", NULL);
	assert_int_equal(rules_plan_port(&rs, &t.sp, 40001, NULL), 6);
	assert_rendered(&rs, expect);
	rules_set_free(&rs);
}

static void
test_ipv6(void **state)
{
	static const char *const expect[] = {
		"-A KUBE-NODEPORT-CONTAINER -p tcp -m tcp --dport 30080 "
		"-m comment --comment \"v6/web:http\" -j REDIRECT --to-ports 40080",
		"-A KUBE-NODEPORT-HOST -p tcp -m tcp --dport 30080 "
		"-m comment --comment \"v6/web:http\" -j REDIRECT --to-ports 40080",
		/* then the IPv6 family */
		"-A KUBE-NODEPORT-CONTAINER -p tcp -m tcp --dport 30080 "
		"-m comment --comment \"v6/web:http\" -j REDIRECT --to-ports 40080",
		"-A KUBE-NODEPORT-HOST -p tcp -m tcp --dport 30080 "
		"-m comment --comment \"v6/web:http\" -j REDIRECT --to-ports 40080",
		"-A KUBE-PORTALS-CONTAINER -d ::1/128 -p tcp -m tcp --dport 80 "
		"-m comment --comment \"v6/web:http\" -j REDIRECT --to-ports 40080",
		"-A KUBE-PORTALS-CONTAINER -d ::ffff:198.19.0.66/128 -p tcp "
		"-m tcp --dport 80 -m comment --comment \"v6/web:http\" "
		"-j REDIRECT --to-ports 40080",
		"-A KUBE-PORTALS-HOST -d ::1/128 -p tcp -m tcp --dport 80 "
		"-m comment --comment \"v6/web:http\" -j REDIRECT --to-ports 40080",
		"-A KUBE-PORTALS-HOST -d ::ffff:198.19.0.66/128 -p tcp -m tcp "
		"--dport 80 -m comment --comment \"v6/web:http\" "
		"-j REDIRECT --to-ports 40080",
		NULL
	};
	struct rule_set rs = { 0 };
	struct tport t;
	union addr any6;

	(void)state;
	assert_int_equal(addr_parse("::", 0, &any6), 0);
	tport_init(&t, "v6/web:http", K8S_PROTO_TCP, 80, 30080,
	    "::ffff:198.19.0.66", "::1", NULL);
	assert_int_equal(rules_plan_port(&rs, &t.sp, 40080, &any6), 8);
	assert_int_equal(rules_count_family(&rs, AF_INET), 2);
	assert_int_equal(rules_count_family(&rs, AF_INET6), 6);
	assert_rendered(&rs, expect);
	assert_int_equal(rs.rs_rules[0].r_family, AF_INET);
	assert_int_equal(rs.rs_rules[2].r_family, AF_INET6);
	rules_set_free(&rs);
}

static void
test_dnat_bind(void **state)
{
	struct rule_set rs = { 0 };
	struct tport t4, t6;
	union addr bind4, bind6;
	char line[1024];

	(void)state;
	assert_int_equal(addr_parse("198.18.0.1", 0, &bind4), 0);
	assert_int_equal(addr_parse("::1", 0, &bind6), 0);
	tport_init(&t4, "default/api:https", K8S_PROTO_TCP, 443, 30443,
	    "198.19.0.1", NULL, NULL);
	tport_init(&t6, "default/v6:dns", K8S_PROTO_UDP, 53, 0,
	    "::ffff:198.19.0.53", NULL, NULL);

	/* a specific IPv4 bind: DNAT to it, for every IPv4 rule */
	assert_int_equal(rules_plan_port(&rs, &t4.sp, 40500, &bind4), 4);
	rules_sort(&rs);
	rules_render(&rs.rs_rules[2], line, sizeof(line));
	assert_string_equal(line, "-A KUBE-PORTALS-CONTAINER -d 198.19.0.1/32 "
	    "-p tcp -m tcp --dport 443 -m comment --comment "
	    "\"default/api:https\" -j DNAT --to-destination 198.18.0.1:40500");
	assert_int_equal(rs.rs_rules[0].r_target, RULES_DNAT);
	assert_int_equal(addr_port(&rs.rs_rules[0].r_to), 40500);
	rules_set_free(&rs);

	/* IPv6 traffic cannot reach an IPv4-bound socket: no rule */
	assert_int_equal(rules_plan_port(&rs, &t6.sp, 40501, &bind4), 0);
	assert_int_equal(rs.rs_n, 0);

	/* a specific IPv6 bind: DNAT with the [ip]:port form */
	assert_int_equal(rules_plan_port(&rs, &t6.sp, 40501, &bind6), 2);
	rules_sort(&rs);
	rules_render(&rs.rs_rules[1], line, sizeof(line));
	assert_string_equal(line, "-A KUBE-PORTALS-HOST "
	    "-d ::ffff:198.19.0.53/128 -p udp -m udp --dport 53 -m comment "
	    "--comment \"default/v6:dns\" -j DNAT --to-destination [::1]:40501");
	/* ...and the IPv4 service gets no rule, not even its NodePort */
	assert_int_equal(rules_plan_port(&rs, &t4.sp, 40500, &bind6), 0);
	assert_int_equal(rs.rs_n, 2);
	rules_set_free(&rs);
}

static void
test_no_duplicates(void **state)
{
	struct rule_set rs = { 0 };
	struct tport t;
	size_t i, j;

	(void)state;
	/* externalIP == clusterIP, an LB IP listed twice and equal to an extIP */
	tport_init(&t, "default/dup:web", K8S_PROTO_TCP, 80, 30001,
	    "198.19.0.10", "198.19.0.10,198.18.9.9", "198.18.9.9,198.18.9.9");
	assert_int_equal(rules_plan_port(&rs, &t.sp, 40010, NULL), 6);
	rules_sort(&rs);
	for (i = 0; i < rs.rs_n; i++)
		for (j = i + 1; j < rs.rs_n; j++)
			assert_int_not_equal(rules_cmp(&rs.rs_rules[i],
			    &rs.rs_rules[j]), 0);
	rules_set_free(&rs);
}

static void
plan_all(struct rule_set *rs, struct tport *ts, size_t n, size_t skip)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (i != skip)
			assert_true(rules_plan_port(rs, &ts[i].sp,
			    (uint16_t)(40000 + i), NULL) > 0);
	rules_sort(rs);
}

static void
test_removal(void **state)
{
	struct rule_set with = { 0 }, without = { 0 };
	struct tport ts[3];
	size_t i, j, extra = 0;

	(void)state;
	tport_init(&ts[0], "a/one:http", K8S_PROTO_TCP, 80, 0, "198.19.0.1",
	    NULL, NULL);
	tport_init(&ts[1], "b/two:dns", K8S_PROTO_UDP, 53, 30053, "198.19.0.2",
	    "198.18.0.2", "198.18.100.2");
	tport_init(&ts[2], "c/three:http", K8S_PROTO_TCP, 80, 30080,
	    "198.19.0.3", NULL, NULL);
	plan_all(&with, ts, 3, SIZE_MAX);
	plan_all(&without, ts, 3, 1);
	assert_int_equal(with.rs_n, 2 + 8 + 4);
	assert_int_equal(without.rs_n, 2 + 4);

	/* every rule left is in the full plan, in the same relative order */
	for (i = 0, j = 0; i < with.rs_n; i++) {
		if (j < without.rs_n &&
		    rules_cmp(&with.rs_rules[i], &without.rs_rules[j]) == 0) {
			j++;
			continue;
		}
		/* ...and every rule gone is one of the removed service's */
		assert_string_equal(with.rs_rules[i].r_comment, "b/two:dns");
		extra++;
	}
	assert_int_equal(j, without.rs_n);
	assert_int_equal(extra, 8);
	assert_false(rules_set_equal(&with, &without));
	rules_set_free(&with);
	rules_set_free(&without);
}

/* Owners are the tports; drop those whose index bit is set in *arg. */
static struct tport *update_base;

static int
drop_masked(const void *owner, void *arg)
{
	const struct tport *t = owner;

	return (*(const unsigned *)arg >> (t - update_base)) & 1;
}

static void
plan_owned(struct rule_set *rs, struct tport *ts, size_t i, uint16_t port)
{
	size_t k = rs->rs_n;

	assert_true(rules_plan_port(rs, &ts[i].sp, port, NULL) > 0);
	for (; k < rs->rs_n; k++)
		rs->rs_rules[k].r_owner = &ts[i];
}

/*
 * rules_set_update gives what a full replan gives: a kept set with one
 * service's rules dropped (removed), one's replaced (new proxy port) and
 * one added, against the three planned afresh.
 */
static void
test_set_update(void **state)
{
	struct rule_set kept = { 0 }, add = { 0 }, full = { 0 };
	struct tport ts[4];
	unsigned drop = (1u << 1) | (1u << 2);
	size_t i;

	(void)state;
	update_base = ts;
	tport_init(&ts[0], "a/one:http", K8S_PROTO_TCP, 80, 0, "198.19.0.1",
	    NULL, NULL);
	tport_init(&ts[1], "b/two:dns", K8S_PROTO_UDP, 53, 30053, "198.19.0.2",
	    "198.18.0.2", "198.18.100.2");
	tport_init(&ts[2], "c/three:http", K8S_PROTO_TCP, 80, 30080,
	    "198.19.0.3", NULL, NULL);
	tport_init(&ts[3], "0/first:http", K8S_PROTO_TCP, 80, 30081,
	    "198.19.0.4", "198.18.0.4", NULL);
	for (i = 0; i < 3; i++)
		plan_owned(&kept, ts, i, (uint16_t)(40000 + i));
	rules_sort(&kept);

	/* b removed, c on a new proxy port, 0/first added */
	plan_owned(&add, ts, 2, 41002);
	plan_owned(&add, ts, 3, 40003);
	rules_sort(&add);
	rules_set_update(&kept, &add, drop_masked, &drop);
	assert_int_equal(add.rs_n, 0);
	assert_null(add.rs_rules);

	plan_owned(&full, ts, 0, 40000);
	plan_owned(&full, ts, 2, 41002);
	plan_owned(&full, ts, 3, 40003);
	rules_sort(&full);
	assert_int_equal(kept.rs_n, 2 + 4 + 6);
	assert_true(rules_set_equal(&kept, &full));

	/* Nothing to drop, nothing to add: unchanged. */
	drop = 0;
	rules_set_update(&kept, &add, drop_masked, &drop);
	assert_true(rules_set_equal(&kept, &full));
	rules_set_free(&kept);
	rules_set_free(&full);
}

static void
test_canonical_order(void **state)
{
	struct rule_set a = { 0 }, b = { 0 };
	struct tport t1, t2;

	(void)state;
	tport_init(&t1, "z/last:p", K8S_PROTO_TCP, 80, 30000, "198.19.0.9",
	    "198.18.0.9", NULL);
	tport_init(&t2, "a/first:p", K8S_PROTO_UDP, 80, 0,
	    "::ffff:198.19.0.8,198.19.0.8", NULL, NULL);
	rules_plan_port(&a, &t1.sp, 40001, NULL);
	rules_plan_port(&a, &t2.sp, 40002, NULL);
	rules_plan_port(&b, &t2.sp, 40002, NULL);
	rules_plan_port(&b, &t1.sp, 40001, NULL);
	assert_int_equal(a.rs_n, b.rs_n);
	rules_sort(&a);
	rules_sort(&b);
	assert_true(rules_set_equal(&a, &b));
	/* a changed proxy port is a different plan */
	rules_set_free(&b);
	rules_plan_port(&b, &t2.sp, 40002, NULL);
	rules_plan_port(&b, &t1.sp, 40003, NULL);
	rules_sort(&b);
	assert_false(rules_set_equal(&a, &b));
	rules_set_free(&a);
	rules_set_free(&b);
}

static void
test_refused(void **state)
{
	struct rule_set rs = { 0 };
	struct tport t;

	(void)state;
	tport_init(&t, "x/sctp:p", K8S_PROTO_OTHER, 80, 30000, "198.19.0.1",
	    NULL, NULL);
	assert_int_equal(rules_plan_port(&rs, &t.sp, 40000, NULL), -1);
	t.sp.protocol = K8S_PROTO_TCP;
	assert_int_equal(rules_plan_port(&rs, &t.sp, 0, NULL), -1);
	assert_int_equal(rs.rs_n, 0);
	rules_set_free(&rs);
}

static void
test_comment_quoting(void **state)
{
	struct rule_set rs = { 0 };
	struct tport t;
	char line[1024], longkey[300];

	(void)state;
	/* only [A-Za-z0-9_-]: iptables prints it bare */
	tport_init(&t, "plain-key_1", K8S_PROTO_TCP, 80, 0, "198.19.0.1",
	    NULL, NULL);
	rules_plan_port(&rs, &t.sp, 40000, NULL);
	rules_render(&rs.rs_rules[0], line, sizeof(line));
	assert_non_null(strstr(line, " --comment plain-key_1 -j "));
	rules_set_free(&rs);

	tport_init(&t, "we\"ird\\one", K8S_PROTO_TCP, 80, 0, "198.19.0.1",
	    NULL, NULL);
	rules_plan_port(&rs, &t.sp, 40000, NULL);
	rules_render(&rs.rs_rules[0], line, sizeof(line));
	assert_non_null(strstr(line, " --comment \"we\\\"ird\\\\one\" -j "));
	rules_set_free(&rs);

	/* longer than the kernel's comment match holds: cut */
	memset(longkey, 'k', sizeof(longkey) - 1);
	longkey[sizeof(longkey) - 1] = '\0';
	tport_init(&t, longkey, K8S_PROTO_TCP, 80, 0, "198.19.0.1", NULL, NULL);
	rules_plan_port(&rs, &t.sp, 40000, NULL);
	assert_int_equal(strlen(rs.rs_rules[0].r_comment), RULES_COMMENT_MAX);
	/* a short buffer: snprintf semantics */
	assert_true(rules_render(&rs.rs_rules[0], line, 16) > 16);
	assert_int_equal(strlen(line), 15);
	rules_set_free(&rs);
}

/* Parse "P,P,..." prefixes into t's source ranges (static storage). */
static struct addr_prefix ranges_buf[8];

static void
set_ranges(struct tport *t, const char *list)
{
	char buf[256], *tok, *save = NULL;
	size_t n = 0;

	snprintf(buf, sizeof(buf), "%s", list);
	for (tok = strtok_r(buf, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		assert_true(n < 8);
		assert_int_equal(addr_parse_prefix(tok, &ranges_buf[n++]), 0);
	}
	t->sp.source_ranges = ranges_buf;
	t->sp.n_source_ranges = n;
}

/*
 * loadBalancerSourceRanges: the LB IP's portal rules only for sources in
 * the ranges (a nested range once, the other family's not at all), and a
 * DROP for everything else in the filter table; the cluster IP and the
 * nodePort untouched.
 */
static void
test_source_ranges(void **state)
{
	static const char *const expect[] = {
		"-A KUBE-NODEPORT-CONTAINER -p tcp -m tcp --dport 30002 "
		"-m comment --comment \"default/lb:http\" -j REDIRECT --to-ports 40100",
		"-A KUBE-NODEPORT-HOST -p tcp -m tcp --dport 30002 "
		"-m comment --comment \"default/lb:http\" -j REDIRECT --to-ports 40100",
		"-A KUBE-PORTALS-CONTAINER -s 198.18.0.0/16 -d 198.18.100.1/32 "
		"-p tcp -m tcp --dport 8090 -m comment --comment \"default/lb:http\" "
		"-j REDIRECT --to-ports 40100",
		"-A KUBE-PORTALS-CONTAINER -s 203.0.113.0/24 -d 198.18.100.1/32 "
		"-p tcp -m tcp --dport 8090 -m comment --comment \"default/lb:http\" "
		"-j REDIRECT --to-ports 40100",
		"-A KUBE-PORTALS-CONTAINER -d 198.19.0.12/32 -p tcp -m tcp "
		"--dport 8090 -m comment --comment \"default/lb:http\" "
		"-j REDIRECT --to-ports 40100",
		"-A KUBE-PORTALS-HOST -s 198.18.0.0/16 -d 198.18.100.1/32 "
		"-p tcp -m tcp --dport 8090 -m comment --comment \"default/lb:http\" "
		"-j REDIRECT --to-ports 40100",
		"-A KUBE-PORTALS-HOST -s 203.0.113.0/24 -d 198.18.100.1/32 "
		"-p tcp -m tcp --dport 8090 -m comment --comment \"default/lb:http\" "
		"-j REDIRECT --to-ports 40100",
		"-A KUBE-PORTALS-HOST -d 198.19.0.12/32 -p tcp -m tcp "
		"--dport 8090 -m comment --comment \"default/lb:http\" "
		"-j REDIRECT --to-ports 40100",
		"-A KUBE-UPROXY-FIREWALL -d 198.18.100.1/32 -p tcp -m tcp "
		"--dport 8090 -m comment --comment \"default/lb:http\" -j DROP",
		NULL
	};
	struct rule_set rs = { 0 };
	struct tport t;

	(void)state;
	rules_set_node(NULL);
	tport_init(&t, "default/lb:http", K8S_PROTO_TCP, 8090, 30002,
	    "198.19.0.12", NULL, "198.18.100.1");
	set_ranges(&t, "203.0.113.0/24,198.18.1.0/24,2001:2::/48,198.18.0.0/16");
	assert_int_equal(rules_plan_port(&rs, &t.sp, 40100, NULL), 9);
	assert_rendered(&rs, expect);
	rules_set_free(&rs);

	/* Without ranges: as before, no DROP. */
	t.sp.n_source_ranges = 0;
	assert_int_equal(rules_plan_port(&rs, &t.sp, 40100, NULL), 6);
	assert_int_equal(rs.rs_rules[rs.rs_n - 1].r_chain == RULES_FIREWALL, 0);
	rules_set_free(&rs);
}

/*
 * kube-proxy's allowFromNode: a range holding the node's IP lets in each
 * LB IP as a source too (a VIP routed back to the node is the source of
 * the node's own requests to it), unless a range holds it already.
 */
static void
test_source_ranges_from_node(void **state)
{
	struct rules_node node;
	struct rule_set rs = { 0 };
	struct tport t;
	char line[1024];
	size_t i, from_lb = 0, drops = 0;

	(void)state;
	memset(&node, 0, sizeof(node));
	assert_int_equal(addr_parse("198.18.0.2", 0, &node.rn_ip4), 0);
	rules_set_node(&node);
	tport_init(&t, "default/lb:http", K8S_PROTO_TCP, 8090, 0, NULL, NULL,
	    "198.18.100.1,198.18.200.1,198.18.100.1");
	set_ranges(&t, "198.18.0.0/24,198.18.200.0/24");
	/* 2 LB IPs x (2 ranges + 1 node-source: .100.1; .200.1 is in a range) x 2 chains + 2 DROP */
	assert_int_equal(rules_plan_port(&rs, &t.sp, 40100, NULL), 2 * 3 * 2 + 2);
	for (i = 0; i < rs.rs_n; i++) {
		rules_render(&rs.rs_rules[i], line, sizeof(line));
		if (strstr(line, "-s 198.18.100.1/32 ") != NULL)
			from_lb++;
		assert_null(strstr(line, "-s 198.18.200.1/32 "));
		drops += rs.rs_rules[i].r_target == RULES_DROP;
	}
	/* -s 198.18.100.1/32 for both LB IPs, both chains */
	assert_int_equal(from_lb, 4);
	assert_int_equal(drops, 2);
	rules_set_free(&rs);

	/* A node outside every range: no such rule. */
	assert_int_equal(addr_parse("198.18.9.9", 0, &node.rn_ip4), 0);
	rules_set_node(&node);
	assert_int_equal(rules_plan_port(&rs, &t.sp, 40100, NULL), 2 * 2 * 2 + 2);
	rules_set_free(&rs);
	rules_set_node(NULL);
}

/* An IPv6 LB IP with only IPv4 ranges: every source is outside. */
static void
test_source_ranges_family(void **state)
{
	static const char *const expect[] = {
		"-A KUBE-UPROXY-FIREWALL -d 2001:2::100/128 -p udp -m udp "
		"--dport 53 -m comment --comment \"default/dns:dns\" -j DROP",
		NULL
	};
	struct rule_set rs = { 0 };
	struct tport t;

	(void)state;
	rules_set_node(NULL);
	tport_init(&t, "default/dns:dns", K8S_PROTO_UDP, 53, 0, NULL, NULL,
	    "2001:2::100");
	set_ranges(&t, "198.18.0.0/15");
	assert_int_equal(rules_plan_port(&rs, &t.sp, 40053, NULL), 1);
	assert_rendered(&rs, expect);
	rules_set_free(&rs);
}

static void
test_disjoint_prefixes(void **state)
{
	struct addr_prefix in[6], out[6];
	char buf[64];
	const char *const list[] = { "10.1.0.0/16", "10.0.0.0/8",
	    "10.1.2.0/24", "192.0.2.0/24", "2001:2::/48", "192.0.2.128/25" };
	size_t i;

	(void)state;
	for (i = 0; i < 6; i++)
		assert_int_equal(addr_parse_prefix(list[i], &in[i]), 0);
	assert_int_equal(rules_disjoint_prefixes(in, 6, AF_INET, out), 2);
	assert_string_equal(addr_prefix_str(&out[0], buf, sizeof(buf)),
	    "10.0.0.0/8");
	assert_string_equal(addr_prefix_str(&out[1], buf, sizeof(buf)),
	    "192.0.2.0/24");
	assert_int_equal(rules_disjoint_prefixes(in, 6, AF_INET6, out), 1);
	assert_int_equal(rules_disjoint_prefixes(in, 0, AF_INET, out), 0);
}

static void
test_chain_names(void **state)
{
	(void)state;
	assert_string_equal(rules_chain_name(RULES_PORTALS_CONTAINER),
	    "KUBE-PORTALS-CONTAINER");
	assert_string_equal(rules_chain_name(RULES_PORTALS_HOST),
	    "KUBE-PORTALS-HOST");
	assert_string_equal(rules_chain_name(RULES_NODEPORT_CONTAINER),
	    "KUBE-NODEPORT-CONTAINER");
	assert_string_equal(rules_chain_name(RULES_NODEPORT_HOST),
	    "KUBE-NODEPORT-HOST");
	assert_string_equal(rules_chain_name(RULES_FIREWALL),
	    "KUBE-UPROXY-FIREWALL");
	assert_string_equal(rules_chain_name(RULES_NCHAINS), "?");
}

int	main(void);

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clusterip_only),
		cmocka_unit_test(test_nodeport_udp),
		cmocka_unit_test(test_drop_nodeports),
		cmocka_unit_test(test_loadbalancer),
		cmocka_unit_test(test_external_ips),
		cmocka_unit_test(test_external_port),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_dnat_bind),
		cmocka_unit_test(test_no_duplicates),
		cmocka_unit_test(test_removal),
		cmocka_unit_test(test_set_update),
		cmocka_unit_test(test_canonical_order),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_comment_quoting),
		cmocka_unit_test(test_chain_names),
		cmocka_unit_test(test_source_ranges),
		cmocka_unit_test(test_source_ranges_from_node),
		cmocka_unit_test(test_source_ranges_family),
		cmocka_unit_test(test_disjoint_prefixes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
