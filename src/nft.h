/*
 * nft.h - installing our portals with nftables (libnftnl + libmnl).
 *
 * The second portal backend, next to iptc.h: the same planned rule set
 * (rules.h) becomes elements of four maps in our own tables `ip
 * kube-uproxy` and `ip6 kube-uproxy` (layout in nft_msg.h and the man
 * page), looked up by a few fixed rules at the nat hooks.  The plan's
 * KUBE-PORTALS-CONTAINER and -HOST rules of one address become one
 * element used by both hooks, its comment the service port ("ns/name:port").
 *
 * A handle keeps what it last installed; an apply sends only the element
 * adds and deletes that differ from it, in one netlink transaction per
 * family.  The whole table is rebuilt only the first time and when a
 * check finds it differs from what we installed: the check is one
 * question (the ruleset generation) while nothing else committed to
 * nftables since our last transaction, else a dump of our chains, rules
 * and map elements.  Calls are synchronous and short (no lock: the
 * kernel serialises transactions).  The program `nft` is never run.
 */
#ifndef NFT_H
#define NFT_H

#include <stddef.h>
#include <stdint.h>

#include "rules.h"

struct nft;

/* What a handle did, for tests, benchmarks and logs. */
struct nft_stats {
	uint64_t	 ns_commits;	/* transactions committed */
	uint64_t	 ns_builds;	/* of them, whole-table (re)builds */
	uint64_t	 ns_checks;	/* dumps compared (generation moved) */
	uint64_t	 ns_added;	/* elements added */
	uint64_t	 ns_deleted;	/* elements deleted */
	uint64_t	 ns_failures;	/* transactions refused */
};

/*
 * Start-up check, reads only: nf_tables answers and we may use it
 * (CAP_NET_ADMIN).  Returns 0, or -1 with one line in err.
 */
int		 nft_preflight(char *err, size_t errlen);

/* A handle with its own netlink socket.  NULL with one line in err. */
struct nft	*nft_new(char *err, size_t errlen);
void		 nft_free(struct nft *);

/*
 * Make our table of `family` (AF_INET or AF_INET6) hold exactly the
 * rules of that family in `rs` (any order), in one transaction, or in
 * none when nothing differs.  A key planned twice with different targets
 * (two services claiming one address and port) keeps the first rule in
 * the set's order, as the first matching iptables rule would win.
 * Returns 0, or -1 with one line in err: the kernel then still holds what
 * it held before (the transaction is atomic) and so does the handle's
 * memory of it; call again to retry.
 */
int		 nft_apply(struct nft *, int family, const struct rule_set *rs,
		    char *err, size_t errlen);

/*
 * Delete our table of `family`.  No table (or no nf_tables at all) is
 * success.  Needs no handle (--cleanup).  Returns 0 or -1 with err.
 */
int		 nft_cleanup(int family, char *err, size_t errlen);

void		 nft_get_stats(const struct nft *, struct nft_stats *);

#endif
