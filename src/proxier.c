/*
 * proxier.c - reconcile service ports into proxy sockets and load balancers.
 *
 * The store reports each changed service port (proxier_apply).  Here a
 * service port becomes a `struct proxied_port`: its load balancer, its
 * counters, a proxy port from the allocator and a TCP or UDP proxy socket.
 *
 *   added            lb + socket opened on a new proxy port
 *   endpoints only   lb_set_endpoints: the next connection uses them, no
 *                    socket or rule is touched
 *   service fields   affinity applied to the lb; the socket (and with it
 *                    the proxy port and open connections) is kept unless
 *                    the protocol changed
 *   removed          socket closed (established relays run on), lb freed
 *
 * A socket that cannot be opened (port range exhausted, address busy) is
 * retried every second until it works or the port goes away.
 *
 * When a port's external traffic (nodePort, externalIPs, LB IPs) takes
 * another endpoint set than its cluster IPs (store_port.ext_separate: one
 * traffic policy Local, the other Cluster), the port has a second proxy
 * socket and lb for it, planned by rules_plan_port_ext: one REDIRECT-ed
 * connection cannot tell which address its client used, two proxy ports
 * can.  Both sockets count in the port's stats; their lbs share one
 * record per endpoint.
 *
 * The proxier also keeps one health check node port server per Service
 * that has spec.healthCheckNodePort (hc_server.h), fed with the count of
 * its local ready endpoints.
 *
 * With --iptables legacy, anything that changes which rules are wanted (a
 * socket opened or closed, service addresses or ports changed) asks the
 * portals module for a sync; it calls back proxier_plan for the full set.
 * While a NodePort is in use its port is held by a bound socket so that no
 * other program on the node can take it.
 *
 * The proxier also keeps kube-proxy's sync metrics.  A "sync" is what makes
 * changes real: with --iptables legacy a rule sync (portals), without it a
 * burst of store callbacks applied to sockets and load balancers (they
 * end when the loop turns: batch_ev).  Endpoint changes are real as soon
 * as the lb has them, so they are never pending past their burst.
 *
 * This file holds the reconcile (service ports added, changed, removed),
 * the timers and the rules plan; the proxy sockets and nodePort holds are
 * in proxier_sock.c, the health check node ports in proxier_hc.c, the
 * sync metrics and /metrics in proxier_metrics.c, the inspection outputs
 * in proxier_debug.c, and what they share in proxier_int.h.
 */
#include <sys/queue.h>

#include <errno.h>
#include <stdint.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "hc_server.h"
#include "lb.h"
#include "log.h"
#include "nodeaddr.h"
#include "portalloc.h"
#include "portals.h"
#include "rules.h"
#include "proxier.h"
#include "proxier_int.h"
#include "util.h"

#define SWEEP_MS	10000		/* expired affinity records */
#define RETIRE_GRACE_MS	1000		/* a retired socket, after its rules left */

