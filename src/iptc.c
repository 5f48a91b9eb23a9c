/*
 * iptc.c - our nat chains installed with libiptc (see iptc.h).
 *
 * libip4tc and libip6tc are the same library compiled twice (iptc_* on
 * struct ipt_entry, ip6tc_* on struct ip6t_entry); a small table of
 * function pointers lets one code path drive both.  Rules are built here
 * as x_tables entries, the binary form the kernel and iptables share:
 *
 *   struct ipt_entry | match | match ... | target      (each XT_ALIGNed)
 *
 * with target_offset and next_offset in the header pointing at the target
 * and past it.  Matches and targets are named by their extension ("tcp",
 * "comment", "REDIRECT"...) and revision; the kernel loads the module.
 * libiptc keeps the whole table in memory and replaces it in one
 * setsockopt(IPT_SO_SET_REPLACE) at commit: that is our transaction.
 */
#include <sys/file.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libiptc/libiptc.h>
#include <libiptc/libip6tc.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/xt_addrtype.h>
#include <linux/netfilter/xt_comment.h>
#include <linux/netfilter/xt_tcpudp.h>

#include "iptc.h"
#include "log.h"
#include "util.h"

#define NAT_TABLE		"nat"
#define FILTER_TABLE		"filter"
#define COMMENT_PORTALS		"kube-uproxy portals"
#define COMMENT_NODEPORTS	"kube-uproxy nodeports"
#define COMMENT_FIREWALL	"kube-uproxy firewall"
#define NODEPORT_JUMPS_MAX	64	/* --nodeport-addresses ranges */
#define LOCK_PATH		"/run/xtables.lock"
#define COMMIT_TRIES		4
#define ENTRY_MAX		1024
/*
 * A chain is edited in place with at most this many inserts and deletes;
 * beyond, it is flushed and refilled.  libiptc finds a rule by number
 * walking its list, so each edit costs up to half the chain.
 */
#define EDITS_MAX		64

/* One family's libiptc, behind a common signature. */
struct family_ops {
	int		 af;
	const char	*name;		/* "IPv4" */
	const char	*proc_names;	/* tables the kernel has, this netns */
	const char	*modules;	/* what to load when it has none */
	size_t		 hdr_size;	/* sizeof(struct ipt_entry) */
	size_t		 ip_size;	/* sizeof(struct ipt_ip) */
	size_t		 off_target;	/* offsetof(.., target_offset) */
	size_t		 off_counters;	/* offsetof(.., counters) */
	struct xtc_handle *(*init)(const char *);
	void		 (*free)(struct xtc_handle *);
	int		 (*commit)(struct xtc_handle *);
	int		 (*is_chain)(const char *, struct xtc_handle *const);
	int		 (*create_chain)(const xt_chainlabel, struct xtc_handle *);
	int		 (*flush_entries)(const xt_chainlabel, struct xtc_handle *);
	int		 (*delete_chain)(const xt_chainlabel, struct xtc_handle *);
	int		 (*delete_num)(const xt_chainlabel, unsigned int,
			    struct xtc_handle *);
	const char	*(*strerror)(int);
	const void	*(*first_rule)(const char *, struct xtc_handle *);
	const void	*(*next_rule)(const void *, struct xtc_handle *);
	const char	*(*get_target)(const void *, struct xtc_handle *);
	int		 (*insert)(const char *, const void *, unsigned int,
			    struct xtc_handle *);
	int		 (*append)(const char *, const void *, struct xtc_handle *);
};

/* The entry-typed calls differ only in the pointer type. */
static const void *
first4(const char *c, struct xtc_handle *h) { return iptc_first_rule(c, h); }
static const void *
next4(const void *e, struct xtc_handle *h) { return iptc_next_rule(e, h); }
static const char *
target4(const void *e, struct xtc_handle *h) { return iptc_get_target(e, h); }
static int
insert4(const char *c, const void *e, unsigned int n, struct xtc_handle *h)
{ return iptc_insert_entry(c, e, n, h); }
static int
append4(const char *c, const void *e, struct xtc_handle *h)
{ return iptc_append_entry(c, e, h); }
static const void *
first6(const char *c, struct xtc_handle *h) { return ip6tc_first_rule(c, h); }
static const void *
next6(const void *e, struct xtc_handle *h) { return ip6tc_next_rule(e, h); }
static const char *
target6(const void *e, struct xtc_handle *h) { return ip6tc_get_target(e, h); }
static int
insert6(const char *c, const void *e, unsigned int n, struct xtc_handle *h)
{ return ip6tc_insert_entry(c, e, n, h); }
static int
append6(const char *c, const void *e, struct xtc_handle *h)
{ return ip6tc_append_entry(c, e, h); }

static const struct family_ops ops4 = {
	AF_INET, "IPv4", "/proc/net/ip_tables_names", "ip_tables iptable_nat",
	sizeof(struct ipt_entry), sizeof(struct ipt_ip),
	offsetof(struct ipt_entry, target_offset),
	offsetof(struct ipt_entry, counters),
	iptc_init, iptc_free, iptc_commit, iptc_is_chain, iptc_create_chain,
	iptc_flush_entries, iptc_delete_chain, iptc_delete_num_entry,
	iptc_strerror, first4, next4, target4, insert4, append4,
};
static const struct family_ops ops6 = {
	AF_INET6, "IPv6", "/proc/net/ip6_tables_names",
	"ip6_tables ip6table_nat",
	sizeof(struct ip6t_entry), sizeof(struct ip6t_ip6),
	offsetof(struct ip6t_entry, target_offset),
	offsetof(struct ip6t_entry, counters),
	ip6tc_init, ip6tc_free, ip6tc_commit, ip6tc_is_chain,
	ip6tc_create_chain, ip6tc_flush_entries, ip6tc_delete_chain,
	ip6tc_delete_num_entry, ip6tc_strerror, first6, next6, target6,
	insert6, append6,
};

