/*
 * iptc_int.h - private to the iptc files (iptc.c, iptc_entry.c,
 * iptc_chain.c, iptc_jump.c): what they share and no other module may
 * use; callers include iptc.h only.
 *
 * The names are prefixed iptc_ like the module's exported ones; none of
 * them is one of libiptc's (iptc_init, iptc_commit, iptc_ops...).
 */
#ifndef IPTC_INT_H
#define IPTC_INT_H

#include <stddef.h>
#include <stdint.h>

#include <libiptc/libiptc.h>
#include <libiptc/libip6tc.h>

#include "rules.h"

#define ENTRY_MAX		1024	/* bytes of one entry we build */

/* One family's libiptc, behind a common signature. */
struct family_ops {
	int		 af;
	const char	*name;		/* "IPv4" */
	const char	*proc_names;	/* tables the kernel has, this netns */
	const char	*modules;	/* what to load when it has none */
	size_t		 hdr_size;	/* sizeof(struct ipt_entry) */
	size_t		 ip_size;	/* sizeof(struct ipt_ip) */
	size_t		 off_target;	/* offsetof(.., target_offset) */
	size_t		 off_counters;	/* offsetof(.., counters) */
	struct xtc_handle *(*init)(const char *);
	void		 (*free)(struct xtc_handle *);
	int		 (*commit)(struct xtc_handle *);
	int		 (*is_chain)(const char *, struct xtc_handle *const);
	int		 (*create_chain)(const xt_chainlabel, struct xtc_handle *);
	int		 (*flush_entries)(const xt_chainlabel, struct xtc_handle *);
	int		 (*delete_chain)(const xt_chainlabel, struct xtc_handle *);
	int		 (*delete_num)(const xt_chainlabel, unsigned int,
			    struct xtc_handle *);
	const char	*(*strerror)(int);
	const void	*(*first_rule)(const char *, struct xtc_handle *);
	const void	*(*next_rule)(const void *, struct xtc_handle *);
	const char	*(*get_target)(const void *, struct xtc_handle *);
	int		 (*insert)(const char *, const void *, unsigned int,
			    struct xtc_handle *);
	int		 (*append)(const char *, const void *, struct xtc_handle *);
};

/* The jumps to our chains from the built-in ones. */
struct hook {
	const char		*builtin;
	enum rules_chain	 portals;	/* first rule */
	enum rules_chain	 nodeports;	/* last rule */
};

/* One x_tables entry being built, of ops' family (iptc_entry.c). */
struct entry_buf {
	const struct family_ops	*ops;
	size_t			 len;
	union {
		uint64_t	 align;	/* xt_counters are 64-bit */
		unsigned char	 raw[ENTRY_MAX];
	} u;
};

/* --- iptc_entry.c ----------------------------------------------------- */

/* The family's libiptc (AF_INET or AF_INET6), or NULL for another family. */
const struct family_ops *iptc_ops_for(int af);

/*
 * Build into eb a jump to `chain`: [-d dst] [-m addrtype --dst-type
 * LOCAL] -m comment --comment COMMENT -j CHAIN.
 */
void	iptc_build_jump(struct entry_buf *eb, const struct family_ops *ops,
	    const char *chain, int local_only, const struct addr_prefix *dst,
	    const char *comment);

/* Build into eb the x_tables entry of a planned rule. */
void	iptc_build_rule(struct entry_buf *eb, const struct family_ops *ops,
	    const struct rule *r);

/* eb's entry as libiptc's insert and append take it (a verdict named). */
const void *iptc_libiptc_form(struct entry_buf *eb);

/*
 * 1 when the installed entry `have` is the one in `want`, counters
 * aside; a jump (chain not NULL) is compared by the chain it goes to.
 */
int	iptc_same_entry(struct xtc_handle *h, const void *have,
	    struct entry_buf *want, const char *chain);

/* --- iptc_chain.c ----------------------------------------------------- */

/*
 * Make `chain` hold want[0..n) (rules of this family and chain, in plan
 * order), keeping the counters of the entries that stay.  Returns 1 if it
 * had to change, 0 if it already did, -1 on error (errno set).
 */
int	iptc_sync_chain(const struct family_ops *ops, struct xtc_handle *h,
	    const char *chain, const struct rule *want, size_t n);

/* --- iptc_jump.c ------------------------------------------------------ */

/*
 * Delete every rule of `builtin` that jumps to one of our chains.
 * Returns how many, or -1 (errno set).
 */
int	iptc_delete_jumps(const struct family_ops *ops, struct xtc_handle *h,
	    const char *builtin);

/*
 * The nat jumps of one hook to our chains as rs wants them.  Returns 0
 * when they already were, 1 when fixed, -1 on error (errno set).
 */
int	iptc_ensure_jumps(const struct family_ops *ops, struct xtc_handle *h,
	    const struct hook *hk, const struct rule_set *rs);

/*
 * The filter table's jump from `builtin` to KUBE-UPROXY-FIREWALL, first
 * and alone.  Returns 0 when it already was, 1 when fixed, -1 on error.
 */
int	iptc_ensure_fw_jump(const struct family_ops *ops,
	    struct xtc_handle *h, const char *builtin);

#endif
