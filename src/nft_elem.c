/*
 * nft_elem.c - the elements of our nftables maps (see nft_int.h): the
 * open-addressing hash tables nft.c keeps them in, and how a planned rule
 * (rules.h) becomes its elements.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "nft.h"
#include "nft_int.h"
#include "util.h"

/* --- element tables ------------------------------------------------------- */

/* A multiplicative hash of the key's 32-bit words (keys are zero-padded). */
uint32_t
nft_elem_hash(const struct elem *e)
{
	uint32_t h = 0x9e3779b9u * (e->e_map + 1u), w;
	size_t i;

	for (i = 0; i < NFT_KEY_MAX; i += 4) {
		memcpy(&w, e->e_key + i, 4);
		h = (h ^ w) * 0x85ebca6bu;
		h ^= h >> 13;
	}
	return h;
}

static int
same_key(const struct elem *a, const struct elem *b)
{
	return a->e_hash == b->e_hash && a->e_map == b->e_map &&
	    memcmp(a->e_key, b->e_key, NFT_KEY_MAX) == 0;
}

int
nft_same_str(const char *a, const char *b)
{
	return a == NULL || b == NULL ? a == b : strcmp(a, b) == 0;
}

int
nft_same_value(const struct elem *a, const struct elem *b)
{
	if (memcmp(a->e_data, b->e_data, NFT_DATA_MAX) != 0)
		return 0;
	return nft_same_str(a->e_comment, b->e_comment);
}

/* The slot holding e's key, or the empty slot where it would go. */
struct elem *
nft_table_slot(const struct elem_table *t, const struct elem *e)
{
	size_t i = e->e_hash & (t->t_cap - 1);

	while (t->t_slots[i].e_gen == t->t_gen && !same_key(&t->t_slots[i], e))
		i = (i + 1) & (t->t_cap - 1);
	return &t->t_slots[i];
}

const struct elem *
nft_table_find(const struct elem_table *t, const struct elem *e)
{
	const struct elem *s;

	if (t->t_cap == 0)
		return NULL;
	s = nft_table_slot(t, e);
	return s->e_gen == t->t_gen ? s : NULL;
}

/* Empty the table (comments are not freed: see nft_table_free_comments). */
void
nft_table_reset(struct elem_table *t, size_t want)
{
	size_t cap = t->t_cap ? t->t_cap : 64;

	while (cap < 2 * want)
		cap *= 2;
	t->t_n = 0;
	if (cap != t->t_cap) {
		free(t->t_slots);
		t->t_slots = xcalloc(cap, sizeof(*t->t_slots));
		t->t_cap = cap;
		t->t_gen = 1;
	} else if (++t->t_gen == 0) {
		memset(t->t_slots, 0, cap * sizeof(*t->t_slots));
		t->t_gen = 1;
	}
}

/* Keep the load under one half: rehash into a table twice as big. */
void
nft_table_grow(struct elem_table *t)
{
	struct elem_table old = *t;
	size_t i;

	if (t->t_cap != 0 && 2 * (t->t_n + 1) <= t->t_cap)
		return;
	t->t_cap = t->t_cap ? t->t_cap * 2 : 64;
	t->t_slots = xcalloc(t->t_cap, sizeof(*t->t_slots));
	t->t_gen = 1;
	t->t_n = 0;
	for (i = 0; i < old.t_cap; i++)
		if (old.t_slots[i].e_gen == old.t_gen)
			nft_table_insert(t, &old.t_slots[i]);
	free(old.t_slots);
}

/* Insert or overwrite e (the comment pointer is copied as it is). */
void
nft_table_insert(struct elem_table *t, const struct elem *e)
{
	struct elem *s;

	nft_table_grow(t);
	s = nft_table_slot(t, e);
	if (s->e_gen != t->t_gen)
		t->t_n++;
	*s = *e;
	s->e_gen = t->t_gen;
}

/* Remove the element in slot s, shifting its cluster back (no tombstones). */
void
nft_table_remove(struct elem_table *t, struct elem *s)
{
	size_t i = (size_t)(s - t->t_slots), j = i, home;

	t->t_n--;
	for (;;) {
		t->t_slots[i].e_gen = 0;
		for (;;) {
			j = (j + 1) & (t->t_cap - 1);
			if (t->t_slots[j].e_gen != t->t_gen)
				return;
			home = t->t_slots[j].e_hash & (t->t_cap - 1);
			/* Can j's element move to i?  Only if its home is not in (i, j]. */
			if (i <= j ? (home <= i || home > j) : (home <= i && home > j))
				break;
		}
		t->t_slots[i] = t->t_slots[j];
		i = j;
	}
}

void
nft_table_free_comments(struct elem_table *t)
{
	size_t i;

	for (i = 0; i < t->t_cap; i++)
		if (t->t_slots[i].e_gen == t->t_gen)
			free(t->t_slots[i].e_comment);
}

/* --- from rules to elements ----------------------------------------------- */

