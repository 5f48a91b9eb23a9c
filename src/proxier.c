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
 */
#include <sys/queue.h>

#include <errno.h>
#include <stdint.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tree.h"

#include "config.h"
#include "hc_server.h"
#include "lb.h"
#include "log.h"
#include "nodeaddr.h"
#include "portalloc.h"
#include "portals.h"
#include "rules.h"
#include "proxier.h"
#include "proxy_socket.h"
#include "tcp_proxy.h"
#include "udp_proxy.h"
#include "util.h"

#define RETRY_MS	1000		/* failed sockets */
#define SWEEP_MS	10000		/* expired affinity records */
#define BIND_TRIES	16		/* busy ports skipped before giving up */

/* One proxy socket of a service port and the lb it picks from. */
struct pp_sock {
	struct lb		*ps_lb;
	struct tcp_proxy	*ps_tcp;	/* one of these two once open */
	struct udp_proxy	*ps_udp;
	uint16_t		 ps_port;	/* proxy port, 0 while not open */
	int			 ps_reserved;	/* ps_port came from the allocator */
	const char		*ps_what;	/* "" or " (external)", for logs */
};

struct proxied_port {
	RB_ENTRY(proxied_port)	 pp_entry;
	const struct store_port	*pp_sp;		/* current state; the store owns it */
	/*
	 * The proxy socket of every traffic, or with ext_separate of
	 * internal (cluster IP) traffic only, and the socket of external
	 * traffic then (its ps_lb NULL otherwise).  Both count in pp_stats.
	 */
	struct pp_sock		 pp_main;
	struct pp_sock		 pp_ext;
	/*
	 * An external socket no longer wanted (ext_separate went away),
	 * still serving while the kernel may redirect to it: until the next
	 * commit, whose plan no longer holds its rules (ps_lb NULL: none).
	 */
	struct pp_sock		 pp_ext_old;
	struct port_stats	 pp_stats;
	/*
	 * The endpoint records of both lbs, once each (they share them),
	 * sorted by address: what /metrics and /debug list per endpoint.
	 */
	struct endpoint_stats	**pp_es;
	size_t			 pp_nes;
	int			 pp_nodeport_fd; /* holds nodePort, or -1 */
	uint16_t		 pp_nodeport;	/* the port it holds */
	uint16_t		 pp_nodeport_warned; /* could not hold it: warned */
	int			 pp_dirty;	/* on the dirty list */
	TAILQ_ENTRY(proxied_port) pp_dirty_entry;
};

RB_HEAD(proxied_ports, proxied_port);
TAILQ_HEAD(dirty_ports, proxied_port);

/*
 * The health check node port of one Service (hc_server.h): there while
 * some port of the Service has a health_check_node_port.
 */
struct hc_entry {
	RB_ENTRY(hc_entry)	 he_entry;	/* by namespace, then name */
	char			*he_ns;
	char			*he_name;
	struct hc_server	*he_hs;
	uint16_t		 he_port;	/* wanted */
	uint16_t		 he_warned;	/* could not listen there: warned */
};

RB_HEAD(hc_entries, hc_entry);

struct proxier {
	struct event_base	*base;
	const struct config	*cfg;
	struct portalloc	*ports;
	struct proxied_ports	 tree;
	size_t			 count;
	size_t			 failed;	/* sockets wanted, not open */
	size_t			 retired;	/* ports with a pp_ext_old */
	size_t			 unheld;	/* nodePorts not held (at most) */
	struct event		*retry_ev;
	struct event		*sweep_ev;
	struct portals		*portals;	/* NULL with --iptables none */
	int			 synced;
	int64_t			 last_update;	/* wall clock, seconds */
	struct sync_metrics	 sm;		/* kube-proxy's sync metrics */
	struct event		*batch_ev;	/* a burst of changes has ended */
	double			 batch_s;	/* time spent applying it */
	/*
	 * The rules of every open port as last planned (sorted), and what
	 * changed since: ports to replan, and the owners whose rules leave
	 * the plan (those ports, and ports removed since).  See proxier_plan.
	 */
	struct rule_set		 plan;
	struct dirty_ports	 dirty;
	const void		**stale;
	size_t			 nstale, stale_cap;
	int			 plan_all;	/* replan every port */
	struct hc_entries	 hcs;		/* health check node ports */
	struct addr_prefix	*np_ranges;	/* --nodeport-addresses, */
	size_t			 n_np_ranges;	/* none: every local address */
	size_t			 hc_unbound;	/* of them not listening */
	const struct store	*store;		/* our Node, for /healthz */
};

static double
clock_seconds(clockid_t clock)
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

RB_GENERATE_LOCAL(proxied_ports, proxied_port, pp_entry, pp_cmp)

static int
he_cmp(const struct hc_entry *a, const struct hc_entry *b)
{
	int c = strcmp(a->he_ns, b->he_ns);

	return c != 0 ? c : strcmp(a->he_name, b->he_name);
}

RB_GENERATE_LOCAL(hc_entries, hc_entry, he_entry, he_cmp)

static struct proxied_port *
pp_find(struct proxier *p, const struct store_port *sp)
{
	struct proxied_port key;

	key.pp_sp = sp;
	return RB_FIND(proxied_ports, &p->tree, &key);
}

/* pp's rules changed (opened, closed, new addresses or ports). */
static void
pp_rules_changed(struct proxier *p, struct proxied_port *pp)
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

static void	proxier_schedule_retry(struct proxier *);

/*
 * Keep pp's nodePort bound (not listening: the nat rules send its traffic
 * to the proxy port) so no other program on the node can take it.
 */
