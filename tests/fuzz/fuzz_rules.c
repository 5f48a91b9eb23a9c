/*
 * fuzz_rules.c - the rule planner (rules.c): rules_set_update after
 * random changes gives what a full replan gives.
 *
 * Eight service-port slots; the input first picks the bind address, then
 * gives rounds of changes: for each changed slot a new version (or its
 * removal) with a protocol, ports, a nodePort and cluster, external and
 * LoadBalancer IPs drawn from a small pool of IPv4 and IPv6 addresses, so
 * that rules coincide across slots, and loadBalancerSourceRanges from a
 * pool of nested and disjoint ranges (with the node's IP in some of
 * them, chosen with the bind address).  Each round the changed slots are
 * replanned into a sorted set and merged with rules_set_update; the
 * result must equal planning every present slot afresh.  Every rule
 * renders, and its comment fits the kernel's comment match; a rule with a
 * source range or a DROP is one of an LB IP's, of its own family.
 */
#include <string.h>

#include "addr.h"
#include "fuzz.h"
#include "rules.h"

#define NSLOT	8
#define NIP	6
#define MAXIPS	3
#define NRANGE	6

struct slot {
	int			 present;
	struct store_port	 sp;
	char			 key[320];
	union addr		 cluster[MAXIPS], external[MAXIPS], lb[MAXIPS];
	struct addr_prefix	 ranges[MAXIPS];
	uint16_t		 proxy_port;
};

static union addr	 ip_pool[NIP], bind_pool[5];
static struct addr_prefix range_pool[NRANGE];
static struct slot	*slots_base;

static void
init_pools(void)
{
	static const char *const ips[NIP] = {
		"198.19.0.1", "198.19.0.2", "198.18.0.7",
		"2001:2::1", "2001:2::2", "::ffff:198.19.0.1",
	};
	static const char *const binds[5] = {
		"0.0.0.0", "::", "198.18.0.1", "2001:2::5", "127.0.0.1",
	};
	static const char *const ranges[NRANGE] = {
		"198.18.0.0/15", "198.18.0.0/24", "198.18.0.7/32",
		"2001:2::/48", "0.0.0.0/0", "2001:2::2/128",
	};
	int i;

	for (i = 0; i < NRANGE; i++)
		FUZZ_CHECK(addr_parse_prefix(ranges[i], &range_pool[i]) == 0);
	for (i = 0; i < NIP; i++)
		FUZZ_CHECK(addr_parse(ips[i], 0, &ip_pool[i]) == 0);
	for (i = 0; i < 5; i++)
		FUZZ_CHECK(addr_parse(binds[i], 0, &bind_pool[i]) == 0);
}

static size_t
pick_ips(struct fuzz_in *in, union addr *out)
{
	uint8_t b = fuzz_u8(in);
	size_t n = b % (MAXIPS + 1), i;

	for (i = 0; i < n; i++)
		out[i] = ip_pool[(b >> 2 >> i) % NIP];
	return n;
}

static void
generate(struct fuzz_in *in, struct slot *s, size_t idx)
{
	uint8_t b = fuzz_u8(in), len = fuzz_u8(in);
	size_t i;

	memset(&s->sp, 0, sizeof(s->sp));
	/* Keys are unique per slot; some longer than a comment holds. */
	snprintf(s->key, sizeof(s->key), "ns%zu/%.*s:p", idx,
	    len > 200 ? 300 : len % 8,
	    "svc-with-a-rather-long-name-svc-with-a-rather-long-name-"
	    "svc-with-a-rather-long-name-svc-with-a-rather-long-name-"
	    "svc-with-a-rather-long-name-svc-with-a-rather-long-name-"
	    "svc-with-a-rather-long-name-svc-with-a-rather-long-name-"
	    "svc-with-a-rather-long-name-svc-with-a-rather-long-name-"
	    "svc-with-a-rather-long-name-svc-with-a-rather-long-name-");
	s->sp.key = s->key;
	s->sp.protocol = (b & 1) ? K8S_PROTO_UDP : K8S_PROTO_TCP;
	s->sp.port = (uint16_t)(80 + (b >> 1) % 3);
	s->sp.node_port = (b & 8) ? (uint16_t)(30000 + (b >> 4) % 3) : 0;
	s->sp.n_cluster_ips = pick_ips(in, s->cluster);
	s->sp.n_external_ips = pick_ips(in, s->external);
	s->sp.n_lb_ips = pick_ips(in, s->lb);
	s->sp.cluster_ips = s->cluster;
	s->sp.external_ips = s->external;
	s->sp.lb_ips = s->lb;
	b = fuzz_u8(in);
	s->sp.n_source_ranges = b % (MAXIPS + 1);
	for (i = 0; i < s->sp.n_source_ranges; i++)
		s->ranges[i] = range_pool[(b >> 2 >> i) % NRANGE];
	s->sp.source_ranges = s->ranges;
	s->proxy_port = (uint16_t)(40000 + fuzz_u8(in) % 4);
}

