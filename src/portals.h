/*
 * portals.h - when and how our iptables rules are synced.
 *
 * The proxier says "the rules changed" (portals_request); this module
 * decides when to act on it and does: a sync asks the proxier for the
 * whole desired rule set (the plan callback), then installs it with
 * iptc_apply, one transaction per family.  Syncs are rate-limited by
 * --iptables-min-sync-period (a burst of changes costs one commit), repeated
 * every --iptables-sync-period to repair rules someone else removed, and
 * retried from a timer when the xtables lock is busy or a commit fails:
 * the loop is never blocked waiting.
 */
#ifndef PORTALS_H
#define PORTALS_H

#include <stdint.h>

#include <event2/event.h>

#include "rules.h"

struct config;
struct portals;

/*
 * Every rule wanted now, sorted (rules_sort order).  The planner owns the
 * set; it stays valid until the next call.
 */
typedef const struct rule_set *portals_plan_cb(void *arg);
/*
 * A sync ended: ok or failed, after `seconds` (plan and transactions).
 * Attempts that found the xtables lock busy are not reported.
 */
typedef void portals_done_cb(void *arg, int ok, double seconds);

/*
 * Flush our chains (old proxy ports mean nothing after a restart) and
 * start the timers.  Returns NULL with one line logged when the first
 * flush fails.  cfg is borrowed; plan and done get arg.
 */
struct portals	*portals_new(struct event_base *, const struct config *cfg,
		    portals_plan_cb *plan, portals_done_cb *done, void *arg);
/* Something changed: sync soon, but not before min-sync-period. */
void		 portals_request(struct portals *);
/*
 * Stop; with `cleanup` remove our jumps and chains (SIGTERM).  Returns 0,
 * or -1 if the cleanup failed (logged).
 */
int		 portals_free(struct portals *, int cleanup);

/* A change is waiting for a sync since this mono_ms(), or 0. */
uint64_t	 portals_pending_since(const struct portals *);
/* Syncs asked for by changes (the repair timer's are not counted). */
uint64_t	 portals_requests(const struct portals *);
/* Syncs done, syncs that failed. */
uint64_t	 portals_commits(const struct portals *);
uint64_t	 portals_failures(const struct portals *);

/*
 * --cleanup: remove everything from both families, of both backends
 * (legacy chains and our nftables tables).  Returns 0 or -1.
 */
int		 portals_cleanup_all(void);

#endif