static void
put_addr(uint8_t *p, const union addr *a)
{
	if (a->sa.sa_family == AF_INET6)
		memcpy(p, &a->in6.sin6_addr, 16);
	else
		memcpy(p, &a->in4.sin_addr, 4);
}

/* daddr . l4proto . dport of a rule into p; returns its length. */
static size_t
put_portal_key(uint8_t *p, const struct rule *r)
{
	size_t alen = r->r_family == AF_INET6 ? 16 : 4;
	uint16_t port = htons(r->r_dport);

	put_addr(p, &r->r_dst);
	p[alen] = r->r_proto == K8S_PROTO_UDP ? IPPROTO_UDP : IPPROTO_TCP;
	memcpy(p + alen + 4, &port, 2);
	return alen + 8;
}

/*
 * The firewall-allow element of a portal rule with a source range: the
 * key daddr . l4proto . dport . first address of the range, the closing
 * key the same with the last one.  Returns 0, or -1 for a bad range.
 */
static int
allow_elem(const struct rule *r, struct elem *e)
{
	size_t alen = r->r_family == AF_INET6 ? 16 : 4, o, i;
	unsigned bits = r->r_src.ap_len;

	memset(e, 0, sizeof(*e));
	if (r->r_src.ap_addr.sa.sa_family != r->r_family || bits > alen * 8)
		return -1;
	e->e_map = NFT_SET_FIREWALL_ALLOW;
	o = put_portal_key(e->e_key, r);
	put_addr(e->e_key + o, &r->r_src.ap_addr);
	memcpy(e->e_data, e->e_key, o + alen);
	for (i = 0; i < alen; i++, bits = bits > 8 ? bits - 8 : 0)
		e->e_data[o + i] |= bits >= 8 ? 0 : (uint8_t)(0xff >> bits);
	e->e_comment = r->r_comment;
	e->e_hash = nft_elem_hash(e);
	return 0;
}

/*
 * The elements a rule stands for, into e[0..2): a portal rule with a
 * source range gives its portal element and its firewall-allow element.
 * Returns how many (0: a rule we skip).  The allow element is only
 * wanted when the portal element is this rule's service port's: when two
 * claim one LB IP and port, the first one's ranges alone count (the
 * kernel refuses overlapping intervals, which two sets of ranges for one
 * key could be).
 */
static int rule_elem(const struct rule *, struct elem *);

int
nft_rule_elems(const struct rule *r, struct elem e[2])
{
	if (rule_elem(r, &e[0]) == -1)
		return 0;
	if (r->r_has_src && r->r_chain == RULES_PORTALS_CONTAINER)
		return allow_elem(r, &e[1]) == 0 ? 2 : 1;
	return 1;
}

/* The element a rule stands for.  Returns 0, or -1 for a rule we skip. */
static int
rule_elem(const struct rule *r, struct elem *e)
{
	size_t alen = r->r_family == AF_INET6 ? 16 : 4, o = 0;
	uint16_t port;

	memset(e, 0, sizeof(*e));
	if (r->r_proto != K8S_PROTO_TCP && r->r_proto != K8S_PROTO_UDP)
		return -1;
	if (r->r_target == RULES_DROP) {
		if (!r->r_has_dst || r->r_dst.sa.sa_family != r->r_family)
			return -1;
		e->e_map = NFT_SET_FIREWALL;
		put_portal_key(e->e_key, r);
		e->e_comment = r->r_comment;
		e->e_hash = nft_elem_hash(e);
		return 0;
	}
	if (r->r_has_dst) {
		if (r->r_dst.sa.sa_family != r->r_family)
			return -1;
		e->e_map = r->r_target == RULES_DNAT ? NFT_MAP_PORTALS_DNAT :
		    NFT_MAP_PORTALS;
		put_addr(e->e_key, &r->r_dst);
		o = alen;
	} else
		e->e_map = r->r_target == RULES_DNAT ? NFT_MAP_NODEPORTS_DNAT :
		    NFT_MAP_NODEPORTS;
	e->e_key[o] = r->r_proto == K8S_PROTO_UDP ? IPPROTO_UDP : IPPROTO_TCP;
	port = htons(r->r_dport);
	memcpy(e->e_key + o + 4, &port, 2);
	port = htons(addr_port(&r->r_to));
	if (r->r_target == RULES_DNAT) {
		if (r->r_to.sa.sa_family != r->r_family)
			return -1;
		put_addr(e->e_data, &r->r_to);
		memcpy(e->e_data + alen, &port, 2);
	} else
		memcpy(e->e_data, &port, 2);
	e->e_comment = r->r_comment;
	e->e_hash = nft_elem_hash(e);
	return 0;
}

/*
 * Rules that add no element of their own: the planner gives every
 * KUBE-PORTALS-HOST and KUBE-NODEPORT-HOST rule a CONTAINER twin with the
 * same match and target (rules.h), and here one element serves both hooks.
 */
int
nft_rule_is_twin(const struct rule *r)
{
	return r->r_chain == RULES_PORTALS_HOST ||
	    r->r_chain == RULES_NODEPORT_HOST;
}
