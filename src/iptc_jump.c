/*
 * iptc_jump.c - the jumps from the built-in chains to ours (private to
 * the iptc files, see iptc_int.h): portals first and nodeports last in
 * the nat table's PREROUTING and OUTPUT, the firewall first in the filter
 * table's INPUT, FORWARD and OUTPUT; kept when already right, with their
 * packet counters, replaced otherwise.
 */
#include <stdlib.h>
#include <string.h>

#include "iptc_int.h"
#include "util.h"

#define COMMENT_PORTALS		"kube-uproxy portals"
#define COMMENT_NODEPORTS	"kube-uproxy nodeports"
#define COMMENT_FIREWALL	"kube-uproxy firewall"
#define NODEPORT_JUMPS_MAX	64	/* --nodeport-addresses ranges */

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
int
iptc_delete_jumps(const struct family_ops *ops, struct xtc_handle *h,
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
int
iptc_ensure_jumps(const struct family_ops *ops, struct xtc_handle *h,
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
	iptc_build_jump(&portals, ops, pc, 0, NULL, COMMENT_PORTALS);
	for (i = 0; i < nj; i++)
		iptc_build_jump(&nodeports[i], ops, nc, 1,
		    nr > 0 ? ranges[i] : NULL, COMMENT_NODEPORTS);
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
	    iptc_same_entry(h, have[0], &portals, pc);
	for (i = 0; ok && i < nj; i++)
		ok = iptc_same_entry(h, have[n - nj + i], &nodeports[i], nc);
	if (ok) {
		rv = 0;
		goto done;
	}
	if (iptc_delete_jumps(ops, h, hk->builtin) == -1 ||
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
int
iptc_ensure_fw_jump(const struct family_ops *ops, struct xtc_handle *h,
    const char *builtin)
{
	const char *fc = rules_chain_name(RULES_FIREWALL);
	struct entry_buf jump;
	const void *e;
	int ours = 0, first_ok = 0, first = 1;

	iptc_build_jump(&jump, ops, fc, 0, NULL, COMMENT_FIREWALL);
	for (e = ops->first_rule(builtin, h); e != NULL;
	    e = ops->next_rule(e, h)) {
		if (first)
			first_ok = iptc_same_entry(h, e, &jump, fc);
		first = 0;
		if (is_our_chain(ops->get_target(e, h)))
			ours++;
	}
	if (ours == 1 && first_ok)
		return 0;
	if (iptc_delete_jumps(ops, h, builtin) == -1 ||
	    !ops->insert(builtin, jump.u.raw, 0, h))
		return -1;
	return 1;
}
