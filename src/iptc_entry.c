/*
 * iptc_entry.c - x_tables entries: building ours, comparing installed ones
 * (private to the iptc files, see iptc_int.h).
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
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include <libiptc/libiptc.h>
#include <libiptc/libip6tc.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/xt_addrtype.h>
#include <linux/netfilter/xt_comment.h>
#include <linux/netfilter/xt_tcpudp.h>

#include "iptc_int.h"

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

const struct family_ops *
iptc_ops_for(int af)
{
	return af == AF_INET6 ? &ops6 : af == AF_INET ? &ops4 : NULL;
}

/* --- building entries ------------------------------------------------- */

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
void
iptc_build_jump(struct entry_buf *eb, const struct family_ops *ops,
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

void
iptc_build_rule(struct entry_buf *eb, const struct family_ops *ops,
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
		 * libiptc takes it named "DROP" (see iptc_libiptc_form).
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
const void *
iptc_libiptc_form(struct entry_buf *eb)
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
int
iptc_same_entry(struct xtc_handle *h, const void *have, struct entry_buf *want,
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
