/*
 * tcp_proxy.h - the TCP proxy socket of one service port and its relays.
 *
 * Accepts clients, picks an endpoint from the port's load balancer,
 * connects without blocking (timeouts 250 ms, 500 ms, 1 s, 2 s, each try
 * on the next endpoint), then relays bytes both ways on raw libevent
 * events: splice(2) through pooled pipes, or read/write through pooled
 * large buffers.  An idle connection holds neither.  Half-close is
 * forwarded with shutdown(SHUT_WR), a reset as a reset; both sockets close
 * when both directions are done.  No endpoint: the client gets a reset.
 */
#ifndef TCP_PROXY_H
#define TCP_PROXY_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "addr.h"

struct lb;
struct port_stats;
struct tcp_proxy;

enum relay_mode {
	RELAY_COPY,	/* recv/send through a pooled 256 KiB buffer */
	RELAY_SPLICE,	/* splice(2) through a pooled pipe */
};

/* Process-wide data path choice (the --relay flag); default RELAY_COPY. */
void		 tcp_relay_mode_set(enum relay_mode);

/*
 * Process-wide bounds and timeouts, set once after tcp_relay_mode_set and
 * after RLIMIT_NOFILE is final, before any proxy opens: --tcp-keepalive
 * (ms, 0 off), --tcp-fin-timeout (ms, 0 off) and --relay-memory (bytes).
 * Shares out the descriptors RLIMIT_NOFILE allows (fd_budget_share): UDP
 * flows' share becomes their total bound (udp_proxy_set_flows_total_bound),
 * the relays' the connection bound.  Without this call nothing is bounded
 * and keepalive is off (unit tests).
 */
void		 tcp_proxy_configure(uint64_t keepalive_ms, uint64_t fin_timeout_ms,
		    size_t relay_memory);

/*
 * Open a listener on `bind` (port 0: kernel-chosen) for the service port
 * named `name` (copied, used in logs).  lb and stats are borrowed: they
 * must outlive the proxy (see tcp_proxy_close).  Returns NULL with errno
 * set (and nothing logged) when the socket cannot be bound.
 */
struct tcp_proxy *tcp_proxy_open(struct event_base *, const union addr *bind,
		    const char *name, struct lb *lb, struct port_stats *stats);
/* The port actually bound. */
uint16_t	 tcp_proxy_port(const struct tcp_proxy *);

/*
 * Close the listener and free the proxy.  Established connections keep
 * running on their own (their stats move to metrics_retired); connections
 * still connecting are reset, since they would need the lb.
 */
void		 tcp_proxy_close(struct tcp_proxy *);

/* Close every relay still open (at exit, after the proxies are closed). */
void		 tcp_relays_close_all(void);

/* Open relays of all TCP proxies: for tests and /metrics. */
unsigned	 tcp_relays_active(void);

#endif
