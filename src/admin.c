/*
 * admin.c - the HTTP endpoints, served by libevent's evhttp.
 *
 * Two servers, as kube-proxy has: the healthz address (/healthz, /livez),
 * open to the node's health checkers, and the metrics address (/metrics,
 * /debug/services, /proxyMode, /configz), loopback by default.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "admin.h"
#include "config.h"
#include "log.h"
#include "metrics.h"
#include "proxier.h"
#include "util.h"

struct admin {
	const struct config	*cfg;
	struct proxier		*proxier;
	struct evhttp		*healthz;
	struct evhttp		*metrics;
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
	reply_json(req, proxier_healthy(a->proxier) ? 200 : 503, o);
}

static void
livez_cb(struct evhttp_request *req, void *arg)
{
	(void)arg;
	reply_text(req, 200, "ok\n");
}

static void
metrics_cb(struct evhttp_request *req, void *arg)
{
	struct admin *a = arg;
	struct evbuffer *b = evbuffer_new();
	struct port_stats total;
	uint64_t requested, syncs, failed;

	proxier_totals(a->proxier, &total);
	metrics_write(b, &total, proxier_count(a->proxier));
	proxier_rule_syncs(a->proxier, &requested, &syncs, &failed);
	evbuffer_add_printf(b,
	    "# HELP kube_uproxy_rule_sync_requests_total Rule syncs asked for by service changes.\n"
	    "# TYPE kube_uproxy_rule_sync_requests_total counter\n"
	    "kube_uproxy_rule_sync_requests_total %llu\n"
	    "# HELP kube_uproxy_rule_syncs_total Syncs of the nat rules that succeeded.\n"
	    "# TYPE kube_uproxy_rule_syncs_total counter\n"
	    "kube_uproxy_rule_syncs_total %llu\n"
	    "# HELP kube_uproxy_rule_sync_failures_total Syncs of the nat rules that failed.\n"
	    "# TYPE kube_uproxy_rule_sync_failures_total counter\n"
	    "kube_uproxy_rule_sync_failures_total %llu\n",
	    (unsigned long long)requested, (unsigned long long)syncs,
	    (unsigned long long)failed);
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
		evhttp_set_cb(a->metrics, "/metrics", metrics_cb, a);
		evhttp_set_cb(a->metrics, "/debug/services", debug_services_cb, a);
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
	free(a);
}
