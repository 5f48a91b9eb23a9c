/*
 * admin.h - the HTTP endpoints (served by httpd.c).
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

#endif
