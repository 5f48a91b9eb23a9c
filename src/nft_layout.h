/*
 * nft_layout.h - what the layout's builder (nft_layout.c) and its check
 * (nft_dump.c) share: our base chains, and the comments of their rules.
 */
#ifndef NFT_LAYOUT_H
#define NFT_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"

#define NFT_RULES_MAX		(2 + 2 * 64)	/* a chain's, 64 ranges */
#define NFT_COMMENT_LEN		96
#define NFT_NCHAINS		4

/* A base chain of our table. */
struct nft_chain_spec {
	const char	*name;
	uint32_t	 hook;		/* NF_INET_PRE_ROUTING, ... */
	const char	*type;		/* "nat" or "filter" */
	int32_t		 prio;
};

extern const struct nft_chain_spec nft_chains[NFT_NCHAINS];

/*
 * The comments of chain c's rules, in order, into exp: returns how many.
 * The nodeports rules come once per --nodeport-addresses range of the
 * family (named in the comment), or once when there are no ranges.
 */
size_t		 nft_expected_rules(int family, size_t c,
		    const struct addr_prefix *np, size_t n_np,
		    char exp[][NFT_COMMENT_LEN]);

#endif
