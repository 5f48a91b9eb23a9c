/*
 * nft_msg.h - the netlink side of the nftables backend (nft.c).
 *
 * Everything here speaks nf_tables' netlink through libnftnl (message
 * payloads) and libmnl (the socket): our table's fixed layout, element
 * adds and deletes, one batch per transaction, the ruleset generation, and
 * the dumps a repair compares.  The layout, in `nft` syntax, per family
 * (ip shown; ip6 reads ip6 daddr and ipv6_addr):
 *
 *   table ip kube-uproxy {
 *     map portals        { type ipv4_addr . inet_proto . inet_service : inet_service }
 *     map portals-dnat   { type ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service }
 *     map nodeports      { type inet_proto . inet_service : inet_service }
 *     map nodeports-dnat { type inet_proto . inet_service : ipv4_addr . inet_service }
 *     set firewall       { type ipv4_addr . inet_proto . inet_service }
 *     set firewall-allow { type ipv4_addr . inet_proto . inet_service . ipv4_addr; flags interval }
 *     chain prerouting { type nat hook prerouting priority dstnat; policy accept;
 *       (the rules below) }
 *     chain output { type nat hook output priority dstnat; policy accept;
 *       meta l4proto { tcp, udp } redirect to : ip daddr . meta l4proto . th dport map @portals
 *       meta l4proto { tcp, udp } dnat ip to ip daddr . meta l4proto . th dport map @portals-dnat
 *       meta l4proto { tcp, udp } fib daddr type local redirect to : meta l4proto . th dport map @nodeports
 *       meta l4proto { tcp, udp } fib daddr type local dnat ip to meta l4proto . th dport map @nodeports-dnat }
 *     chain firewall-prerouting { type filter hook prerouting priority dstnat - 10; policy accept;
 *       (the rule below) }
 *     chain firewall-output { type filter hook output priority dstnat - 10; policy accept;
 *       meta l4proto { tcp, udp } ip daddr . meta l4proto . th dport @firewall
 *         ip daddr . meta l4proto . th dport . ip saddr != @firewall-allow drop }
 *   }
 *
 * With --nodeport-addresses, each nodeports rule comes once per range of
 * the family, after `fib daddr type local`: `ip daddr 198.18.0.0/24`;
 * with only ranges of the other family, it is not there at all.  The
 * firewall chains drop, before any nat, what goes to an LB ingress IP
 * and port that has loadBalancerSourceRanges from a source outside them.
 *
 * Nothing here keeps state but the socket; nft.c decides what to send.
 * nft_msg.c is the socket, batches and elements; nft_layout.c the table,
 * chains, maps and rules.
 */
#ifndef NFT_MSG_H
#define NFT_MSG_H

#include <stddef.h>
#include <stdint.h>

#define NFT_TABLE_NAME	"kube-uproxy"

/*
 * Our four maps, in the order their rules come in each nat chain, then
 * our two sets.
 */
enum nft_map {
	NFT_MAP_PORTALS,		/* daddr . l4proto . dport : port */
	NFT_MAP_PORTALS_DNAT,		/* daddr . l4proto . dport : addr . port */
	NFT_MAP_NODEPORTS,		/* l4proto . dport : port (local daddr) */
	NFT_MAP_NODEPORTS_DNAT,		/* l4proto . dport : addr . port */
	NFT_SET_FIREWALL,		/* daddr . l4proto . dport */
	NFT_SET_FIREWALL_ALLOW,		/* daddr . l4proto . dport . saddr,
					   an interval: the "data" of an
					   element is its closing key */
	NFT_NMAPS
};
#define NFT_NAT_MAPS	NFT_SET_FIREWALL

/*
 * Key and data bytes as the kernel holds them: each field of a
 * concatenation fills whole 32-bit registers (l4proto is 1 byte then 3 of
 * zero, a port 2 bytes in network order then 2 of zero).
 */
#define NFT_KEY_MAX	40		/* IPv6 address, proto, port, address */
#define NFT_DATA_MAX	40		/* the same (firewall-allow's end) */
/* Element userdata is at most 256 bytes: type, length, text, NUL. */
#define NFT_COMMENT_MAX	253

struct nft_sock;

/* One element as the dump callback sees it (borrowed for the call). */
typedef int nft_elem_cb(void *arg, enum nft_map, const uint8_t *key,
    size_t klen, const uint8_t *data, size_t dlen, const char *comment);