static void
pp_hold_nodeport(struct proxier *p, struct proxied_port *pp)
{
	const struct store_port *sp = pp->pp_sp;
	union addr wild, any;

	if (pp->pp_nodeport_fd != -1 && (pp->pp_nodeport != sp->node_port ||
	    p->portals == NULL)) {
		close(pp->pp_nodeport_fd);
		pp->pp_nodeport_fd = -1;
	}
	if (p->portals == NULL || sp->node_port == 0 || pp->pp_nodeport_fd != -1)
		return;
	/*
	 * Every local address, as NodePorts answer: the wildcard of both
	 * families on a dual-stack host (proxy_socket), since the rules
	 * redirect a nodePort of IPv6 too.
	 */
	if (addr_parse("0.0.0.0", sp->node_port, &wild) == -1)
		return;
	pp->pp_nodeport_fd = proxy_socket(&wild, sp->protocol ==
	    K8S_PROTO_UDP ? SOCK_DGRAM : SOCK_STREAM, &any);
	/*
	 * No SO_REUSEADDR: with it, another program setting it too could
	 * still bind (and a TCP one listen on) the same port.
	 */
	if (pp->pp_nodeport_fd == -1 ||
	    bind(pp->pp_nodeport_fd, &any.sa, addr_len(&any)) == -1) {
		/*
		 * Someone else has it: redirecting its traffic would take
		 * that program's connections.  No NodePort rule until the
		 * hold works (retried with the sockets); one warning.
		 */
		if (pp->pp_nodeport_warned != sp->node_port)
			log_warn("service %s: cannot hold nodePort %u/%s, "
			    "not redirecting it", sp->key, sp->node_port,
			    k8s_proto_str(sp->protocol));
		pp->pp_nodeport_warned = sp->node_port;
		if (pp->pp_nodeport_fd != -1)
			close(pp->pp_nodeport_fd);
		pp->pp_nodeport_fd = -1;
		p->unheld++;
		proxier_schedule_retry(p);
		return;
	}
	if (pp->pp_nodeport_warned == sp->node_port)
		log_info("service %s: nodePort %u/%s held now, redirecting it",
		    sp->key, sp->node_port, k8s_proto_str(sp->protocol));
	pp->pp_nodeport_warned = 0;
	pp->pp_nodeport = sp->node_port;
}

/* A nodePort wanted but not held: its rules are left out of the plan. */
static int
pp_nodeport_unheld(const struct proxier *p, const struct proxied_port *pp)
{
	return p->portals != NULL && pp->pp_sp->node_port != 0 &&
	    pp->pp_nodeport_fd == -1;
}

static void
ps_close_socket(struct pp_sock *ps)
{
	if (ps->ps_tcp != NULL)
		tcp_proxy_close(ps->ps_tcp);
	if (ps->ps_udp != NULL)
		udp_proxy_close(ps->ps_udp);
	ps->ps_tcp = NULL;
	ps->ps_udp = NULL;
}

static int
ps_is_open(const struct pp_sock *ps)
{
	return ps->ps_tcp != NULL || ps->ps_udp != NULL;
}

/* Try to bind `bind` + port; returns 0, or -1 with errno. */
static int
pp_open_on(struct proxier *p, struct proxied_port *pp, struct pp_sock *ps,
    uint16_t port)
{
	union addr bind = p->cfg->bind_address;

	addr_set_port(&bind, port);
	if (pp->pp_sp->protocol == K8S_PROTO_TCP) {
		ps->ps_tcp = tcp_proxy_open(p->base, &bind, pp->pp_sp->key,
		    ps->ps_lb, &pp->pp_stats);
		if (ps->ps_tcp == NULL)
			return -1;
		ps->ps_port = tcp_proxy_port(ps->ps_tcp);
	} else {
		ps->ps_udp = udp_proxy_open(p->base, &bind, pp->pp_sp->key,
		    ps->ps_lb, &pp->pp_stats, p->cfg->udp_timeout_ms);
		if (ps->ps_udp == NULL)
			return -1;
		ps->ps_port = udp_proxy_port(ps->ps_udp);
	}
	return 0;
}

/*
 * Open one proxy socket of pp on a port from the allocator (or one the
 * kernel chooses).  Ports found busy stay reserved until a free one is
 * found, so the allocator does not hand them out again at once.
 */
static int
pp_open(struct proxier *p, struct proxied_port *pp, struct pp_sock *ps)
{
	int busy[BIND_TRIES];
	int nbusy = 0, kernel_tries = 0, port, rc = -1, i;

	for (;;) {
		if ((port = portalloc_get(p->ports)) == -1) {
			log_warnx("service %s%s: no free port left in "
			    "--proxy-port-range %s (%u wait for their old "
			    "rules to leave the kernel)", pp->pp_sp->key,
			    ps->ps_what, p->cfg->port_range_str,
			    portalloc_quarantine_count(p->ports));
			break;
		}
		if (pp_open_on(p, pp, ps, (uint16_t)port) == 0) {
			if (port != 0 || !portalloc_is_quarantined(p->ports,
			    ps->ps_port)) {
				ps->ps_reserved = port != 0;
				rc = 0;
				break;
			}
			/*
			 * The kernel chose a port whose old rules may still
			 * redirect another Service's clients: bind again.
			 */
			ps_close_socket(ps);
			errno = EADDRINUSE;
		}
		if (errno != EADDRINUSE || nbusy == BIND_TRIES - 1 ||
		    (port == 0 && ++kernel_tries == BIND_TRIES)) {
			log_warn("service %s%s: cannot open %s proxy port %d",
			    pp->pp_sp->key, ps->ps_what,
			    k8s_proto_str(pp->pp_sp->protocol), port);
			portalloc_put(p->ports, (uint16_t)port);
			break;
		}
		if (port != 0)
			busy[nbusy++] = port;
	}
	for (i = 0; i < nbusy; i++)
		portalloc_put(p->ports, (uint16_t)busy[i]);
	if (rc == 0) {
		log_debug(LOG_V_SERVICE, "service %s%s: %s proxy port %u, "
		    "%zu endpoints", pp->pp_sp->key, ps->ps_what,
		    k8s_proto_str(pp->pp_sp->protocol), ps->ps_port,
		    lb_count(ps->ps_lb));
		pp_rules_changed(p, pp);
	}
	return rc;
}