static const struct family_ops *
ops_for(int af)
{
	return af == AF_INET6 ? &ops6 : af == AF_INET ? &ops4 : NULL;
}

/* The jumps to our chains from the built-in ones. */
struct hook {
	const char		*builtin;
	enum rules_chain	 portals;	/* first rule */
	enum rules_chain	 nodeports;	/* last rule */
};
static const struct hook hooks[] = {
	{ "PREROUTING", RULES_PORTALS_CONTAINER, RULES_NODEPORT_CONTAINER },
	{ "OUTPUT", RULES_PORTALS_HOST, RULES_NODEPORT_HOST },
};

/* --- building entries ------------------------------------------------- */

struct entry_buf {
	const struct family_ops	*ops;
	size_t			 len;
	union {
		uint64_t	 align;	/* xt_counters are 64-bit */
		unsigned char	 raw[ENTRY_MAX];
	} u;
};

static uint16_t *
eb_offsets(struct entry_buf *eb)
{
	/* target_offset, then next_offset, in both entry types */
	return (uint16_t *)(void *)(eb->u.raw + eb->ops->off_target);
}

static void
eb_init(struct entry_buf *eb, const struct family_ops *ops)
{
	memset(eb, 0, sizeof(*eb));
	eb->ops = ops;
	eb->len = ops->hdr_size;
}

/* Append a match or target header + `size` bytes of data; return the data. */
static void *
eb_add(struct entry_buf *eb, const char *name, uint8_t revision, size_t size)
{
	/* xt_entry_match and xt_entry_target share this layout */
	struct xt_entry_match *m = (void *)(eb->u.raw + eb->len);
	size_t total = XT_ALIGN(sizeof(*m) + size);

	m->u.user.match_size = (uint16_t)total;
	snprintf(m->u.user.name, sizeof(m->u.user.name), "%s", name);
	m->u.user.revision = revision;
	eb->len += total;
	return m->data;
}

static void *
eb_target(struct entry_buf *eb, const char *name, uint8_t revision,
    size_t size)
{
	void *data;

	eb_offsets(eb)[0] = (uint16_t)eb->len;
	data = eb_add(eb, name, revision, size);
	eb_offsets(eb)[1] = (uint16_t)eb->len;
	return data;
}

static void
eb_comment(struct entry_buf *eb, const char *comment)
{
	struct xt_comment_info *ci = eb_add(eb, "comment", 0, sizeof(*ci));

	snprintf(ci->comment, sizeof(ci->comment), "%s", comment);
}

/* Set the entry's -s (src 1) or -d to a prefix. */
static void
eb_prefix(struct entry_buf *eb, int src, const struct addr_prefix *p)
{
	unsigned char mask[16];
	size_t alen = eb->ops->af == AF_INET6 ? 16 : 4, i;
	unsigned bits = p->ap_len;

	for (i = 0; i < alen; i++, bits = bits > 8 ? bits - 8 : 0)
		mask[i] = bits >= 8 ? 0xff : (unsigned char)(0xff00 >> bits);
	if (eb->ops->af == AF_INET) {
		struct ipt_entry *e = (void *)eb->u.raw;

		memcpy(src ? &e->ip.src : &e->ip.dst,
		    &p->ap_addr.in4.sin_addr, 4);
		memcpy(src ? &e->ip.smsk : &e->ip.dmsk, mask, 4);
	} else {
		struct ip6t_entry *e = (void *)eb->u.raw;

		memcpy(src ? &e->ipv6.src : &e->ipv6.dst,
		    &p->ap_addr.in6.sin6_addr, 16);
		memcpy(src ? &e->ipv6.smsk : &e->ipv6.dmsk, mask, 16);
	}
}

/*
 * [-d RANGE] [-m addrtype --dst-type LOCAL] -m comment --comment C
 * -j CHAIN
 */
static void
build_jump(struct entry_buf *eb, const struct family_ops *ops,
    const char *chain, int local_only, const struct addr_prefix *dst,
    const char *comment)
{
	eb_init(eb, ops);
	if (dst != NULL)
		eb_prefix(eb, 0, dst);
	if (local_only) {
		struct xt_addrtype_info_v1 *at = eb_add(eb, "addrtype", 1,
		    sizeof(*at));

		at->dest = XT_ADDRTYPE_LOCAL;
	}
	eb_comment(eb, comment);
	/* A standard target named after a user chain: libiptc makes it a jump. */
	eb_target(eb, chain, 0, sizeof(int));
}

