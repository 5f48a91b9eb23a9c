/*
 * iptc_check.c - drive src/rules.c and src/iptc.c against a real kernel.
 *
 * A helper for tests/tools/iptc_check.sh, which runs it as root inside a
 * throwaway network namespace and compares what the kernel then holds
 * (iptables-legacy -t nat -S) with what this tool says it planned.
 *
 *   iptc_check render SET 4|6   print the planned rules of one family
 *   iptc_check apply SET        apply SET for IPv4 and IPv6
 *   iptc_check cleanup          remove our jumps and chains (both families)
 *   iptc_check preflight        the daemon's start-up checks
 *   iptc_check bench N          time one apply of N ClusterIP ports
 *
 * Sets: "full" (every kind of service), "less" (full minus shop/front),
 * "dnat" (full, proxy bound to 198.18.0.1), "dnat6" (bound to ::1),
 * "walk:SEED:STEP" (step STEP of a random walk, see plan_walk), "ranges"
 * (LB IPs with loadBalancerSourceRanges: filter table rules too).
 * $IPTC_NODEPORT=CIDR,... gives apply its --nodeport-addresses.
 * Exit: 0 ok, 1 error, 2 xtables lock busy.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "iptc.h"
#include "log.h"
#include "rules.h"
#include "util.h"

#define MAXIPS	4

struct svc {
	const char	*key;
	enum k8s_proto	 proto;
	uint16_t	 port, node_port;
	const char	*cluster[MAXIPS], *external[MAXIPS], *lb[MAXIPS];
	const char	*ranges[MAXIPS];
};

static const struct svc services[] = {
	{ "default/nginx-svc:http", K8S_PROTO_TCP, 80, 0,
	    { "198.19.0.10" }, { NULL }, { NULL }, { NULL } },
	{ "kube-system/kube-dns:dns", K8S_PROTO_UDP, 53, 30053,
	    { "198.19.0.53" }, { NULL }, { NULL }, { NULL } },
	{ "shop/front:https", K8S_PROTO_TCP, 443, 31443,
	    { "198.19.1.1" }, { NULL }, { "198.18.200.1", "198.18.200.1" }, { NULL } },
	{ "ns/ext:", K8S_PROTO_TCP, 8080, 0,
	    { "198.19.2.2" }, { "198.18.0.7", "198.19.2.2" }, { NULL }, { NULL } },
	{ "v6/web:http", K8S_PROTO_TCP, 80, 30080,
	    { "::ffff:198.19.0.66" }, { "::1" }, { NULL }, { NULL } },
};

static const struct svc ranged[] = {
	{ "fw/lb:http", K8S_PROTO_TCP, 8090, 30090,
	    { "198.19.4.1" }, { NULL }, { "198.18.100.1", "198.18.100.2" },
	    { "198.18.0.0/24", "198.18.0.128/25", "203.0.113.0/24",
	      "2001:2::/64" } },
	{ "fw/dns6:dns", K8S_PROTO_UDP, 53, 0,
	    { "::ffff:198.19.4.2" }, { NULL }, { "2001:2::100:1" },
	    { "2001:2:0:1::/64", "198.18.0.0/15" } },
};

static size_t
parse_ips(const char *const *s, union addr *out)
{
	size_t n;

	for (n = 0; n < MAXIPS && s[n] != NULL; n++)
		if (addr_parse(s[n], 0, &out[n]) == -1)
			fatalx("bad test address %s", s[n]);
	return n;
}

static void
plan_svc(struct rule_set *rs, const struct svc *s, uint16_t proxy_port,
    const union addr *bind)
{
	union addr cluster[MAXIPS], external[MAXIPS], lb[MAXIPS];
	struct addr_prefix ranges[MAXIPS];
	struct store_port sp;
	char key[128];
	size_t n;

	memset(&sp, 0, sizeof(sp));
	snprintf(key, sizeof(key), "%s", s->key);
	sp.key = key;
	sp.protocol = s->proto;
	sp.port = s->port;
	sp.node_port = s->node_port;
	sp.n_cluster_ips = parse_ips(s->cluster, cluster);
	sp.n_external_ips = parse_ips(s->external, external);
	sp.n_lb_ips = parse_ips(s->lb, lb);
	sp.cluster_ips = cluster;
	sp.external_ips = external;
	sp.lb_ips = lb;
	for (n = 0; n < MAXIPS && s->ranges[n] != NULL; n++)
		if (addr_parse_prefix(s->ranges[n], &ranges[n]) == -1)
			fatalx("bad test range %s", s->ranges[n]);
	sp.source_ranges = ranges;
	sp.n_source_ranges = n;
	if (rules_plan_port(rs, &sp, proxy_port, bind) == -1)
		fatalx("%s: not planned", s->key);
}

/*
 * A random walk over WALK_SVCS services for the chains' in-place edits:
 * step 0 holds about 3 in 4 of them; each later step makes one to three
 * changes (a service added or removed, a new proxy port, a second cluster
 * IP, a nodePort, an LB IP without, with one and with other source
 * ranges), every seventh step sixty of them, so that both the
 * edit and the refill path run.  Deterministic for a seed.
 */
