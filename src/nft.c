/*
 * nft.c - our portals as nftables map elements (see nft.h).
 *
 * Per family the handle keeps two hash tables of elements:
 *
 *   installed  what the kernel holds (as far as we know), comments owned;
 *   wanted     rebuilt from the plan at every apply, comments borrowed.
 *
 * An apply fills `wanted` (the CONTAINER and HOST rules of one address
 * give one key: the first rule wins, the second is the same element),
 * walks both tables for the difference, and sends it as one batch of
 * element deletes and adds.  Only when that transaction is acknowledged
 * does `installed` change, so a refused batch leaves the handle agreeing
 * with the kernel.  The batch carries the ruleset generation we checked,
 * so the kernel refuses it if anyone committed in between.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "nft.h"
#include "nft_int.h"
#include "nft_msg.h"
#include "util.h"

struct family_state {
	int		 fs_family;
	struct addr_prefix *fs_np;	/* --nodeport-addresses built with */
	size_t		 fs_n_np;
	int		 fs_built;	/* our table was built by this handle */
	int		 fs_gen_ok;	/* fs_gen is a generation we checked */
	uint32_t	 fs_gen;
	struct elem_table fs_installed;	/* e_comment owned */
	struct elem_table fs_wanted;	/* e_comment borrowed from the plan */
};

struct nft {
	struct nft_sock		*sock;
	struct nft_batch	*batch;
	struct family_state	 fams[2];
	struct nft_stats	 stats;
	uint32_t		 mark;		/* applies so far */
	/* Scratch arrays of one apply's changes, kept between applies. */
	const struct elem	**chg;		/* rebuild: into fs_wanted */
	size_t			 chg_cap;
	struct elem		*dels, *adds;	/* update: copies */
	size_t			 dels_cap, adds_cap;
};

static struct family_state *
fam_of(struct nft *n, int family)
{
	return &n->fams[family == AF_INET6 ? 1 : 0];
}

/* Fill fs_wanted from the plan's rules of the family. */
static void
plan_wanted(struct family_state *fs, const struct rule_set *rs)
{
	struct elem e[2], *s;
	size_t i;
	int k, ne;

	nft_table_reset(&fs->fs_wanted, 2 * rules_count_family(rs, fs->fs_family));
	for (i = 0; i < rs->rs_n; i++) {
		const struct rule *r = &rs->rs_rules[i];

		if (r->r_family != fs->fs_family || nft_rule_is_twin(r))
			continue;
		for (k = 0, ne = nft_rule_elems(r, e); k < ne; k++) {
			nft_table_grow(&fs->fs_wanted);
			s = nft_table_slot(&fs->fs_wanted, &e[k]);
			if (s->e_gen != fs->fs_wanted.t_gen) {
				*s = e[k];
				s->e_gen = fs->fs_wanted.t_gen;
				fs->fs_wanted.t_n++;
			} else if (!nft_same_value(s, &e[k]))
				log_debug(LOG_V_SERVICE, "nftables: %s and %s "
				    "claim one address and port; %s keeps it",
				    s->e_comment, e[k].e_comment, s->e_comment);
			if (k == 0 && !nft_same_str(s->e_comment, r->r_comment))
				break;		/* see nft_rule_elems */
		}
	}
}

/* --- comparing with the kernel --------------------------------------------- */

struct compare {
	const struct elem_table	*installed;
	int			 family;
	size_t			 seen;
};

static int
compare_cb(void *arg, enum nft_map m, const uint8_t *key, size_t klen,
    const uint8_t *data, size_t dlen, const char *comment)
{
	struct compare *c = arg;
	const struct elem *have;
	struct elem e;

	memset(&e, 0, sizeof(e));
	if (klen != nft_key_len(c->family, m) ||
	    dlen != nft_data_len(c->family, m))
		return 1;
	e.e_map = (uint8_t)m;
	memcpy(e.e_key, key, klen);
	if (dlen > 0)		/* a set's element has no data: NULL */
		memcpy(e.e_data, data, dlen);
	e.e_comment = (char *)(uintptr_t)comment;
	e.e_hash = nft_elem_hash(&e);
	if ((have = nft_table_find(c->installed, &e)) == NULL ||
	    !nft_same_value(have, &e))
		return 1;
	c->seen++;
	return 0;
}

/*
 * Does the kernel hold what fs_installed says?  Returns 1 yes, 0 no, -1
 * on a netlink error.
 */
