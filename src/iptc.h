/*
 * iptc.h - installing our nat rules with libiptc (legacy x_tables).
 *
 * One call, one transaction per family: read the nat table, make sure our
 * four chains and the four jumps to them exist where DESIGN.md section 3
 * says, replace the content of our chains with a planned rule set
 * (rules.h), commit once.  Everything happens under the xtables lock
 * (/run/xtables.lock, or $XTABLES_LOCKFILE as iptables honours it), taken
 * without blocking: when another program holds it the call returns
 * IPTC_LOCK_BUSY and the caller retries from a timer.  Calls are
 * synchronous and take milliseconds (tens for ten thousand rules).
 *
 * The names are prefixed iptc_ like libiptc's own functions; libiptc has
 * no iptc_apply, iptc_cleanup or iptc_preflight.
 */
#ifndef IPTC_H
#define IPTC_H

#include <stddef.h>

#include "rules.h"

/* Returned when another program holds the xtables lock: retry later. */
#define IPTC_LOCK_BUSY	(-2)

/*
 * Start-up checks, before any rule is touched (reads only):
 *  - privilege: opening the nat table needs CAP_NET_ADMIN and CAP_NET_RAW;
 *  - the kernel has legacy x_tables with the IPv4 nat table;
 *  - the IPv6 nat table (a warning only: IPv6 services get no rules);
 *  - `iptables` on PATH being the nf_tables variant (a warning only: our
 *    rules are then not in what `iptables -t nat -S` shows).
 * Returns 0 (warnings are logged), or -1 with one line in err.
 */
int	iptc_preflight(char *err, size_t errlen);

/*
 * Make the nat table of `family` (AF_INET or AF_INET6) hold exactly the
 * rules of that family in `rs` (in their order; sort the set first for
 * canonical output), in one transaction:
 *   PREROUTING: first rule  -m comment --comment "kube-uproxy portals"
 *                           -j KUBE-PORTALS-CONTAINER
 *               last rule   -m addrtype --dst-type LOCAL
 *                           -m comment --comment "kube-uproxy nodeports"
 *                           -j KUBE-NODEPORT-CONTAINER
 *   OUTPUT:     the same for KUBE-PORTALS-HOST and KUBE-NODEPORT-HOST,
 * (with --nodeport-addresses, rs->rs_nodeport: one nodeports jump per
 * range of the family, each with -d RANGE, in their order; none when all
 * ranges are of the other family), and our four chains holding rs's rules: only what differs is inserted
 * or deleted (a chain with many differences is refilled), so rules that
 * stay keep their packet counters.  Jumps already in place are kept too;
 * any other jump to our chains (misplaced, or left by the Go kube-proxy
 * userspace mode, which used the same chain names) is replaced.  When the
 * table already holds exactly this (a periodic resync with nothing
 * changed) nothing is committed, so a resync costs a read of the table,
 * not a rewrite of it.  Then, in a second transaction, the filter table:
 * while rs has RULES_FIREWALL rules of the family, KUBE-UPROXY-FIREWALL
 * holds them and is jumped to first from INPUT, FORWARD and OUTPUT
 * (-m comment --comment "kube-uproxy firewall"); without any, neither
 * the chain nor the jumps exist (a filter table without them is not even
 * opened).  A commit that loses a race with another writer
 * (EAGAIN) is retried a few times.  Returns 0, IPTC_LOCK_BUSY, or -1 with
 * one line in err (the kernel state is then unchanged).
 */
int	iptc_apply(int family, const struct rule_set *rs, char *err,
	    size_t errlen);

/*
 * Remove our jumps from PREROUTING and OUTPUT and our four chains from
 * the nat table of `family`, and KUBE-UPROXY-FIREWALL with its jumps from
 * the filter table.  Nothing installed (or no legacy nat table
 * at all) is success.  Returns 0, IPTC_LOCK_BUSY or -1 with err.
 */
int	iptc_cleanup(int family, char *err, size_t errlen);

#endif
