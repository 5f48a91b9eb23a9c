/*
 * admin.c - the HTTP endpoints, served by libevent's evhttp.
 *
 * Two servers, as kube-proxy has: the healthz address (/healthz, /livez),
 * open to the node's health checkers, and the metrics address (/metrics,
 * /debug/services, /proxyMode, /configz, and / for people: the status
 * page), loopback by default.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "admin.h"
#include "config.h"
#include "history.h"
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
	struct evhttp		*healthz;
	struct evhttp		*metrics;
	uint64_t		 healthz_200;	/* /healthz answers by code */
	uint64_t		 healthz_503;
	uint64_t		 livez_200;
	struct metrics_writer	*writers;	/* admin_add_metrics */
	size_t			 n_writers;
	struct history		*history;	/* the status page's sparklines */
};

static void
reply(struct evhttp_request *req, int code, const char *type,
    struct evbuffer *body)
{
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", type);
	evhttp_send_reply(req, code, code == 200 ? "OK" :
	    code == 503 ? "Service Unavailable" : "Not Found", body);
}

static void
reply_text(struct evhttp_request *req, int code, const char *text)
{
	struct evbuffer *b = evbuffer_new();

	evbuffer_add(b, text, strlen(text));
	reply(req, code, "text/plain; charset=utf-8", b);
	evbuffer_free(b);
}

static void
reply_json(struct evhttp_request *req, int code, cJSON *json)
{
	struct evbuffer *b = evbuffer_new();
	char *s = cJSON_PrintUnformatted(json);

	evbuffer_add(b, s, strlen(s));
	evbuffer_add(b, "\n", 1);
	reply(req, code, "application/json", b);
	evbuffer_free(b);
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
 */
static void
healthz_cb(struct evhttp_request *req, void *arg)
{
	struct admin *a = arg;
	cJSON *o = cJSON_CreateObject();
	char buf[32];

	cJSON_AddStringToObject(o, "lastUpdated",
	    rfc3339(proxier_last_update(a->proxier), buf, sizeof(buf)));
	cJSON_AddStringToObject(o, "currentTime",
	    rfc3339(time(NULL), buf, sizeof(buf)));
	if (proxier_healthy(a->proxier)) {
		a->healthz_200++;
		reply_json(req, 200, o);
	} else {
		a->healthz_503++;
		reply_json(req, 503, o);
	}
}

static void
livez_cb(struct evhttp_request *req, void *arg)
{
	struct admin *a = arg;

	a->livez_200++;
	reply_text(req, 200, "ok\n");
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
metrics_cb(struct evhttp_request *req, void *arg)
{
	struct admin *a = arg;
	struct evbuffer *b = evbuffer_new();
	size_t i;

	write_probe_counts(a, b);
	proxier_write_metrics(a->proxier, b);
	metrics_family(b, "kube_uproxy_service_ports", "gauge",
	    "Service ports with a proxy socket.");
	metrics_sample(b, "kube_uproxy_service_ports", NULL,
	    (double)proxier_count(a->proxier));
	for (i = 0; i < a->n_writers; i++)
		a->writers[i].write(a->writers[i].arg, b);
	reply(req, 200, "text/plain; version=0.0.4; charset=utf-8", b);
	evbuffer_free(b);
}

static void
debug_services_cb(struct evhttp_request *req, void *arg)
{
	struct admin *a = arg;

	reply_json(req, 200, proxier_debug_json(a->proxier));
}

static void
status_page_cb(struct evhttp_request *req, void *arg)
{
	struct admin *a = arg;
	struct evbuffer *b = evbuffer_new();
	cJSON *services = proxier_debug_json(a->proxier);

	status_page_write(b, a->cfg, services);
	cJSON_Delete(services);
	reply(req, 200, "text/html; charset=utf-8", b);
	evbuffer_free(b);
}

static void
proxy_mode_cb(struct evhttp_request *req, void *arg)
{
	(void)arg;
	reply_text(req, 200, "userspace");
}

static void
configz_cb(struct evhttp_request *req, void *arg)
{
	struct admin *a = arg;
	struct evbuffer *b = evbuffer_new();
	char *s = config_to_json(a->cfg);

	evbuffer_add(b, s, strlen(s));
	reply(req, 200, "application/json", b);
	evbuffer_free(b);
	free(s);
}

static void
notfound_cb(struct evhttp_request *req, void *arg)
{
	(void)arg;
	reply_text(req, 404, "404 page not found\n");
}

static struct evhttp *
admin_listen(struct event_base *base, const char *flag, const char *str,
    const union addr *addr)
{
	struct evhttp *http;
	char ip[ADDR_STRLEN];

	if (str == NULL || str[0] == '\0')
		return NULL;
	if ((http = evhttp_new(base)) == NULL)
		fatalx("evhttp_new");
	addr_str(addr, 0, ip, sizeof(ip));
	if (evhttp_bind_socket(http, ip, addr_port(addr)) == -1) {
		log_warn("%s %s: cannot listen", flag, str);
		evhttp_free(http);
		return NULL;
	}
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_gencb(http, notfound_cb, NULL);
	return http;
}

struct admin *
admin_new(struct event_base *base, const struct config *cfg,
    struct proxier *proxier)
{
	struct admin *a = xcalloc(1, sizeof(*a));

	a->cfg = cfg;
	a->proxier = proxier;
	if (cfg->healthz_str[0] != '\0') {
		a->healthz = admin_listen(base, "--healthz-bind-address",
		    cfg->healthz_str, &cfg->healthz_address);
		if (a->healthz == NULL)
			goto fail;
		evhttp_set_cb(a->healthz, "/healthz", healthz_cb, a);
		evhttp_set_cb(a->healthz, "/livez", livez_cb, a);
	}
	if (cfg->metrics_str[0] != '\0') {
		a->metrics = admin_listen(base, "--metrics-bind-address",
		    cfg->metrics_str, &cfg->metrics_address);
		if (a->metrics == NULL)
			goto fail;
		evhttp_set_cb(a->metrics, "/", status_page_cb, a);
		evhttp_set_cb(a->metrics, "/metrics", metrics_cb, a);
		evhttp_set_cb(a->metrics, "/debug/services", debug_services_cb, a);
		a->history = history_new(base, proxier);
		evhttp_set_cb(a->metrics, "/debug/history", history_http_cb,
		    a->history);
		evhttp_set_cb(a->metrics, "/proxyMode", proxy_mode_cb, a);
		evhttp_set_cb(a->metrics, "/configz", configz_cb, a);
		/* kube-proxy serves these on the metrics port too. */
		evhttp_set_cb(a->metrics, "/healthz", healthz_cb, a);
		evhttp_set_cb(a->metrics, "/livez", livez_cb, a);
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
	if (a->healthz != NULL)
		evhttp_free(a->healthz);
	if (a->metrics != NULL)
		evhttp_free(a->metrics);
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
