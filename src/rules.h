/*
 * rules.h - the nat rules kube-uproxy wants, as plain data.
 *
 * The proxier plans the whole desired content of our four nat chains
 * (DESIGN.md section 3) from the current service ports, one
 * rules_plan_port() call per port, and hands the set to iptc_apply(),
 * which installs it in one libiptc transaction.  Nothing here touches the
 * kernel, so planning is cheap and unit-testable; rules_render() prints a
 * rule exactly as `iptables-legacy -t nat -S` shows it, for tests and logs.
 */
#ifndef RULES_H
#define RULES_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "k8s.h"
#include "store.h"

/*
 * Our chains, in the order `iptables -S` lists user chains (by name), so
 * that a sorted rule set reads like the kernel's dump.
 */
enum rules_chain {
	RULES_NODEPORT_CONTAINER,	/* from PREROUTING, last, dst-type LOCAL */
	RULES_NODEPORT_HOST,		/* from OUTPUT, last, dst-type LOCAL */
	RULES_PORTALS_CONTAINER,	/* from PREROUTING, first */
	RULES_PORTALS_HOST,		/* from OUTPUT, first */
	RULES_FIREWALL,			/* filter table: from INPUT, FORWARD
					   and OUTPUT, first */
	RULES_NCHAINS
};
/* The chains of the nat table: those before RULES_FIREWALL. */
#define RULES_NAT_NCHAINS	RULES_FIREWALL

enum rules_target {
	RULES_REDIRECT,		/* -j REDIRECT --to-ports PORT */
	RULES_DNAT,		/* -j DNAT --to-destination IP:PORT */
	RULES_DROP,		/* -j DROP (RULES_FIREWALL only) */
};

/* Longest comment the kernel's comment match holds (XT_MAX_COMMENT_LEN - 1). */
#define RULES_COMMENT_MAX	255

/* One rule of one of our chains in the nat table. */
struct rule {
	enum rules_chain r_chain;
	int		 r_family;	/* AF_INET or AF_INET6 */
	int		 r_has_src;	/* a source range: -s PREFIX */
	struct addr_prefix r_src;
	int		 r_has_dst;	/* 0 for NodePort rules: no -d */
	union addr	 r_dst;		/* -d IP/32 or /128; port 0 */
	enum k8s_proto	 r_proto;	/* TCP or UDP */
	uint16_t	 r_dport;	/* --dport: service port or nodePort */
	enum rules_target r_target;
	union addr	 r_to;		/* proxy port; DNAT: also the bind IP;
					   DROP: zero */
	char		*r_comment;	/* "ns/name:portname", owned */
	const void	*r_owner;	/* who planned it (rules_set_update) */
};

/*
 * A growable array of rules.  A zeroed struct rule_set is empty.
 * rs_nodeport (borrowed, not freed with the set) limits where the
 * NodePort chains are reached from: only destinations in these ranges
 * (--nodeport-addresses; a range of the other family does not count); 0
 * ranges: every local address.  Backends read it; the planner ignores it.
 */
struct rule_set {
	struct rule	*rs_rules;
	size_t		 rs_n;
	size_t		 rs_cap;
	const struct addr_prefix *rs_nodeport;
	size_t		 rs_n_nodeport;
};

/*
 * What the planner knows of the node, set once at start-up (portals_new)
 * from the configuration, like the configuration itself: the node's
 * primary IP of each family (kube-proxy's nodeIP; family 0 when unknown).
 */
struct rules_node {
	union addr	 rn_ip4;
	union addr	 rn_ip6;
};
/* Copy *n for the planner; NULL forgets it (no node IP known). */
void		 rules_set_node(const struct rules_node *n);

/* "KUBE-PORTALS-CONTAINER" etc. */
const char	*rules_chain_name(enum rules_chain);

