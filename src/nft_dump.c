/*
 * nft_dump.c - is our table in the kernel still laid out as nft_layout.c
 * builds it?  The table, its chains and their rules are dumped and each
 * compared with the layout (see nft_dump_layout_ok in nft_msg.h).
 */

#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/rule.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include "addr.h"
#include "log.h"
#include "nft_layout.h"
#include "nft_msg.h"
#include "util.h"

struct layout {
	int		 family;
	size_t		 chains_ok, rules_seen[NFT_NCHAINS], bad;
	size_t		 n_exp[NFT_NCHAINS];
	char		 exp[NFT_NCHAINS][NFT_RULES_MAX][NFT_COMMENT_LEN];
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

	for (i = 0; i < NFT_NCHAINS; i++)
		if (name != NULL && strcmp(name, nft_chains[i].name) == 0)
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
	if (i >= 0 && type != NULL && strcmp(type, nft_chains[i].type) == 0 &&
	    nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM) == nft_chains[i].hook &&
	    nftnl_chain_get_s32(c, NFTNL_CHAIN_PRIO) == nft_chains[i].prio &&
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
	if (i < 0 || k >= l->n_exp[i] || comment == NULL ||
	    strnlen(comment, udlen) == udlen ||
	    strcmp(comment, l->exp[i][k]) != 0)
		l->bad++;
	nftnl_rule_free(r);
	return MNL_CB_OK;
}

int
nft_dump_layout_ok(struct nft_sock *s, int family,
    const struct addr_prefix *np, size_t n_np)
{
	char buf[1024];
	struct layout *lp = xcalloc(1, sizeof(*lp));
	struct nlmsghdr *nlh;
	struct nftnl_table *t;
	struct nftnl_chain *c;
	struct nftnl_rule *r;
	size_t i;
	int rc, ok = 1;

	lp->family = family;
	for (i = 0; i < NFT_NCHAINS; i++)
		lp->n_exp[i] = nft_expected_rules(family, i, np, n_np, lp->exp[i]);
	if ((t = nftnl_table_alloc()) == NULL ||
	    (c = nftnl_chain_alloc()) == NULL || (r = nftnl_rule_alloc()) == NULL)
		fatalx("out of memory");
	/* nft list table ip kube-uproxy (the table alone: its flags) */
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, NFT_TABLE_NAME);
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETTABLE, nft_nfproto(family),
	    NLM_F_ACK, nft_sock_seq(s));
	nftnl_table_nlmsg_build_payload(nlh, t);
	nftnl_table_free(t);
	rc = nft_sock_talk(s, nlh, table_cb, lp);
	/* nft list chains ip kube-uproxy: only our table's, by its name */
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, NFT_TABLE_NAME);
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETCHAIN, nft_nfproto(family),
	    NLM_F_DUMP, nft_sock_seq(s));
	nftnl_chain_nlmsg_build_payload(nlh, c);
	nftnl_chain_free(c);
	if (rc == 0)
		rc = nft_sock_talk(s, nlh, chain_cb, lp);
	if (rc == 0) {
		nftnl_rule_set_str(r, NFTNL_RULE_TABLE, NFT_TABLE_NAME);
		nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETRULE,
		    nft_nfproto(family), NLM_F_DUMP, nft_sock_seq(s));
		nftnl_rule_nlmsg_build_payload(nlh, r);
		rc = nft_sock_talk(s, nlh, rule_cb, lp);
	}
	nftnl_rule_free(r);
	if (rc == -1) {
		ok = errno == ENOENT ? 0 : -1;
		goto done;
	}
	if (lp->bad != 0 || lp->chains_ok != NFT_NCHAINS)
		ok = 0;
	for (i = 0; i < NFT_NCHAINS; i++)
		if (lp->rules_seen[i] != lp->n_exp[i])
			ok = 0;
 done:
	free(lp);
	return ok;
}