static int
kernel_matches(struct nft *n, struct family_state *fs)
{
	struct compare c = { &fs->fs_installed, fs->fs_family, 0 };
	int m, rc;

	n->stats.ns_checks++;
	if ((rc = nft_dump_layout_ok(n->sock, fs->fs_family, fs->fs_np,
	    fs->fs_n_np)) != 1)
		return rc;
	for (m = 0; m < NFT_NMAPS; m++) {
		rc = nft_dump_elems(n->sock, fs->fs_family, m, compare_cb, &c);
		if (rc == -1)
			return errno == ENOENT ? 0 : -1;
		if (rc != 0)
			return 0;
	}
	return c.seen == fs->fs_installed.t_n;
}

/* --- applying --------------------------------------------------------------- */

static void
chg_reserve(struct nft *n, size_t need)
{
	if (need <= n->chg_cap)
		return;
	n->chg_cap = need * 2;
	n->chg = xreallocarray(n->chg, n->chg_cap, sizeof(*n->chg));
}

/* Batch the elements chg[0..cnt) of every map, as adds or deletes. */
static void
batch_elems(struct nft *n, int family, const struct elem **chg, size_t cnt,
    int del)
{
	const uint8_t **keys, **data;
	const char **comments;
	size_t i, k;
	int m;

	keys = xcalloc(cnt + 1, sizeof(*keys));
	data = xcalloc(cnt + 1, sizeof(*data));
	comments = xcalloc(cnt + 1, sizeof(*comments));
	for (m = 0; m < NFT_NMAPS; m++) {
		for (i = 0, k = 0; i < cnt; i++) {
			if (chg[i]->e_map != m)
				continue;
			keys[k] = chg[i]->e_key;
			data[k] = chg[i]->e_data;
			comments[k++] = chg[i]->e_comment;
		}
		if (k > 0)
			nft_batch_elems(n->batch, family, m, del, keys, data,
			    comments, k);
	}
	free(keys);
	free(data);
	free(comments);
}

/* Copy of e with its own comment, for fs_installed. */
static struct elem
owned(const struct elem *e)
{
	struct elem c = *e;

	c.e_comment = e->e_comment != NULL ? xstrdup(e->e_comment) : NULL;
	return c;
}

/*
 * Rebuild our table from nothing with every element of the plan, in one
 * transaction: delete it (whether it exists or not) and create it again.
 * Returns 1 (committed) or -1.
 */
static int
rebuild(struct nft *n, struct family_state *fs, const struct rule_set *rs,
    uint32_t gen, char *err, size_t errlen)
{
	struct elem_table *w = &fs->fs_wanted;
	size_t i, cnt = 0;

	plan_wanted(fs, rs);
	chg_reserve(n, w->t_n + 1);
	for (i = 0; i < w->t_cap; i++)
		if (w->t_slots[i].e_gen == w->t_gen)
			n->chg[cnt++] = &w->t_slots[i];
	nft_batch_begin(n->batch, n->sock, gen);
	nft_batch_del_table(n->batch, fs->fs_family, 1);
	nft_batch_new_table(n->batch, fs->fs_family, rs->rs_nodeport,
	    rs->rs_n_nodeport);
	batch_elems(n, fs->fs_family, n->chg, cnt, 0);
	if (nft_batch_commit(n->batch, n->sock, err, errlen) == -1)
		return -1;
	free(fs->fs_np);
	fs->fs_n_np = rs->rs_n_nodeport;
	fs->fs_np = xcalloc(fs->fs_n_np + 1, sizeof(*fs->fs_np));
	if (fs->fs_n_np > 0)
		memcpy(fs->fs_np, rs->rs_nodeport,
		    fs->fs_n_np * sizeof(*fs->fs_np));
	nft_table_free_comments(&fs->fs_installed);
	nft_table_reset(&fs->fs_installed, cnt);
	for (i = 0; i < cnt; i++) {
		struct elem c = owned(n->chg[i]);

		nft_table_insert(&fs->fs_installed, &c);
	}
	n->stats.ns_builds++;
	n->stats.ns_added += cnt;
	log_info("nftables: built table %s %s with %zu elements",
	    nft_family_name(fs->fs_family), NFT_TABLE_NAME, cnt);
	return 1;
}

static void
push(struct elem **arr, size_t *n, size_t *cap, const struct elem *e)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		*arr = xreallocarray(*arr, *cap, sizeof(**arr));
	}
	(*arr)[(*n)++] = *e;
}

/*
 * One planned element, for update(): marked where it is installed (with
 * another value: deleted and added again), or added.  Returns the comment
 * of the rule that claimed its key in this apply, the first one.
 */
