/*
 * nft_layout.c - our table's fixed layout, as netlink messages (see
 * nft_msg.h): the table, its four maps, its two base chains and their
 * four rules each, built into a batch (nft_dump.c checks that a table in
 * the kernel is still laid out that way).  Each builder has the `nft` line
 * it is equivalent to written above it.
 */

#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/rtnetlink.h>

#include "addr.h"
#include "log.h"
#include "nft_layout.h"
#include "nft_msg.h"
#include "util.h"

/* nft's datatype numbers (src/datatype.h), for the maps' key and data. */
#define TYPE_IPADDR		7
#define TYPE_IP6ADDR		8
#define TYPE_INET_PROTOCOL	12
#define TYPE_INET_SERVICE	13
#define TYPE_BITS		6	/* a concatenation packs types by 6 bits */

/* Registers: NFT_REG_1 is NFT_REG32_00..03; concatenations follow it. */
#define REG32(i)		(NFT_REG32_00 + (i))

#define CHAIN_PRIO		(-100)	/* dstnat */
#define FW_PRIO			(-110)	/* dstnat - 10: before any nat */
#define COMMENT_FIREWALL	"kube-uproxy firewall"

static const char *const map_names[NFT_NMAPS] = {
	[NFT_MAP_PORTALS] = "portals",
	[NFT_MAP_PORTALS_DNAT] = "portals-dnat",
	[NFT_MAP_NODEPORTS] = "nodeports",
	[NFT_MAP_NODEPORTS_DNAT] = "nodeports-dnat",
	[NFT_SET_FIREWALL] = "firewall",
	[NFT_SET_FIREWALL_ALLOW] = "firewall-allow",
};

static const char *const rule_comments[NFT_NAT_MAPS] = {
	[NFT_MAP_PORTALS] = "kube-uproxy portals",
	[NFT_MAP_PORTALS_DNAT] = "kube-uproxy portals (dnat)",
	[NFT_MAP_NODEPORTS] = "kube-uproxy nodeports",
	[NFT_MAP_NODEPORTS_DNAT] = "kube-uproxy nodeports (dnat)",
};

const struct nft_chain_spec nft_chains[NFT_NCHAINS] = {
	{ "prerouting", NF_INET_PRE_ROUTING, "nat", CHAIN_PRIO },
	{ "output", NF_INET_LOCAL_OUT, "nat", CHAIN_PRIO },
	{ "firewall-prerouting", NF_INET_PRE_ROUTING, "filter", FW_PRIO },
	{ "firewall-output", NF_INET_LOCAL_OUT, "filter", FW_PRIO },
};

static int
is_fw_chain(size_t c)
{
	return strcmp(nft_chains[c].type, "filter") == 0;
}

const char *
nft_map_name(enum nft_map m)
{
	return (unsigned)m < NFT_NMAPS ? map_names[m] : "?";
}

const char *
nft_family_name(int family)
{
	return family == AF_INET6 ? "ip6" : "ip";
}

static int
is_dnat(enum nft_map m)
{
	return m == NFT_MAP_PORTALS_DNAT || m == NFT_MAP_NODEPORTS_DNAT;
}

static int
is_nodeport(enum nft_map m)
{
	return m == NFT_MAP_NODEPORTS || m == NFT_MAP_NODEPORTS_DNAT;
}

static size_t
addr_bytes(int family)
{
	return family == AF_INET6 ? 16 : 4;
}

size_t
nft_key_len(int family, enum nft_map m)
{
	if (m == NFT_SET_FIREWALL_ALLOW)
		return 2 * addr_bytes(family) + 8;
	return (is_nodeport(m) ? 0 : addr_bytes(family)) + 8;
}

size_t
nft_data_len(int family, enum nft_map m)
{
	if (m == NFT_SET_FIREWALL)
		return 0;
	if (m == NFT_SET_FIREWALL_ALLOW)
		return nft_key_len(family, m);
	return is_dnat(m) ? addr_bytes(family) + 4 : 2;
}

