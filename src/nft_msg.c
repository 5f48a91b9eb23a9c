/*
 * nft_msg.c - nf_tables netlink messages for our table (see nft_msg.h).
 *
 * libnftnl builds and parses the payloads, libmnl carries them.  A batch
 * is one buffer of messages between NFNL_MSG_BATCH_BEGIN and _END, sent
 * in one sendto(): the kernel runs the whole batch as one transaction
 * before sendto() returns, so every answer is already queued on the
 * socket and is read without waiting.  Every message asks for an ack, so
 * success is "one ack per message, no error", never a guess.
 *
 * Each builder has the `nft` line it is equivalent to written above it.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/gen.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/rtnetlink.h>

#include "log.h"
#include "nft_msg.h"
#include "util.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK	270
#endif

/* nft's datatype numbers (src/datatype.h), for the maps' key and data. */
#define TYPE_IPADDR		7
#define TYPE_IP6ADDR		8
#define TYPE_INET_PROTOCOL	12
#define TYPE_INET_SERVICE	13
#define TYPE_BITS		6	/* a concatenation packs types by 6 bits */

/* Registers: NFT_REG_1 is NFT_REG32_00..03; concatenations follow it. */
#define REG32(i)		(NFT_REG32_00 + (i))

/* Elements per NEWSETELEM message: well under 64 KiB each. */
#define ELEMS_PER_MSG		128
#define ELEM_BYTES_MAX		(NFT_KEY_MAX + NFT_DATA_MAX + 256 + 64)
#define MSG_HEADROOM		8192

#define CHAIN_PRIO		(-100)	/* dstnat */
#define RECV_BUF		32768	/* one read of answers; a dump takes more */

static const char *const map_names[NFT_NMAPS] = {
	[NFT_MAP_PORTALS] = "portals",
	[NFT_MAP_PORTALS_DNAT] = "portals-dnat",
	[NFT_MAP_NODEPORTS] = "nodeports",
	[NFT_MAP_NODEPORTS_DNAT] = "nodeports-dnat",
};

static const char *const rule_comments[NFT_NMAPS] = {
	[NFT_MAP_PORTALS] = "kube-uproxy portals",
	[NFT_MAP_PORTALS_DNAT] = "kube-uproxy portals (dnat)",
	[NFT_MAP_NODEPORTS] = "kube-uproxy nodeports",
	[NFT_MAP_NODEPORTS_DNAT] = "kube-uproxy nodeports (dnat)",
};

static const struct {
	const char	*name;
	uint32_t	 hook;
} chains[] = {
	{ "prerouting", NF_INET_PRE_ROUTING },
	{ "output", NF_INET_LOCAL_OUT },
};

struct nft_sock {
	struct mnl_socket	*nl;
	uint32_t		 portid;
	uint32_t		 seq;
	int			 sndbuf;
};

struct nft_batch {
	char		*buf;
	size_t		 len, cap;
	uint32_t	 seq;		/* of the next message */
	size_t		 nmsg;		/* acked messages, begin/end excluded */
	uint32_t	 set_id;	/* anonymous sets of this batch */
};

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
	return (is_nodeport(m) ? 0 : addr_bytes(family)) + 8;
}

size_t
nft_data_len(int family, enum nft_map m)
{
	return is_dnat(m) ? addr_bytes(family) + 4 : 2;
}

static uint16_t
nfproto(int family)
{
	return family == AF_INET6 ? NFPROTO_IPV6 : NFPROTO_IPV4;
}

/* --- the socket ------------------------------------------------------------ */

struct nft_sock *
nft_sock_open(char *err, size_t errlen)
{
	struct nft_sock *s = xcalloc(1, sizeof(*s));
	int one = 1;

	if ((s->nl = mnl_socket_open(NETLINK_NETFILTER)) == NULL ||
	    mnl_socket_bind(s->nl, 0, MNL_SOCKET_AUTOPID) == -1) {
		snprintf(err, errlen, "netfilter netlink socket: %s",
		    strerror(errno));
		nft_sock_close(s);
		return NULL;
	}
	/* Acks carry only the header of the acked message, not all of it. */
	(void)mnl_socket_setsockopt(s->nl, NETLINK_CAP_ACK, &one, sizeof(one));
	s->portid = mnl_socket_get_portid(s->nl);
	s->seq = (uint32_t)time(NULL);
	return s;
}