/*
 * Append the rules of one service port, for a proxy socket on `bind`
 * (NULL means the IPv4 wildcard) port `proxy_port`:
 *  - every distinct cluster IP, externalIP and LoadBalancer ingress IP gets
 *    one rule in KUBE-PORTALS-CONTAINER and one in KUBE-PORTALS-HOST
 *    (-d IP, --dport port);
 *  - a nodePort gets one rule in KUBE-NODEPORT-CONTAINER and one in
 *    KUBE-NODEPORT-HOST (--dport nodePort, no -d) for IPv4 always, because a
 *    nodePort answers on every local address and nodes have IPv4 ones, and
 *    for IPv6 too when the service has any IPv6 address;
 *  - the target is REDIRECT to the proxy port when bind is a wildcard
 *    (0.0.0.0 or ::), else DNAT to bind:proxy_port, as the Go original did:
 *    a REDIRECT lands on the incoming interface's primary address, where a
 *    socket bound to one specific IP does not listen.  For the same reason
 *    a rule of the other family than a specific bind address is not
 *    planned at all (no IPv6 packet can reach an IPv4-bound socket).
 * loadBalancerSourceRanges (sp->source_ranges), as kube-proxy's
 * iptables proxier: an LB ingress IP of a port with source ranges gets
 * its two portal rules once per range of its family (-s RANGE; a range
 * inside another one is left out), and when one of those ranges holds
 * the node's IP of that family (rules_set_node), once more per LB IP of
 * the port as source (-s LBIP/32: a node's request to a VIP that routes
 * back to itself comes from the VIP); plus one RULES_FIREWALL rule
 * (-d LBIP --dport port -j DROP) that drops in the filter table what no
 * portal rule redirected.  An LB IP with no range of its family gets
 * only the DROP rule: every source is outside the ranges.
 * The comment is sp->key, cut to RULES_COMMENT_MAX bytes.  Returns the
 * number of rules appended, or -1 (nothing appended) for a protocol other
 * than TCP and UDP or a zero proxy port.
 */
int		 rules_plan_port(struct rule_set *, const struct store_port *sp,
		    uint16_t proxy_port, const union addr *bind);
/*
 * The same with external traffic (externalIPs, LB ingress IPs, nodePort)
 * sent to ext_proxy_port (0: no rule for it) and cluster IPs to
 * proxy_port: a port whose external traffic is balanced over another
 * endpoint set (store_port.ext_separate).  An external IP equal to a
 * cluster IP is internal.
 */
int		 rules_plan_port_ext(struct rule_set *, const struct store_port *sp,
		    uint16_t proxy_port, uint16_t ext_proxy_port,
		    const union addr *bind);

/*
 * Drop the NodePort rules (KUBE-NODEPORT-* chains) among the rules from
 * index `from` on, keeping the others in order: for a nodePort that
 * cannot be held (another program on the node has it), whose traffic
 * must not be taken.  Returns how many were dropped.
 */
size_t		 rules_drop_nodeports(struct rule_set *, size_t from);
/* Free the rules and their comments; the set is empty (and reusable) after. */
void		 rules_set_free(struct rule_set *);

/*
 * Canonical order: family, chain (iptables -S order), comment, destination,
 * protocol, dport, source, target.  Like memcmp.
 */
int		 rules_cmp(const struct rule *, const struct rule *);
/* Sort the set in canonical order. */
void		 rules_sort(struct rule_set *);
/* 1 if two sorted sets hold the same rules in the same order, else 0. */
int		 rules_set_equal(const struct rule_set *, const struct rule_set *);
/*
 * Update a sorted set in one pass: drop each rule whose r_owner `drop`
 * says 1 for, and merge in the sorted set `add`, whose rules move into
 * `set` (add is left empty).  O(n + m): a caller that knows which owners
 * changed replans only those.
 */
void		 rules_set_update(struct rule_set *set, struct rule_set *add,
		    int (*drop)(const void *owner, void *arg), void *arg);
/*
 * Of the prefixes p[0..n), those of `family`, none inside another one
 * (prefixes nest or are disjoint: these are disjoint), sorted by address:
 * written to out (room for n), returns how many.
 */
size_t		 rules_disjoint_prefixes(const struct addr_prefix *p, size_t n,
		    int family, struct addr_prefix *out);
/* Rules of one family in the set. */
size_t		 rules_count_family(const struct rule_set *, int family);

/*
 * Print a rule as `iptables-legacy -t nat -S` (or ip6tables-legacy; the
 * firewall chain: -t filter) shows it, without a newline (match order is
 * ours: -s, -d, -p, -m tcp|udp, then
 * -m comment, as DESIGN.md section 3; iptables prints matches in the order
 * the entry holds them):
 *   -A KUBE-PORTALS-CONTAINER -d 198.19.0.10/32 -p tcp -m tcp --dport 80
 *   -m comment --comment "default/nginx-svc:http" -j REDIRECT --to-ports 40123
 * (one line).  Returns what snprintf returns: the full length, which may
 * be >= len when buf was too small (the output is then cut).
 */
int		 rules_render(const struct rule *, char *buf, size_t len);

#endif