double
proxier_clock_seconds(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
pp_cmp(const struct proxied_port *a, const struct proxied_port *b)
{
	return strcmp(a->pp_sp->key, b->pp_sp->key);
}

RB_GENERATE(proxied_ports, proxied_port, pp_entry, pp_cmp)

static struct proxied_port *
pp_find(struct proxier *p, const struct store_port *sp)
{
	struct proxied_port key;

	key.pp_sp = sp;
	return RB_FIND(proxied_ports, &p->tree, &key);
}

/* pp's rules changed (opened, closed, new addresses or ports). */
void
proxier_pp_rules_changed(struct proxier *p, struct proxied_port *pp)
{
	if (p->portals == NULL)
		return;
	if (!pp->pp_dirty) {
		pp->pp_dirty = 1;
		TAILQ_INSERT_TAIL(&p->dirty, pp, pp_dirty_entry);
		if (p->nstale == p->stale_cap) {
			p->stale_cap = p->stale_cap ? p->stale_cap * 2 : 16;
			p->stale = xreallocarray(p->stale, p->stale_cap,
			    sizeof(*p->stale));
		}
		p->stale[p->nstale++] = pp;
	}
	portals_request(p->portals);
}

static void
proxier_add(struct proxier *p, const struct store_port *sp)
{
	struct proxied_port *pp = xcalloc(1, sizeof(*pp));

	pp->pp_sp = sp;
	pp->pp_nodeport_fd = -1;
	pp->pp_main.ps_what = "";
	pp->pp_ext.ps_what = " (external)";
	pp->pp_main.ps_lb = lb_new();
	lb_set_endpoints(pp->pp_main.ps_lb, sp->endpoints, sp->n_endpoints);
	lb_set_affinity(pp->pp_main.ps_lb, sp->affinity_client_ip,
	    sp->affinity_timeout);
	RB_INSERT(proxied_ports, &p->tree, pp);
	p->count++;
	proxier_pp_follow_ext(p, pp);
	proxier_pp_collect_stats(pp);
	/* Counted as missing first: proxier_pp_ensure_open takes them off. */
	p->failed += proxier_pp_missing(pp);
	(void)proxier_pp_ensure_open(p, pp);
	proxier_pp_hold_nodeport(p, pp);
}

static void
proxier_remove(struct proxier *p, struct proxied_port *pp)
{
	log_debug(LOG_V_SERVICE, "service %s: removed (proxy port %u)",
	    pp->pp_sp->key, pp->pp_main.ps_port);
	RB_REMOVE(proxied_ports, &p->tree, pp);
	p->count--;
	p->failed -= proxier_pp_missing(pp);
	proxier_pp_close_retired(p, pp, 0);
	proxier_pp_close(p, pp, &pp->pp_ext);
	proxier_pp_close(p, pp, &pp->pp_main);
	/* Its rules leave the plan by proxier_pp_rules_changed's stale entry. */
	if (pp->pp_dirty)
		TAILQ_REMOVE(&p->dirty, pp, pp_dirty_entry);
	if (pp->pp_nodeport_fd != -1)
		close(pp->pp_nodeport_fd);
	metrics_retire(&pp->pp_stats);
	lb_free(pp->pp_ext.ps_lb);
	lb_free(pp->pp_main.ps_lb);
	free(pp->pp_es);
	free(pp);
}

static void
proxier_change(struct proxier *p, struct proxied_port *pp,
    const struct store_port *old, const struct store_port *new,
    unsigned changes)
{
	size_t missing = proxier_pp_missing(pp);

	pp->pp_sp = new;
	if (changes & STORE_ENDPOINTS_CHANGED) {
		/*
		 * Only new picks change: connections to an endpoint that
		 * left (or is terminating) run on until they end.
		 */
		lb_set_endpoints(pp->pp_main.ps_lb, new->endpoints,
		    new->n_endpoints);
		if (pp->pp_ext.ps_lb != NULL)
			lb_set_endpoints(pp->pp_ext.ps_lb, new->ext_endpoints,
			    new->n_ext_endpoints);
		log_debug(LOG_V_SERVICE, "service %s: %zu endpoints, %zu for "
		    "external traffic", new->key, new->n_endpoints,
		    new->n_ext_endpoints);
	}
	/* (ext_separate is a Service matter, but follow it whatever.) */
	proxier_pp_follow_ext(p, pp);
	proxier_pp_collect_stats(pp);
	if (changes & STORE_SERVICE_CHANGED) {
		lb_set_affinity(pp->pp_main.ps_lb, new->affinity_client_ip,
		    new->affinity_timeout);
		if (pp->pp_ext.ps_lb != NULL)
			lb_set_affinity(pp->pp_ext.ps_lb,
			    new->affinity_client_ip, new->affinity_timeout);
		proxier_pp_rules_changed(p, pp);
		proxier_pp_hold_nodeport(p, pp);
		if (old->protocol != new->protocol) {
			/*
			 * A TCP listener cannot serve UDP: reopen on new
			 * proxy ports.
			 */
			proxier_pp_close(p, pp, &pp->pp_main);
			proxier_pp_close(p, pp, &pp->pp_ext);
		}
		log_debug(LOG_V_SERVICE, "service %s: updated", new->key);
	}
	p->failed = p->failed - missing + proxier_pp_missing(pp);
	(void)proxier_pp_ensure_open(p, pp);
}

void
proxier_apply(void *arg, const struct store_port *old,
    const struct store_port *new, unsigned changes)
{
	struct proxier *p = arg;
	struct proxied_port *pp = old != NULL ? pp_find(p, old) : NULL;
	double t0 = proxier_clock_seconds(CLOCK_MONOTONIC);

	p->last_update = time(NULL);
	proxier_count_change(p, old, new, changes);
	if (old == NULL)
		proxier_add(p, new);
	else if (pp == NULL)
		log_warnx("service %s: change for an unknown port", old->key);
	else if (new == NULL)
		proxier_remove(p, pp);
	else
		proxier_change(p, pp, old, new, changes);
	proxier_hc_port_changed(p, old, new);
	p->batch_s += proxier_clock_seconds(CLOCK_MONOTONIC) - t0;
}

/* Retired sockets whose grace has run out close; the others wait on. */
static void
proxier_retire_cb(evutil_socket_t fd, short what, void *arg)
{
	struct proxier *p = arg;
	struct proxied_port *pp;
	uint64_t now = mono_ms(), next = 0;
	struct timeval tv;

	(void)fd;
	(void)what;
	RB_FOREACH(pp, proxied_ports, &p->tree) {
		if (pp->pp_ext_old.ps_lb == NULL || pp->pp_ext_old_until == 0)
			continue;
		if (pp->pp_ext_old_until <= now)
			proxier_pp_close_retired(p, pp, 1);
		else if (next == 0 || pp->pp_ext_old_until < next)
			next = pp->pp_ext_old_until;
	}
	if (next != 0) {
		tv.tv_sec = (time_t)((next - now) / 1000);
		tv.tv_usec = (suseconds_t)((next - now) % 1000 * 1000);
		evtimer_add(p->retire_ev, &tv);
	}
}

/* portals_done_cb: a rule sync (plan and iptables transactions) ended. */
static void
proxier_synced(void *arg, int ok, double seconds)
{
	struct proxier *p = arg;

	metrics_observe(&p->sm.sync_duration, seconds);
	if (!ok)
		return;
	/*
	 * This commit's plan was made after every quarantine and every
	 * retirement so far (plan and commit are one call): the old rules
	 * are gone from the kernel.  Retired sockets close after a grace
	 * period (a handshake the old rules started still completes on
	 * them: closing a listener resets what it has not accepted); ports
	 * that waited for a free proxy port try again now.
	 */
	if (p->retired > 0) {
		struct timeval tv = { RETIRE_GRACE_MS / 1000,
		    (RETIRE_GRACE_MS % 1000) * 1000 };
		struct proxied_port *pp;
		uint64_t until = mono_ms() + RETIRE_GRACE_MS;

		RB_FOREACH(pp, proxied_ports, &p->tree)
			if (pp->pp_ext_old.ps_lb != NULL &&
			    pp->pp_ext_old_until == 0)
				pp->pp_ext_old_until = until;
		if (!evtimer_pending(p->retire_ev, NULL))
			evtimer_add(p->retire_ev, &tv);
	}
	if (portalloc_release(p->ports) > 0 && p->failed > 0)
		event_active(p->retry_ev, EV_TIMEOUT, 0);
	p->sm.last_sync = proxier_clock_seconds(CLOCK_REALTIME);
	p->sm.service_pending = 0;
}

static void
proxier_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct proxier *p = arg;
	struct proxied_port *pp;
	struct hc_entry *he;
	int check_holds;

	(void)fd;
	(void)what;
	check_holds = p->unheld > 0;
	p->unheld = 0;		/* recounted by proxier_pp_hold_nodeport */
	RB_FOREACH(pp, proxied_ports, &p->tree) {
		if (check_holds && proxier_pp_nodeport_unheld(p, pp)) {
			proxier_pp_hold_nodeport(p, pp);
			if (pp->pp_nodeport_fd != -1)
				proxier_pp_rules_changed(p, pp);
		}
		if (proxier_pp_missing(pp) > 0)
			(void)proxier_pp_ensure_open(p, pp);
	}
	if (p->hc_unbound > 0) {
		p->hc_unbound = 0;
		RB_FOREACH(he, hc_entries, &p->hcs) {
			proxier_hc_listen(p, he);
			p->hc_unbound += hc_server_port(he->he_hs) !=
			    he->he_port;
		}
	}
	proxier_schedule_retry(p);
}

