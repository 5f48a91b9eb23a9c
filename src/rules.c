/*
 * rules.c - planning our nat rules as plain data (see rules.h).
 *
 * Pure computation: no libiptc, no event loop.  iptc.c turns these
 * structs into x_tables entries; the text form here mirrors what
 * iptables-legacy prints so that tests can compare the two.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "rules.h"
#include "util.h"

static const char *const chain_names[RULES_NCHAINS] = {
	[RULES_NODEPORT_CONTAINER] = "KUBE-NODEPORT-CONTAINER",
	[RULES_NODEPORT_HOST] = "KUBE-NODEPORT-HOST",
	[RULES_PORTALS_CONTAINER] = "KUBE-PORTALS-CONTAINER",
	[RULES_PORTALS_HOST] = "KUBE-PORTALS-HOST",
	[RULES_FIREWALL] = "KUBE-UPROXY-FIREWALL",
};

/* Set at start-up from the configuration (rules_set_node). */
static struct rules_node node;

void
rules_set_node(const struct rules_node *n)
{
	if (n != NULL)
		node = *n;
	else
		memset(&node, 0, sizeof(node));
}

const char *
rules_chain_name(enum rules_chain c)
{
	return (unsigned)c < RULES_NCHAINS ? chain_names[c] : "?";
}

static int
is_wildcard(const union addr *a)
{
	if (a->sa.sa_family == AF_INET6)
		return IN6_IS_ADDR_UNSPECIFIED(&a->in6.sin6_addr);
	return a->in4.sin_addr.s_addr == htonl(INADDR_ANY);
}

static int
is_ip(const union addr *a)
{
	return (a->sa.sa_family == AF_INET || a->sa.sa_family == AF_INET6) &&
	    !is_wildcard(a);
}

/* The IP alone (port 0), so that equal IPs compare equal with addr_cmp. */
static void
ip_only(const union addr *in, union addr *out)
{
	memset(out, 0, sizeof(*out));
	if (in->sa.sa_family == AF_INET6) {
		out->in6.sin6_family = AF_INET6;
		out->in6.sin6_addr = in->in6.sin6_addr;
	} else {
		out->in4.sin_family = AF_INET;
		out->in4.sin_addr = in->in4.sin_addr;
	}
}

struct plan {
	struct rule_set		*set;
	const struct store_port	*sp;
	const union addr	*bind;	/* NULL: wildcard */
	uint16_t		 proxy_port;
	const struct addr_prefix *src;	/* -s, or NULL */
	int			 drop;		/* -j DROP */
	int			 n;
};

static void
plan_rule(struct plan *p, enum rules_chain chain, int family,
    const union addr *dst, uint16_t dport)
{
	struct rule_set *rs = p->set;
	struct rule *r;
	size_t clen;

	/* Traffic of one family can never reach a socket bound to the other. */
	if (p->bind != NULL && p->bind->sa.sa_family != family)
		return;
	if (rs->rs_n == rs->rs_cap) {
		rs->rs_cap = rs->rs_cap ? rs->rs_cap * 2 : 64;
		rs->rs_rules = xreallocarray(rs->rs_rules, rs->rs_cap,
		    sizeof(*rs->rs_rules));
	}
	r = &rs->rs_rules[rs->rs_n++];
	memset(r, 0, sizeof(*r));
	r->r_chain = chain;
	r->r_family = family;
	if (dst != NULL) {
		r->r_has_dst = 1;
		ip_only(dst, &r->r_dst);
	}
	if (p->src != NULL) {
		r->r_has_src = 1;
		r->r_src = *p->src;
	}
	r->r_proto = p->sp->protocol;
	r->r_dport = dport;
	if (p->drop)
		r->r_target = RULES_DROP;
	else if (p->bind != NULL) {
		r->r_target = RULES_DNAT;
		ip_only(p->bind, &r->r_to);
	} else {
		r->r_target = RULES_REDIRECT;
		r->r_to.sa.sa_family = family;
	}
	if (!p->drop)
		addr_set_port(&r->r_to, p->proxy_port);
	clen = strlen(p->sp->key);
	if (clen > RULES_COMMENT_MAX)
		clen = RULES_COMMENT_MAX;
	r->r_comment = xcalloc(1, clen + 1);
	memcpy(r->r_comment, p->sp->key, clen);
	p->n++;
}

/* Is LB IP j of sp equal to an earlier one? */
static int
seen_before_lb(const struct store_port *sp, size_t j)
{
	size_t i;

	for (i = 0; i < j; i++)
		if (addr_cmp_ip(&sp->lb_ips[i], &sp->lb_ips[j]) == 0)
			return 1;
	return 0;
}

