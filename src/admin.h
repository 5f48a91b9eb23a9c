/*
 * admin.h - the HTTP endpoints (evhttp).
 *
 * On the healthz address: /healthz (200 once synced, 503 before) and
 * /livez.  On the metrics address: / (the status page), /metrics
 * (Prometheus text), /debug/services (JSON), /proxyMode and /configz.
 */
#ifndef ADMIN_H
#define ADMIN_H

#include <stddef.h>
#include <stdint.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

struct config;
struct proxier;
struct admin;

/*
 * Listen on the configured addresses (an empty address string disables
 * that server).  Returns NULL with one line logged when an address cannot
 * be bound.  cfg and proxier are borrowed.
 */
struct admin	*admin_new(struct event_base *, const struct config *,
		    struct proxier *);
void		 admin_free(struct admin *);

/*
 * Have write(arg, out) append more families at the end of each /metrics
 * answer (e.g. the API source's kube_uproxy_api_*), in the order added.
 * arg is borrowed: remove the writer (admin_free) before freeing it.
 */
void		 admin_add_metrics(struct admin *,
		    void (*write)(void *arg, struct evbuffer *out), void *arg);

/*
 * A bounded HTTP server of its own (for a Service's health check node
 * port): the same bounds as the admin listeners (request size, idle
 * time, BOUND_ADMIN_CONNECTIONS connections, idle ones evicted first),
 * and, when `total` is not NULL, at most total_max connections over every
 * server sharing that counter.  flag and name are borrowed (logs).  Every
 * path answers 404 until the caller sets its callbacks on
 * admin_server_http().
 */
struct admin_server *admin_server_new(struct event_base *, const char *flag,
		    const char *name, size_t *total, size_t total_max);
/*
 * Serve on a bound, listening, nonblocking socket: the server owns it
 * once this returns 0 (closed by admin_server_free); on -1 the caller
 * still does.
 */
int		 admin_server_accept_fd(struct admin_server *, int fd);
struct evhttp	*admin_server_http(struct admin_server *);
/* A request came in on a connection: it is not idle. */
void		 admin_server_touch(struct admin_server *,
		    struct evhttp_request *);
void		 admin_server_counts(const struct admin_server *, size_t *open,
		    uint64_t *refused, uint64_t *evicted);
/* Close the listeners and every connection; NULL is fine. */
void		 admin_server_free(struct admin_server *);

#endif