static const char *
update_elem(struct nft *n, const struct elem *e, struct elem_table *in,
    struct elem_table *fresh, uint32_t mark, size_t *ndel, size_t *nadd)
{
	const struct elem *f;
	struct elem *s;

	if (in->t_cap != 0 && (s = nft_table_slot(in, e))->e_gen == in->t_gen) {
		if (s->e_mark == mark)
			return s->e_claim;	/* planned twice: first wins */
		s->e_mark = mark;
		s->e_claim = e->e_comment;
		if (!nft_same_value(s, e)) {
			push(&n->dels, ndel, &n->dels_cap, s);
			push(&n->adds, nadd, &n->adds_cap, e);
		}
		return e->e_comment;
	}
	if ((f = nft_table_find(fresh, e)) != NULL)
		return f->e_comment;
	nft_table_insert(fresh, e);
	push(&n->adds, nadd, &n->adds_cap, e);
	return e->e_comment;
}

/*
 * Send what differs between fs_installed and the plan, then record it.
 * One pass over the plan looks every element up where it is installed
 * (marking it wanted); a pass over fs_installed collects the unmarked.
 * fs_wanted only dedups keys that are new.  Returns 1 (committed), 0
 * (nothing differed) or -1.
 */
static int
update(struct nft *n, struct family_state *fs, const struct rule_set *rs,
    uint32_t gen, char *err, size_t errlen)
{
	struct elem_table *in = &fs->fs_installed, *fresh = &fs->fs_wanted;
	const struct elem **list;
	const char *claim;
	struct elem e, two[2], *s;
	size_t i, ndel = 0, nadd = 0;
	int k, ne;
	uint32_t mark = ++n->mark;

	nft_table_reset(fresh, 0);
	for (i = 0; i < rs->rs_n; i++) {
		const struct rule *r = &rs->rs_rules[i];

		if (r->r_family != fs->fs_family || nft_rule_is_twin(r))
			continue;
		ne = nft_rule_elems(r, two);
		for (k = 0; k < ne; k++) {
			claim = update_elem(n, &two[k], in, fresh, mark, &ndel,
			    &nadd);
			if (k == 0 && !nft_same_str(claim, r->r_comment))
				break;		/* see nft_rule_elems */
		}
	}
	for (i = 0; i < in->t_cap; i++)
		if (in->t_slots[i].e_gen == in->t_gen &&
		    in->t_slots[i].e_mark != mark)
			push(&n->dels, &ndel, &n->dels_cap, &in->t_slots[i]);
	if (ndel == 0 && nadd == 0)
		return 0;
	/* A changed element is deleted and added again, in this order. */
	list = xcalloc(ndel + nadd + 1, sizeof(*list));
	for (i = 0; i < ndel; i++)
		list[i] = &n->dels[i];
	for (i = 0; i < nadd; i++)
		list[ndel + i] = &n->adds[i];
	nft_batch_begin(n->batch, n->sock, gen);
	batch_elems(n, fs->fs_family, list, ndel, 1);
	batch_elems(n, fs->fs_family, list + ndel, nadd, 0);
	free(list);
	if (nft_batch_commit(n->batch, n->sock, err, errlen) == -1)
		return -1;
	/* Committed: installed := installed - deleted + added. */
	for (i = 0; i < ndel; i++) {
		s = nft_table_slot(in, &n->dels[i]);
		free(s->e_comment);
		nft_table_remove(in, s);
	}
	for (i = 0; i < nadd; i++) {
		e = owned(&n->adds[i]);
		e.e_mark = mark;
		nft_table_insert(in, &e);
	}
	n->stats.ns_added += nadd;
	n->stats.ns_deleted += ndel;
	log_debug(LOG_V_SERVICE, "nftables: %s: %zu elements added, %zu deleted",
	    nft_family_name(fs->fs_family), nadd, ndel);
	return 1;
}

/* Was our table built with the plan's --nodeport-addresses? */
static int
same_nodeport(const struct family_state *fs, const struct rule_set *rs)
{
	return fs->fs_n_np == rs->rs_n_nodeport && (fs->fs_n_np == 0 ||
	    memcmp(fs->fs_np, rs->rs_nodeport,
	    fs->fs_n_np * sizeof(*fs->fs_np)) == 0);
}