static void
build_rule(struct entry_buf *eb, const struct family_ops *ops,
    const struct rule *r)
{
	uint16_t proto = r->r_proto == K8S_PROTO_UDP ? IPPROTO_UDP : IPPROTO_TCP;
	uint16_t to_port = htons(addr_port(&r->r_to));
	int dnat = r->r_target == RULES_DNAT;

	eb_init(eb, ops);
	if (ops->af == AF_INET) {
		struct ipt_entry *e = (void *)eb->u.raw;

		e->ip.proto = proto;
		if (r->r_has_dst) {
			e->ip.dst = r->r_dst.in4.sin_addr;
			e->ip.dmsk.s_addr = 0xffffffff;
		}
	} else {
		struct ip6t_entry *e = (void *)eb->u.raw;

		/* ip6tables checks the protocol only when told to */
		e->ipv6.proto = proto;
		e->ipv6.flags = IP6T_F_PROTO;
		if (r->r_has_dst) {
			e->ipv6.dst = r->r_dst.in6.sin6_addr;
			memset(&e->ipv6.dmsk, 0xff, sizeof(e->ipv6.dmsk));
		}
	}
	if (r->r_has_src)
		eb_prefix(eb, 1, &r->r_src);
	if (proto == IPPROTO_UDP) {
		struct xt_udp *u = eb_add(eb, "udp", 0, sizeof(*u));

		u->spts[1] = 0xffff;
		u->dpts[0] = u->dpts[1] = r->r_dport;
	} else {
		struct xt_tcp *t = eb_add(eb, "tcp", 0, sizeof(*t));

		t->spts[1] = 0xffff;
		t->dpts[0] = t->dpts[1] = r->r_dport;
	}
	eb_comment(eb, r->r_comment);

	if (r->r_target == RULES_DROP) {
		/*
		 * A verdict, as libiptc stores it (and the kernel gives it
		 * back): the standard target, named "", holding -NF_DROP - 1.
		 * libiptc takes it named "DROP" (see libiptc_form).
		 */
		int *verdict = eb_target(eb, XT_STANDARD_TARGET, 0,
		    sizeof(int));

		*verdict = -NF_DROP - 1;
	} else if (dnat) {
		/*
		 * DNAT revision 2 (nf_nat_range2, both families, Linux >=
		 * 4.18): the one iptables 1.8 picks and therefore the one
		 * it can print; older revisions show "[unsupported revision]".
		 */
		struct nf_nat_range2 *nr = eb_target(eb, "DNAT", 2, sizeof(*nr));

		nr->flags = NF_NAT_RANGE_MAP_IPS | NF_NAT_RANGE_PROTO_SPECIFIED;
		if (ops->af == AF_INET)
			nr->min_addr.ip = nr->max_addr.ip =
			    r->r_to.in4.sin_addr.s_addr;
		else
			nr->min_addr.in6 = nr->max_addr.in6 =
			    r->r_to.in6.sin6_addr;
		nr->min_proto.all = nr->max_proto.all = to_port;
	} else if (ops->af == AF_INET) {
		/* REDIRECT has one revision, with the IPv4 "compat" range */
		struct nf_nat_ipv4_multi_range_compat *mr = eb_target(eb,
		    "REDIRECT", 0, sizeof(*mr));

		mr->rangesize = 1;
		mr->range[0].flags = NF_NAT_RANGE_PROTO_SPECIFIED;
		mr->range[0].min.all = mr->range[0].max.all = to_port;
	} else {
		struct nf_nat_range *nr = eb_target(eb, "REDIRECT", 0,
		    sizeof(*nr));

		nr->flags = NF_NAT_RANGE_PROTO_SPECIFIED;
		nr->min_proto.all = nr->max_proto.all = to_port;
	}
}

/*
 * The entry as libiptc takes it: a standard target named "" means "fall
 * through" to libiptc; a verdict is named (only DROP is ours).
 */
static const void *
libiptc_form(struct entry_buf *eb)
{
	struct xt_entry_target *t = (void *)(eb->u.raw + eb_offsets(eb)[0]);

	if (t->u.user.name[0] == '\0')
		snprintf(t->u.user.name, sizeof(t->u.user.name), "DROP");
	return eb->u.raw;
}

/*
 * Do the matches (and target) between offsets `from` and `to` of an
 * installed entry equal those we built?  Not a plain memcmp: the kernel
 * copies an extension's name out only up to its NUL, so the rest of the
 * name field holds whatever libiptc's buffer held before.
 */
static int
same_extensions(const unsigned char *have, const unsigned char *want,
    size_t from, size_t to)
{
	const struct xt_entry_match *hm, *wm;
	size_t off, size;

	for (off = from; off < to; off += size) {
		hm = (const void *)(have + off);
		wm = (const void *)(want + off);
		size = wm->u.user.match_size;
		if (hm->u.user.match_size != size || size < sizeof(*wm) ||
		    strncmp(hm->u.user.name, wm->u.user.name,
		    sizeof(wm->u.user.name)) != 0 ||
		    hm->u.user.revision != wm->u.user.revision ||
		    memcmp(hm->data, wm->data, size - sizeof(*wm)) != 0)
			return 0;
	}
	return off == to;
}

/*
 * Is the installed entry `have` the one in `want`?  Counters and the
 * kernel's bookkeeping (comefrom) aside.  A jump's target is compared by
 * the chain libiptc resolves it to (pass chain), any other target as
 * data (pass NULL).
 */
static int
same_entry(struct xtc_handle *h, const void *have, struct entry_buf *want,
    const char *chain)
{
	const unsigned char *e = have;
	const struct family_ops *ops = want->ops;
	uint16_t offs[2];

	memcpy(offs, e + ops->off_target, sizeof(offs));
	if (offs[0] != eb_offsets(want)[0] ||
	    memcmp(e, want->u.raw, ops->ip_size) != 0 ||
	    !same_extensions(e, want->u.raw, ops->hdr_size, offs[0]))
		return 0;
	if (chain != NULL)
		return strcmp(ops->get_target(have, h), chain) == 0;
	return offs[1] == eb_offsets(want)[1] &&
	    same_extensions(e, want->u.raw, offs[0], offs[1]);
}