void
nft_sock_close(struct nft_sock *s)
{
	if (s == NULL)
		return;
	if (s->nl != NULL)
		mnl_socket_close(s->nl);
	free(s);
}

/*
 * Send one request and run cb on every answer until the ack or the end
 * of the dump.  Returns 0, a cb's error (MNL_CB_ERROR, errno set) or -1.
 */
static int
talk(struct nft_sock *s, struct nlmsghdr *nlh, mnl_cb_t cb, void *arg)
{
	char buf[RECV_BUF];
	uint32_t seq = nlh->nlmsg_seq;
	ssize_t n;
	int rc;

	if (mnl_socket_sendto(s->nl, nlh, nlh->nlmsg_len) < 0)
		return -1;
	do {
		if ((n = mnl_socket_recvfrom(s->nl, buf, sizeof(buf))) <= 0)
			return -1;
		rc = mnl_cb_run(buf, (size_t)n, seq, s->portid, cb, arg);
	} while (rc > 0);
	return rc < 0 ? -1 : 0;
}

static int
gen_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct nftnl_gen *gen = nftnl_gen_alloc();

	if (gen == NULL)
		return MNL_CB_ERROR;
	if (nftnl_gen_nlmsg_parse(nlh, gen) == 0)
		*(uint32_t *)arg = nftnl_gen_get_u32(gen, NFTNL_GEN_ID);
	nftnl_gen_free(gen);
	return MNL_CB_OK;
}

int
nft_sock_genid(struct nft_sock *s, uint32_t *genid)
{
	char buf[256];
	struct nlmsghdr *nlh;

	/* nft list ruleset's first question: which generation is this? */
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETGEN, AF_UNSPEC, NLM_F_ACK,
	    ++s->seq);
	return talk(s, nlh, gen_cb, genid);
}

/* --- batches ---------------------------------------------------------------- */

struct nft_batch *
nft_batch_new(void)
{
	return xcalloc(1, sizeof(struct nft_batch));
}

void
nft_batch_free(struct nft_batch *b)
{
	if (b == NULL)
		return;
	free(b->buf);
	free(b);
}

/* Room for `need` more bytes; the buffer may move, so call it first. */
static void
reserve(struct nft_batch *b, size_t need)
{
	if (b->len + need <= b->cap)
		return;
	while (b->cap < b->len + need)
		b->cap = b->cap ? b->cap * 2 : 65536;
	b->buf = xreallocarray(b->buf, 1, b->cap);
}

/* A message header of `type` at the end of the batch (room reserved). */
static struct nlmsghdr *
msg_start(struct nft_batch *b, uint16_t type, int family, uint16_t flags,
    size_t room)
{
	reserve(b, room + MSG_HEADROOM);
	b->nmsg++;
	return nftnl_nlmsg_build_hdr(b->buf + b->len, type, nfproto(family),
	    flags | NLM_F_ACK, b->seq++);
}

static void
msg_end(struct nft_batch *b, struct nlmsghdr *nlh)
{
	b->len += NLMSG_ALIGN(nlh->nlmsg_len);
}

void
nft_batch_begin(struct nft_batch *b, struct nft_sock *s, uint32_t genid)
{
	struct nlmsghdr *nlh;

	b->len = 0;
	b->nmsg = 0;
	b->set_id = 0;
	b->seq = s->seq + 1;
	reserve(b, MSG_HEADROOM);
	nlh = nftnl_batch_begin(b->buf, b->seq++);
	if (genid != 0)
		mnl_attr_put_u32(nlh, NFNL_BATCH_GENID, htonl(genid));
	b->len += NLMSG_ALIGN(nlh->nlmsg_len);
}

size_t
nft_batch_count(const struct nft_batch *b)
{
	return b->nmsg;
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
	nlh = msg_start(b, NFT_MSG_DELTABLE, family, 0, 0);
	nftnl_table_nlmsg_build_payload(nlh, t);
	msg_end(b, nlh);
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
	nlh = msg_start(b, NFT_MSG_NEWTABLE, family, NLM_F_CREATE, 0);
	nftnl_table_nlmsg_build_payload(nlh, t);
	msg_end(b, nlh);
	nftnl_table_free(t);
}