static void
proxier_sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	struct proxier *p = arg;
	struct proxied_port *pp;
	uint64_t now = mono_ms();

	(void)fd;
	(void)what;
	RB_FOREACH(pp, proxied_ports, &p->tree) {
		lb_expire(pp->pp_main.ps_lb, now);
		if (pp->pp_ext.ps_lb != NULL)
			lb_expire(pp->pp_ext.ps_lb, now);
	}
}

/* portals_plan_cb: the rules of every port that has a socket. */
static void
plan_port(struct proxier *p, struct rule_set *rs, struct proxied_port *pp)
{
	size_t i = rs->rs_n;

	if (!proxier_pp_is_open(pp))
		return;
	/*
	 * External traffic to its own proxy port while the port has one
	 * (until it opens: no rule for it, such traffic is not taken).
	 */
	if (pp->pp_ext.ps_lb != NULL)
		rules_plan_port_ext(rs, pp->pp_sp, pp->pp_main.ps_port,
		    pp->pp_ext.ps_port, &p->cfg->bind_address);
	else
		rules_plan_port(rs, pp->pp_sp, pp->pp_main.ps_port,
		    &p->cfg->bind_address);
	if (proxier_pp_nodeport_unheld(p, pp))
		rules_drop_nodeports(rs, i);
	for (; i < rs->rs_n; i++)
		rs->rs_rules[i].r_owner = pp;
}