/* --- the transaction -------------------------------------------------- */

static int
is_our_chain(const char *name)
{
	int c;

	for (c = 0; c < RULES_NCHAINS; c++)
		if (strcmp(name, rules_chain_name(c)) == 0)
			return 1;
	return 0;
}

/* The --nodeport-addresses ranges of the family, or none (everywhere). */
static size_t
nodeport_ranges(const struct family_ops *ops, const struct rule_set *rs,
    const struct addr_prefix **out)
{
	size_t i, n = 0;

	for (i = 0; i < rs->rs_n_nodeport && n < NODEPORT_JUMPS_MAX; i++)
		if (rs->rs_nodeport[i].ap_addr.sa.sa_family == ops->af)
			out[n++] = &rs->rs_nodeport[i];
	return n;
}

/*
 * Delete every rule of `builtin` that jumps to one of our chains.
 * Returns how many, or -1 (errno set).
 */
static int
delete_jumps(const struct family_ops *ops, struct xtc_handle *h,
    const char *builtin)
{
	const void *e;
	unsigned int i, last;
	int found, n = 0;

	/* Deleting renumbers: find the last one each time round. */
	do {
		found = 0;
		for (i = 0, e = ops->first_rule(builtin, h); e != NULL;
		    e = ops->next_rule(e, h), i++)
			if (is_our_chain(ops->get_target(e, h))) {
				found = 1;
				last = i;
			}
		if (found) {
			if (!ops->delete_num(builtin, last, h))
				return -1;
			n++;
		}
	} while (found);
	return n;
}

/*
 * Our portals jump first, our nodeports jumps last (one per
 * --nodeport-addresses range of the family, -d RANGE; one without -d when
 * there are no ranges at all; none when there are only ranges of the
 * other family), no other jump to us.  Returns 0 when they already were,
 * 1 when fixed, -1 on error.
 */
static int
ensure_jumps(const struct family_ops *ops, struct xtc_handle *h,
    const struct hook *hk, const struct rule_set *rs)
{
	const struct addr_prefix *ranges[NODEPORT_JUMPS_MAX];
	struct entry_buf portals, *nodeports;
	const char *pc = rules_chain_name(hk->portals);
	const char *nc = rules_chain_name(hk->nodeports);
	const void *e, **have = NULL;
	size_t nr, nj, i, n = 0, cap = 0;
	int ours = 0, ok, rv = -1;

	nr = nodeport_ranges(ops, rs, ranges);
	nj = nr > 0 ? nr : rs->rs_n_nodeport > 0 ? 0 : 1;
	nodeports = xcalloc(nj + 1, sizeof(*nodeports));
	build_jump(&portals, ops, pc, 0, NULL, COMMENT_PORTALS);
	for (i = 0; i < nj; i++)
		build_jump(&nodeports[i], ops, nc, 1, nr > 0 ? ranges[i] : NULL,
		    COMMENT_NODEPORTS);
	for (e = ops->first_rule(hk->builtin, h); e != NULL;
	    e = ops->next_rule(e, h)) {
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			have = xreallocarray(have, cap, sizeof(*have));
		}
		have[n++] = e;
		if (is_our_chain(ops->get_target(e, h)))
			ours++;
	}
	/* Already right: keep them, with their packet counters. */
	ok = (size_t)ours == nj + 1 && n >= nj + 1 &&
	    same_entry(h, have[0], &portals, pc);
	for (i = 0; ok && i < nj; i++)
		ok = same_entry(h, have[n - nj + i], &nodeports[i], nc);
	if (ok) {
		rv = 0;
		goto done;
	}
	if (delete_jumps(ops, h, hk->builtin) == -1 ||
	    !ops->insert(hk->builtin, portals.u.raw, 0, h))
		goto done;
	for (i = 0; i < nj; i++)
		if (!ops->append(hk->builtin, nodeports[i].u.raw, h))
			goto done;
	rv = 1;
 done:
	free(have);
	free(nodeports);
	return rv;
}

/*
 * The filter table's jumps to KUBE-UPROXY-FIREWALL: first in each of
 * INPUT, FORWARD and OUTPUT, no other jump to it.  Returns 0 when they
 * already were, 1 when fixed, -1 on error.
 */
static const char *const fw_hooks[] = { "INPUT", "FORWARD", "OUTPUT" };

static int
ensure_fw_jump(const struct family_ops *ops, struct xtc_handle *h,
    const char *builtin)
{
	const char *fc = rules_chain_name(RULES_FIREWALL);
	struct entry_buf jump;
	const void *e;
	int ours = 0, first_ok = 0, first = 1;

	build_jump(&jump, ops, fc, 0, NULL, COMMENT_FIREWALL);
	for (e = ops->first_rule(builtin, h); e != NULL;
	    e = ops->next_rule(e, h)) {
		if (first)
			first_ok = same_entry(h, e, &jump, fc);
		first = 0;
		if (is_our_chain(ops->get_target(e, h)))
			ours++;
	}
	if (ours == 1 && first_ok)
		return 0;
	if (delete_jumps(ops, h, builtin) == -1 ||
	    !ops->insert(builtin, jump.u.raw, 0, h))
		return -1;
	return 1;
}