/* add chain ip kube-uproxy prerouting { type nat hook prerouting priority dstnat; policy accept; } */
static void
add_chain(struct nft_batch *b, int family, const char *name, uint32_t hook)
{
	struct nftnl_chain *c = nftnl_chain_alloc();
	struct nlmsghdr *nlh;

	if (c == NULL)
		fatalx("out of memory");
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, NFT_TABLE_NAME);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name);
	nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, "nat");
	nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, hook);
	nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, CHAIN_PRIO);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
	nlh = msg_start(b, NFT_MSG_NEWCHAIN, family, NLM_F_CREATE, 0);
	nftnl_chain_nlmsg_build_payload(nlh, c);
	msg_end(b, nlh);
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

	nlh = msg_start(b, NFT_MSG_NEWSET, family, NLM_F_CREATE, 0);
	nftnl_set_nlmsg_build_payload(nlh, s);
	msg_end(b, nlh);
}

/* add map ip kube-uproxy portals { type ipv4_addr . inet_proto . inet_service : inet_service; } */
static void
add_map(struct nft_batch *b, int family, enum nft_map m)
{
	struct nftnl_set *s = set_new(map_names[m], ++b->set_id);
	uint32_t addr = family == AF_INET6 ? TYPE_IP6ADDR : TYPE_IPADDR;
	uint32_t key = TYPE_INET_PROTOCOL << TYPE_BITS | TYPE_INET_SERVICE;

	if (!is_nodeport(m))
		key |= addr << (2 * TYPE_BITS);
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, nfproto(family));
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
	uint32_t id = ++b->set_id;
	size_t i;

	s = set_new("__set%d", id);
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, nfproto(family));
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
	nlh = msg_start(b, NFT_MSG_NEWSETELEM, family, NLM_F_CREATE, 0);
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	msg_end(b, nlh);
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

/*
 * One of the four rules of a chain, e.g. for NFT_MAP_PORTALS:
 *   meta l4proto { tcp, udp } redirect to : ip daddr . meta l4proto . th dport map @portals
 * The key is loaded into consecutive 32-bit registers from reg 1 on; the
 * map's data lands in reg 1, where redirect (port) or dnat (address, then
 * port in the next register) reads it.
 */
static void
add_rule(struct nft_batch *b, int family, const char *chain, enum nft_map m)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	struct nftnl_udata_buf *ud = nftnl_udata_buf_alloc(256);
	struct nftnl_expr *e;
	struct nlmsghdr *nlh;
	uint32_t id, reg = 0, aregs = (uint32_t)addr_bytes(family) / 4;

	if (r == NULL || ud == NULL)
		fatalx("out of memory");
	id = add_proto_set(b, family);
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, NFT_TABLE_NAME);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, nfproto(family));
	x_meta(r, NFT_META_L4PROTO, NFT_REG_1);
	x_lookup(r, "__set%d", id, 0);
	if (is_nodeport(m))
		x_fib_local(r);
	else {
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
		nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FAMILY, nfproto(family));
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
	nftnl_udata_put_strz(ud, NFTNL_UDATA_RULE_COMMENT, rule_comments[m]);
	nftnl_rule_set_data(r, NFTNL_RULE_USERDATA, nftnl_udata_buf_data(ud),
	    nftnl_udata_buf_len(ud));
	nlh = msg_start(b, NFT_MSG_NEWRULE, family, NLM_F_CREATE | NLM_F_APPEND,
	    0);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	msg_end(b, nlh);
	nftnl_udata_buf_free(ud);
	nftnl_rule_free(r);
}

void
nft_batch_new_table(struct nft_batch *b, int family)
{
	size_t c;
	int m;

	add_table(b, family);
	for (m = 0; m < NFT_NMAPS; m++)
		add_map(b, family, m);
	for (c = 0; c < nitems(chains); c++) {
		add_chain(b, family, chains[c].name, chains[c].hook);
		for (m = 0; m < NFT_NMAPS; m++)
			add_rule(b, family, chains[c].name, m);
	}
}

/*
 * add element ip kube-uproxy portals { 198.19.0.10 . tcp . 80 comment "default/web:http" : 40123 }
 * delete element ip kube-uproxy portals { 198.19.0.10 . tcp . 80 }
 */
