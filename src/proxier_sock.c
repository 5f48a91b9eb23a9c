/*
 * proxier_sock.c - the proxy sockets of a service port, and its nodePort
 * hold.
 *
 * A service port has one proxy socket (pp_main), or two when its external
 * traffic takes another endpoint set (pp_ext), plus the external socket
 * it just gave up while rules may still redirect to it (pp_ext_old).
 * Proxy ports come from the allocator and go back to it, or to its
 * quarantine while rules may still send traffic there.  With --iptables
 * legacy a NodePort in use is held by a bound socket.  What could not be
 * opened or held is retried every RETRY_MS.
 */
#include <sys/queue.h>

#include <errno.h>
#include <stdint.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "lb.h"
#include "log.h"
#include "portalloc.h"
#include "proxier.h"
#include "proxier_int.h"
#include "proxy_socket.h"
#include "tcp_proxy.h"
#include "udp_proxy.h"
#include "util.h"

#define RETRY_MS	1000		/* failed sockets */
#define BIND_TRIES	16		/* busy ports skipped before giving up */

/*
 * Keep pp's nodePort bound (not listening: the nat rules send its traffic
 * to the proxy port) so no other program on the node can take it.
 */
void
proxier_pp_hold_nodeport(struct proxier *p, struct proxied_port *pp)
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
int
proxier_pp_nodeport_unheld(const struct proxier *p, const struct proxied_port *pp)
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
		proxier_pp_rules_changed(p, pp);
	}
	return rc;
}

/*
 * Close one proxy socket.  Its port was in rules (or about to be): with
 * rules, it is quarantined until a commit has removed them, so no other
 * service port gets it while the kernel may still redirect this one's
 * clients there.
 */
void
proxier_pp_close(struct proxier *p, struct proxied_port *pp, struct pp_sock *ps)
{
	int was_open = ps_is_open(ps);

	if (was_open)
		proxier_pp_rules_changed(p, pp);
	ps_close_socket(ps);
	if (was_open && p->portals != NULL)
		portalloc_quarantine(p->ports, ps->ps_port);
	else if (ps->ps_reserved)
		portalloc_put(p->ports, ps->ps_port);
	ps->ps_reserved = 0;
	ps->ps_port = 0;
}

int
proxier_pp_is_open(const struct proxied_port *pp)
{
	return ps_is_open(&pp->pp_main);
}

/* Sockets pp wants that are not open: p->failed counts them. */
size_t
proxier_pp_missing(const struct proxied_port *pp)
{
	return !ps_is_open(&pp->pp_main) +
	    (pp->pp_ext.ps_lb != NULL && !ps_is_open(&pp->pp_ext));
}

void
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
size_t
proxier_pp_ensure_open(struct proxier *p, struct proxied_port *pp)
{
	size_t before = proxier_pp_missing(pp), after;

	if (!ps_is_open(&pp->pp_main))
		(void)pp_open(p, pp, &pp->pp_main);
	if (pp->pp_ext.ps_lb != NULL && !ps_is_open(&pp->pp_ext))
		(void)pp_open(p, pp, &pp->pp_ext);
	after = proxier_pp_missing(pp);
	p->failed = p->failed - before + after;
	proxier_schedule_retry(p);
	return after;
}

static void	pp_retire_ext(struct proxier *, struct proxied_port *);

/*
 * The external socket follows sp->ext_separate: opened (with an lb over
 * ext_endpoints that shares the main lb's endpoint records) when the
 * port's external traffic takes another endpoint set, closed when it no
 * longer does.  p->failed is the caller's (proxier_pp_missing before and after).
 */
void
proxier_pp_follow_ext(struct proxier *p, struct proxied_port *pp)
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
		proxier_pp_rules_changed(p, pp);
	} else if (!sp->ext_separate && ps->ps_lb != NULL) {
		pp_retire_ext(p, pp);
		proxier_pp_rules_changed(p, pp);
		log_debug(LOG_V_SERVICE, "service %s: external traffic back on "
		    "the port's proxy port", sp->key);
	}
}

/*
 * Close a retired external socket.  Its rules are gone from the kernel
 * (gone: a commit without them; else its port waits in quarantine).
 */
void
proxier_pp_close_retired(struct proxier *p, struct proxied_port *pp, int gone)
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
	pp->pp_ext_old_until = 0;
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
		proxier_pp_close(p, pp, ps);
		lb_free(ps->ps_lb);
	} else {
		proxier_pp_close_retired(p, pp, 0);	/* retired twice in one sync */
		lb_set_endpoints(ps->ps_lb, pp->pp_sp->ext_endpoints,
		    pp->pp_sp->n_ext_endpoints);
		pp->pp_ext_old = *ps;
		pp->pp_ext_old.ps_what = " (external, retired)";
		p->retired++;
	}
	memset(ps, 0, sizeof(*ps));
	ps->ps_what = " (external)";
}