const char	*nft_map_name(enum nft_map);
/* Bytes of a key and of a data value of map `m` in `family`. */
size_t		 nft_key_len(int family, enum nft_map m);
size_t		 nft_data_len(int family, enum nft_map m);
/* "ip" or "ip6", as nft names the families. */
const char	*nft_family_name(int family);
/* NFPROTO_IPV4 or NFPROTO_IPV6. */
uint16_t	 nft_nfproto(int family);

/* Open and bind a netfilter netlink socket.  NULL with err on failure. */
struct nft_sock	*nft_sock_open(char *err, size_t errlen);
void		 nft_sock_close(struct nft_sock *);

/*
 * The ruleset generation (bumped by every committed transaction in this
 * network namespace).  Returns 0, or -1 with errno set.
 */
int		 nft_sock_genid(struct nft_sock *, uint32_t *genid);

/*
 * A batch: one transaction.  Start it with nft_batch_begin (genid != 0
 * makes the kernel refuse it with ERESTART if anything else was committed
 * since that generation), add what it does, then nft_batch_commit.
 */
struct nft_batch;
struct nft_batch *nft_batch_new(void);
void		 nft_batch_free(struct nft_batch *);
void		 nft_batch_begin(struct nft_batch *, struct nft_sock *,
		    uint32_t genid);
/*
 * Delete our table of `family` (with everything in it); with even_absent
 * create it first, so that the batch does not fail when there is none.
 */
void		 nft_batch_del_table(struct nft_batch *, int family,
		    int even_absent);
/*
 * Create our table of `family` from nothing, with its chains, maps and
 * rules, and no element: after nft_batch_del_table of an existing one, or
 * alone when there is none.  np[0..n_np): the --nodeport-addresses ranges
 * (all families; none: every local address).
 */
struct addr_prefix;
void		 nft_batch_new_table(struct nft_batch *, int family,
		    const struct addr_prefix *np, size_t n_np);
/*
 * Add (del 0) or delete (del 1) elements of map `m`: keys[i], data[i]
 * (ignored for deletes, but for NFT_SET_FIREWALL_ALLOW, where it is the
 * closing key), comments[i] (ignored for deletes; NULL for none).
 */
void		 nft_batch_elems(struct nft_batch *, int family, enum nft_map m,
		    int del, const uint8_t *const *keys,
		    const uint8_t *const *data, const char *const *comments,
		    size_t n);
/* Messages in the batch (begin and end not counted). */
size_t		 nft_batch_count(const struct nft_batch *);
/*
 * Send the batch and read the kernel's answers.  Returns 0 when every
 * message was acknowledged, or -1 with one line in err (errno kept): the
 * transaction was then refused as a whole and nothing changed.
 */
int		 nft_batch_commit(struct nft_batch *, struct nft_sock *,
		    char *err, size_t errlen);

/*
 * Between nft_msg.c and nft_layout.c.  nft_batch_msg starts a message of
 * `type` at the end of the batch with `room` bytes free for its payload
 * (and an ack asked for); nft_batch_msg_end adds it.  nft_batch_set_id
 * numbers a set created in this batch.  nft_sock_talk sends one request
 * and runs cb on every answer until the ack or the end of the dump:
 * returns 0, or -1 with errno.  nft_sock_seq: the next sequence number.
 */
struct nlmsghdr;
typedef int nft_mnl_cb(const struct nlmsghdr *, void *);
struct nlmsghdr	*nft_batch_msg(struct nft_batch *, uint16_t type, int family,
		    uint16_t flags, size_t room);
void		 nft_batch_msg_end(struct nft_batch *, struct nlmsghdr *);
uint32_t	 nft_batch_set_id(struct nft_batch *);
int		 nft_sock_talk(struct nft_sock *, struct nlmsghdr *,
		    nft_mnl_cb *cb, void *arg);
uint32_t	 nft_sock_seq(struct nft_sock *);

/*
 * Is our table of `family` laid out as nft_batch_new_table makes it
 * (chains with their hooks, priority and policy; each chain's rules, by
 * their comments, in order)?  Returns 1 yes, 0 no (or no table), -1 on a
 * netlink error (errno set).
 */
int		 nft_dump_layout_ok(struct nft_sock *, int family,
		    const struct addr_prefix *np, size_t n_np);
/*
 * Call cb for every element of map `m` of our table of `family`.  Returns
 * 0, the first non-zero cb return, or -1 with errno (ENOENT: no such
 * table or map).
 */
int		 nft_dump_elems(struct nft_sock *, int family, enum nft_map m,
		    nft_elem_cb *cb, void *arg);

#endif