static void
init_error(const struct family_ops *ops, int saved, char *err, size_t len)
{
	if (saved == EPERM || saved == EACCES)
		snprintf(err, len, "%s nat table: permission denied: need "
		    "CAP_NET_ADMIN and CAP_NET_RAW (run as root)", ops->name);
	else if (saved == ENOPROTOOPT || saved == ENOENT)
		snprintf(err, len, "%s nat table: the kernel has no legacy "
		    "x_tables nat table%s: load it (modprobe %s) or run with "
		    "--iptables none", ops->name, access(ops->proc_names,
		    R_OK) == -1 ? " (ip_tables not loaded)" : "", ops->modules);
	else
		snprintf(err, len, "%s nat table: %s", ops->name,
		    ops->strerror(saved));
}

/*
 * Bringing one chain to the plan.  Replacing the table costs the kernel
 * the same whatever changed, but editing libiptc's copy costs us only
 * what changed, and a rule that stays keeps its packet counters.
 *
 * Each planned rule (want[]) is first matched to an equal entry of the
 * chain as read (have[]) through a hash of what same_entry compares, so
 * matching costs O(n) however the chain was edited.  Matched entries
 * whose order agrees with the plan (the longest increasing run of their
 * positions; all of them unless someone reordered the chain by hand)
 * stay; every other entry is deleted and every other planned rule
 * inserted.  Edits are recorded at their position in have[] and applied
 * last to first, so that each position still means what it meant when
 * the diff was made.  Past EDITS_MAX edits the chain is flushed and
 * refilled instead.  Either way a planned rule that had an equal entry
 * anywhere in the chain gets that entry's counters (libiptc installs
 * the counters of an inserted entry as they are), so that a rule which
 * only moved, or survived a refill, is not counted from zero again.
 */
struct edit {
	unsigned	 pos;	/* before have[pos] (== n_have: at the end) */
	size_t		 want;	/* insert want[want] there; NO_RULE: delete */
};
#define NO_RULE		((size_t)-1)

struct chain_diff {
	const struct family_ops	*ops;
	struct xtc_handle	*h;
	const void		**have;
	size_t			 n_have;
	const struct rule	*want;
	size_t			 n_want;
	size_t			*match;	/* want i = have[match[i]], or NO_RULE */
	struct xt_counters	*counters; /* of have[match[i]], taken early */
	struct edit		 edits[EDITS_MAX];
	size_t			 n_edits;
};

static uint64_t
hash_bytes(uint64_t h, const void *p, size_t n)
{
	const unsigned char *c = p;

	while (n-- > 0)
		h = (h ^ *c++) * 0x100000001b3ULL;	/* FNV-1a */
	return h;
}

/*
 * Hash of an entry, installed or built, over what same_entry compares:
 * the address part, the target's offset, and each extension's size, name
 * (up to its NUL), revision and data.
 */
static uint64_t
entry_hash(const struct family_ops *ops, const unsigned char *e)
{
	const struct xt_entry_match *m;
	uint64_t h = 0xcbf29ce484222325ULL;
	uint16_t offs[2];
	size_t off;

	memcpy(offs, e + ops->off_target, sizeof(offs));
	h = hash_bytes(h, e, ops->ip_size);
	h = hash_bytes(h, offs, sizeof(offs));
	for (off = ops->hdr_size; off + sizeof(*m) <= offs[1];
	    off += m->u.user.match_size) {
		m = (const void *)(e + off);
		if (m->u.user.match_size < sizeof(*m))
			break;
		h = hash_bytes(h, &m->u.user.match_size,
		    sizeof(m->u.user.match_size));
		h = hash_bytes(h, m->u.user.name,
		    strnlen(m->u.user.name, sizeof(m->u.user.name)));
		h = hash_bytes(h, &m->u.user.revision, 1);
		h = hash_bytes(h, m->data, m->u.user.match_size - sizeof(*m));
	}
	return h;
}

/* Fill d->match and d->counters: each planned rule's equal entry, if any. */
static void
match_entries(struct chain_diff *d)
{
	size_t cap = 16, i, j, slot;
	struct entry_buf eb;
	uint64_t h, *hashes;
	size_t *table;
	char *used;

	while (cap < 2 * d->n_have)
		cap *= 2;
	table = xreallocarray(NULL, cap, sizeof(*table));
	hashes = xreallocarray(NULL, d->n_have + 1, sizeof(*hashes));
	used = xcalloc(d->n_have + 1, 1);
	for (slot = 0; slot < cap; slot++)
		table[slot] = NO_RULE;
	for (j = 0; j < d->n_have; j++) {
		hashes[j] = entry_hash(d->ops, d->have[j]);
		for (slot = hashes[j] & (cap - 1); table[slot] != NO_RULE;
		    slot = (slot + 1) & (cap - 1))
			;
		table[slot] = j;
	}
	for (i = 0; i < d->n_want; i++) {
		d->match[i] = NO_RULE;
		build_rule(&eb, d->ops, &d->want[i]);
		h = entry_hash(d->ops, eb.u.raw);
		for (slot = h & (cap - 1); (j = table[slot]) != NO_RULE;
		    slot = (slot + 1) & (cap - 1)) {
			if (used[j] || hashes[j] != h ||
			    !same_entry(d->h, d->have[j], &eb, NULL))
				continue;
			used[j] = 1;
			d->match[i] = j;
			memcpy(&d->counters[i], (const unsigned char *)
			    d->have[j] + d->ops->off_counters,
			    sizeof(d->counters[i]));
			break;
		}
	}
	free(used);
	free(hashes);
	free(table);
}

/*
 * Keep the longest run of matched rules whose entries are in plan order
 * (patience sorting, O(n log n)): keep[i] set for each.
 */
