/*
 * admin.c - the HTTP endpoints.
 *
 * Two servers, as kube-proxy has: the healthz address (/healthz, /livez),
 * open to the node's health checkers, and the metrics address (/metrics,
 * /debug/services, /proxyMode, /configz, and / for people: the status
 * page), loopback by default.  Both are httpd.c's bounded servers; what is
 * here is what each path answers.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>

#include "admin.h"
#include "config.h"
#include "history.h"
#include "httpd.h"
#include "log.h"
#include "metrics.h"
#include "proxier.h"
#include "status_page.h"
#include "util.h"

struct metrics_writer {
	void	(*write)(void *, struct evbuffer *);
	void	*arg;
};

struct admin {
	const struct config	*cfg;
	struct proxier		*proxier;
	struct httpd		*healthz;	/* NULL: not served */
	struct httpd		*metrics;
	uint64_t		 healthz_200;	/* /healthz answers by code */
	uint64_t		 healthz_503;
	uint64_t		 livez_200;
	struct metrics_writer	*writers;	/* admin_add_metrics */
	size_t			 n_writers;
	struct history		*history;	/* the status page's sparklines */
};

#define TYPE_TEXT	"text/plain; charset=utf-8"

/* An answer made with `body` (freed); NULL (out of memory): 500. */
static void
reply(struct httpd_req *req, int code, const char *type,
    struct evbuffer *body)
{
	if (body == NULL) {
		httpd_reply_text(req, 500, "500 out of memory\n");
		return;
	}
	httpd_reply(req, code, type, NULL, body);
	evbuffer_free(body);
}

static void
reply_json(struct httpd_req *req, int code, cJSON *json)
{
	char *s = cJSON_PrintUnformatted(json);
	struct evbuffer *b = s != NULL ? evbuffer_new() : NULL;

	if (b != NULL && evbuffer_add_printf(b, "%s\n", s) == -1) {
		evbuffer_free(b);
		b = NULL;
	}
	reply(req, code, "application/json", b);
	free(s);
	cJSON_Delete(json);
}

static const char *
rfc3339(time_t t, char *buf, size_t len)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

/*
 * 200 once the first full sync is done: until then this node's proxy
 * sockets may not yet exist, and a load balancer should not send here.
 * 503 too while our Node is being deleted (proxier_node_eligible).
 */
static void
healthz_cb(struct httpd_req *req, void *arg)
{
	struct admin *a = arg;
	cJSON *o = cJSON_CreateObject();
	char buf[32];
	int eligible;

	cJSON_AddStringToObject(o, "lastUpdated",
	    rfc3339(proxier_last_update(a->proxier), buf, sizeof(buf)));
	cJSON_AddStringToObject(o, "currentTime",
	    rfc3339(time(NULL), buf, sizeof(buf)));
	/*
	 * kube-proxy >= 1.29: a node on its way out (being deleted, or
	 * tainted for deletion by the cluster autoscaler) answers 503 so
	 * that load balancers stop sending to it first.
	 */
	eligible = proxier_node_eligible(a->proxier);
	cJSON_AddBoolToObject(o, "nodeEligible", eligible);
	if (proxier_healthy(a->proxier) && eligible) {
		a->healthz_200++;
		reply_json(req, 200, o);
	} else {
		a->healthz_503++;
		reply_json(req, 503, o);
	}
}

static void
livez_cb(struct httpd_req *req, void *arg)
{
	struct admin *a = arg;

	a->livez_200++;
	httpd_reply_text(req, 200, "ok\n");
}

/* kube-proxy's counters of its own probe answers, one series per code seen. */
static void
write_probe_counts(struct admin *a, struct evbuffer *b)
{
	const char *labels[] = { "code", NULL, NULL };

	metrics_family(b, "kubeproxy_proxy_healthz_total", "counter",
	    "Cumulative proxy healthz HTTP status");
	labels[1] = "200";
	if (a->healthz_200 > 0)
		metrics_sample(b, "kubeproxy_proxy_healthz_total", labels,
		    (double)a->healthz_200);
	labels[1] = "503";
	if (a->healthz_503 > 0)
		metrics_sample(b, "kubeproxy_proxy_healthz_total", labels,
		    (double)a->healthz_503);
	metrics_family(b, "kubeproxy_proxy_livez_total", "counter",
	    "Cumulative proxy livez HTTP status");
	labels[1] = "200";
	if (a->livez_200 > 0)
		metrics_sample(b, "kubeproxy_proxy_livez_total", labels,
		    (double)a->livez_200);
}