#define WALK_SVCS	80

static uint32_t
walk_rand(uint32_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 17;
	*state ^= *state << 5;
	return *state;
}

static void
plan_walk(struct rule_set *rs, unsigned seed, unsigned step)
{
	struct {
		int	 present, ips, node_port, fw;
		uint16_t proxy_port;
	} w[WALK_SVCS];
	uint32_t st = seed * 2654435761u + 1;
	unsigned s, k, n, i;

	for (i = 0; i < WALK_SVCS; i++) {
		w[i].present = walk_rand(&st) % 4 != 0;
		w[i].ips = 1;
		w[i].node_port = 0;
		w[i].proxy_port = (uint16_t)(40000 + i);
		w[i].fw = i % 3 == 0 ? 2 : 0;
	}
	for (s = 1; s <= step; s++) {
		n = s % 7 == 0 ? 60 : 1 + walk_rand(&st) % 3;
		for (k = 0; k < n; k++) {
			i = walk_rand(&st) % WALK_SVCS;
			switch (walk_rand(&st) % 5) {
			case 3: w[i].fw = (w[i].fw + 1) % 4; break;
			case 0: w[i].present = !w[i].present; break;
			case 1: w[i].proxy_port += 1000; break;
			case 2: w[i].ips = 3 - w[i].ips; break;
			default: w[i].node_port = !w[i].node_port; break;
			}
		}
	}
	for (i = 0; i < WALK_SVCS; i++) {
		static const char *const fw_ranges[][3] = {
			{ NULL }, { NULL },
			{ "198.18.0.0/24", "198.18.9.0/24", NULL },
			{ "198.18.0.0/16", "198.18.9.0/24", NULL },
		};
		union addr cluster[2], lb;
		struct addr_prefix ranges[3];
		struct store_port sp;
		char key[64], ip[32];
		size_t nr;

		if (!w[i].present)
			continue;
		memset(&sp, 0, sizeof(sp));
		snprintf(key, sizeof(key), "walk/svc-%02u:p", i);
		snprintf(ip, sizeof(ip), "198.19.%u.%u", 10 + i, 1);
		addr_parse(ip, 0, &cluster[0]);
		snprintf(ip, sizeof(ip), "198.19.%u.%u", 10 + i, 2);
		addr_parse(ip, 0, &cluster[1]);
		sp.key = key;
		sp.protocol = i % 5 == 0 ? K8S_PROTO_UDP : K8S_PROTO_TCP;
		sp.port = 80;
		sp.node_port = w[i].node_port ? (uint16_t)(30000 + i) : 0;
		sp.cluster_ips = cluster;
		sp.n_cluster_ips = (size_t)w[i].ips;
		if (w[i].fw != 0) {
			snprintf(ip, sizeof(ip), "198.18.%u.%u", 100 + i / 200,
			    1 + i % 200);
			addr_parse(ip, 0, &lb);
			sp.lb_ips = &lb;
			sp.n_lb_ips = 1;
			for (nr = 0; nr < 3 && fw_ranges[w[i].fw][nr] != NULL;
			    nr++)
				addr_parse_prefix(fw_ranges[w[i].fw][nr],
				    &ranges[nr]);
			sp.source_ranges = ranges;
			sp.n_source_ranges = nr;
		}
		rules_plan_port(rs, &sp, w[i].proxy_port, NULL);
	}
}

static int
plan_set(struct rule_set *rs, const char *name)
{
	union addr bind;
	const union addr *b = NULL;
	unsigned seed, step;
	size_t i;

	if (sscanf(name, "walk:%u:%u", &seed, &step) == 2) {
		plan_walk(rs, seed, step);
		rules_sort(rs);
		return 0;
	}
	if (strcmp(name, "dnat") == 0 || strcmp(name, "dnat6") == 0) {
		addr_parse(name[4] == '6' ? "::1" : "198.18.0.1", 0, &bind);
		b = &bind;
	} else if (strcmp(name, "ranges") == 0) {
		for (i = 0; i < nitems(ranged); i++)
			plan_svc(rs, &ranged[i], (uint16_t)(42000 + i), NULL);
		rules_sort(rs);
		return 0;
	} else if (strcmp(name, "full") != 0 && strcmp(name, "less") != 0)
		return -1;
	for (i = 0; i < nitems(services); i++) {
		if (strcmp(name, "less") == 0 &&
		    strcmp(services[i].key, "shop/front:https") == 0)
			continue;
		plan_svc(rs, &services[i], (uint16_t)(40000 + i), b);
	}
	rules_sort(rs);
	return 0;
}

