/*
 * iptc_chain.c - bringing one of our chains to the plan in libiptc's copy
 * of a table (private to the iptc files, see iptc_int.h): planned rules
 * matched to installed entries by hash, counters kept, a few edits in
 * place or, past EDITS_MAX, a refill.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "iptc_int.h"
#include "util.h"

/*
 * A chain is edited in place with at most this many inserts and deletes;
 * beyond, it is flushed and refilled.  libiptc finds a rule by number
 * walking its list, so each edit costs up to half the chain.
 */
#define EDITS_MAX		64

/*
 * Bringing one chain to the plan.  Replacing the table costs the kernel
 * the same whatever changed, but editing libiptc's copy costs us only
 * what changed, and a rule that stays keeps its packet counters.
 *
 * Each planned rule (want[]) is first matched to an equal entry of the
 * chain as read (have[]) through a hash of what iptc_same_entry compares, so
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
 * Hash of an entry, installed or built, over what iptc_same_entry compares:
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
		iptc_build_rule(&eb, d->ops, &d->want[i]);
		h = entry_hash(d->ops, eb.u.raw);
		for (slot = h & (cap - 1); (j = table[slot]) != NO_RULE;
		    slot = (slot + 1) & (cap - 1)) {
			if (used[j] || hashes[j] != h ||
			    !iptc_same_entry(d->h, d->have[j], &eb, NULL))
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
	iptc_build_rule(eb, d->ops, &d->want[i]);
	if (d->match[i] != NO_RULE)
		memcpy(eb->u.raw + d->ops->off_counters, &d->counters[i],
		    sizeof(d->counters[i]));
}

/*
 * Make `chain` hold want[0..n) (rules of this family and chain, in plan
 * order).  Returns 1 if it had to change, 0 if it already did, -1 on error
 * (errno set).
 */
int
iptc_sync_chain(const struct family_ops *ops, struct xtc_handle *h,
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
				if (!ops->insert(chain, iptc_libiptc_form(&eb),
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
			if (!ops->append(chain, iptc_libiptc_form(&eb), h))
				rv = -1;
		}
	}
	free(d->counters);
	free(d->match);
	free(d->have);
	free(d);
	return rv;
}