/* The same order as nft_batch_new_table's rules (nft_layout.h). */
size_t
nft_expected_rules(int family, size_t c, const struct addr_prefix *np,
    size_t n_np, char exp[][NFT_COMMENT_LEN])
{
	char pfx[ADDR_STRLEN + 8];
	size_t i, n = 0, nr = 0;
	int m;

	if (is_fw_chain(c)) {
		snprintf(exp[n++], NFT_COMMENT_LEN, "%s", COMMENT_FIREWALL);
		return n;
	}
	for (m = 0; m < NFT_NAT_MAPS; m++)
		if (!is_nodeport(m))
			snprintf(exp[n++], NFT_COMMENT_LEN, "%s", rule_comments[m]);
	for (i = 0; i < n_np && n + 2 <= NFT_RULES_MAX; i++) {
		if (np[i].ap_addr.sa.sa_family != family)
			continue;
		addr_prefix_str(&np[i], pfx, sizeof(pfx));
		for (m = 0; m < NFT_NAT_MAPS; m++)
			if (is_nodeport(m))
				snprintf(exp[n++], NFT_COMMENT_LEN, "%s %s",
				    rule_comments[m], pfx);
		nr++;
	}
	for (m = 0; n_np == 0 && m < NFT_NAT_MAPS; m++)
		if (is_nodeport(m))
			snprintf(exp[n++], NFT_COMMENT_LEN, "%s", rule_comments[m]);
	return n;
}

uint16_t
nft_nfproto(int family)
{
	return family == AF_INET6 ? NFPROTO_IPV6 : NFPROTO_IPV4;
}


static void add_table(struct nft_batch *, int);

/* [add table ip kube-uproxy;] delete table ip kube-uproxy */
void
nft_batch_del_table(struct nft_batch *b, int family, int even_absent)
{
	struct nftnl_table *t = nftnl_table_alloc();
	struct nlmsghdr *nlh;

	if (t == NULL)
		fatalx("out of memory");
	if (even_absent)
		add_table(b, family);
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, NFT_TABLE_NAME);
	nlh = nft_batch_msg(b, NFT_MSG_DELTABLE, family, 0, 0);
	nftnl_table_nlmsg_build_payload(nlh, t);
	nft_batch_msg_end(b, nlh);
	nftnl_table_free(t);
}

/* add table ip kube-uproxy */
static void
add_table(struct nft_batch *b, int family)
{
	struct nftnl_table *t = nftnl_table_alloc();
	struct nlmsghdr *nlh;

	if (t == NULL)
		fatalx("out of memory");
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, NFT_TABLE_NAME);
	nlh = nft_batch_msg(b, NFT_MSG_NEWTABLE, family, NLM_F_CREATE, 0);
	nftnl_table_nlmsg_build_payload(nlh, t);
	nft_batch_msg_end(b, nlh);
	nftnl_table_free(t);
}

/*
 * add chain ip kube-uproxy prerouting { type nat hook prerouting priority dstnat; policy accept; }
 * add chain ip kube-uproxy firewall-prerouting { type filter hook prerouting priority dstnat - 10; policy accept; }
 */
static void
add_chain(struct nft_batch *b, int family, size_t ci)
{
	const char *name = nft_chains[ci].name;
	uint32_t hook = nft_chains[ci].hook;
	struct nftnl_chain *c = nftnl_chain_alloc();
	struct nlmsghdr *nlh;

	if (c == NULL)
		fatalx("out of memory");
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, NFT_TABLE_NAME);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name);
	nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, nft_chains[ci].type);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, hook);
	nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, nft_chains[ci].prio);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
	nlh = nft_batch_msg(b, NFT_MSG_NEWCHAIN, family, NLM_F_CREATE, 0);
	nftnl_chain_nlmsg_build_payload(nlh, c);
	nft_batch_msg_end(b, nlh);
	nftnl_chain_free(c);
}

/* A set message: attributes common to maps and anonymous sets. */
static struct nftnl_set *
set_new(const char *name, uint32_t id)
{
	struct nftnl_set *s = nftnl_set_alloc();

	if (s == NULL)
		fatalx("out of memory");
	nftnl_set_set_str(s, NFTNL_SET_TABLE, NFT_TABLE_NAME);
	nftnl_set_set_str(s, NFTNL_SET_NAME, name);
	if (id != 0)
		nftnl_set_set_u32(s, NFTNL_SET_ID, id);
	return s;
}

static void
add_set_msg(struct nft_batch *b, int family, struct nftnl_set *s)
{
	struct nlmsghdr *nlh;

	nlh = nft_batch_msg(b, NFT_MSG_NEWSET, family, NLM_F_CREATE, 0);
	nftnl_set_nlmsg_build_payload(nlh, s);
	nft_batch_msg_end(b, nlh);
}

