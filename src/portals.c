/*
 * portals.c - syncing the planned rules into the kernel (see portals.h).
 *
 * State machine of one timer:
 *
 *   idle ──request──► pending ──timer (>= min-sync after the last sync)──► sync
 *     ▲                                                                    │
 *     └──────────── ok ◄───────────────────────────────────────────────────┤
 *                                  lock busy: retry in 100 ms; error: retry
 *                                  after min-sync (at least 1 s)
 *
 * A second timer requests a sync every sync-period: iptc_apply commits
 * nothing when the table already holds the plan, so a repair pass of an
 * intact table costs one read of it.
 */
#include <sys/socket.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "iptc.h"
#include "log.h"
#include "nft.h"
#include "nodeaddr.h"
#include "portals.h"
#include "util.h"

#define LOCK_RETRY_MS	100
#define ERROR_RETRY_MS	1000
#define BLOCKING_TRIES	30		/* start-up and exit: 3 s of lock waits */

struct portals {
	const struct config *cfg;
	portals_plan_cb	*plan;
	portals_done_cb	*done;
	void		*plan_arg;
	struct event	*sync_ev;	/* one-shot: the next sync */
	struct event	*repair_ev;	/* persistent: every sync-period */
	uint64_t	 pending_since;	/* mono_ms of the oldest unsynced change */
	uint64_t	 last_sync;	/* mono_ms of the last sync attempt */
	uint64_t	 requests;	/* by changes, not by the repair timer */
	uint64_t	 commits;
	uint64_t	 failures;
	int		 v6;		/* the IPv6 nat table works */
	struct nft	*nft;		/* --portals nftables, else NULL */
	struct addr_prefix *nodeport;	/* --nodeport-addresses, resolved */
	size_t		 n_nodeport;
};

/*
 * The backend's apply: iptc's, or nft's (which never answers busy), on
 * the planned rules with the NodePort ranges of the layout.
 */
static int
backend_apply(struct portals *pt, int af, const struct rule_set *plan,
    char *err, size_t len)
{
	struct rule_set rs = *plan;

	rs.rs_nodeport = pt->nodeport;
	rs.rs_n_nodeport = pt->n_nodeport;
	if (pt->nft != NULL)
		return nft_apply(pt->nft, af, &rs, err, len);
	return iptc_apply(af, &rs, err, len);
}

static const char *
backend_name(const struct portals *pt)
{
	return pt->nft != NULL ? "nftables" : "iptables";
}

static void
schedule(struct portals *pt, uint64_t delay_ms)
{
	struct timeval tv = { delay_ms / 1000, (delay_ms % 1000) * 1000 };

	evtimer_del(pt->sync_ev);
	evtimer_add(pt->sync_ev, &tv);
}

/* Install rs for both families.  Returns 0, IPTC_LOCK_BUSY or -1. */
static int
apply_all(struct portals *pt, const struct rule_set *rs)
{
	char err[256];
	int rc;

	if ((rc = backend_apply(pt, AF_INET, rs, err, sizeof(err))) == 0 &&
	    pt->v6)
		rc = backend_apply(pt, AF_INET6, rs, err, sizeof(err));
	if (rc == -1)
		log_warnx("%s: %s", backend_name(pt), err);
	return rc;
}

static double
mono_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
sync_cb(evutil_socket_t fd, short what, void *arg)
{
	struct portals *pt = arg;
	const struct rule_set *rs;
	double t0 = mono_seconds();
	int rc;

	(void)fd;
	(void)what;
	rs = pt->plan(pt->plan_arg);
	rc = apply_all(pt, rs);
	pt->last_sync = mono_ms();
	if (rc != IPTC_LOCK_BUSY)
		pt->done(pt->plan_arg, rc == 0, mono_seconds() - t0);
	if (rc == IPTC_LOCK_BUSY) {
		log_debug(2, "iptables: xtables lock busy, retrying");
		schedule(pt, LOCK_RETRY_MS);
	} else if (rc == -1) {
		pt->failures++;
		schedule(pt, pt->cfg->min_sync_period_ms > ERROR_RETRY_MS ?
		    pt->cfg->min_sync_period_ms : ERROR_RETRY_MS);
	} else {
		pt->commits++;
		pt->pending_since = 0;
		log_debug(2, "%s: synced %zu rules in %.2f ms", backend_name(pt),
		    rs->rs_n, (mono_seconds() - t0) * 1000);
	}
}

static void
request(struct portals *pt)
{
	uint64_t now = mono_ms(), next;

	if (pt->pending_since != 0)
		return;			/* a sync is already on its way */
	pt->pending_since = now;
	next = pt->last_sync + pt->cfg->min_sync_period_ms;
	schedule(pt, next > now ? next - now : 0);
}

void
portals_request(struct portals *pt)
{
	pt->requests++;
	request(pt);
}