void
nft_batch_elems(struct nft_batch *b, int family, enum nft_map m, int del,
    const uint8_t *const *keys, const uint8_t *const *data,
    const char *const *comments, size_t n)
{
	size_t klen = nft_key_len(family, m), dlen = nft_data_len(family, m);
	size_t i, j, clen;
	struct nftnl_set *s;
	struct nftnl_set_elem *e;
	struct nlmsghdr *nlh;
	char ud[NFT_COMMENT_MAX + 3];

	for (i = 0; i < n; i += ELEMS_PER_MSG) {
		s = set_new(map_names[m], 0);
		for (j = i; j < n && j < i + ELEMS_PER_MSG; j++) {
			if ((e = nftnl_set_elem_alloc()) == NULL)
				fatalx("out of memory");
			nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, keys[j], klen);
			if (!del) {
				nftnl_set_elem_set(e, NFTNL_SET_ELEM_DATA,
				    data[j], dlen);
			}
			if (!del && comments[j] != NULL) {
				/* One udata TLV: type, length, text and NUL. */
				clen = strnlen(comments[j], NFT_COMMENT_MAX);
				ud[0] = NFTNL_UDATA_SET_ELEM_COMMENT;
				ud[1] = (char)(clen + 1);
				memcpy(ud + 2, comments[j], clen);
				ud[2 + clen] = '\0';
				nftnl_set_elem_set(e, NFTNL_SET_ELEM_USERDATA,
				    ud, clen + 3);
			}
			nftnl_set_elem_add(s, e);
		}
		nlh = msg_start(b, del ? NFT_MSG_DELSETELEM : NFT_MSG_NEWSETELEM,
		    family, del ? 0 : NLM_F_CREATE | NLM_F_EXCL,
		    ELEMS_PER_MSG * ELEM_BYTES_MAX);
		nftnl_set_elems_nlmsg_build_payload(nlh, s);
		msg_end(b, nlh);
		nftnl_set_free(s);
	}
}

static const char *
msg_name(int type)
{
	switch (type) {
	case NFT_MSG_NEWTABLE:		return "add table";
	case NFT_MSG_DELTABLE:		return "delete table";
	case NFT_MSG_NEWCHAIN:		return "add chain";
	case NFT_MSG_NEWSET:		return "add map";
	case NFT_MSG_NEWRULE:		return "add rule";
	case NFT_MSG_NEWSETELEM:	return "add element";
	case NFT_MSG_DELSETELEM:	return "delete element";
	default:			return "a message";
	}
}

/* A batch bigger than the socket's send buffer needs a bigger buffer. */
static void
grow_sndbuf(struct nft_sock *s, size_t len)
{
	int fd = mnl_socket_get_fd(s->nl), size;

	if (len + 4096 <= (size_t)s->sndbuf)
		return;
	size = (int)(len + 65536);
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)) == -1)
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	s->sndbuf = size;
}

int
nft_batch_commit(struct nft_batch *b, struct nft_sock *s, char *err,
    size_t errlen)
{
	char buf[RECV_BUF];
	struct nlmsghdr *nlh;
	struct nlmsgerr *ne;
	size_t acks = 0;
	ssize_t n;
	int fd = mnl_socket_get_fd(s->nl), error = 0, bad_type = -1;

	reserve(b, MSG_HEADROOM);
	nlh = nftnl_batch_end(b->buf + b->len, b->seq++);
	b->len += NLMSG_ALIGN(nlh->nlmsg_len);
	s->seq = b->seq;
	grow_sndbuf(s, b->len);
	if (mnl_socket_sendto(s->nl, b->buf, b->len) < 0) {
		snprintf(err, errlen, "sending %zu bytes: %s", b->len,
		    strerror(errno));
		return -1;
	}
	/* The transaction is over: its answers are waiting. */
	while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		for (nlh = (struct nlmsghdr *)buf; mnl_nlmsg_ok(nlh, (int)n);
		    nlh = mnl_nlmsg_next(nlh, (int *)&n)) {
			if (nlh->nlmsg_type != NLMSG_ERROR)
				continue;
			ne = mnl_nlmsg_get_payload(nlh);
			if (ne->error == 0)
				acks++;
			else if (error == 0) {
				error = -ne->error;
				bad_type = NFNL_MSG_TYPE(ne->msg.nlmsg_type);
			}
		}
	}
	if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK && error == 0)
		error = errno;
	if (error == 0 && acks != b->nmsg)
		error = EPROTO;
	if (error != 0) {
		snprintf(err, errlen, "transaction of %zu messages refused%s%s: "
		    "%s", b->nmsg, bad_type >= 0 ? " at " : "",
		    bad_type >= 0 ? msg_name(bad_type) : "", error == ERESTART ?
		    "the ruleset changed meanwhile" : strerror(error));
		errno = error;
		return -1;
	}
	return 0;
}

