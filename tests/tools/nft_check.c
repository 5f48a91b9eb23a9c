/*
 * nft_check.c - drive src/rules.c and src/nft.c against a real kernel.
 *
 * A helper for tests/tools/nft_check.sh, which runs it as root inside a
 * throwaway network namespace and compares what the kernel then holds
 * (`nft -j list table ip kube-uproxy`) with what this tool planned.
 *
 *   nft_check render SET 4|6   the elements SET wants, one per line:
 *                              MAP KEY : DATA "COMMENT" (sorted by the caller)
 *   nft_check run              read commands from stdin, one per line, on
 *                              one handle (so that applies are updates):
 *                                apply SET   -> "ok" or "error: ..."
 *                                nodeport CIDR,...|none -> "ok": the
 *                                  --nodeport-addresses of later applies
 *                                stats       -> "commits N builds N ..."
 *                                cleanup     -> "ok" or "error: ..."
 *   nft_check cleanup          delete our tables (both families)
 *   nft_check preflight        the daemon's start-up check
 *   nft_check bench N          time builds and updates at N service ports
 *
 * Sets: "full" (every kind of service, IPv4 and IPv6), "less" (full minus
 * shop/front), "dnat" (full, proxy bound to 198.18.0.1), "dnat6" (bound to
 * 2001:2::1), "clash" (two services claiming one externalIP:port),
 * "empty", "walk:SEED:STEP" (step STEP of a random walk, see plan_walk),
 * "ranges" (LB IPs with loadBalancerSourceRanges, both families).
 * The render is computed here from the plan, independently of nft.c.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "log.h"
#include "nft.h"
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
	    { "2001:2::10" }, { "2001:2::11" }, { NULL }, { NULL } },
	{ "v6/dns:dns", K8S_PROTO_UDP, 53, 0,
	    { "2001:2::53", "198.19.0.54" }, { NULL }, { NULL }, { NULL } },
};

static const struct svc ranged[] = {
	{ "fw/lb:http", K8S_PROTO_TCP, 8090, 30090,
	    { "198.19.4.1" }, { NULL }, { "198.18.100.1", "198.18.100.2" },
	    { "198.18.0.0/24", "198.18.0.128/25", "203.0.113.0/24",
	      "2001:2::/64" } },
	{ "fw/dns6:dns", K8S_PROTO_UDP, 53, 0,
	    { "2001:2::4:1" }, { NULL }, { "2001:2::100:1" },
	    { "2001:2:0:1::/64", "198.18.0.0/15" } },
};

/* Two services claim one LB IP and port, with nested source ranges. */
static const struct svc clashfw[] = {
	{ "a/first:p", K8S_PROTO_TCP, 80, 0,
	    { "198.19.3.1" }, { NULL }, { "198.18.3.4" }, { "198.18.0.0/24" } },
	{ "b/second:p", K8S_PROTO_TCP, 80, 0,
	    { "198.19.3.2" }, { NULL }, { "198.18.3.4" },
	    { "198.18.0.128/25", "198.18.1.0/24" } },
};

