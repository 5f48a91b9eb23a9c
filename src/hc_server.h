/*
 * hc_server.h - the health check node port of one Service.
 *
 * A LoadBalancer Service with externalTrafficPolicy Local has a
 * spec.healthCheckNodePort: the cloud load balancer asks each node, on
 * that port, whether to send it the Service's traffic.  kube-proxy
 * answers (pkg/proxy/healthcheck/service_health.go), and so do we: HTTP
 * on that port on the node, any path, 200 when the Service has at least
 * one ready endpoint on this node and this proxy is healthy, else 503,
 * with a small JSON body:
 *   {"service":{"namespace":"NS","name":"NAME"},"localEndpoints":N,
 *    "serviceProxyHealthy":true}
 * One server per Service, whatever its number of ports.  The listeners
 * are bounded like the admin ones (httpd.c); their sockets hold
 * the port as a NodePort's hold does.
 */
#ifndef HC_SERVER_H
#define HC_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "addr.h"

struct hc_server;

/*
 * A server for Service ns/name (both copied), not listening yet.
 * healthy(arg) says whether our own /healthz would answer 200; arg is
 * borrowed and must outlive the server.
 */
struct hc_server *hc_server_new(struct event_base *, const char *ns,
		    const char *name, int (*healthy)(void *), void *arg);
/* Close the listeners and their connections; NULL is fine. */
void		 hc_server_free(struct hc_server *);

/*
 * Listen on `port` on each of the n addresses (a wildcard address means
 * every local address of both families, as proxy_socket makes it).  Already
 * listening there: nothing changes.  Another port: the old listeners and
 * their connections close first.  Returns 0, or -1 when one address
 * could not be bound (then none is: a half-open health check would be
 * worse than none); the line is the caller's to log, with errno set.
 */
int		 hc_server_listen(struct hc_server *, uint16_t port,
		    const union addr *addrs, size_t n);
/* Stop listening (the Service keeps its server, e.g. for a retry). */
void		 hc_server_close(struct hc_server *);
/* The port listened on, 0 when not listening. */
uint16_t	 hc_server_port(const struct hc_server *);

/* Local ready endpoints of the Service (distinct IPs over its ports). */
void		 hc_server_set_local(struct hc_server *, unsigned n);
unsigned	 hc_server_local(const struct hc_server *);

/* Answers given, by code, over every server: for /metrics. */
void		 hc_server_answers(uint64_t *ok, uint64_t *unavailable);
/* Connections open over every server (bounded, BOUND_HEALTH_CHECK_CONNECTIONS). */
size_t		 hc_server_connections(void);

#endif