static void
keep_in_order(const struct chain_diff *d, char *keep)
{
	size_t *tail = xreallocarray(NULL, d->n_want + 1, sizeof(*tail));
	size_t *prev = xreallocarray(NULL, d->n_want + 1, sizeof(*prev));
	size_t len = 0, i, lo, hi, mid;

	for (i = 0; i < d->n_want; i++) {
		if (d->match[i] == NO_RULE)
			continue;
		/* the first run end whose entry is not before have[match[i]] */
		for (lo = 0, hi = len; lo < hi; ) {
			mid = lo + (hi - lo) / 2;
			if (d->match[tail[mid]] < d->match[i])
				lo = mid + 1;
			else
				hi = mid;
		}
		prev[i] = lo > 0 ? tail[lo - 1] : NO_RULE;
		tail[lo] = i;
		if (lo == len)
			len++;
	}
	for (i = len > 0 ? tail[len - 1] : NO_RULE; i != NO_RULE; i = prev[i])
		keep[i] = 1;
	free(prev);
	free(tail);
}

/* Record an edit; 0 when there are too many to be worth it. */
static int
edit(struct chain_diff *d, size_t pos, size_t want)
{
	if (d->n_edits == EDITS_MAX)
		return 0;
	d->edits[d->n_edits].pos = (unsigned)pos;
	d->edits[d->n_edits++].want = want;
	return 1;
}

/*
 * The edits, in have[] order: 1 done, 0 too many.  Each kept rule (and
 * the end of the chain) closes a gap: the entries since the last kept
 * one go, the rules planned since come in before it.
 */
static int
diff(struct chain_diff *d)
{
	char *keep = xcalloc(d->n_want + 1, 1);
	size_t p = 0, first = 0, i, k, stop;
	int ok = 1;

	keep_in_order(d, keep);
	for (i = 0; ok && i <= d->n_want; i++) {
		if (i < d->n_want && !keep[i])
			continue;
		stop = i < d->n_want ? d->match[i] : d->n_have;
		for (; ok && p < stop; p++)
			ok = edit(d, p, NO_RULE);
		for (k = first; ok && k < i; k++)
			ok = edit(d, stop, k);
		p = stop + 1;
		first = i + 1;
	}
	free(keep);
	return ok;
}

/* Build want[i], with the counters of its equal entry when it had one. */
static void
build_kept(struct entry_buf *eb, const struct chain_diff *d, size_t i)
{
	build_rule(eb, d->ops, &d->want[i]);
	if (d->match[i] != NO_RULE)
		memcpy(eb->u.raw + d->ops->off_counters, &d->counters[i],
		    sizeof(d->counters[i]));
}

/*
 * Make `chain` hold want[0..n) (rules of this family and chain, in plan
 * order).  Returns 1 if it had to change, 0 if it already did, -1 on error
 * (errno set).
 */
static int
sync_chain(const struct family_ops *ops, struct xtc_handle *h,
    const char *chain, const struct rule *want, size_t n)
{
	struct chain_diff *d = xcalloc(1, sizeof(*d));
	struct entry_buf eb;
	size_t cap = 0, k;
	const void *e;
	int rv = 1;

	d->ops = ops;
	d->h = h;
	d->want = want;
	d->n_want = n;
	/* libiptc's iterator is its own state: take the entries out first. */
	for (e = ops->first_rule(chain, h); e != NULL; e = ops->next_rule(e, h)) {
		if (d->n_have == cap) {
			cap = cap ? cap * 2 : 64;
			d->have = xreallocarray(d->have, cap, sizeof(*d->have));
		}
		d->have[d->n_have++] = e;
	}
	d->match = xreallocarray(NULL, n + 1, sizeof(*d->match));
	d->counters = xreallocarray(NULL, n + 1, sizeof(*d->counters));
	match_entries(d);
	if (diff(d)) {
		if (d->n_edits == 0)
			rv = 0;
		for (k = d->n_edits; rv == 1 && k-- > 0; ) {
			const struct edit *ed = &d->edits[k];

			if (ed->want != NO_RULE) {
				build_kept(&eb, d, ed->want);
				if (!ops->insert(chain, libiptc_form(&eb),
				    ed->pos, h))
					rv = -1;
			} else if (!ops->delete_num(chain, ed->pos, h))
				rv = -1;
		}
	} else {
		/* Too much changed: refill the chain. */
		if (!ops->flush_entries(chain, h))
			rv = -1;
		for (k = 0; rv == 1 && k < n; k++) {
			build_kept(&eb, d, k);
			if (!ops->append(chain, libiptc_form(&eb), h))
				rv = -1;
		}
	}
	free(d->counters);
	free(d->match);
	free(d->have);
	free(d);
	return rv;
}

/*
 * The end of a transaction, which frees the handle.  commit 1: commit the
 * changes; -1: nothing to commit; 0: the step `what` failed, errno says
 * why.  Returns 0, 1 when the commit lost a race with another writer
 * (EAGAIN: start over), or -1 with "IPv4 nat table: PREFIXwhat: reason".
 */
static int
finish(const struct family_ops *ops, struct xtc_handle *h, int commit,
    const char *prefix, const char *what, char *err, size_t len)
{
	int saved;

	if (commit == 1 && !ops->commit(h)) {
		if (errno == EAGAIN) {
			ops->free(h);
			return 1;
		}
		what = "commit";
		commit = 0;
	}
	if (commit != 0) {
		ops->free(h);
		return 0;
	}
	saved = errno;
	snprintf(err, len, "%s nat table: %s%s: %s", ops->name, prefix, what,
	    ops->strerror(saved));
	ops->free(h);
	return -1;
}

/*
 * The rules of `chain` and the family: [*from, *end) of rs (sorted:
 * they are one run).
 */