/* Has `ip` already been planned among the first `n` portal IPs? */
static int
seen_before(const union addr *const *ips, size_t n, const union addr *ip)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (addr_cmp_ip(ips[i], ip) == 0)
			return 1;
	return 0;
}

static int
prefix_cmp(const void *a, const void *b)
{
	const struct addr_prefix *pa = a, *pb = b;
	int c;

	if ((c = addr_cmp_ip(&pa->ap_addr, &pb->ap_addr)) != 0)
		return c;
	return pa->ap_len < pb->ap_len ? -1 : pa->ap_len > pb->ap_len;
}

size_t
rules_disjoint_prefixes(const struct addr_prefix *p, size_t n, int family,
    struct addr_prefix *out)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++)
		if (p[i].ap_addr.sa.sa_family == family)
			out[k++] = p[i];
	if (k > 1)
		qsort(out, k, sizeof(*out), prefix_cmp);
	/*
	 * Sorted by address, then length: a prefix holding others comes
	 * right before them, so keeping only what the last kept one does
	 * not hold leaves the outermost of each nest.
	 */
	for (i = 0, n = 0; i < k; i++) {
		if (n > 0 && addr_in_prefix(&out[i].ap_addr, &out[n - 1]))
			continue;
		out[n++] = out[i];
	}
	return n;
}

/* The node's IP of `family`, or NULL. */
static const union addr *
node_ip(int family)
{
	const union addr *a = family == AF_INET6 ? &node.rn_ip6 : &node.rn_ip4;

	return a->sa.sa_family == family ? a : NULL;
}

/*
 * The portal rules of one LB IP of a port with source ranges (see
 * rules.h), and its DROP rule.  ranges: the port's ranges of the IP's
 * family, disjoint.
 */
static void
plan_firewalled(struct plan *p, const union addr *lb,
    const struct addr_prefix *ranges, size_t n)
{
	const struct store_port *sp = p->sp;
	const union addr *nip = node_ip(lb->sa.sa_family);
	struct addr_prefix self;
	size_t i, j;
	int from_node = 0;

	for (i = 0; i < n; i++) {
		p->src = &ranges[i];
		plan_rule(p, RULES_PORTALS_CONTAINER, lb->sa.sa_family, lb,
		    sp->port);
		plan_rule(p, RULES_PORTALS_HOST, lb->sa.sa_family, lb, sp->port);
		if (nip != NULL && addr_in_prefix(nip, &ranges[i]))
			from_node = 1;
	}
	for (j = 0; from_node && j < sp->n_lb_ips; j++) {
		if (sp->lb_ips[j].sa.sa_family != lb->sa.sa_family)
			continue;
		memset(&self, 0, sizeof(self));
		ip_only(&sp->lb_ips[j], &self.ap_addr);
		self.ap_len = lb->sa.sa_family == AF_INET6 ? 128 : 32;
		/* Already allowed, or listed before: once is enough. */
		for (i = 0; i < n; i++)
			if (addr_in_prefix(&self.ap_addr, &ranges[i]))
				break;
		if (i < n || seen_before_lb(sp, j))
			continue;
		p->src = &self;
		plan_rule(p, RULES_PORTALS_CONTAINER, lb->sa.sa_family, lb,
		    sp->port);
		plan_rule(p, RULES_PORTALS_HOST, lb->sa.sa_family, lb, sp->port);
	}
	p->src = NULL;
	p->drop = 1;
	plan_rule(p, RULES_FIREWALL, lb->sa.sa_family, lb, sp->port);
	p->drop = 0;
}

int
rules_plan_port(struct rule_set *rs, const struct store_port *sp,
    uint16_t proxy_port, const union addr *bind)
{
	return rules_plan_port_ext(rs, sp, proxy_port, proxy_port, bind);
}