/* add map ip kube-uproxy portals { type ipv4_addr . inet_proto . inet_service : inet_service; } */
static void
add_map(struct nft_batch *b, int family, enum nft_map m)
{
	struct nftnl_set *s = set_new(map_names[m], nft_batch_set_id(b));
	uint32_t addr = family == AF_INET6 ? TYPE_IP6ADDR : TYPE_IPADDR;
	uint32_t key = TYPE_INET_PROTOCOL << TYPE_BITS | TYPE_INET_SERVICE;

	if (!is_nodeport(m))
		key |= addr << (2 * TYPE_BITS);
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, nft_nfproto(family));
	if (m == NFT_SET_FIREWALL || m == NFT_SET_FIREWALL_ALLOW) {
		/*
		 * add set ip kube-uproxy firewall-allow { type ipv4_addr .
		 *   inet_proto . inet_service . ipv4_addr; flags interval; }
		 * A concatenation with a range in it: the kernel's pipapo
		 * set, each element a key and a closing key.
		 */
		uint8_t fields[4] = { (uint8_t)addr_bytes(family), 1, 2,
		    (uint8_t)addr_bytes(family) };

		if (m == NFT_SET_FIREWALL_ALLOW) {
			key = key << TYPE_BITS | addr;
			nftnl_set_set_u32(s, NFTNL_SET_FLAGS, NFT_SET_INTERVAL |
			    NFT_SET_CONCAT);
			nftnl_set_set_data(s, NFTNL_SET_DESC_CONCAT, fields,
			    sizeof(fields));
		} else
			nftnl_set_set_u32(s, NFTNL_SET_FLAGS, 0);
		nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, key);
		nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN,
		    (uint32_t)nft_key_len(family, m));
		add_set_msg(b, family, s);
		nftnl_set_free(s);
		return;
	}
	nftnl_set_set_u32(s, NFTNL_SET_FLAGS, NFT_SET_MAP);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, key);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, (uint32_t)nft_key_len(family, m));
	nftnl_set_set_u32(s, NFTNL_SET_DATA_TYPE, is_dnat(m) ?
	    addr << TYPE_BITS | TYPE_INET_SERVICE : TYPE_INET_SERVICE);
	nftnl_set_set_u32(s, NFTNL_SET_DATA_LEN,
	    (uint32_t)nft_data_len(family, m));
	add_set_msg(b, family, s);
	nftnl_set_free(s);
}

/* The anonymous set { tcp, udp } of one rule; returns its batch id. */
static uint32_t
add_proto_set(struct nft_batch *b, int family)
{
	static const uint8_t protos[] = { IPPROTO_TCP, IPPROTO_UDP };
	struct nftnl_set *s;
	struct nftnl_set_elem *e;
	struct nlmsghdr *nlh;
	uint32_t id = nft_batch_set_id(b);
	size_t i;

	s = set_new("__set%d", id);
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, nft_nfproto(family));
	nftnl_set_set_u32(s, NFTNL_SET_FLAGS, NFT_SET_ANONYMOUS |
	    NFT_SET_CONSTANT);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, TYPE_INET_PROTOCOL);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, 1);
	add_set_msg(b, family, s);
	for (i = 0; i < nitems(protos); i++) {
		if ((e = nftnl_set_elem_alloc()) == NULL)
			fatalx("out of memory");
		nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, &protos[i], 1);
		nftnl_set_elem_add(s, e);
	}
	nlh = nft_batch_msg(b, NFT_MSG_NEWSETELEM, family, NLM_F_CREATE, 0);
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	nft_batch_msg_end(b, nlh);
	nftnl_set_free(s);
	return id;
}

static void
expr_add(struct nftnl_rule *r, struct nftnl_expr *e)
{
	if (e == NULL)
		fatalx("out of memory");
	nftnl_rule_add_expr(r, e);
}

/* meta load KEY => reg */
static void
x_meta(struct nftnl_rule *r, uint32_t key, uint32_t dreg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("meta");

	expr_add(r, e);
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, dreg);
}

/* payload load LEN @ BASE + OFF => reg */
static void
x_payload(struct nftnl_rule *r, uint32_t base, uint32_t off, uint32_t len,
    uint32_t dreg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("payload");

	expr_add(r, e);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, dreg);
}

/* lookup reg 1 set NAME [dreg 1]: no match ends the rule */
static void
x_lookup(struct nftnl_rule *r, const char *set, uint32_t id, int map)
{
	struct nftnl_expr *e = nftnl_expr_alloc("lookup");

	expr_add(r, e);
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
	if (map)
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, NFT_REG_1);
	nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set);
	if (id != 0)
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, id);
}