/*
 * Close one proxy socket.  Its port was in rules (or about to be): with
 * rules, it is quarantined until a commit has removed them, so no other
 * service port gets it while the kernel may still redirect this one's
 * clients there.
 */
static void
pp_close(struct proxier *p, struct proxied_port *pp, struct pp_sock *ps)
{
	int was_open = ps_is_open(ps);

	if (was_open)
		pp_rules_changed(p, pp);
	ps_close_socket(ps);
	if (was_open && p->portals != NULL)
		portalloc_quarantine(p->ports, ps->ps_port);
	else if (ps->ps_reserved)
		portalloc_put(p->ports, ps->ps_port);
	ps->ps_reserved = 0;
	ps->ps_port = 0;
}

static int
pp_is_open(const struct proxied_port *pp)
{
	return ps_is_open(&pp->pp_main);
}

/* Sockets pp wants that are not open: p->failed counts them. */
static size_t
pp_missing(const struct proxied_port *pp)
{
	return !ps_is_open(&pp->pp_main) +
	    (pp->pp_ext.ps_lb != NULL && !ps_is_open(&pp->pp_ext));
}

static void
proxier_schedule_retry(struct proxier *p)
{
	struct timeval tv = { RETRY_MS / 1000, (RETRY_MS % 1000) * 1000 };

	if ((p->failed > 0 || p->unheld > 0 || p->hc_unbound > 0) &&
	    !evtimer_pending(p->retry_ev, NULL))
		evtimer_add(p->retry_ev, &tv);
}

/*
 * Open what pp wants and is not open; p->failed follows.  Returns the
 * sockets still missing.
 */
static size_t
pp_ensure_open(struct proxier *p, struct proxied_port *pp)
{
	size_t before = pp_missing(pp), after;

	if (!ps_is_open(&pp->pp_main))
		(void)pp_open(p, pp, &pp->pp_main);
	if (pp->pp_ext.ps_lb != NULL && !ps_is_open(&pp->pp_ext))
		(void)pp_open(p, pp, &pp->pp_ext);
	after = pp_missing(pp);
	p->failed = p->failed - before + after;
	proxier_schedule_retry(p);
	return after;
}

static void	pp_retire_ext(struct proxier *, struct proxied_port *);

/*
 * The external socket follows sp->ext_separate: opened (with an lb over
 * ext_endpoints that shares the main lb's endpoint records) when the
 * port's external traffic takes another endpoint set, closed when it no
 * longer does.  p->failed is the caller's (pp_missing before and after).
 */
static void
pp_follow_ext(struct proxier *p, struct proxied_port *pp)
{
	const struct store_port *sp = pp->pp_sp;
	struct pp_sock *ps = &pp->pp_ext;

	if (sp->ext_separate && ps->ps_lb == NULL) {
		ps->ps_lb = lb_new();
		lb_share_stats(ps->ps_lb, pp->pp_main.ps_lb);
		lb_set_endpoints(ps->ps_lb, sp->ext_endpoints,
		    sp->n_ext_endpoints);
		lb_set_affinity(ps->ps_lb, sp->affinity_client_ip,
		    sp->affinity_timeout);
		log_debug(LOG_V_SERVICE, "service %s: external traffic on a "
		    "proxy port of its own, %zu endpoints", sp->key,
		    sp->n_ext_endpoints);
		/* Until it opens, the rules send external traffic nowhere. */
		pp_rules_changed(p, pp);
	} else if (!sp->ext_separate && ps->ps_lb != NULL) {
		pp_retire_ext(p, pp);
		pp_rules_changed(p, pp);
		log_debug(LOG_V_SERVICE, "service %s: external traffic back on "
		    "the port's proxy port", sp->key);
	}
}

/*
 * Close a retired external socket.  Its rules are gone from the kernel
 * (gone: a commit without them; else its port waits in quarantine).
 */
static void
pp_close_retired(struct proxier *p, struct proxied_port *pp, int gone)
{
	struct pp_sock *old = &pp->pp_ext_old;

	if (old->ps_lb == NULL)
		return;
	ps_close_socket(old);
	if (!gone && p->portals != NULL)
		portalloc_quarantine(p->ports, old->ps_port);
	else if (old->ps_reserved)
		portalloc_put(p->ports, old->ps_port);
	/* Its stats records stay the main lb's (lb_free unshares). */
	lb_free(old->ps_lb);
	memset(old, 0, sizeof(*old));
	p->retired--;
}

/*
 * External traffic goes back to the main socket, but until the next
 * commit the kernel still sends it to the external one: closing that now
 * would refuse every such connection for up to --iptables-min-sync-period.
 * So it keeps serving, over the new external set (the main one's), as
 * pp_ext_old until proxier_synced.
 */
static void
pp_retire_ext(struct proxier *p, struct proxied_port *pp)
{
	struct pp_sock *ps = &pp->pp_ext;

	if (p->portals == NULL || !ps_is_open(ps)) {
		pp_close(p, pp, ps);
		lb_free(ps->ps_lb);
	} else {
		pp_close_retired(p, pp, 0);	/* retired twice in one sync */
		lb_set_endpoints(ps->ps_lb, pp->pp_sp->ext_endpoints,
		    pp->pp_sp->n_ext_endpoints);
		pp->pp_ext_old = *ps;
		pp->pp_ext_old.ps_what = " (external, retired)";
		p->retired++;
	}
	memset(ps, 0, sizeof(*ps));
	ps->ps_what = " (external)";
}