int
nft_apply(struct nft *n, int family, const struct rule_set *rs, char *err,
    size_t errlen)
{
	struct family_state *fs = fam_of(n, family);
	uint32_t gen;
	int rc, ok;

	if (nft_sock_genid(n->sock, &gen) == -1) {
		snprintf(err, errlen, "nftables: reading the ruleset generation: "
		    "%s", strerror(errno));
		return -1;
	}
	if (!fs->fs_built || !same_nodeport(fs, rs)) {
		/*
		 * Start: whatever an earlier run left goes, in the same
		 * step.  New --nodeport-addresses (tests) change the layout.
		 */
		rc = rebuild(n, fs, rs, gen, err, errlen);
		fs->fs_built = rc == 1;
	} else if (fs->fs_gen_ok && gen == fs->fs_gen)
		rc = update(n, fs, rs, gen, err, errlen);
	else if ((ok = kernel_matches(n, fs)) == -1) {
		snprintf(err, errlen, "nftables: reading table %s %s: %s",
		    nft_family_name(family), NFT_TABLE_NAME, strerror(errno));
		return -1;
	} else if (ok)
		rc = update(n, fs, rs, gen, err, errlen);
	else {
		log_warnx("nftables: table %s %s was changed by someone "
		    "else; rebuilding it", nft_family_name(family),
		    NFT_TABLE_NAME);
		rc = rebuild(n, fs, rs, gen, err, errlen);
	}
	if (rc == -1) {
		n->stats.ns_failures++;
		fs->fs_gen_ok = 0;
		return -1;
	}
	/*
	 * Our transaction, if any, was the only one since `gen` (the
	 * kernel checked): every family we knew intact at `gen` still is.
	 */
	if (rc == 1) {
		size_t f;

		n->stats.ns_commits++;
		for (f = 0; f < nitems(n->fams); f++)
			if (&n->fams[f] != fs && n->fams[f].fs_gen_ok &&
			    n->fams[f].fs_gen == gen)
				n->fams[f].fs_gen = gen + 1;
		gen++;
	}
	fs->fs_gen = gen;
	fs->fs_gen_ok = 1;
	return 0;
}

struct nft *
nft_new(char *err, size_t errlen)
{
	struct nft *n = xcalloc(1, sizeof(*n));

	if ((n->sock = nft_sock_open(err, errlen)) == NULL) {
		free(n);
		return NULL;
	}
	n->batch = nft_batch_new();
	n->fams[0].fs_family = AF_INET;
	n->fams[1].fs_family = AF_INET6;
	return n;
}

void
nft_free(struct nft *n)
{
	size_t f;

	if (n == NULL)
		return;
	for (f = 0; f < nitems(n->fams); f++) {
		nft_table_free_comments(&n->fams[f].fs_installed);
		free(n->fams[f].fs_np);
		free(n->fams[f].fs_installed.t_slots);
		free(n->fams[f].fs_wanted.t_slots);
	}
	nft_batch_free(n->batch);
	nft_sock_close(n->sock);
	free(n->chg);
	free(n->dels);
	free(n->adds);
	free(n);
}

void
nft_get_stats(const struct nft *n, struct nft_stats *st)
{
	*st = n->stats;
}

int
nft_preflight(char *err, size_t errlen)
{
	struct nft_sock *s;
	uint32_t gen;
	int rc = 0;

	if ((s = nft_sock_open(err, errlen)) == NULL)
		return -1;
	if (nft_sock_genid(s, &gen) == -1) {
		if (errno == EPERM)
			snprintf(err, errlen, "nftables: need CAP_NET_ADMIN "
			    "(run as root)");
		else
			snprintf(err, errlen, "nftables: the kernel does not "
			    "answer (%s): no nf_tables?", strerror(errno));
		rc = -1;
	}
	nft_sock_close(s);
	return rc;
}

int
nft_cleanup(int family, char *err, size_t errlen)
{
	struct nft_sock *s;
	struct nft_batch *b;
	char why[256];
	int rc = 0;

	if ((s = nft_sock_open(err, errlen)) == NULL)
		return errno == EPROTONOSUPPORT ? 0 : -1;
	b = nft_batch_new();
	nft_batch_begin(b, s, 0);
	nft_batch_del_table(b, family, 0);
	if (nft_batch_commit(b, s, why, sizeof(why)) == -1 &&
	    errno != ENOENT && errno != EOPNOTSUPP && errno != EAFNOSUPPORT) {
		snprintf(err, errlen, "nftables: deleting table %s %s: %s",
		    nft_family_name(family), NFT_TABLE_NAME, why);
		rc = -1;
	}
	nft_batch_free(b);
	nft_sock_close(s);
	return rc;
}