int
rules_plan_port_ext(struct rule_set *rs, const struct store_port *sp,
    uint16_t proxy_port, uint16_t ext_proxy_port, const union addr *bind)
{
	const union addr **ips;
	struct addr_prefix *ranges[2] = { NULL, NULL };
	size_t n_ranges[2] = { 0, 0 };
	struct plan p;
	size_t i, n = 0, total;
	int has_v6 = 0;

	if ((sp->protocol != K8S_PROTO_TCP && sp->protocol != K8S_PROTO_UDP) ||
	    proxy_port == 0)
		return -1;
	memset(&p, 0, sizeof(p));
	p.set = rs;
	p.sp = sp;
	p.proxy_port = proxy_port;
	p.bind = (bind != NULL && !is_wildcard(bind)) ? bind : NULL;

	/*
	 * Cluster IPs, externalIPs and LB ingress IPs all become portals;
	 * an address listed twice (an externalIP equal to the cluster IP,
	 * a repeated ingress) gets its rules once.
	 */
	total = sp->n_cluster_ips + sp->n_external_ips + sp->n_lb_ips;
	ips = xcalloc(total, sizeof(*ips));
	for (i = 0; i < sp->n_cluster_ips; i++)
		ips[n++] = &sp->cluster_ips[i];
	for (i = 0; i < sp->n_external_ips; i++)
		ips[n++] = &sp->external_ips[i];
	for (i = 0; i < sp->n_lb_ips; i++)
		ips[n++] = &sp->lb_ips[i];
	for (i = 0; i < n; i++) {
		int family = ips[i]->sa.sa_family;

		if (!is_ip(ips[i]) || seen_before(ips, i, ips[i]))
			continue;
		if (family == AF_INET6)
			has_v6 = 1;
		/* cluster IPs come first: internal traffic */
		p.proxy_port = i < sp->n_cluster_ips ? proxy_port : ext_proxy_port;
		if (p.proxy_port == 0)
			continue;
		if (sp->n_source_ranges > 0 &&
		    i >= sp->n_cluster_ips + sp->n_external_ips) {
			int f = family == AF_INET6;

			if (ranges[f] == NULL) {
				ranges[f] = xcalloc(sp->n_source_ranges,
				    sizeof(*ranges[f]));
				n_ranges[f] = rules_disjoint_prefixes(
				    sp->source_ranges, sp->n_source_ranges,
				    family, ranges[f]);
			}
			plan_firewalled(&p, ips[i], ranges[f], n_ranges[f]);
			continue;
		}
		plan_rule(&p, RULES_PORTALS_CONTAINER, family, ips[i], sp->port);
		plan_rule(&p, RULES_PORTALS_HOST, family, ips[i], sp->port);
	}
	free(ips);
	free(ranges[0]);
	free(ranges[1]);

	p.proxy_port = ext_proxy_port;
	if (sp->node_port != 0 && ext_proxy_port != 0) {
		plan_rule(&p, RULES_NODEPORT_CONTAINER, AF_INET, NULL,
		    sp->node_port);
		plan_rule(&p, RULES_NODEPORT_HOST, AF_INET, NULL, sp->node_port);
		if (has_v6) {
			plan_rule(&p, RULES_NODEPORT_CONTAINER, AF_INET6, NULL,
			    sp->node_port);
			plan_rule(&p, RULES_NODEPORT_HOST, AF_INET6, NULL,
			    sp->node_port);
		}
	}
	if (p.bind != NULL && p.n == 0)
		log_debug(2, "service port %s: no rule fits bind address family",
		    sp->key);
	return p.n;
}

void
rules_set_free(struct rule_set *rs)
{
	size_t i;

	for (i = 0; i < rs->rs_n; i++)
		free(rs->rs_rules[i].r_comment);
	free(rs->rs_rules);
	memset(rs, 0, sizeof(*rs));
}

#define CMP(a, b)	do {						\
	if ((a) != (b))							\
		return (a) < (b) ? -1 : 1;				\
} while (0)

int
rules_cmp(const struct rule *a, const struct rule *b)
{
	int c;

	CMP(a->r_family, b->r_family);
	CMP(a->r_chain, b->r_chain);
	if ((c = strcmp(a->r_comment, b->r_comment)) != 0)
		return c;
	CMP(a->r_has_dst, b->r_has_dst);
	if (a->r_has_dst && (c = addr_cmp(&a->r_dst, &b->r_dst)) != 0)
		return c;
	CMP(a->r_proto, b->r_proto);
	CMP(a->r_dport, b->r_dport);
	CMP(a->r_has_src, b->r_has_src);
	if (a->r_has_src && (c = prefix_cmp(&a->r_src, &b->r_src)) != 0)
		return c;
	CMP(a->r_target, b->r_target);
	return addr_cmp(&a->r_to, &b->r_to);
}

static int
rule_qsort_cmp(const void *a, const void *b)
{
	return rules_cmp(a, b);
}

void
rules_sort(struct rule_set *rs)
{
	if (rs->rs_n > 1)
		qsort(rs->rs_rules, rs->rs_n, sizeof(*rs->rs_rules),
		    rule_qsort_cmp);
}