static void
chain_run(const struct family_ops *ops, const struct rule_set *rs, int chain,
    size_t *from, size_t *end)
{
	size_t i = 0, e;

	while (i < rs->rs_n && (rs->rs_rules[i].r_family != ops->af ||
	    (int)rs->rs_rules[i].r_chain != chain))
		i++;
	for (e = i; e < rs->rs_n && rs->rs_rules[e].r_family == ops->af &&
	    (int)rs->rs_rules[e].r_chain == chain; e++)
		;
	*from = i;
	*end = e;
}

static int has_table(const struct family_ops *, const char *);

/*
 * The filter table's part, one attempt: KUBE-UPROXY-FIREWALL and its
 * jumps while there is a rule for it, nothing of ours at all when there
 * is none (most clusters use no loadBalancerSourceRanges; we leave their
 * filter table alone).  0 done, 1 lost a race, -1 error.
 */
static int
apply_filter_once(const struct family_ops *ops, const struct rule_set *rs,
    char *err, size_t len)
{
	const char *fc = rules_chain_name(RULES_FIREWALL), *what = "";
	struct xtc_handle *h;
	size_t i, from, end;
	int n, changed = 0;

	chain_run(ops, rs, RULES_FIREWALL, &from, &end);
	if (from == end && !has_table(ops, FILTER_TABLE))
		return 0;
	if ((h = ops->init(FILTER_TABLE)) == NULL) {
		init_error(ops, errno, err, len);
		return -1;
	}
	if (from == end) {
		for (i = 0; i < nitems(fw_hooks); i++) {
			what = fw_hooks[i];
			if ((n = delete_jumps(ops, h, what)) == -1)
				goto fail;
			changed += n;
		}
		what = fc;
		if (ops->is_chain(fc, h)) {
			if (!ops->flush_entries(fc, h) ||
			    !ops->delete_chain(fc, h))
				goto fail;
			changed = 1;
		}
		return finish(ops, h, changed ? 1 : -1, "filter: ", NULL, err,
		    len);
	}
	what = fc;
	if (!ops->is_chain(fc, h)) {
		if (!ops->create_chain(fc, h))
			goto fail;
		changed = 1;
	}
	for (i = 0; i < nitems(fw_hooks); i++) {
		what = fw_hooks[i];
		if ((n = ensure_fw_jump(ops, h, what)) == -1)
			goto fail;
		changed |= n;
	}
	what = fc;
	if ((n = sync_chain(ops, h, fc, rs->rs_rules + from, end - from)) == -1)
		goto fail;
	changed |= n;
	return finish(ops, h, changed ? 1 : -1, "filter: ", NULL, err, len);
 fail:
	return finish(ops, h, 0, "filter: ", what, err, len);
}

/* One attempt: 0 done, 1 lost a race (EAGAIN), -1 error. */
static int
apply_once(const struct family_ops *ops, const struct rule_set *rs,
    char *err, size_t len)
{
	struct xtc_handle *h;
	const char *what = "";
	size_t i, end;
	int c, n, changed = 0;

	if ((h = ops->init(NAT_TABLE)) == NULL) {
		init_error(ops, errno, err, len);
		return -1;
	}
	for (c = 0; c < RULES_NAT_NCHAINS; c++) {
		what = rules_chain_name(c);
		if (ops->is_chain(what, h))
			continue;
		if (!ops->create_chain(what, h))
			goto fail;
		changed = 1;
	}
	for (i = 0; i < nitems(hooks); i++) {
		what = hooks[i].builtin;
		if ((n = ensure_jumps(ops, h, &hooks[i], rs)) == -1)
			goto fail;
		changed |= n;
	}
	for (c = 0; c < RULES_NAT_NCHAINS; c++) {
		chain_run(ops, rs, c, &i, &end);
		what = rules_chain_name(c);
		if ((n = sync_chain(ops, h, what, rs->rs_rules + i,
		    end - i)) == -1)
			goto fail;
		changed |= n;
	}
	/*
	 * Nothing to change, the usual periodic resync: no commit.  Replacing
	 * a table of tens of thousands of rules costs the kernel tens of ms.
	 */
	return finish(ops, h, changed ? 1 : -1, "", NULL, err, len);
 fail:
	return finish(ops, h, 0, "", what, err, len);
}

/* The xtables lock, as iptables takes it.  Returns an fd, BUSY or -1. */
static int
lock_take(char *err, size_t len)
{
	const char *path = getenv("XTABLES_LOCKFILE");
	int fd;

	if (path == NULL || *path == '\0')
		path = LOCK_PATH;
	if ((fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0600)) == -1) {
		snprintf(err, len, "xtables lock %s: %s", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		int busy = errno == EWOULDBLOCK;

		snprintf(err, len, "xtables lock %s: %s", path,
		    busy ? "lock busy" : strerror(errno));
		close(fd);
		return busy ? IPTC_LOCK_BUSY : -1;
	}
	return fd;
}