static const struct svc clash[] = {
	{ "a/first:p", K8S_PROTO_TCP, 80, 0,
	    { "198.19.3.1" }, { "198.18.3.3" }, { NULL }, { NULL } },
	{ "b/second:p", K8S_PROTO_TCP, 80, 0,
	    { "198.19.3.2" }, { "198.18.3.3" }, { NULL }, { NULL } },
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
 * A random walk over WALK_SVCS services: step 0 holds about 3 in 4 of
 * them; each later step makes one to three changes (a service added or
 * removed, a new proxy port, a second cluster IP, a nodePort, TCP to UDP,
 * an IPv6 address, an LB IP without, with one and with other
 * loadBalancerSourceRanges), every seventh step sixty.  Deterministic for
 * a seed.
 */
#define WALK_SVCS	120

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
		int	 present, ips, node_port, udp, v6, fw;
		uint16_t proxy_port;
	} w[WALK_SVCS];
	uint32_t st = seed * 2654435761u + 1;
	unsigned s, k, n, i;

	for (i = 0; i < WALK_SVCS; i++) {
		w[i].present = walk_rand(&st) % 4 != 0;
		w[i].ips = 1;
		w[i].node_port = 0;
		w[i].udp = i % 5 == 0;
		w[i].v6 = i % 7 == 0;
		w[i].proxy_port = (uint16_t)(40000 + i);
		w[i].fw = i % 3 == 0 ? 2 : 0;
	}
	for (s = 1; s <= step; s++) {
		n = s % 7 == 0 ? 60 : 1 + walk_rand(&st) % 3;
		for (k = 0; k < n; k++) {
			i = walk_rand(&st) % WALK_SVCS;
			switch (walk_rand(&st) % 7) {
			case 5: w[i].fw = (w[i].fw + 1) % 4; break;
			case 0: w[i].present = !w[i].present; break;
			case 1: w[i].proxy_port += 1000; break;
			case 2: w[i].ips = 3 - w[i].ips; break;
			case 3: w[i].udp = !w[i].udp; break;
			case 4: w[i].v6 = !w[i].v6; break;
			default: w[i].node_port = !w[i].node_port; break;
			}
		}
	}
	for (i = 0; i < WALK_SVCS; i++) {
		static const char *const fw_ranges[][3] = {
			{ NULL }, { NULL },
			{ "198.18.0.0/24", "198.18.9.0/24", NULL },
			{ "198.18.0.0/16", "198.18.9.0/24", "2001:2::/48" },
		};
		union addr cluster[3], lb;
		struct addr_prefix ranges[3];
		struct store_port sp;
		char key[64], ip[64];
		size_t nip = 0, nr;

		if (!w[i].present)
			continue;
		memset(&sp, 0, sizeof(sp));
		snprintf(key, sizeof(key), "walk/svc-%03u:p", i);
		snprintf(ip, sizeof(ip), "198.19.%u.%u", 10 + i, 1);
		addr_parse(ip, 0, &cluster[nip++]);
		if (w[i].ips == 2) {
			snprintf(ip, sizeof(ip), "198.19.%u.%u", 10 + i, 2);
			addr_parse(ip, 0, &cluster[nip++]);
		}
		if (w[i].v6) {
			snprintf(ip, sizeof(ip), "2001:2::%x", 0x100 + i);
			addr_parse(ip, 0, &cluster[nip++]);
		}
		sp.key = key;
		sp.protocol = w[i].udp ? K8S_PROTO_UDP : K8S_PROTO_TCP;
		sp.port = 80;
		sp.node_port = w[i].node_port ? (uint16_t)(30000 + i) : 0;
		sp.cluster_ips = cluster;
		sp.n_cluster_ips = nip;
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
	if (strcmp(name, "empty") == 0)
		return 0;
	if (strcmp(name, "clashfw") == 0) {
		for (i = 0; i < nitems(clashfw); i++)
			plan_svc(rs, &clashfw[i], (uint16_t)(41000 + i), NULL);
		rules_sort(rs);
		return 0;
	}
	if (strcmp(name, "clash") == 0) {
		for (i = 0; i < nitems(clash); i++)
			plan_svc(rs, &clash[i], (uint16_t)(41000 + i), NULL);
		rules_sort(rs);
		return 0;
	}
	if (strcmp(name, "dnat") == 0 || strcmp(name, "dnat6") == 0) {
		addr_parse(name[4] == '6' ? "2001:2::1" : "198.18.0.1", 0, &bind);
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

/* One element as text, the way nft_check.sh prints nft's JSON. */
static void
render_rule(const struct rule *r, char *key, size_t klen, char *val,
    size_t vlen)
{
	const char *proto = r->r_proto == K8S_PROTO_UDP ? "udp" : "tcp";
	char dst[ADDR_STRLEN], to[ADDR_STRLEN], src[ADDR_STRLEN + 8];
	const char *map;

	if (r->r_target == RULES_DROP) {
		snprintf(key, klen, "firewall %s . %s . %u",
		    addr_str(&r->r_dst, 0, dst, sizeof(dst)), proto, r->r_dport);
		snprintf(val, vlen, "-");
		return;
	}
	if (r->r_has_src) {
		/* the firewall-allow element (the portal one: see render) */
		snprintf(key, klen, "firewall-allow %s . %s . %u . %s",
		    addr_str(&r->r_dst, 0, dst, sizeof(dst)), proto, r->r_dport,
		    addr_prefix_str(&r->r_src, src, sizeof(src)));
		snprintf(val, vlen, "-");
		return;
	}
	if (r->r_has_dst) {
		map = r->r_target == RULES_DNAT ? "portals-dnat" : "portals";
		snprintf(key, klen, "%s %s . %s . %u", map,
		    addr_str(&r->r_dst, 0, dst, sizeof(dst)), proto, r->r_dport);
	} else {
		map = r->r_target == RULES_DNAT ? "nodeports-dnat" : "nodeports";
		snprintf(key, klen, "%s %s . %u", map, proto, r->r_dport);
	}
	if (r->r_target == RULES_DNAT)
		snprintf(val, vlen, "%s . %u", addr_str(&r->r_to, 0, to,
		    sizeof(to)), addr_port(&r->r_to));
	else
		snprintf(val, vlen, "%u", addr_port(&r->r_to));
}

/* Every element of `family` once: the first rule of a key wins. */
static void
render(const struct rule_set *rs, int family)
{
	char (*keys)[160] = xcalloc(2 * rs->rs_n + 1, sizeof(*keys));
	const char **owner = xcalloc(2 * rs->rs_n + 1, sizeof(*owner));
	char val[128];
	size_t i, j, n = 0;

	for (i = 0; i < rs->rs_n; i++) {
		const struct rule *r = &rs->rs_rules[i];

		if (r->r_family != family)
			continue;
		if (r->r_has_src) {
			/* A portal rule with -s: its element, then its allow. */
			struct rule plain = *r;

			plain.r_has_src = 0;
			render_rule(&plain, keys[n], sizeof(keys[n]), val,
			    sizeof(val));
			for (j = 0; j < n; j++)
				if (strcmp(keys[j], keys[n]) == 0)
					break;
			if (j == n) {
				printf("%s : %s \"%s\"\n", keys[n], val,
				    r->r_comment);
				owner[n++] = r->r_comment;
			} else if (strcmp(owner[j], r->r_comment) != 0)
				continue;	/* another's address: no range */
		}
		render_rule(r, keys[n], sizeof(keys[n]), val, sizeof(val));
		for (j = 0; j < n; j++)
			if (strcmp(keys[j], keys[n]) == 0)
				break;
		if (j < n)
			continue;
		printf("%s : %s \"%s\"\n", keys[n], val, r->r_comment);
		owner[n++] = r->r_comment;
	}
	free(owner);
	free(keys);
}

static int
apply_both(struct nft *n, const struct rule_set *rs, char *err, size_t len)
{
	if (nft_apply(n, AF_INET, rs, err, len) == -1)
		return -1;
	return nft_apply(n, AF_INET6, rs, err, len);
}

static int
cleanup_both(char *err, size_t len)
{
	if (nft_cleanup(AF_INET, err, len) == -1)
		return -1;
	return nft_cleanup(AF_INET6, err, len);
}

/* The command loop of `nft_check run`. */
static int
run(void)
{
	char line[256], err[512], set[200], *tok, *save;
	struct addr_prefix np[8];
	struct nft_stats st;
	struct nft *n;
	size_t n_np = 0;

	if ((n = nft_new(err, sizeof(err))) == NULL) {
		fprintf(stderr, "nft_check: %s\n", err);
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (fgets(line, sizeof(line), stdin) != NULL) {
		struct rule_set rs = { 0 };

		line[strcspn(line, "\n")] = '\0';
		rs.rs_nodeport = np;
		rs.rs_n_nodeport = n_np;
		if (sscanf(line, "nodeport %199s", set) == 1) {
			n_np = 0;
			for (tok = strtok_r(set, ",", &save); tok != NULL &&
			    n_np < nitems(np); tok = strtok_r(NULL, ",", &save))
				if (strcmp(tok, "none") != 0 &&
				    addr_parse_prefix(tok, &np[n_np]) == 0)
					n_np++;
			printf("ok\n");
		} else if (sscanf(line, "apply %199s", set) == 1) {
			if (plan_set(&rs, set) == -1)
				printf("error: unknown set %s\n", set);
			else if (apply_both(n, &rs, err, sizeof(err)) == -1)
				printf("error: %s\n", err);
			else
				printf("ok\n");
			rules_set_free(&rs);
		} else if (strcmp(line, "stats") == 0) {
			nft_get_stats(n, &st);
			printf("commits %llu builds %llu checks %llu added %llu "
			    "deleted %llu failures %llu\n",
			    (unsigned long long)st.ns_commits,
			    (unsigned long long)st.ns_builds,
			    (unsigned long long)st.ns_checks,
			    (unsigned long long)st.ns_added,
			    (unsigned long long)st.ns_deleted,
			    (unsigned long long)st.ns_failures);
		} else if (strcmp(line, "cleanup") == 0) {
			if (cleanup_both(err, sizeof(err)) == -1)
				printf("error: %s\n", err);
			else
				printf("ok\n");
		} else
			printf("error: unknown command\n");
	}
	nft_free(n);
	return 0;
}

/* --- bench ------------------------------------------------------------------ */

static double
now_ms(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/*
 * N ClusterIP TCP ports, every tenth with a NodePort; IPv4 only.  Ports
 * below `moved` get proxy ports shifted by 7 (a thousand changed).
 */
static void
plan_bench(struct rule_set *rs, size_t n, size_t moved)
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
		rules_plan_port(rs, &sp, (uint16_t)(20000 + (i + (i < moved ?
		    7 : 0)) % 40000), NULL);
	}
	rules_sort(rs);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

#define TIMED(var, clk, expr) do {					\
	double t0_ = now_ms(clk);					\
	if ((expr) == -1)						\
		goto fail;						\
	var = now_ms(clk) - t0_;					\
} while (0)

static int
bench(size_t n)
{
	struct rule_set rs = { 0 }, more = { 0 }, moved = { 0 }, empty = { 0 };
	struct nft *h = NULL;
	char err[512];
	double t_plan, t_cold, t_same, t_same_cpu, t_check, t_add[5], t_del[5];
	double t_1000, t_clean;
	int i;

	t_plan = now_ms(CLOCK_MONOTONIC);
	plan_bench(&rs, n, 0);
	t_plan = now_ms(CLOCK_MONOTONIC) - t_plan;
	plan_bench(&more, n + 1, 0);
	plan_bench(&moved, n, n < 1000 ? n : 1000);
	if ((h = nft_new(err, sizeof(err))) == NULL)
		goto fail;
	TIMED(t_cold, CLOCK_MONOTONIC, nft_apply(h, AF_INET, &rs, err,
	    sizeof(err)));
	TIMED(t_same, CLOCK_MONOTONIC, nft_apply(h, AF_INET, &rs, err,
	    sizeof(err)));
	TIMED(t_same_cpu, CLOCK_PROCESS_CPUTIME_ID, nft_apply(h, AF_INET, &rs,
	    err, sizeof(err)));
	/* Someone else commits (our IPv6 table comes and goes): a check. */
	if (nft_apply(h, AF_INET6, &empty, err, sizeof(err)) == -1 ||
	    nft_cleanup(AF_INET6, err, sizeof(err)) == -1)
		goto fail;
	TIMED(t_check, CLOCK_MONOTONIC, nft_apply(h, AF_INET, &rs, err,
	    sizeof(err)));
	for (i = 0; i < 5; i++) {
		TIMED(t_add[i], CLOCK_MONOTONIC, nft_apply(h, AF_INET, &more,
		    err, sizeof(err)));
		TIMED(t_del[i], CLOCK_MONOTONIC, nft_apply(h, AF_INET, &rs,
		    err, sizeof(err)));
	}
	qsort(t_add, 5, sizeof(t_add[0]), cmp_double);
	qsort(t_del, 5, sizeof(t_del[0]), cmp_double);
	TIMED(t_1000, CLOCK_MONOTONIC, nft_apply(h, AF_INET, &moved, err,
	    sizeof(err)));
	TIMED(t_clean, CLOCK_MONOTONIC, nft_cleanup(AF_INET, err,
	    sizeof(err)));
	printf("%zu service ports, %zu rules: plan %.1f ms, build %.1f ms, "
	    "resync unchanged %.2f ms (%.2f ms CPU), resync after a foreign "
	    "commit %.1f ms, one added %.2f ms, one removed %.2f ms (medians "
	    "of 5), %zu changed %.1f ms, cleanup %.1f ms\n", n, rs.rs_n,
	    t_plan, t_cold, t_same, t_same_cpu, t_check, t_add[2], t_del[2],
	    n < 1000 ? n : (size_t)1000, t_1000, t_clean);
	nft_free(h);
	rules_set_free(&rs);
	rules_set_free(&more);
	rules_set_free(&moved);
	return 0;
 fail:
	fprintf(stderr, "nft_check: %s\n", err);
	nft_free(h);
	rules_set_free(&rs);
	rules_set_free(&more);
	rules_set_free(&moved);
	return 1;
}

static int
usage(void)
{
	fprintf(stderr, "usage: nft_check render SET 4|6 | run | cleanup | "
	    "preflight | bench N\n");
	return 1;
}

int
main(int argc, char **argv)
{
	struct rule_set rs = { 0 };
	char err[512];
	int rv = 0;

	log_init(getenv("NFT_CHECK_V") != NULL ? atoi(getenv("NFT_CHECK_V")) : 0);
	if (argc >= 4 && strcmp(argv[1], "render") == 0) {
		if (plan_set(&rs, argv[2]) == -1)
			return usage();
		render(&rs, strcmp(argv[3], "6") == 0 ? AF_INET6 : AF_INET);
	} else if (argc >= 2 && strcmp(argv[1], "run") == 0)
		rv = run();
	else if (argc >= 2 && strcmp(argv[1], "cleanup") == 0) {
		if ((rv = cleanup_both(err, sizeof(err))) != 0)
			fprintf(stderr, "nft_check: %s\n", err);
		rv = rv != 0;
	} else if (argc >= 2 && strcmp(argv[1], "preflight") == 0) {
		if ((rv = nft_preflight(err, sizeof(err))) != 0)
			fprintf(stderr, "nft_check: %s\n", err);
		rv = rv != 0;
	} else if (argc >= 3 && strcmp(argv[1], "bench") == 0)
		rv = bench(strtoul(argv[2], NULL, 10));
	else
		return usage();
	rules_set_free(&rs);
	return rv;
}