/* fib daddr type local */
static void
x_fib_local(struct nftnl_rule *r)
{
	struct nftnl_expr *e = nftnl_expr_alloc("fib");
	uint32_t local = RTN_LOCAL;

	expr_add(r, e);
	nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_RESULT, NFT_FIB_RESULT_ADDRTYPE);
	nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_FLAGS, NFTA_FIB_F_DADDR);
	nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_DREG, NFT_REG_1);
	e = nftnl_expr_alloc("cmp");
	expr_add(r, e);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, NFT_CMP_EQ);
	nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, &local, sizeof(local));
}

/* ip daddr 198.18.0.0/24 (reg 1 is free again after the fib check) */
static void
x_daddr_in(struct nftnl_rule *r, int family, const struct addr_prefix *p)
{
	uint8_t mask[16], net[16], zero[16];
	uint32_t alen = (uint32_t)addr_bytes(family), i;
	unsigned bits = p->ap_len;
	struct nftnl_expr *e;

	memset(zero, 0, sizeof(zero));
	for (i = 0; i < alen; i++, bits = bits > 8 ? bits - 8 : 0)
		mask[i] = bits >= 8 ? 0xff : (uint8_t)(0xff00 >> bits);
	if (family == AF_INET6)
		memcpy(net, &p->ap_addr.in6.sin6_addr, 16);
	else
		memcpy(net, &p->ap_addr.in4.sin_addr, 4);
	x_payload(r, NFT_PAYLOAD_NETWORK_HEADER, family == AF_INET6 ? 24 : 16,
	    alen, NFT_REG_1);
	e = nftnl_expr_alloc("bitwise");
	expr_add(r, e);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, alen);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask, alen);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, zero, alen);
	e = nftnl_expr_alloc("cmp");
	expr_add(r, e);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, NFT_CMP_EQ);
	nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, net, alen);
}

/* ip daddr . meta l4proto . th dport into registers from reg 1 on */
static uint32_t
x_portal_key(struct nftnl_rule *r, int family)
{
	uint32_t aregs = (uint32_t)addr_bytes(family) / 4;

	x_payload(r, NFT_PAYLOAD_NETWORK_HEADER, family == AF_INET6 ? 24 : 16,
	    aregs * 4, NFT_REG_1);
	x_meta(r, NFT_META_L4PROTO, REG32(aregs));
	x_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, REG32(aregs + 1));
	return aregs + 2;
}

static void
put_comment(struct nftnl_rule *r, const char *comment)
{
	struct nftnl_udata_buf *ud = nftnl_udata_buf_alloc(256);

	if (ud == NULL)
		fatalx("out of memory");
	nftnl_udata_put_strz(ud, NFTNL_UDATA_RULE_COMMENT, comment);
	nftnl_rule_set_data(r, NFTNL_RULE_USERDATA, nftnl_udata_buf_data(ud),
	    nftnl_udata_buf_len(ud));
	nftnl_udata_buf_free(ud);
}

/*
 * A rule of our table in `chain` that starts "meta l4proto { tcp, udp }"
 * (an anonymous set of this batch): every rule of ours does.
 */
static struct nftnl_rule *
rule_begin(struct nft_batch *b, int family, const char *chain)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	uint32_t id;

	if (r == NULL)
		fatalx("out of memory");
	id = add_proto_set(b, family);
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, NFT_TABLE_NAME);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, nft_nfproto(family));
	x_meta(r, NFT_META_L4PROTO, NFT_REG_1);
	x_lookup(r, "__set%d", id, 0);
	return r;
}

/* The rule, commented, appended to its chain in the batch; r is freed. */
static void
rule_end(struct nft_batch *b, int family, struct nftnl_rule *r,
    const char *comment)
{
	struct nlmsghdr *nlh;

	put_comment(r, comment);
	nlh = nft_batch_msg(b, NFT_MSG_NEWRULE, family,
	    NLM_F_CREATE | NLM_F_APPEND, 0);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	nft_batch_msg_end(b, nlh);
	nftnl_rule_free(r);
}

/*
 * The rule of a firewall chain:
 *   meta l4proto { tcp, udp } ip daddr . meta l4proto . th dport @firewall
 *     ip daddr . meta l4proto . th dport . ip saddr != @firewall-allow drop
 */