static int
apply_both(const struct rule_set *rs)
{
	static const int families[] = { AF_INET, AF_INET6 };
	char err[512];
	size_t i;
	int rv;

	for (i = 0; i < nitems(families); i++) {
		rv = rs != NULL ? iptc_apply(families[i], rs, err, sizeof(err)) :
		    iptc_cleanup(families[i], err, sizeof(err));
		if (rv != 0) {
			fprintf(stderr, "iptc_check: %s\n", err);
			return rv == IPTC_LOCK_BUSY ? 2 : 1;
		}
	}
	return 0;
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* N ClusterIP TCP ports, every tenth with a NodePort; IPv4 only. */
static void
plan_bench(struct rule_set *rs, size_t n)
{
	union addr cip;
	struct store_port sp;
	char ip[32], key[64];
	size_t i;

	for (i = 0; i < n; i++) {
		snprintf(ip, sizeof(ip), "198.19.%zu.%zu", i / 250, i % 250 + 1);
		snprintf(key, sizeof(key), "bench/svc-%zu:http", i);
		addr_parse(ip, 0, &cip);
		memset(&sp, 0, sizeof(sp));
		sp.key = key;
		sp.protocol = K8S_PROTO_TCP;
		sp.port = 80;
		sp.node_port = i % 10 == 0 ? (uint16_t)(30000 + (i / 10) % 2768) : 0;
		sp.cluster_ips = &cip;
		sp.n_cluster_ips = 1;
		rules_plan_port(rs, &sp, (uint16_t)(20000 + i % 40000), NULL);
	}
	rules_sort(rs);
}

static int
bench(size_t n)
{
	struct rule_set rs = { 0 }, more = { 0 };
	char err[512];
	double t0, t_plan, t_cold, t_same, t_add, t_clean;

	t0 = now_ms();
	plan_bench(&rs, n);
	t_plan = now_ms() - t0;
	plan_bench(&more, n + 1);
	t0 = now_ms();
	if (iptc_apply(AF_INET, &rs, err, sizeof(err)) != 0)
		goto fail;
	t_cold = now_ms() - t0;
	t0 = now_ms();
	if (iptc_apply(AF_INET, &rs, err, sizeof(err)) != 0)
		goto fail;
	t_same = now_ms() - t0;
	t0 = now_ms();
	if (iptc_apply(AF_INET, &more, err, sizeof(err)) != 0)
		goto fail;
	t_add = now_ms() - t0;
	t0 = now_ms();
	if (iptc_cleanup(AF_INET, err, sizeof(err)) != 0)
		goto fail;
	t_clean = now_ms() - t0;
	printf("%zu service ports, %zu rules: plan %.1f ms, apply cold %.1f ms, "
	    "re-apply %.1f ms, one added %.1f ms, cleanup %.1f ms\n", n,
	    rs.rs_n, t_plan, t_cold, t_same, t_add, t_clean);
	rules_set_free(&rs);
	rules_set_free(&more);
	return 0;
 fail:
	fprintf(stderr, "iptc_check: %s\n", err);
	rules_set_free(&rs);
	rules_set_free(&more);
	return 1;
}

static int
usage(void)
{
	fprintf(stderr, "usage: iptc_check render SET 4|6 | apply SET | "
	    "cleanup | preflight | bench N\n");
	return 1;
}

int
main(int argc, char **argv)
{
	struct rule_set rs = { 0 };
	char line[1024], err[512];
	size_t i;
	int rv = 0, family;

	log_init(1);
	if (argc >= 4 && strcmp(argv[1], "render") == 0) {
		family = strcmp(argv[3], "6") == 0 ? AF_INET6 : AF_INET;
		if (plan_set(&rs, argv[2]) == -1)
			return usage();
		for (i = 0; i < rs.rs_n; i++) {
			if (rs.rs_rules[i].r_family != family)
				continue;
			rules_render(&rs.rs_rules[i], line, sizeof(line));
			printf("%s\n", line);
		}
	} else if (argc >= 3 && strcmp(argv[1], "apply") == 0) {
		struct addr_prefix np[8];
		const char *env = getenv("IPTC_NODEPORT");
		char buf[256], *tok, *save;

		if (plan_set(&rs, argv[2]) == -1)
			return usage();
		snprintf(buf, sizeof(buf), "%s", env != NULL ? env : "");
		for (tok = strtok_r(buf, ",", &save); tok != NULL &&
		    rs.rs_n_nodeport < nitems(np); tok = strtok_r(NULL, ",", &save))
			if (addr_parse_prefix(tok, &np[rs.rs_n_nodeport]) == 0)
				rs.rs_n_nodeport++;
		rs.rs_nodeport = np;
		rv = apply_both(&rs);
	} else if (argc >= 2 && strcmp(argv[1], "cleanup") == 0)
		rv = apply_both(NULL);
	else if (argc >= 2 && strcmp(argv[1], "preflight") == 0) {
		if ((rv = iptc_preflight(err, sizeof(err))) != 0)
			fprintf(stderr, "iptc_check: %s\n", err);
		rv = rv != 0;
	} else if (argc >= 3 && strcmp(argv[1], "bench") == 0)
		rv = bench(strtoul(argv[2], NULL, 10));
	else
		return usage();
	rules_set_free(&rs);
	return rv;
}