void
rules_set_update(struct rule_set *set, struct rule_set *add,
    int (*drop)(const void *owner, void *arg), void *arg)
{
	struct rule_set out = { 0 };
	size_t i = 0, j = 0;

	out.rs_cap = set->rs_n + add->rs_n;
	out.rs_rules = xreallocarray(NULL, out.rs_cap ? out.rs_cap : 1,
	    sizeof(*out.rs_rules));
	while (i < set->rs_n || j < add->rs_n) {
		if (i < set->rs_n && drop(set->rs_rules[i].r_owner, arg)) {
			free(set->rs_rules[i++].r_comment);
			continue;
		}
		if (j == add->rs_n || (i < set->rs_n &&
		    rules_cmp(&set->rs_rules[i], &add->rs_rules[j]) <= 0))
			out.rs_rules[out.rs_n++] = set->rs_rules[i++];
		else
			out.rs_rules[out.rs_n++] = add->rs_rules[j++];
	}
	free(set->rs_rules);
	free(add->rs_rules);
	memset(add, 0, sizeof(*add));
	out.rs_nodeport = set->rs_nodeport;
	out.rs_n_nodeport = set->rs_n_nodeport;
	*set = out;
}

int
rules_set_equal(const struct rule_set *a, const struct rule_set *b)
{
	size_t i;

	if (a->rs_n != b->rs_n)
		return 0;
	for (i = 0; i < a->rs_n; i++)
		if (rules_cmp(&a->rs_rules[i], &b->rs_rules[i]) != 0)
			return 0;
	return 1;
}

size_t
rules_drop_nodeports(struct rule_set *rs, size_t from)
{
	size_t i, keep = from;

	for (i = from; i < rs->rs_n; i++) {
		if (rs->rs_rules[i].r_chain == RULES_NODEPORT_CONTAINER ||
		    rs->rs_rules[i].r_chain == RULES_NODEPORT_HOST) {
			free(rs->rs_rules[i].r_comment);
			continue;
		}
		rs->rs_rules[keep++] = rs->rs_rules[i];
	}
	i = rs->rs_n - keep;
	rs->rs_n = keep;
	return i;
}

size_t
rules_count_family(const struct rule_set *rs, int family)
{
	size_t i, n = 0;

	for (i = 0; i < rs->rs_n; i++)
		if (rs->rs_rules[i].r_family == family)
			n++;
	return n;
}

/*
 * A comment as iptables quotes it (xtables_save_string): bare when it is
 * only letters, digits, '-' and '_', else in double quotes with '"', '\'
 * and '\'' escaped by a backslash.
 */
static void
quote_comment(const char *s, char *buf, size_t len)
{
	static const char bare[] = "_-0123456789"
	    "abcdefghijklmnopqrstuvwxyz" "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
	size_t n = strspn(s, bare), o = 0;

	if (n > 0 && s[n] == '\0') {
		snprintf(buf, len, "%s", s);
		return;
	}
	/* len is at least 2 * RULES_COMMENT_MAX + 3: every char fits. */
	buf[o++] = '"';
	for (; *s != '\0' && o + 4 < len; s++) {
		if (*s == '"' || *s == '\\' || *s == '\'')
			buf[o++] = '\\';
		buf[o++] = *s;
	}
	buf[o++] = '"';
	buf[o] = '\0';
}

int
rules_render(const struct rule *r, char *buf, size_t len)
{
	char src[ADDR_STRLEN + 8], dst[ADDR_STRLEN + 8], to[ADDR_STRLEN + 32];
	char comment[2 * RULES_COMMENT_MAX + 8], ip[ADDR_STRLEN];
	const char *proto = r->r_proto == K8S_PROTO_UDP ? "udp" : "tcp";

	src[0] = dst[0] = '\0';
	if (r->r_has_src)
		snprintf(src, sizeof(src), " -s %s/%u",
		    addr_str(&r->r_src.ap_addr, 0, ip, sizeof(ip)),
		    r->r_src.ap_len);
	if (r->r_has_dst)
		snprintf(dst, sizeof(dst), " -d %s/%d",
		    addr_str(&r->r_dst, 0, ip, sizeof(ip)),
		    r->r_family == AF_INET6 ? 128 : 32);
	if (r->r_target == RULES_DROP)
		snprintf(to, sizeof(to), "DROP");
	else if (r->r_target == RULES_DNAT)
		snprintf(to, sizeof(to), "DNAT --to-destination %s",
		    addr_str(&r->r_to, 1, ip, sizeof(ip)));
	else
		snprintf(to, sizeof(to), "REDIRECT --to-ports %u",
		    addr_port(&r->r_to));
	quote_comment(r->r_comment, comment, sizeof(comment));
	return snprintf(buf, len, "-A %s%s%s -p %s -m %s --dport %u"
	    " -m comment --comment %s -j %s", rules_chain_name(r->r_chain),
	    src, dst, proto, proto, r->r_dport, comment, to);
}