static void
repair_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	request(arg);
}

struct portals *
portals_new(struct event_base *base, const struct config *cfg,
    portals_plan_cb *plan, portals_done_cb *done, void *arg)
{
	struct portals *pt = xcalloc(1, sizeof(*pt));
	struct rule_set empty = { 0 };
	struct timeval tv = { cfg->sync_period_ms / 1000,
	    (cfg->sync_period_ms % 1000) * 1000 };
	struct rules_node node;
	char err[256];
	int rc, tries = 0;

	pt->cfg = cfg;
	/*
	 * What the planner and the layout need of the node, fixed for the
	 * daemon's life like the configuration (kube-proxy too reads its
	 * node IPs once).
	 */
	memset(&node, 0, sizeof(node));
	(void)nodeaddr_primary(cfg, AF_INET, &node.rn_ip4);
	(void)nodeaddr_primary(cfg, AF_INET6, &node.rn_ip6);
	rules_set_node(&node);
	nodeaddr_nodeport_ranges(cfg, &pt->nodeport, &pt->n_nodeport);
	pt->plan = plan;
	pt->done = done;
	pt->plan_arg = arg;
	pt->sync_ev = evtimer_new(base, sync_cb, pt);
	pt->repair_ev = event_new(base, -1, EV_PERSIST, repair_cb, pt);
	if (pt->sync_ev == NULL || pt->repair_ev == NULL)
		fatalx("portals: cannot create timers");
	if (cfg->portals == PORTALS_NFTABLES &&
	    (pt->nft = nft_new(err, sizeof(err))) == NULL) {
		log_warnx("nftables: %s", err);
		portals_free(pt, 0);
		return NULL;
	}
	/* The IPv6 table is optional: only use it if it can be read. */
	pt->v6 = backend_apply(pt, AF_INET6, &empty, err, sizeof(err)) != -1;
	if (!pt->v6)
		log_warnx("%s: IPv6 nat table unusable (%s); IPv6 "
		    "service addresses get no rules", backend_name(pt), err);
	while ((rc = apply_all(pt, &empty)) == IPTC_LOCK_BUSY &&
	    ++tries < BLOCKING_TRIES)
		usleep(LOCK_RETRY_MS * 1000);
	if (rc != 0) {
		if (rc == IPTC_LOCK_BUSY)
			log_warnx("iptables: the xtables lock is held by "
			    "another program");
		portals_free(pt, 0);
		return NULL;
	}
	/*
	 * The start-up flush does not count against min-sync-period: the
	 * first real sync should follow the initial state at once.
	 */
	evtimer_add(pt->repair_ev, &tv);
	return pt;
}

/*
 * At exit (and --cleanup) there is no loop left to retry from: wait for
 * the lock a little, as `iptables -w` would.
 */
static int
cleanup_family(int nft, int af)
{
	char err[256];
	int rc, tries = 0;

	if (nft) {
		if ((rc = nft_cleanup(af, err, sizeof(err))) == -1)
			log_warnx("nftables cleanup: %s", err);
		return rc;
	}
	while ((rc = iptc_cleanup(af, err, sizeof(err))) == IPTC_LOCK_BUSY &&
	    ++tries < BLOCKING_TRIES)
		usleep(LOCK_RETRY_MS * 1000);
	if (rc == IPTC_LOCK_BUSY)
		log_warnx("iptables cleanup: the xtables lock stayed busy");
	else if (rc == -1)
		log_warnx("iptables cleanup: %s", err);
	return rc == 0 ? 0 : -1;
}

int
portals_free(struct portals *pt, int cleanup)
{
	int rc = 0;

	if (pt == NULL)
		return 0;
	event_free(pt->sync_ev);
	event_free(pt->repair_ev);
	if (cleanup) {
		rc = cleanup_family(pt->nft != NULL, AF_INET);
		if (pt->v6 && cleanup_family(pt->nft != NULL, AF_INET6) == -1)
			rc = -1;
	}
	nft_free(pt->nft);
	free(pt->nodeport);
	free(pt);
	return rc;
}

/* Both backends: --cleanup must not depend on which one ran before. */
int
portals_cleanup_all(void)
{
	int rc = cleanup_family(0, AF_INET);

	if (cleanup_family(0, AF_INET6) == -1)
		rc = -1;
	if (cleanup_family(1, AF_INET) == -1)
		rc = -1;
	return cleanup_family(1, AF_INET6) == -1 ? -1 : rc;
}

uint64_t
portals_pending_since(const struct portals *pt)
{
	return pt->pending_since;
}

uint64_t
portals_requests(const struct portals *pt)
{
	return pt->requests;
}

uint64_t
portals_commits(const struct portals *pt)
{
	return pt->commits;
}

uint64_t
portals_failures(const struct portals *pt)
{
	return pt->failures;
}
