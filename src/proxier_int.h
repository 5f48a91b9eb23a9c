/*
 * proxier_int.h - the proxier's internals, shared by its files.
 *
 * Private to src/proxier*.c: nothing else includes it (callers use
 * proxier.h).  proxier.c reconciles service ports (proxied_port) and
 * plans their rules, proxier_sock.c opens and closes their proxy sockets,
 * proxier_hc.c keeps the health check node ports, proxier_metrics.c the
 * sync metrics and /metrics, proxier_debug.c the inspection outputs.
 */
#ifndef PROXIER_INT_H
#define PROXIER_INT_H

#include <sys/queue.h>

#include <stdint.h>
#include <time.h>

#include <event2/event.h>

#include "tree.h"

#include "addr.h"
#include "metrics.h"
#include "rules.h"
#include "store.h"

struct config;
struct evbuffer;
struct hc_server;
struct lb;
struct portalloc;
struct portals;
struct tcp_proxy;
struct udp_proxy;

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
	 * commit, whose plan no longer holds its rules (ps_lb NULL: none),
	 * and RETIRE_GRACE_MS more (pp_ext_old_until, mono ms; 0 before
	 * that commit), for the handshakes the old rules started.
	 */
	struct pp_sock		 pp_ext_old;
	uint64_t		 pp_ext_old_until;
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
	struct event		*retire_ev;	/* retired sockets' grace */
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

RB_PROTOTYPE(proxied_ports, proxied_port, pp_entry, pp_cmp)
RB_PROTOTYPE(hc_entries, hc_entry, he_entry, he_cmp)

/* proxier.c */
double	 proxier_clock_seconds(clockid_t);
/* pp's rules changed (opened, closed, new addresses or ports). */
void	 proxier_pp_rules_changed(struct proxier *, struct proxied_port *);

/* proxier_sock.c */
void	 proxier_schedule_retry(struct proxier *);
void	 proxier_pp_hold_nodeport(struct proxier *, struct proxied_port *);
int	 proxier_pp_nodeport_unheld(const struct proxier *,
	    const struct proxied_port *);
void	 proxier_pp_close(struct proxier *, struct proxied_port *,
	    struct pp_sock *);
int	 proxier_pp_is_open(const struct proxied_port *);
size_t	 proxier_pp_missing(const struct proxied_port *);
size_t	 proxier_pp_ensure_open(struct proxier *, struct proxied_port *);
void	 proxier_pp_follow_ext(struct proxier *, struct proxied_port *);
void	 proxier_pp_close_retired(struct proxier *, struct proxied_port *,
	    int gone);

/* proxier_hc.c */
void	 proxier_hc_remove(struct proxier *, struct hc_entry *);
void	 proxier_hc_listen(struct proxier *, struct hc_entry *);
void	 proxier_hc_port_changed(struct proxier *, const struct store_port *,
	    const struct store_port *);

/* proxier_metrics.c */
void	 proxier_count_change(struct proxier *, const struct store_port *,
	    const struct store_port *, unsigned);
void	 proxier_batch_cb(evutil_socket_t, short, void *);

/* proxier_debug.c */
void	 proxier_pp_collect_stats(struct proxied_port *);

#endif