/* Rebuild pp_es: the union of both lbs' records, by a merge. */
static void
pp_collect_stats(struct proxied_port *pp)
{
	struct endpoint_stats *const *a, *const *b;
	size_t na, nb, i = 0, j = 0, n = 0;
	int c;

	a = lb_endpoint_stats_all(pp->pp_main.ps_lb);
	na = lb_count(pp->pp_main.ps_lb);
	b = pp->pp_ext.ps_lb != NULL ?
	    lb_endpoint_stats_all(pp->pp_ext.ps_lb) : NULL;
	nb = pp->pp_ext.ps_lb != NULL ? lb_count(pp->pp_ext.ps_lb) : 0;
	free(pp->pp_es);
	pp->pp_es = na + nb > 0 ?
	    xreallocarray(NULL, na + nb, sizeof(*pp->pp_es)) : NULL;
	while (i < na || j < nb) {
		if (i == na)
			c = 1;
		else if (j == nb)
			c = -1;
		else
			c = addr_cmp(&a[i]->es_addr, &b[j]->es_addr);
		if (c <= 0)
			pp->pp_es[n++] = a[i++];
		else
			pp->pp_es[n++] = b[j++];
		/* The same endpoint in both: one shared record, once. */
		if (c == 0)
			j++;
	}
	pp->pp_nes = n;
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
	pp_follow_ext(p, pp);
	pp_collect_stats(pp);
	(void)pp_ensure_open(p, pp);
	pp_hold_nodeport(p, pp);
}

static void
proxier_remove(struct proxier *p, struct proxied_port *pp)
{
	log_debug(LOG_V_SERVICE, "service %s: removed (proxy port %u)",
	    pp->pp_sp->key, pp->pp_main.ps_port);
	RB_REMOVE(proxied_ports, &p->tree, pp);
	p->count--;
	p->failed -= pp_missing(pp);
	pp_close_retired(p, pp, 0);
	pp_close(p, pp, &pp->pp_ext);
	pp_close(p, pp, &pp->pp_main);
	/* Its rules leave the plan by pp_rules_changed's stale entry. */
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
	size_t missing = pp_missing(pp);

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
	pp_follow_ext(p, pp);
	pp_collect_stats(pp);
	if (changes & STORE_SERVICE_CHANGED) {
		lb_set_affinity(pp->pp_main.ps_lb, new->affinity_client_ip,
		    new->affinity_timeout);
		if (pp->pp_ext.ps_lb != NULL)
			lb_set_affinity(pp->pp_ext.ps_lb,
			    new->affinity_client_ip, new->affinity_timeout);
		pp_rules_changed(p, pp);
		pp_hold_nodeport(p, pp);
		if (old->protocol != new->protocol) {
			/*
			 * A TCP listener cannot serve UDP: reopen on new
			 * proxy ports.
			 */
			pp_close(p, pp, &pp->pp_main);
			pp_close(p, pp, &pp->pp_ext);
		}
		log_debug(LOG_V_SERVICE, "service %s: updated", new->key);
	}
	p->failed = p->failed - missing + pp_missing(pp);
	(void)pp_ensure_open(p, pp);
}

/* ---- health check node ports (one per Service) ---- */

static int
addr_qsort_cmp(const void *a, const void *b)
{
	return addr_cmp(a, b);
}

static int
proxier_hc_healthy(void *arg)
{
	struct proxier *p = arg;

	return proxier_healthy(p) && proxier_node_eligible(p);
}

static struct hc_entry *
hc_find(struct proxier *p, const char *ns, const char *name)
{
	struct hc_entry key;

	key.he_ns = (char *)(uintptr_t)ns;
	key.he_name = (char *)(uintptr_t)name;
	return RB_FIND(hc_entries, &p->hcs, &key);
}

static void
hc_remove(struct proxier *p, struct hc_entry *he)
{
	log_debug(LOG_V_SERVICE, "service %s/%s: health check node port %u "
	    "closed", he->he_ns, he->he_name, he->he_port);
	if (hc_server_port(he->he_hs) != he->he_port)
		p->hc_unbound--;
	RB_REMOVE(hc_entries, &p->hcs, he);
	hc_server_free(he->he_hs);
	free(he->he_ns);
	free(he->he_name);
	free(he);
}

/*
 * Listen on the wanted port if not yet: on every local address (the
 * wildcard of both families) as NodePorts answer, or with
 * --nodeport-addresses on each local address within those ranges, as
 * they are when the port opens.
 */
static void
hc_listen(struct proxier *p, struct hc_entry *he)
{
	union addr wild, *addrs = NULL;
	int n, rc;

	if (hc_server_port(he->he_hs) == he->he_port)
		return;
	if ((n = nodeaddr_local_in(p->np_ranges, p->n_np_ranges, &addrs)) ==
	    -1) {
		if (addr_parse("0.0.0.0", 0, &wild) == -1)
			return;
		rc = hc_server_listen(he->he_hs, he->he_port, &wild, 1);
	} else {
		if (n == 0 && he->he_warned != he->he_port)
			log_warnx("service %s/%s: health check node port %u: "
			    "no local address in --nodeport-addresses %s",
			    he->he_ns, he->he_name, he->he_port,
			    p->cfg->nodeport_addresses_str);
		rc = hc_server_listen(he->he_hs, he->he_port, addrs,
		    (size_t)n);
		if (n == 0)
			he->he_warned = he->he_port;
	}
	free(addrs);
	if (rc == 0) {
		if (he->he_warned == he->he_port && n != 0)
			log_info("service %s/%s: health check node port %u "
			    "listening now", he->he_ns, he->he_name,
			    he->he_port);
		if (n != 0)
			he->he_warned = 0;
		return;
	}
	/* Someone else has it (or no descriptor): retried every second. */
	if (he->he_warned != he->he_port)
		log_warn("service %s/%s: cannot listen on health check node "
		    "port %u", he->he_ns, he->he_name, he->he_port);
	he->he_warned = he->he_port;
}