/* --- dumps ------------------------------------------------------------------ */

struct layout {
	int		 family;
	size_t		 chains_ok, rules_seen[nitems(chains)], bad;
};

static int
table_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct layout *l = arg;
	struct nftnl_table *t = nftnl_table_alloc();

	if (t == NULL || nftnl_table_nlmsg_parse(nlh, t) == -1) {
		nftnl_table_free(t);
		return MNL_CB_ERROR;
	}
	/* A dormant table (flags dormant) evaluates nothing. */
	if (nftnl_table_get_u32(t, NFTNL_TABLE_FLAGS) != 0)
		l->bad++;
	nftnl_table_free(t);
	return MNL_CB_OK;
}

static int
ours(const char *table)
{
	return table != NULL && strcmp(table, NFT_TABLE_NAME) == 0;
}

static int
chain_index(const char *name)
{
	size_t i;

	for (i = 0; i < nitems(chains); i++)
		if (name != NULL && strcmp(name, chains[i].name) == 0)
			return (int)i;
	return -1;
}

static int
chain_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct layout *l = arg;
	struct nftnl_chain *c = nftnl_chain_alloc();
	const char *type;
	int i;

	if (c == NULL || nftnl_chain_nlmsg_parse(nlh, c) == -1) {
		nftnl_chain_free(c);
		return MNL_CB_ERROR;
	}
	/* The kernel dumps every table's chains: look at ours only. */
	if (!ours(nftnl_chain_get_str(c, NFTNL_CHAIN_TABLE))) {
		nftnl_chain_free(c);
		return MNL_CB_OK;
	}
	i = chain_index(nftnl_chain_get_str(c, NFTNL_CHAIN_NAME));
	type = nftnl_chain_get_str(c, NFTNL_CHAIN_TYPE);
	if (i >= 0 && type != NULL && strcmp(type, "nat") == 0 &&
	    nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM) == chains[i].hook &&
	    nftnl_chain_get_s32(c, NFTNL_CHAIN_PRIO) == CHAIN_PRIO &&
	    nftnl_chain_get_u32(c, NFTNL_CHAIN_POLICY) == NF_ACCEPT)
		l->chains_ok++;
	else
		l->bad++;
	nftnl_chain_free(c);
	return MNL_CB_OK;
}

static int
comment_cb(const struct nftnl_udata *attr, void *arg)
{
	if (nftnl_udata_type(attr) == NFTNL_UDATA_RULE_COMMENT)
		*(const char **)arg = nftnl_udata_get(attr);
	return 0;
}

static int
rule_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct layout *l = arg;
	struct nftnl_rule *r = nftnl_rule_alloc();
	const char *comment = NULL;
	const void *ud;
	uint32_t udlen;
	size_t k;
	int i;

	if (r == NULL || nftnl_rule_nlmsg_parse(nlh, r) == -1) {
		nftnl_rule_free(r);
		return MNL_CB_ERROR;
	}
	if (!ours(nftnl_rule_get_str(r, NFTNL_RULE_TABLE))) {
		nftnl_rule_free(r);
		return MNL_CB_OK;
	}
	i = chain_index(nftnl_rule_get_str(r, NFTNL_RULE_CHAIN));
	ud = nftnl_rule_get_data(r, NFTNL_RULE_USERDATA, &udlen);
	if (ud != NULL)
		nftnl_udata_parse(ud, udlen, comment_cb, &comment);
	/* Rules come in chain order: the k-th of a chain must be ours. */
	k = i >= 0 ? l->rules_seen[i]++ : 0;
	if (i < 0 || k >= NFT_NMAPS || comment == NULL ||
	    strnlen(comment, udlen) == udlen || strcmp(comment, rule_comments[k]) != 0)
		l->bad++;
	nftnl_rule_free(r);
	return MNL_CB_OK;
}