static void
plan(struct rule_set *rs, struct slot *s, const union addr *bind)
{
	size_t k = rs->rs_n;
	int n;

	n = rules_plan_port(rs, &s->sp, s->proxy_port, bind);
	FUZZ_CHECK(n >= 0 && (size_t)n == rs->rs_n - k);
	for (; k < rs->rs_n; k++)
		rs->rs_rules[k].r_owner = s;
}

static int
drop_changed(const void *owner, void *arg)
{
	const struct slot *s = owner;

	return (*(const unsigned *)arg >> (s - slots_base)) & 1;
}

static void
check_rules(const struct rule_set *rs)
{
	char buf[1024];
	size_t i;

	FUZZ_CHECK(rules_count_family(rs, AF_INET) +
	    rules_count_family(rs, AF_INET6) == rs->rs_n);
	for (i = 0; i < rs->rs_n; i++) {
		FUZZ_CHECK(strlen(rs->rs_rules[i].r_comment) <=
		    RULES_COMMENT_MAX);
		FUZZ_CHECK(rules_render(&rs->rs_rules[i], buf, sizeof(buf)) <
		    (int)sizeof(buf));
		if (rs->rs_rules[i].r_has_src)
			FUZZ_CHECK(rs->rs_rules[i].r_src.ap_addr.sa.sa_family ==
			    rs->rs_rules[i].r_family &&
			    rs->rs_rules[i].r_has_dst &&
			    rs->rs_rules[i].r_target != RULES_DROP);
		if (rs->rs_rules[i].r_target == RULES_DROP)
			FUZZ_CHECK(rs->rs_rules[i].r_chain == RULES_FIREWALL &&
			    rs->rs_rules[i].r_has_dst);
		if (i > 0)
			FUZZ_CHECK(rules_cmp(&rs->rs_rules[i - 1],
			    &rs->rs_rules[i]) <= 0);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct fuzz_in in = { data, size };
	struct slot slots[NSLOT];
	struct rule_set kept = { 0 }, add = { 0 }, full = { 0 };
	const union addr *bind;
	unsigned changed;
	size_t i, rounds = 0;
	uint8_t b;

	if (!ready) {
		init_pools();
		ready = 1;
	}
	memset(slots, 0, sizeof(slots));
	slots_base = slots;
	b = fuzz_u8(&in);
	bind = b % 6 == 5 ? NULL : &bind_pool[b % 6];
	{
		/* The node's IP: inside some ranges of the pool, or none. */
		struct rules_node node;

		memset(&node, 0, sizeof(node));
		if (b & 0x40) {
			FUZZ_CHECK(addr_parse("198.18.0.7", 0, &node.rn_ip4) == 0);
			FUZZ_CHECK(addr_parse("2001:2::2", 0, &node.rn_ip6) == 0);
		}
		rules_set_node(&node);
	}
	while (in.n > 0 && rounds++ < 16) {
		changed = fuzz_u8(&in);
		for (i = 0; i < NSLOT; i++) {
			if (!(changed & 1u << i))
				continue;
			slots[i].present = fuzz_u8(&in) % 4 != 0;
			if (slots[i].present) {
				generate(&in, &slots[i], i);
				plan(&add, &slots[i], bind);
			}
		}
		rules_sort(&add);
		rules_set_update(&kept, &add, drop_changed, &changed);
		FUZZ_CHECK(add.rs_n == 0);
		for (i = 0; i < NSLOT; i++)
			if (slots[i].present)
				plan(&full, &slots[i], bind);
		rules_sort(&full);
		FUZZ_CHECK(rules_set_equal(&kept, &full));
		check_rules(&kept);
		rules_set_free(&full);
	}
	rules_set_free(&kept);
	rules_set_free(&add);
	return 0;
}