/*
 * Bring Service ns/name's health check node port in line with its ports:
 * open, moved or closed with spec.healthCheckNodePort, and its count of
 * local endpoints as kube-proxy counts it (LocalReadyEndpoints): distinct
 * IPs, ready (not terminating), on our node, over every port of the
 * Service.  O(the Service's ports and endpoints).
 */
static void
hc_sync_service(struct proxier *p, const char *ns, const char *name)
{
	struct store_port key_sp;
	struct proxied_port key, *pp;
	struct hc_entry *he;
	const struct store_endpoint *se;
	union addr *ips = NULL;
	size_t nips = 0, cap = 0, klen, i, local;
	uint16_t port = 0;
	int was_unbound;

	memset(&key_sp, 0, sizeof(key_sp));
	key_sp.key = xasprintf("%s/%s:", ns, name);
	klen = strlen(key_sp.key);
	key.pp_sp = &key_sp;
	/* Keys "ns/name:port" of one Service sort next to each other. */
	for (pp = RB_NFIND(proxied_ports, &p->tree, &key); pp != NULL &&
	    strncmp(pp->pp_sp->key, key_sp.key, klen) == 0;
	    pp = RB_NEXT(proxied_ports, &p->tree, pp)) {
		if (port == 0)
			port = pp->pp_sp->health_check_node_port;
		for (i = 0; i < pp->pp_sp->n_all_endpoints; i++) {
			se = &pp->pp_sp->all_endpoints[i];
			if ((se->se_flags & (TOPO_READY | TOPO_LOCAL)) !=
			    (TOPO_READY | TOPO_LOCAL))
				continue;
			if (nips == cap) {
				cap = cap ? cap * 2 : 16;
				ips = xreallocarray(ips, cap, sizeof(*ips));
			}
			ips[nips] = se->se_addr;
			addr_set_port(&ips[nips++], 0);
		}
	}
	free(key_sp.key);
	if (nips > 0)
		qsort(ips, nips, sizeof(*ips), addr_qsort_cmp);
	for (i = 0, local = 0; i < nips; i++)
		if (i == 0 || addr_cmp(&ips[i], &ips[i - 1]) != 0)
			local++;
	free(ips);

	he = hc_find(p, ns, name);
	if (port == 0) {
		if (he != NULL)
			hc_remove(p, he);
		return;
	}
	if (he == NULL) {
		he = xcalloc(1, sizeof(*he));
		he->he_ns = xstrdup(ns);
		he->he_name = xstrdup(name);
		he->he_hs = hc_server_new(p->base, ns, name,
		    proxier_hc_healthy, p);
		RB_INSERT(hc_entries, &p->hcs, he);
		was_unbound = 0;
	} else
		was_unbound = hc_server_port(he->he_hs) != he->he_port;
	he->he_port = port;
	hc_server_set_local(he->he_hs, (unsigned)local);
	hc_listen(p, he);
	p->hc_unbound = p->hc_unbound - was_unbound +
	    (hc_server_port(he->he_hs) != he->he_port);
	proxier_schedule_retry(p);
}

/* After a change of one port: its Service's health check, if any. */
static void
hc_port_changed(struct proxier *p, const struct store_port *old,
    const struct store_port *new)
{
	const struct store_port *sp = new != NULL ? new : old;

	if ((old == NULL || old->health_check_node_port == 0) &&
	    (new == NULL || new->health_check_node_port == 0) &&
	    hc_find(p, sp->ns, sp->name) == NULL)
		return;
	hc_sync_service(p, sp->ns, sp->name);
}

/*
 * kube-proxy counts each Service and each endpoints object that changed
 * and calls them pending until a sync has programmed them.  Here the
 * unit is the service port; an added or removed port is a Service change,
 * and an endpoint change too if it had endpoints.
 */
static void
proxier_count_change(struct proxier *p, const struct store_port *old,
    const struct store_port *new, unsigned changes)
{
	const struct store_port *sp = new != NULL ? new : old;
	int svc = 0, eps = 0;

	if (old == NULL || new == NULL) {
		svc = 1;
		eps = sp->n_endpoints > 0;
	} else {
		svc = (changes & STORE_SERVICE_CHANGED) != 0;
		eps = (changes & STORE_ENDPOINTS_CHANGED) != 0;
	}
	p->sm.service_changes += svc;
	p->sm.service_pending += svc;
	p->sm.endpoint_changes += eps;
	p->sm.endpoint_pending += eps;
	p->sm.last_queued = clock_seconds(CLOCK_REALTIME);
	/*
	 * Network programming latency: from the change in the cluster (the
	 * endpoint objects' last-change-trigger-time) to now, when the new
	 * endpoints are in the lb.  Once per new trigger time.
	 */
	if (eps && new != NULL && new->trigger_time > 0 && (old == NULL ||
	    old->trigger_time != new->trigger_time))
		/* (A skewed clock could put the trigger in the future.) */
		metrics_observe(&p->sm.programming,
		    p->sm.last_queued > new->trigger_time ?
		    p->sm.last_queued - new->trigger_time : 0);
	/* The store reports a burst in one go: it ends when the loop turns. */
	if (!event_pending(p->batch_ev, EV_TIMEOUT, NULL))
		event_active(p->batch_ev, EV_TIMEOUT, 0);
}

void
proxier_apply(void *arg, const struct store_port *old,
    const struct store_port *new, unsigned changes)
{
	struct proxier *p = arg;
	struct proxied_port *pp = old != NULL ? pp_find(p, old) : NULL;
	double t0 = clock_seconds(CLOCK_MONOTONIC);

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
	hc_port_changed(p, old, new);
	p->batch_s += clock_seconds(CLOCK_MONOTONIC) - t0;
}