static void
add_fw_rule(struct nft_batch *b, int family, const char *chain)
{
	struct nftnl_rule *r = rule_begin(b, family, chain);
	struct nftnl_expr *e;
	uint32_t reg, alen = (uint32_t)addr_bytes(family);

	x_portal_key(r, family);
	x_lookup(r, map_names[NFT_SET_FIREWALL], 0, 0);
	reg = x_portal_key(r, family);
	x_payload(r, NFT_PAYLOAD_NETWORK_HEADER, family == AF_INET6 ? 8 : 12,
	    alen, REG32(reg));
	e = nftnl_expr_alloc("lookup");
	expr_add(r, e);
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
	nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET,
	    map_names[NFT_SET_FIREWALL_ALLOW]);
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, NFT_LOOKUP_F_INV);
	e = nftnl_expr_alloc("immediate");
	expr_add(r, e);
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, NF_DROP);
	rule_end(b, family, r, COMMENT_FIREWALL);
}

/*
 * One of the four rules of a chain, e.g. for NFT_MAP_PORTALS:
 *   meta l4proto { tcp, udp } redirect to : ip daddr . meta l4proto . th dport map @portals
 * The key is loaded into consecutive 32-bit registers from reg 1 on; the
 * map's data lands in reg 1, where redirect (port) or dnat (address, then
 * port in the next register) reads it.
 */
static void
add_rule(struct nft_batch *b, int family, const char *chain, enum nft_map m,
    const struct addr_prefix *range)
{
	struct nftnl_rule *r = rule_begin(b, family, chain);
	struct nftnl_expr *e;
	uint32_t reg = 0, aregs = (uint32_t)addr_bytes(family) / 4;
	char comment[NFT_COMMENT_LEN], pfx[ADDR_STRLEN + 8];

	if (is_nodeport(m)) {
		x_fib_local(r);
		if (range != NULL)
			x_daddr_in(r, family, range);
	} else {
		x_payload(r, NFT_PAYLOAD_NETWORK_HEADER,
		    family == AF_INET6 ? 24 : 16, aregs * 4, NFT_REG_1);
		reg = aregs;
	}
	x_meta(r, NFT_META_L4PROTO, reg == 0 ? NFT_REG_1 : REG32(reg));
	x_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, REG32(reg + 1));
	x_lookup(r, map_names[m], 0, 1);
	if (is_dnat(m)) {
		e = nftnl_expr_alloc("nat");
		expr_add(r, e);
		nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_TYPE, NFT_NAT_DNAT);
		nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FAMILY, nft_nfproto(family));
		nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_ADDR_MIN, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_ADDR_MAX, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_PROTO_MIN,
		    REG32(aregs));
		nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_PROTO_MAX,
		    REG32(aregs));
		nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FLAGS,
		    NF_NAT_RANGE_MAP_IPS | NF_NAT_RANGE_PROTO_SPECIFIED);
	} else {
		e = nftnl_expr_alloc("redir");
		expr_add(r, e);
		nftnl_expr_set_u32(e, NFTNL_EXPR_REDIR_REG_PROTO_MIN, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_REDIR_REG_PROTO_MAX, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_REDIR_FLAGS,
		    NF_NAT_RANGE_PROTO_SPECIFIED);
	}
	if (range != NULL)
		snprintf(comment, sizeof(comment), "%s %s", rule_comments[m],
		    addr_prefix_str(range, pfx, sizeof(pfx)));
	else
		snprintf(comment, sizeof(comment), "%s", rule_comments[m]);
	rule_end(b, family, r, comment);
}

void
nft_batch_new_table(struct nft_batch *b, int family,
    const struct addr_prefix *np, size_t n_np)
{
	size_t c, i, nr;
	int m;

	add_table(b, family);
	for (m = 0; m < NFT_NMAPS; m++)
		add_map(b, family, m);
	for (c = 0; c < NFT_NCHAINS; c++) {
		add_chain(b, family, c);
		if (is_fw_chain(c)) {
			add_fw_rule(b, family, nft_chains[c].name);
			continue;
		}
		for (m = 0; m < NFT_NAT_MAPS; m++)
			if (!is_nodeport(m))
				add_rule(b, family, nft_chains[c].name, m, NULL);
		/* The same order as nft_expected_rules. */
		for (i = 0, nr = 0; i < n_np && 2 + 2 * (nr + 1) <= NFT_RULES_MAX;
		    i++) {
			if (np[i].ap_addr.sa.sa_family != family)
				continue;
			for (m = 0; m < NFT_NAT_MAPS; m++)
				if (is_nodeport(m))
					add_rule(b, family, nft_chains[c].name, m,
					    &np[i]);
			nr++;
		}
		for (m = 0; n_np == 0 && m < NFT_NAT_MAPS; m++)
			if (is_nodeport(m))
				add_rule(b, family, nft_chains[c].name, m, NULL);
	}
}