int
iptc_apply(int family, const struct rule_set *rs, char *err, size_t len)
{
	const struct family_ops *ops = ops_for(family);
	int fd, rv = 1, try;

	if (ops == NULL) {
		snprintf(err, len, "address family %d: not IPv4 or IPv6", family);
		return -1;
	}
	if ((fd = lock_take(err, len)) < 0)
		return fd;
	/* Someone not honouring the lock committed in between: start over. */
	for (try = 0; try < COMMIT_TRIES && rv == 1; try++)
		rv = apply_once(ops, rs, err, len);
	/*
	 * Then the filter table's DROP rules: a second transaction (x_tables
	 * replaces one table at a time).  In between, a source a new range
	 * leaves out is not redirected but not dropped yet either.
	 */
	if (rv == 0)
		for (try = 0, rv = 1; try < COMMIT_TRIES && rv == 1; try++)
			rv = apply_filter_once(ops, rs, err, len);
	close(fd);
	if (rv == 1) {
		snprintf(err, len, "%s nat table: commit kept failing "
		    "(EAGAIN, %d tries): another program is changing it",
		    ops->name, COMMIT_TRIES);
		return -1;
	}
	return rv;
}

/* Does this netns hold a legacy table `name` of the family?  (Read-only.) */
static int
has_table(const struct family_ops *ops, const char *name)
{
	char line[64];
	FILE *f;
	int found = 0;

	if ((f = fopen(ops->proc_names, "re")) == NULL)
		return 0;		/* ip_tables not even loaded */
	while (fgets(line, sizeof(line), f) != NULL)
		if (strcspn(line, "\n") == strlen(name) &&
		    strncmp(line, name, strlen(name)) == 0)
			found = 1;
	fclose(f);
	return found;
}

/* One attempt: 0 done, 1 lost a race (EAGAIN), -1 error. */
static int
cleanup_once(const struct family_ops *ops, char *err, size_t len)
{
	struct xtc_handle *h;
	const char *what = "";
	size_t i;
	int c, n, changed = 0;

	if ((h = ops->init(NAT_TABLE)) == NULL) {
		init_error(ops, errno, err, len);
		return -1;
	}
	for (i = 0; i < nitems(hooks); i++) {
		what = hooks[i].builtin;
		if ((n = delete_jumps(ops, h, what)) == -1)
			goto fail;
		changed += n;
	}
	for (c = 0; c < RULES_NAT_NCHAINS; c++) {
		what = rules_chain_name(c);
		if (!ops->is_chain(what, h))
			continue;
		if (!ops->flush_entries(what, h) || !ops->delete_chain(what, h))
			goto fail;
		changed++;
	}
	/* Nothing of ours: no need to replace the table. */
	return finish(ops, h, changed ? 1 : -1, "cleanup: ", NULL, err, len);
 fail:
	return finish(ops, h, 0, "cleanup: ", what, err, len);
}

int
iptc_cleanup(int family, char *err, size_t len)
{
	const struct family_ops *ops = ops_for(family);
	int fd, rv = 1, try;

	if (ops == NULL) {
		snprintf(err, len, "address family %d: not IPv4 or IPv6", family);
		return -1;
	}
	/*
	 * No nat table in this netns: nothing of ours can be there, and
	 * opening one would make the kernel create it.
	 */
	if (!has_table(ops, NAT_TABLE) && !has_table(ops, FILTER_TABLE))
		return 0;
	if ((fd = lock_take(err, len)) < 0)
		return fd;
	for (try = 0; has_table(ops, NAT_TABLE) && try < COMMIT_TRIES &&
	    rv == 1; try++)
		rv = cleanup_once(ops, err, len);
	if (rv == 1 && !has_table(ops, NAT_TABLE))
		rv = 0;
	/* An empty plan takes our chain and jumps out of the filter table. */
	if (rv == 0) {
		struct rule_set none;

		memset(&none, 0, sizeof(none));
		for (try = 0, rv = 1; try < COMMIT_TRIES && rv == 1; try++)
			rv = apply_filter_once(ops, &none, err, len);
	}
	close(fd);
	if (rv == 1) {
		snprintf(err, len, "%s nat table: cleanup commit kept failing "
		    "(EAGAIN, %d tries)", ops->name, COMMIT_TRIES);
		return -1;
	}
	return rv;
}

/*
 * Is the `iptables` an admin would type the nf_tables variant?  Then the
 * rules it shows are not ours (xtables-nft-multi vs xtables-legacy-multi).
 */
static void
warn_if_nft(void)
{
	const char *path = getenv("PATH");
	char dir[PATH_MAX], cand[PATH_MAX + 16], real[PATH_MAX];
	const char *p, *base;
	size_t n;

	if (path == NULL || *path == '\0')
		path = "/usr/sbin:/sbin:/usr/bin:/bin";
	for (p = path; *p != '\0'; p += n + (p[n] == ':')) {
		n = strcspn(p, ":");
		if (n == 0 || n >= sizeof(dir))
			continue;
		memcpy(dir, p, n);
		dir[n] = '\0';
		snprintf(cand, sizeof(cand), "%s/iptables", dir);
		if (access(cand, X_OK) == -1 || realpath(cand, real) == NULL)
			continue;
		base = strrchr(real, '/');
		base = base != NULL ? base + 1 : real;
		if (strstr(base, "nft") != NULL)
			log_warnx("%s is the nf_tables variant (%s): our rules "
			    "live in the legacy tables: iptables-legacy -t nat -S "
			    "shows them", cand, base);
		return;
	}
}

int
iptc_preflight(char *err, size_t len)
{
	struct xtc_handle *h;
	char warn[256];

	if ((h = iptc_init(NAT_TABLE)) == NULL) {
		init_error(&ops4, errno, err, len);
		return -1;
	}
	iptc_free(h);
	if ((h = ip6tc_init(NAT_TABLE)) == NULL) {
		init_error(&ops6, errno, warn, sizeof(warn));
		log_warnx("%s; IPv6 services will get no rules", warn);
	} else
		ip6tc_free(h);
	warn_if_nft();
	return 0;
}