/*
 * A burst of changes is in the load balancers and proxy sockets: endpoint
 * changes take effect right there.  Without iptables that is the whole
 * sync; with it, Service changes wait for the rule sync (proxier_synced).
 */
static void
proxier_batch_cb(evutil_socket_t fd, short what, void *arg)
{
	struct proxier *p = arg;

	(void)fd;
	(void)what;
	p->sm.endpoint_pending = 0;
	if (p->portals == NULL) {
		metrics_observe(&p->sm.sync_duration, p->batch_s);
		p->sm.last_sync = clock_seconds(CLOCK_REALTIME);
		p->sm.service_pending = 0;
	}
	p->batch_s = 0;
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
	 * are gone from the kernel.  Retired sockets close; ports that
	 * waited for a free proxy port try again now.
	 */
	if (p->retired > 0) {
		struct proxied_port *pp;

		RB_FOREACH(pp, proxied_ports, &p->tree)
			pp_close_retired(p, pp, 1);
	}
	if (portalloc_release(p->ports) > 0 && p->failed > 0)
		event_active(p->retry_ev, EV_TIMEOUT, 0);
	p->sm.last_sync = clock_seconds(CLOCK_REALTIME);
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
	p->unheld = 0;		/* recounted by pp_hold_nodeport */
	RB_FOREACH(pp, proxied_ports, &p->tree) {
		if (check_holds && pp_nodeport_unheld(p, pp)) {
			pp_hold_nodeport(p, pp);
			if (pp->pp_nodeport_fd != -1)
				pp_rules_changed(p, pp);
		}
		if (pp_missing(pp) > 0)
			(void)pp_ensure_open(p, pp);
	}
	if (p->hc_unbound > 0) {
		p->hc_unbound = 0;
		RB_FOREACH(he, hc_entries, &p->hcs) {
			hc_listen(p, he);
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

	if (!pp_is_open(pp))
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
	if (pp_nodeport_unheld(p, pp))
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
	metrics_sync_init(&p->sm);
	nodeaddr_nodeport_ranges(cfg, &p->np_ranges, &p->n_np_ranges);
	if (p->retry_ev == NULL || p->sweep_ev == NULL || p->batch_ev == NULL)
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
		hc_remove(p, he);
	/* Rules first: no packet may be redirected to a closed port. */
	rc = portals_free(p->portals, cleanup);
	p->portals = NULL;
	RB_FOREACH_SAFE(pp, proxied_ports, &p->tree, next) {
		RB_REMOVE(proxied_ports, &p->tree, pp);
		pp_close_retired(p, pp, 1);
		pp_close(p, pp, &pp->pp_ext);
		pp_close(p, pp, &pp->pp_main);
		if (pp->pp_nodeport_fd != -1)
			close(pp->pp_nodeport_fd);
		lb_free(pp->pp_ext.ps_lb);
		lb_free(pp->pp_main.ps_lb);
		free(pp->pp_es);
		free(pp);
	}
	event_free(p->retry_ev);
	event_free(p->sweep_ev);
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

void
proxier_totals(struct proxier *p, struct port_stats *total)
{
	struct proxied_port *pp;

	*total = metrics_retired;
	RB_FOREACH(pp, proxied_ports, &p->tree)
		metrics_add(total, &pp->pp_stats);
}

/*
 * kube-proxy's count of service ports whose Local policy finds no local
 * endpoint while the Service has some elsewhere (their traffic of that
 * kind is refused here): a gauge despite its name, per traffic_policy.
 * And our health check node ports.
 */
static void
write_policy_metrics(struct proxier *p, struct evbuffer *b)
{
	const char *labels[] = { "traffic_policy", NULL, NULL };
	const struct store_port *sp;
	struct proxied_port *pp;
	struct hc_entry *he;
	uint64_t internal = 0, external = 0, ok, unavailable;
	size_t listening = 0;

	RB_FOREACH(pp, proxied_ports, &p->tree) {
		sp = pp->pp_sp;
		if (!sp->choice.tc_has_any)
			continue;
		if (sp->policy.tp_internal_local && sp->n_endpoints == 0)
			internal++;
		if (sp->policy.tp_external_local && sp->policy.tp_external &&
		    (sp->ext_separate ? sp->n_ext_endpoints :
		    sp->n_endpoints) == 0)
			external++;
	}
	metrics_family(b, "kubeproxy_sync_proxy_rules_no_local_endpoints_total",
	    "gauge", "Number of services with a Local traffic policy and no "
	    "endpoints");
	labels[1] = "internal";
	metrics_sample(b, "kubeproxy_sync_proxy_rules_no_local_endpoints_total",
	    labels, (double)internal);
	labels[1] = "external";
	metrics_sample(b, "kubeproxy_sync_proxy_rules_no_local_endpoints_total",
	    labels, (double)external);

	RB_FOREACH(he, hc_entries, &p->hcs)
		listening += hc_server_port(he->he_hs) == he->he_port;
	hc_server_answers(&ok, &unavailable);
	metrics_family(b, "kube_uproxy_health_check_node_ports", "gauge",
	    "Health check node ports listening (one per LoadBalancer Service "
	    "with externalTrafficPolicy Local).");
	metrics_sample(b, "kube_uproxy_health_check_node_ports", NULL,
	    (double)listening);
	metrics_family(b, "kube_uproxy_health_check_node_ports_unbound",
	    "gauge", "Health check node ports wanted but not listening "
	    "(retried every second).");
	metrics_sample(b, "kube_uproxy_health_check_node_ports_unbound", NULL,
	    (double)p->hc_unbound);
	metrics_family(b, "kube_uproxy_health_check_answers_total", "counter",
	    "Answers of the health check node ports, by HTTP code.");
	labels[0] = "code";
	labels[1] = "200";
	metrics_sample(b, "kube_uproxy_health_check_answers_total", labels,
	    (double)ok);
	labels[1] = "503";
	metrics_sample(b, "kube_uproxy_health_check_answers_total", labels,
	    (double)unavailable);
	metrics_family(b, "kube_uproxy_health_check_connections", "gauge",
	    "Open connections to the health check node ports (at most "
	    "BOUND_HEALTH_CHECK_CONNECTIONS).");
	metrics_sample(b, "kube_uproxy_health_check_connections", NULL,
	    (double)hc_server_connections());
}

void
proxier_write_metrics(struct proxier *p, struct evbuffer *b)
{
	struct metrics_port *ports;
	struct proxied_port *pp;
	uint64_t requested, ok, failed;
	size_t n = 0;
	int retired;

	metrics_write_sync(b, &p->sm);
	/* Ports gone with relays still open, or ever: the "(removed)" row. */
	retired = memcmp(&metrics_retired, &(struct port_stats){ 0 },
	    sizeof(metrics_retired)) != 0;
	ports = xreallocarray(NULL, p->count + 1, sizeof(*ports));
	RB_FOREACH(pp, proxied_ports, &p->tree) {
		ports[n].name = pp->pp_sp->key;
		ports[n].protocol = k8s_proto_str(pp->pp_sp->protocol);
		ports[n].stats = &pp->pp_stats;
		ports[n].endpoints = pp->pp_es;
		ports[n].n_endpoints = pp->pp_nes;
		n++;
	}
	if (retired) {
		ports[n].name = "(removed)";
		ports[n].protocol = "";
		ports[n].stats = &metrics_retired;
		ports[n].endpoints = NULL;
		ports[n].n_endpoints = 0;
		n++;
	}
	metrics_write_ports(b, ports, n);
	free(ports);

	write_policy_metrics(p, b);

	proxier_rule_syncs(p, &requested, &ok, &failed);
	metrics_family(b, "kube_uproxy_rule_sync_requests_total", "counter",
	    "Rule syncs asked for by service changes.");
	metrics_sample(b, "kube_uproxy_rule_sync_requests_total", NULL,
	    (double)requested);
	metrics_family(b, "kube_uproxy_rule_syncs_total", "counter",
	    "Syncs of the nat rules that succeeded (a sync that finds the "
	    "rules right commits nothing).");
	metrics_sample(b, "kube_uproxy_rule_syncs_total", NULL, (double)ok);
	metrics_family(b, "kube_uproxy_rule_sync_failures_total", "counter",
	    "Syncs of the nat rules that failed.");
	metrics_sample(b, "kube_uproxy_rule_sync_failures_total", NULL,
	    (double)failed);
}

static cJSON *
addrs_json(const union addr *a, size_t n, int with_port)
{
	cJSON *arr = cJSON_CreateArray();
	char buf[ADDR_STRLEN];
	size_t i;

	for (i = 0; i < n; i++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(
		    addr_str(&a[i], with_port, buf, sizeof(buf))));
	return arr;
}

/* Per endpoint, as ipvsadm -Ln lists real servers with their ActiveConn. */
static cJSON *
endpoint_stats_json(const struct proxied_port *pp)
{
	cJSON *arr = cJSON_CreateArray(), *o;
	char buf[ADDR_STRLEN];
	size_t i;

	for (i = 0; i < pp->pp_nes; i++) {
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "endpoint",
		    addr_str(&pp->pp_es[i]->es_addr, 1, buf, sizeof(buf)));
		cJSON_AddNumberToObject(o, "activeConnections",
		    pp->pp_es[i]->es_active);
		cJSON_AddNumberToObject(o, "dialFailures",
		    pp->pp_es[i]->es_dial_failures);
		cJSON_AddNumberToObject(o, "dialRetries",
		    pp->pp_es[i]->es_dial_retries);
		cJSON_AddItemToArray(arr, o);
	}
	return arr;
}

static const char *
topo_mode_str(enum topo_mode m)
{
	switch (m) {
	case TOPO_MODE_SAME_ZONE:
		return "PreferSameZone";
	case TOPO_MODE_SAME_NODE:
		return "PreferSameNode";
	case TOPO_MODE_ALL:
		break;
	}
	return "All";
}

/*
 * How one kind of traffic is served: which set ("cluster" or "local"),
 * how many endpoints, and why (topo_reason).
 */
static cJSON *
traffic_json(const struct store_port *sp, unsigned set, size_t n,
    uint16_t proxy_port)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "endpointSet",
	    set == TOPO_IN_LOCAL ? "local" : "cluster");
	cJSON_AddNumberToObject(o, "endpoints", (double)n);
	cJSON_AddStringToObject(o, "reason", topo_reason(&sp->choice, set));
	cJSON_AddNumberToObject(o, "proxyPort", proxy_port);
	return o;
}