int
nft_dump_layout_ok(struct nft_sock *s, int family)
{
	char buf[1024];
	struct layout l;
	struct nlmsghdr *nlh;
	struct nftnl_table *t;
	struct nftnl_chain *c;
	struct nftnl_rule *r;
	size_t i;
	int rc;

	memset(&l, 0, sizeof(l));
	l.family = family;
	if ((t = nftnl_table_alloc()) == NULL ||
	    (c = nftnl_chain_alloc()) == NULL || (r = nftnl_rule_alloc()) == NULL)
		fatalx("out of memory");
	/* nft list table ip kube-uproxy (the table alone: its flags) */
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, NFT_TABLE_NAME);
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETTABLE, nfproto(family),
	    NLM_F_ACK, ++s->seq);
	nftnl_table_nlmsg_build_payload(nlh, t);
	nftnl_table_free(t);
	rc = talk(s, nlh, table_cb, &l);
	/* nft list chains ip kube-uproxy: only our table's, by its name */
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, NFT_TABLE_NAME);
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETCHAIN, nfproto(family),
	    NLM_F_DUMP, ++s->seq);
	nftnl_chain_nlmsg_build_payload(nlh, c);
	nftnl_chain_free(c);
	if (rc == 0)
		rc = talk(s, nlh, chain_cb, &l);
	if (rc == 0) {
		nftnl_rule_set_str(r, NFTNL_RULE_TABLE, NFT_TABLE_NAME);
		nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETRULE,
		    nfproto(family), NLM_F_DUMP, ++s->seq);
		nftnl_rule_nlmsg_build_payload(nlh, r);
		rc = talk(s, nlh, rule_cb, &l);
	}
	nftnl_rule_free(r);
	if (rc == -1)
		return errno == ENOENT ? 0 : -1;
	if (l.bad != 0 || l.chains_ok != nitems(chains))
		return 0;
	for (i = 0; i < nitems(chains); i++)
		if (l.rules_seen[i] != NFT_NMAPS)
			return 0;
	return 1;
}

struct elem_dump {
	int		 family;
	enum nft_map	 map;
	nft_elem_cb	*cb;
	void		*arg;
	int		 rc;
};

static int
elem_comment_cb(const struct nftnl_udata *attr, void *arg)
{
	if (nftnl_udata_type(attr) == NFTNL_UDATA_SET_ELEM_COMMENT)
		*(const char **)arg = nftnl_udata_get(attr);
	return 0;
}

static int
elems_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct elem_dump *d = arg;
	struct nftnl_set *s = nftnl_set_alloc();
	struct nftnl_set_elems_iter *it;
	struct nftnl_set_elem *e;
	const uint8_t *key, *data;
	const char *comment;
	const void *ud;
	uint32_t klen, dlen, udlen;

	if (s == NULL || nftnl_set_elems_nlmsg_parse(nlh, s) == -1 ||
	    (it = nftnl_set_elems_iter_create(s)) == NULL) {
		nftnl_set_free(s);
		return MNL_CB_ERROR;
	}
	while (d->rc == 0 && (e = nftnl_set_elems_iter_next(it)) != NULL) {
		key = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &klen);
		data = nftnl_set_elem_get(e, NFTNL_SET_ELEM_DATA, &dlen);
		ud = nftnl_set_elem_get(e, NFTNL_SET_ELEM_USERDATA, &udlen);
		comment = NULL;
		if (ud != NULL) {
			nftnl_udata_parse(ud, udlen, elem_comment_cb, &comment);
			if (comment != NULL && memchr(comment, '\0', udlen) == NULL)
				comment = NULL;
		}
		if (key == NULL)
			klen = 0;
		if (data == NULL)
			dlen = 0;
		d->rc = d->cb(d->arg, d->map, key, klen, data, dlen, comment);
	}
	nftnl_set_elems_iter_destroy(it);
	nftnl_set_free(s);
	return MNL_CB_OK;
}

int
nft_dump_elems(struct nft_sock *s, int family, enum nft_map m,
    nft_elem_cb *cb, void *arg)
{
	char buf[1024];
	struct nftnl_set *set = set_new(map_names[m], 0);
	struct elem_dump d = { family, m, cb, arg, 0 };
	struct nlmsghdr *nlh;
	int rc;

	/* nft list map ip kube-uproxy portals */
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSETELEM, nfproto(family),
	    NLM_F_DUMP, ++s->seq);
	nftnl_set_elems_nlmsg_build_payload(nlh, set);
	nftnl_set_free(set);
	rc = talk(s, nlh, elems_cb, &d);
	if (rc == -1)
		return -1;
	return d.rc;
}