static void
write_conn_counts(struct admin *a, struct evbuffer *b)
{
	static const struct {
		const char *name, *type, *help;
	} fam[] = {
		{ "kube_uproxy_admin_connections", "gauge",
		  "Open connections to an admin HTTP listener." },
		{ "kube_uproxy_admin_connections_refused_total", "counter",
		  "Admin HTTP connections closed at once: the listener had "
		  "BOUND_ADMIN_CONNECTIONS open, none of them idle." },
		{ "kube_uproxy_admin_connections_evicted_total", "counter",
		  "Idle admin HTTP connections closed to make room for a new "
		  "one (BOUND_ADMIN_CONNECTIONS open)." },
	};
	struct httpd *servers[] = { a->healthz, a->metrics };
	const char *labels[] = { "listener", NULL, NULL };
	const char *names[] = { "healthz", "metrics" };
	uint64_t v[3];
	size_t f, i, open;

	for (f = 0; f < 3; f++) {
		metrics_family(b, fam[f].name, fam[f].type, fam[f].help);
		for (i = 0; i < 2; i++) {
			if (servers[i] == NULL)
				continue;
			httpd_counts(servers[i], &open, &v[1], &v[2]);
			v[0] = open;
			labels[1] = names[i];
			metrics_sample(b, fam[f].name, labels, (double)v[f]);
		}
	}
}

static void
metrics_cb(struct httpd_req *req, void *arg)
{
	struct admin *a = arg;
	struct evbuffer *b = evbuffer_new();
	size_t i;

	if (b == NULL) {
		reply(req, 500, NULL, NULL);
		return;
	}
	write_probe_counts(a, b);
	write_conn_counts(a, b);
	proxier_write_metrics(a->proxier, b);
	metrics_family(b, "kube_uproxy_service_ports", "gauge",
	    "Service ports with a proxy socket.");
	metrics_sample(b, "kube_uproxy_service_ports", NULL,
	    (double)proxier_count(a->proxier));
	for (i = 0; i < a->n_writers; i++)
		a->writers[i].write(a->writers[i].arg, b);
	reply(req, 200, "text/plain; version=0.0.4; charset=utf-8", b);
}

static void
debug_services_cb(struct httpd_req *req, void *arg)
{
	struct admin *a = arg;

	reply_json(req, 200, proxier_debug_json(a->proxier));
}

static void
status_page_cb(struct httpd_req *req, void *arg)
{
	struct admin *a = arg;
	struct evbuffer *b = evbuffer_new();
	cJSON *services;

	if (b != NULL) {
		services = proxier_debug_json(a->proxier);
		status_page_write(b, a->cfg, services);
		cJSON_Delete(services);
	}
	reply(req, 200, "text/html; charset=utf-8", b);
}

static void
proxy_mode_cb(struct httpd_req *req, void *arg)
{
	(void)arg;
	httpd_reply_text(req, 200, "userspace");
}

static void
configz_cb(struct httpd_req *req, void *arg)
{
	struct admin *a = arg;
	struct evbuffer *b = evbuffer_new();
	char *s = config_to_json(a->cfg);

	if (b != NULL)
		evbuffer_add(b, s, strlen(s));
	reply(req, 200, "application/json", b);
	free(s);
}

/* An admin server on addr, or NULL with one line logged. */
static struct httpd *
admin_listen(struct event_base *base, const char *flag, const char *str,
    const union addr *addr)
{
	struct httpd *h;

	if ((h = httpd_new(base, flag, NULL, 0)) == NULL ||
	    httpd_listen(h, addr) == -1) {
		log_warn("%s %s: cannot listen", flag, str);
		httpd_free(h);
		return NULL;
	}
	return h;
}

struct admin *
admin_new(struct event_base *base, const struct config *cfg,
    struct proxier *proxier)
{
	struct admin *a = xcalloc(1, sizeof(*a));
	struct httpd *h;

	a->cfg = cfg;
	a->proxier = proxier;
	if (cfg->healthz_str[0] != '\0') {
		if ((h = a->healthz = admin_listen(base, "--healthz-bind-address",
		    cfg->healthz_str, &cfg->healthz_address)) == NULL)
			goto fail;
		httpd_route(h, "/healthz", healthz_cb, a);
		httpd_route(h, "/livez", livez_cb, a);
	}
	if (cfg->metrics_str[0] != '\0') {
		if ((h = a->metrics = admin_listen(base, "--metrics-bind-address",
		    cfg->metrics_str, &cfg->metrics_address)) == NULL)
			goto fail;
		a->history = history_new(base, proxier);
		httpd_route(h, "/", status_page_cb, a);
		httpd_route(h, "/metrics", metrics_cb, a);
		httpd_route(h, "/debug/services", debug_services_cb, a);
		httpd_route(h, "/debug/history", history_http_cb, a->history);
		httpd_route(h, "/proxyMode", proxy_mode_cb, a);
		httpd_route(h, "/configz", configz_cb, a);
		/* kube-proxy serves these on the metrics port too. */
		httpd_route(h, "/healthz", healthz_cb, a);
		httpd_route(h, "/livez", livez_cb, a);
	}
	return a;
fail:
	admin_free(a);
	return NULL;
}

void
admin_free(struct admin *a)
{
	if (a == NULL)
		return;
	httpd_free(a->healthz);
	httpd_free(a->metrics);
	free(a->writers);
	history_free(a->history);
	free(a);
}

void
admin_add_metrics(struct admin *a, void (*write)(void *, struct evbuffer *),
    void *arg)
{
	a->writers = xreallocarray(a->writers, a->n_writers + 1,
	    sizeof(*a->writers));
	a->writers[a->n_writers].write = write;
	a->writers[a->n_writers].arg = arg;
	a->n_writers++;
}