/*
 * Every endpoint the slices list, ready or not, with what it is for us
 * and which traffic may use it.
 */
static cJSON *
all_endpoints_json(const struct store_port *sp)
{
	const struct store_endpoint *se;
	unsigned in_set = topo_internal_set(&sp->policy);
	unsigned ex_set = topo_external_set(&sp->policy);
	cJSON *arr = cJSON_CreateArray(), *o;
	char buf[ADDR_STRLEN];
	size_t i;

	for (i = 0; i < sp->n_all_endpoints; i++) {
		se = &sp->all_endpoints[i];
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "endpoint",
		    addr_str(&se->se_addr, 1, buf, sizeof(buf)));
		cJSON_AddStringToObject(o, "nodeName",
		    se->se_node != NULL ? se->se_node : "");
		cJSON_AddStringToObject(o, "zone",
		    se->se_zone != NULL ? se->se_zone : "");
		cJSON_AddBoolToObject(o, "local",
		    (se->se_flags & TOPO_LOCAL) != 0);
		cJSON_AddBoolToObject(o, "ready",
		    (se->se_flags & TOPO_READY) != 0);
		cJSON_AddBoolToObject(o, "serving",
		    (se->se_flags & TOPO_SERVING) != 0);
		cJSON_AddBoolToObject(o, "terminating",
		    (se->se_flags & TOPO_TERMINATING) != 0);
		cJSON_AddBoolToObject(o, "internal", (se->se_in & in_set) != 0);
		cJSON_AddBoolToObject(o, "external", sp->policy.tp_external &&
		    (se->se_in & ex_set) != 0);
		cJSON_AddItemToArray(arr, o);
	}
	return arr;
}