static int
ptr_cmp(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)*(const void *const *)a;
	uintptr_t y = (uintptr_t)*(const void *const *)b;

	return x < y ? -1 : x > y;
}

static int
owner_is_stale(const void *owner, void *arg)
{
	const struct proxier *p = arg;

	return bsearch(&owner, p->stale, p->nstale, sizeof(*p->stale),
	    ptr_cmp) != NULL;
}

/*
 * The rule set for a sync.  Planning all 10,000 ports (and sorting their
 * 20,000 rules) would cost several ms each time one changed, so the plan
 * is kept: its rules carry their port as owner, and a sync drops the
 * rules of stale owners and merges in the new rules of the dirty ports,
 * one pass.  A removed port's pointer is only compared, never followed,
 * so a new port at the same address cannot lose its rules: they are
 * merged in after the drop.  After many changes, everything is replanned.
 */
static const struct rule_set *
proxier_plan(void *arg)
{
	struct proxier *p = arg;
	struct proxied_port *pp;
	struct rule_set fresh = { 0 };

	if (p->plan_all || p->nstale > p->count / 8) {
		rules_set_free(&p->plan);
		RB_FOREACH(pp, proxied_ports, &p->tree)
			plan_port(p, &p->plan, pp);
		rules_sort(&p->plan);
	} else if (p->nstale > 0) {
		TAILQ_FOREACH(pp, &p->dirty, pp_dirty_entry)
			plan_port(p, &fresh, pp);
		rules_sort(&fresh);
		qsort(p->stale, p->nstale, sizeof(*p->stale), ptr_cmp);
		rules_set_update(&p->plan, &fresh, owner_is_stale, p);
	}
	while ((pp = TAILQ_FIRST(&p->dirty)) != NULL) {
		TAILQ_REMOVE(&p->dirty, pp, pp_dirty_entry);
		pp->pp_dirty = 0;
	}
	p->nstale = 0;
	p->plan_all = 0;
	return &p->plan;
}