static cJSON *
prefixes_json(const struct addr_prefix *p, size_t n)
{
	cJSON *arr = cJSON_CreateArray();
	char buf[ADDR_STRLEN + 4];
	size_t i;

	for (i = 0; i < n; i++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(
		    addr_prefix_str(&p[i], buf, sizeof(buf))));
	return arr;
}

cJSON *
proxier_debug_json(struct proxier *p)
{
	cJSON *arr = cJSON_CreateArray(), *o;
	struct proxied_port *pp;
	const struct store_port *sp;
	uint16_t ext_port;
	char *svc;

	RB_FOREACH(pp, proxied_ports, &p->tree) {
		sp = pp->pp_sp;
		o = cJSON_CreateObject();
		svc = xasprintf("%s/%s", sp->ns, sp->name);
		cJSON_AddStringToObject(o, "service", svc);
		free(svc);
		cJSON_AddStringToObject(o, "portName", sp->port_name);
		cJSON_AddStringToObject(o, "protocol", k8s_proto_str(sp->protocol));
		cJSON_AddItemToObject(o, "clusterIPs",
		    addrs_json(sp->cluster_ips, sp->n_cluster_ips, 0));
		cJSON_AddNumberToObject(o, "port", sp->port);
		cJSON_AddNumberToObject(o, "nodePort", sp->node_port);
		cJSON_AddItemToObject(o, "externalIPs",
		    addrs_json(sp->external_ips, sp->n_external_ips, 0));
		cJSON_AddItemToObject(o, "loadBalancerIPs",
		    addrs_json(sp->lb_ips, sp->n_lb_ips, 0));
		cJSON_AddNumberToObject(o, "proxyPort", pp->pp_main.ps_port);
		/* External traffic's own proxy port, or the same one. */
		ext_port = pp->pp_ext.ps_lb != NULL ? pp->pp_ext.ps_port :
		    pp->pp_main.ps_port;
		cJSON_AddNumberToObject(o, "externalProxyPort", ext_port);
		cJSON_AddStringToObject(o, "sessionAffinity",
		    sp->affinity_client_ip ? "ClientIP" : "None");
		cJSON_AddNumberToObject(o, "affinityTimeoutSeconds",
		    sp->affinity_timeout);
		cJSON_AddStringToObject(o, "internalTrafficPolicy",
		    sp->policy.tp_internal_local ? "Local" : "Cluster");
		cJSON_AddStringToObject(o, "externalTrafficPolicy",
		    sp->policy.tp_external_local ? "Local" : "Cluster");
		cJSON_AddNumberToObject(o, "healthCheckNodePort",
		    sp->health_check_node_port);
		cJSON_AddItemToObject(o, "loadBalancerSourceRanges",
		    prefixes_json(sp->source_ranges, sp->n_source_ranges));
		cJSON_AddStringToObject(o, "topology",
		    topo_mode_str(sp->choice.tc_mode));
		cJSON_AddItemToObject(o, "endpoints",
		    addrs_json(sp->endpoints, sp->n_endpoints, 1));
		/* (Equal to the internal ones unless ext_separate.) */
		cJSON_AddItemToObject(o, "externalEndpoints", sp->ext_separate ?
		    addrs_json(sp->ext_endpoints, sp->n_ext_endpoints, 1) :
		    addrs_json(sp->endpoints, sp->n_endpoints, 1));
		cJSON_AddItemToObject(o, "internalTraffic", traffic_json(sp,
		    topo_internal_set(&sp->policy), sp->n_endpoints,
		    pp->pp_main.ps_port));
		if (sp->policy.tp_external)
			cJSON_AddItemToObject(o, "externalTraffic",
			    traffic_json(sp, topo_external_set(&sp->policy),
			    sp->ext_separate ? sp->n_ext_endpoints :
			    sp->n_endpoints, ext_port));
		cJSON_AddItemToObject(o, "allEndpoints", all_endpoints_json(sp));
		cJSON_AddStringToObject(o, "scheduler", "rr");
		cJSON_AddNumberToObject(o, "activeConnections",
		    sp->protocol == K8S_PROTO_UDP ?
		    pp->pp_stats.udp_flows_active : pp->pp_stats.tcp_active);
		cJSON_AddItemToObject(o, "endpointStats",
		    endpoint_stats_json(pp));
		cJSON_AddItemToArray(arr, o);
	}
	return arr;
}

struct metrics_port *
proxier_ports(struct proxier *p, size_t *n)
{
	struct metrics_port *ports;
	struct proxied_port *pp;

	*n = 0;
	if ((ports = calloc(p->count + 1, sizeof(*ports))) == NULL)
		return NULL;
	RB_FOREACH(pp, proxied_ports, &p->tree) {
		ports[*n].name = pp->pp_sp->key;
		ports[*n].protocol = k8s_proto_str(pp->pp_sp->protocol);
		ports[*n].stats = &pp->pp_stats;
		ports[*n].endpoints = pp->pp_es;
		ports[*n].n_endpoints = pp->pp_nes;
		(*n)++;
	}
	return ports;
}