struct proxier *
proxier_new(struct event_base *base, const struct config *cfg)
{
	struct proxier *p = xcalloc(1, sizeof(*p));
	struct timeval sweep = { SWEEP_MS / 1000, 0 };

	p->base = base;
	p->cfg = cfg;
	p->ports = portalloc_new(cfg->port_lo, cfg->port_hi);
	RB_INIT(&p->tree);
	RB_INIT(&p->hcs);
	TAILQ_INIT(&p->dirty);
	p->plan_all = 1;
	p->retry_ev = evtimer_new(base, proxier_retry_cb, p);
	p->sweep_ev = event_new(base, -1, EV_PERSIST, proxier_sweep_cb, p);
	p->batch_ev = evtimer_new(base, proxier_batch_cb, p);
	p->retire_ev = evtimer_new(base, proxier_retire_cb, p);
	metrics_sync_init(&p->sm);
	nodeaddr_nodeport_ranges(cfg, &p->np_ranges, &p->n_np_ranges);
	if (p->retry_ev == NULL || p->sweep_ev == NULL || p->batch_ev == NULL ||
	    p->retire_ev == NULL)
		fatalx("proxier: cannot create timers");
	evtimer_add(p->sweep_ev, &sweep);
	p->last_update = time(NULL);
	if (cfg->iptables == IPTABLES_LEGACY &&
	    (p->portals = portals_new(base, cfg, proxier_plan, proxier_synced,
	    p)) == NULL) {
		proxier_free(p, 0);
		return NULL;
	}
	return p;
}

int
proxier_free(struct proxier *p, int cleanup)
{
	struct proxied_port *pp, *next;
	struct hc_entry *he, *he_next;
	int rc;

	if (p == NULL)
		return 0;
	RB_FOREACH_SAFE(he, hc_entries, &p->hcs, he_next)
		proxier_hc_remove(p, he);
	/* Rules first: no packet may be redirected to a closed port. */
	rc = portals_free(p->portals, cleanup);
	p->portals = NULL;
	RB_FOREACH_SAFE(pp, proxied_ports, &p->tree, next) {
		RB_REMOVE(proxied_ports, &p->tree, pp);
		proxier_pp_close_retired(p, pp, 1);
		proxier_pp_close(p, pp, &pp->pp_ext);
		proxier_pp_close(p, pp, &pp->pp_main);
		if (pp->pp_nodeport_fd != -1)
			close(pp->pp_nodeport_fd);
		lb_free(pp->pp_ext.ps_lb);
		lb_free(pp->pp_main.ps_lb);
		free(pp->pp_es);
		free(pp);
	}
	event_free(p->retry_ev);
	event_free(p->sweep_ev);
	event_free(p->retire_ev);
	event_free(p->batch_ev);
	portalloc_free(p->ports);
	free(p->np_ranges);
	rules_set_free(&p->plan);
	free(p->stale);
	free(p);
	return rc;
}

void
proxier_mark_synced(struct proxier *p)
{
	if (!p->synced)
		log_info("initial sync done: %zu service ports", p->count);
	p->synced = 1;
	p->last_update = time(NULL);
	if (p->portals != NULL)		/* the first commit, even of no rules */
		portals_request(p->portals);
}

int
proxier_healthy(const struct proxier *p)
{
	uint64_t since;

	if (!p->synced)
		return 0;
	/* kube-proxy's rule: a change queued for over 2 sync periods is sick. */
	if (p->portals == NULL)
		return 1;
	/* Until the first commit, the rules do not exist yet. */
	if (portals_commits(p->portals) == 0)
		return 0;
	since = portals_pending_since(p->portals);
	return since == 0 || mono_ms() - since < 2 * p->cfg->sync_period_ms;
}

void
proxier_set_store(struct proxier *p, const struct store *store)
{
	p->store = store;
}

int
proxier_node_eligible(const struct proxier *p)
{
	const struct store_node *n;

	if (p->store == NULL || (n = store_node(p->store)) == NULL)
		return 1;
	return !n->sn_deleting;
}

int64_t
proxier_last_update(const struct proxier *p)
{
	return p->last_update;
}

void
proxier_rule_syncs(const struct proxier *p, uint64_t *requested,
    uint64_t *ok, uint64_t *failed)
{
	*requested = p->portals != NULL ? portals_requests(p->portals) : 0;
	*ok = p->portals != NULL ? portals_commits(p->portals) : 0;
	*failed = p->portals != NULL ? portals_failures(p->portals) : 0;
}

size_t
proxier_count(const struct proxier *p)
{
	return p->count;
}
