/*
 * admin.c - the HTTP endpoints, served by libevent's evhttp.
 *
 * Two servers, as kube-proxy has: the healthz address (/healthz, /livez),
 * open to the node's health checkers, and the metrics address (/metrics,
 * /debug/services, /proxyMode, /configz, and / for people: the status
 * page), loopback by default.
 *
 * The healthz address is open to whatever reaches the node, so each server
 * is bounded (bounds.h): request line and headers, body, idle time (a
 * connection stalled reading or writing is closed, by evhttp's timeout)
 * and connections.  evhttp of libevent 2.1 has no connection limit, so
 * connections are counted here: each one gets its bufferevent from
 * conn_bev_cb; once evhttp has wired it up (the same loop turn, before
 * any byte is read: adopt_cb) the connection is either refused (freed at
 * once) or counted until its close callback.
 */
#include <sys/queue.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <event2/bufferevent.h>
#include <event2/listener.h>

#include "admin.h"
#include "bounds.h"
#include "config.h"
#include "history.h"
#include "log.h"
#include "metrics.h"
#include "proxier.h"
#include "status_page.h"
#include "util.h"

/* A full server closes its connection idle longest, if idle this long. */
#define ADMIN_IDLE_EVICT_MS	1000
/* Accepts off after EMFILE and friends, as the proxy listeners do. */
#define ADMIN_ACCEPT_PAUSE_MS	100

struct metrics_writer {
	void	(*write)(void *, struct evbuffer *);
	void	*arg;
};

/* A counted connection of one admin server. */
struct admin_conn {
	struct evhttp_connection *ac_evcon;	/* NULL: free slot */
	uint64_t		 ac_active;	/* mono_ms of accept or last request */
};

/*
 * One bounded HTTP server (healthz, metrics, or a Service's health check
 * node port: admin_server_new) and its connections.
 */
struct admin_server {
	TAILQ_ENTRY(admin_server) as_entry;	/* on `listening` */
	int			 as_listed;
	/*
	 * A bound shared with other servers (the health check node ports):
	 * connections of all of them, at most as_total_max.  NULL: none.
	 */
	size_t			*as_total;
	size_t			 as_total_max;
	struct evhttp		*as_http;
	const char		*as_flag;	/* "--healthz-bind-address" */
	const char		*as_name;	/* metric label */
	struct event		*as_adopt_ev;	/* adopt_cb, made active */
	/* One per bound socket (a health check port may have several). */
	struct evconnlistener	**as_listeners;	/* each owned by as_http */
	size_t			 as_nlisteners;
	struct event		*as_resume_ev;	/* accept again after a pause */
	int			 as_pause_logged; /* since the last accept */
	struct bufferevent	**as_pending;	/* accepted, not yet adopted */
	size_t			 as_npending, as_pending_cap;
	struct admin_conn	 as_tab[BOUND_ADMIN_CONNECTIONS];
	size_t			 as_conns;	/* slots in use */
	uint64_t		 as_refused;	/* closed at once: all busy */
	uint64_t		 as_evicted;	/* closed to make room: idle */
	int			 as_full;	/* logged being full */
};

struct admin {
	const struct config	*cfg;
	struct proxier		*proxier;
	struct admin_server	 healthz;
	struct admin_server	 metrics;
	uint64_t		 healthz_200;	/* /healthz answers by code */
	uint64_t		 healthz_503;
	uint64_t		 livez_200;
	struct metrics_writer	*writers;	/* admin_add_metrics */
	size_t			 n_writers;
	struct history		*history;	/* the status page's sparklines */
};

static void	conn_touch(struct admin *, struct evhttp_request *);

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
 * 503 too while our Node is being deleted (proxier_node_eligible).
 */
static void
healthz_cb(struct evhttp_request *req, void *arg)
{
	struct admin *a = arg;
	cJSON *o = cJSON_CreateObject();
	char buf[32];
	int eligible;

	conn_touch(a, req);

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
livez_cb(struct evhttp_request *req, void *arg)
{
	struct admin *a = arg;

	conn_touch(a, req);

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
write_conn_counts(struct admin *a, struct evbuffer *b)
{
	const struct admin_server *servers[] = { &a->healthz, &a->metrics };
	const char *labels[] = { "listener", NULL, NULL };
	size_t i;

	metrics_family(b, "kube_uproxy_admin_connections", "gauge",
	    "Open connections to an admin HTTP listener.");
	for (i = 0; i < 2; i++) {
		if (servers[i]->as_http == NULL)
			continue;
		labels[1] = servers[i]->as_name;
		metrics_sample(b, "kube_uproxy_admin_connections", labels,
		    (double)servers[i]->as_conns);
	}
	metrics_family(b, "kube_uproxy_admin_connections_refused_total",
	    "counter", "Admin HTTP connections closed at once: the listener "
	    "had BOUND_ADMIN_CONNECTIONS open, none of them idle.");
	for (i = 0; i < 2; i++) {
		if (servers[i]->as_http == NULL)
			continue;
		labels[1] = servers[i]->as_name;
		metrics_sample(b, "kube_uproxy_admin_connections_refused_total",
		    labels, (double)servers[i]->as_refused);
	}
	metrics_family(b, "kube_uproxy_admin_connections_evicted_total",
	    "counter", "Idle admin HTTP connections closed to make room for "
	    "a new one (BOUND_ADMIN_CONNECTIONS open).");
	for (i = 0; i < 2; i++) {
		if (servers[i]->as_http == NULL)
			continue;
		labels[1] = servers[i]->as_name;
		metrics_sample(b, "kube_uproxy_admin_connections_evicted_total",
		    labels, (double)servers[i]->as_evicted);
	}
}

static void
metrics_cb(struct evhttp_request *req, void *arg)
{
	struct admin *a = arg;
	struct evbuffer *b = evbuffer_new();
	size_t i;

	conn_touch(a, req);

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
	evbuffer_free(b);
}

static void
debug_services_cb(struct evhttp_request *req, void *arg)
{
	struct admin *a = arg;

	conn_touch(a, req);

	reply_json(req, 200, proxier_debug_json(a->proxier));
}

static void
status_page_cb(struct evhttp_request *req, void *arg)
{
	struct admin *a = arg;
	struct evbuffer *b = evbuffer_new();
	cJSON *services = proxier_debug_json(a->proxier);

	conn_touch(a, req);

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

	conn_touch(a, req);

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

static struct admin_conn *
conn_find(struct admin_server *as, const struct evhttp_connection *evcon)
{
	size_t i;

	for (i = 0; i < BOUND_ADMIN_CONNECTIONS; i++)
		if (as->as_tab[i].ac_evcon == evcon)
			return &as->as_tab[i];
	return NULL;
}

/* A request came in on a connection: it is active, not idle. */
static void
conn_touch(struct admin *a, struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct admin_conn *ac;

	if (evcon == NULL)
		return;
	if ((ac = conn_find(&a->healthz, evcon)) == NULL)
		ac = conn_find(&a->metrics, evcon);
	if (ac != NULL)
		ac->ac_active = mono_ms();
}

/* evhttp_connection_set_closecb: a counted connection went away. */
static void
conn_closed_cb(struct evhttp_connection *evcon, void *arg)
{
	struct admin_server *as = arg;
	struct admin_conn *ac;

	if ((ac = conn_find(as, evcon)) == NULL)
		return;
	ac->ac_evcon = NULL;
	as->as_conns--;
	if (as->as_total != NULL)
		(*as->as_total)--;
	if (as->as_full && as->as_conns < BOUND_ADMIN_CONNECTIONS / 2) {
		log_info("%s: %zu connections open, accepting again",
		    as->as_flag, as->as_conns);
		as->as_full = 0;
	}
}

/*
 * The server is full: make room by closing the connection idle longest,
 * if it has been idle ADMIN_IDLE_EVICT_MS (a client that connected and
 * sent no complete request, or a keep-alive one between requests: a
 * slowloris trickle is not a request).  Otherwise every connection is
 * busy and the new one is refused.  Without this, BOUND_ADMIN_CONNECTIONS
 * idle connections, reopened as the idle timeout closes them, would keep
 * the node's health checker out for good.  Returns 0 if a slot is free.
 */
static int
conn_make_room(struct admin_server *as)
{
	struct admin_conn *oldest = NULL;
	uint64_t now = mono_ms();
	size_t i;

	for (i = 0; i < BOUND_ADMIN_CONNECTIONS; i++)
		if (as->as_tab[i].ac_evcon != NULL && (oldest == NULL ||
		    as->as_tab[i].ac_active < oldest->ac_active))
			oldest = &as->as_tab[i];
	if (oldest == NULL || now - oldest->ac_active < ADMIN_IDLE_EVICT_MS)
		return -1;
	as->as_evicted++;
	evhttp_connection_free(oldest->ac_evcon);	/* conn_closed_cb */
	return 0;
}

/*
 * Connections accepted in this loop turn: evhttp has set each one's
 * callbacks (their argument is the connection) and read nothing yet.
 * Count it, or close it at once when the server is full and busy.  A
 * bufferevent whose callbacks are gone was freed by evhttp meanwhile: our
 * reference (conn_bev_cb) kept its memory for this look.
 */
static void
adopt_cb(evutil_socket_t fd, short what, void *arg)
{
	struct admin_server *as = arg;
	struct evhttp_connection *evcon;
	struct admin_conn *ac;
	bufferevent_event_cb eventcb;
	void *cbarg;
	size_t i;

	(void)fd;
	(void)what;
	for (i = 0; i < as->as_npending; i++) {
		bufferevent_getcb(as->as_pending[i], NULL, NULL, &eventcb,
		    &cbarg);
		evcon = cbarg;
		if (eventcb == NULL || evcon == NULL)
			goto next;
		if (as->as_conns == BOUND_ADMIN_CONNECTIONS ||
		    (as->as_total != NULL &&
		    *as->as_total >= as->as_total_max)) {
			if (!as->as_full && as->as_conns ==
			    BOUND_ADMIN_CONNECTIONS)
				log_warnx("%s: %d connections open "
				    "(BOUND_ADMIN_CONNECTIONS): closing the idle "
				    "or the new ones", as->as_flag,
				    BOUND_ADMIN_CONNECTIONS);
			else if (!as->as_full)
				log_warnx("%s: %zu connections open over all "
				    "health check node ports "
				    "(BOUND_HEALTH_CHECK_CONNECTIONS): closing "
				    "this one's idle or new ones", as->as_flag,
				    as->as_total_max);
			as->as_full = 1;
			if (conn_make_room(as) == -1) {
				as->as_refused++;
				evhttp_connection_free(evcon);
				goto next;
			}
		}
		ac = conn_find(as, NULL);	/* there is a free slot */
		ac->ac_evcon = evcon;
		ac->ac_active = mono_ms();
		as->as_conns++;
		if (as->as_total != NULL)
			(*as->as_total)++;
		evhttp_connection_set_closecb(evcon, conn_closed_cb, as);
next:
		bufferevent_decref(as->as_pending[i]);
	}
	as->as_npending = 0;
}

/* evhttp_set_bevcb: a connection was accepted; its fd is set after this. */
static struct bufferevent *
conn_bev_cb(struct event_base *base, void *arg)
{
	struct admin_server *as = arg;
	struct bufferevent *bev;

	as->as_pause_logged = 0;	/* an accept worked */
	if ((bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE))
	    == NULL)
		return NULL;	/* evhttp makes one itself: not counted */
	if (as->as_npending == as->as_pending_cap) {
		as->as_pending_cap = as->as_pending_cap ?
		    as->as_pending_cap * 2 : 16;
		as->as_pending = xreallocarray(as->as_pending,
		    as->as_pending_cap, sizeof(*as->as_pending));
	}
	bufferevent_incref(bev);
	as->as_pending[as->as_npending++] = bev;
	event_active(as->as_adopt_ev, EV_READ, 0);
	return bev;
}

/*
 * The servers listening now, for listener_error_cb: evhttp owns the
 * listener and its callback argument, so that is how it finds its server.
 */
static TAILQ_HEAD(, admin_server) listening =
    TAILQ_HEAD_INITIALIZER(listening);

/*
 * accept() failed for a reason that retrying at once cannot cure (no
 * descriptor left, no memory).  Without this callback libevent retries on
 * the next loop turn, forever, with one warning each: a spinning loop and
 * a flooded log while a client waits in the backlog.  Stop accepting for
 * a while instead, and say so once per episode.
 */
static void
listener_error_cb(struct evconnlistener *l, void *arg)
{
	struct admin_server *as;
	struct timeval tv = { 0, ADMIN_ACCEPT_PAUSE_MS * 1000 };
	int err = EVUTIL_SOCKET_ERROR();

	/* arg is the listener's own: evhttp's, so find our server by it. */
	TAILQ_FOREACH(as, &listening, as_entry)
		if (as->as_http == arg)
			break;
	evconnlistener_disable(l);
	if (as == NULL)
		return;		/* not ours: cannot happen */
	event_add(as->as_resume_ev, &tv);
	if (!as->as_pause_logged) {
		log_warnx("%s: accept: %s: not accepting for %d ms at a time "
		    "until it works", as->as_flag,
		    evutil_socket_error_to_string(err), ADMIN_ACCEPT_PAUSE_MS);
		as->as_pause_logged = 1;
	}
}

static void
listener_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct admin_server *as = arg;
	size_t i;

	(void)fd;
	(void)what;
	for (i = 0; i < as->as_nlisteners; i++)
		evconnlistener_enable(as->as_listeners[i]);
}

/* The evhttp of a server with the bounds of bounds.h, not listening yet. */
static void
admin_server_init(struct admin_server *as, struct event_base *base,
    const char *flag, const char *name)
{
	as->as_flag = flag;
	as->as_name = name;
	if ((as->as_http = evhttp_new(base)) == NULL)
		fatalx("evhttp_new");
	if ((as->as_adopt_ev = event_new(base, -1, 0, adopt_cb, as)) == NULL ||
	    (as->as_resume_ev = evtimer_new(base, listener_resume_cb, as)) ==
	    NULL)
		fatalx("event_new");
	evhttp_set_allowed_methods(as->as_http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_max_headers_size(as->as_http, BOUND_ADMIN_HEADERS_BYTES);
	evhttp_set_max_body_size(as->as_http, BOUND_ADMIN_BODY_BYTES);
	evhttp_set_timeout(as->as_http, BOUND_ADMIN_IDLE_S);
	evhttp_set_bevcb(as->as_http, conn_bev_cb, as);
	evhttp_set_gencb(as->as_http, notfound_cb, NULL);
}

/* The listener evhttp made for `bound` is ours to pause and resume. */
static void
admin_server_bound(struct admin_server *as, struct evhttp_bound_socket *bound)
{
	struct evconnlistener *l = evhttp_bound_socket_get_listener(bound);

	as->as_listeners = xreallocarray(as->as_listeners,
	    as->as_nlisteners + 1, sizeof(*as->as_listeners));
	as->as_listeners[as->as_nlisteners++] = l;
	evconnlistener_set_error_cb(l, listener_error_cb);
	if (!as->as_listed) {
		TAILQ_INSERT_TAIL(&listening, as, as_entry);
		as->as_listed = 1;
	}
}

/*
 * Listen on `addr` with the bounds of bounds.h.  Returns 0, or -1 with
 * one line logged (as is then empty).
 */
static int
admin_listen(struct admin_server *as, struct event_base *base,
    const char *flag, const char *name, const char *str,
    const union addr *addr)
{
	struct evhttp_bound_socket *bound;
	char ip[ADDR_STRLEN];

	admin_server_init(as, base, flag, name);
	addr_str(addr, 0, ip, sizeof(ip));
	if ((bound = evhttp_bind_socket_with_handle(as->as_http, ip,
	    addr_port(addr))) == NULL) {
		log_warn("%s %s: cannot listen", flag, str);
		return -1;
	}
	admin_server_bound(as, bound);
	return 0;
}

static void
admin_server_free_fields(struct admin_server *as)
{
	size_t i;

	if (as->as_listed)
		TAILQ_REMOVE(&listening, as, as_entry);
	/* evhttp_free closes every connection: conn_closed_cb runs. */
	if (as->as_http != NULL)
		evhttp_free(as->as_http);
	for (i = 0; i < as->as_npending; i++)
		bufferevent_decref(as->as_pending[i]);
	if (as->as_adopt_ev != NULL)
		event_free(as->as_adopt_ev);
	if (as->as_resume_ev != NULL)
		event_free(as->as_resume_ev);
	free(as->as_pending);
	free(as->as_listeners);
	memset(as, 0, sizeof(*as));
}

struct admin_server *
admin_server_new(struct event_base *base, const char *flag,
    const char *name, size_t *total, size_t total_max)
{
	struct admin_server *as = xcalloc(1, sizeof(*as));

	admin_server_init(as, base, flag, name);
	as->as_total = total;
	as->as_total_max = total_max;
	return as;
}

int
admin_server_accept_fd(struct admin_server *as, int fd)
{
	struct evhttp_bound_socket *bound;

	if ((bound = evhttp_accept_socket_with_handle(as->as_http, fd)) ==
	    NULL)
		return -1;
	admin_server_bound(as, bound);
	return 0;
}

struct evhttp *
admin_server_http(struct admin_server *as)
{
	return as->as_http;
}

void
admin_server_touch(struct admin_server *as, struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct admin_conn *ac;

	if (evcon != NULL && (ac = conn_find(as, evcon)) != NULL)
		ac->ac_active = mono_ms();
}

void
admin_server_counts(const struct admin_server *as, size_t *open,
    uint64_t *refused, uint64_t *evicted)
{
	*open = as->as_conns;
	*refused = as->as_refused;
	*evicted = as->as_evicted;
}

void
admin_server_free(struct admin_server *as)
{
	if (as == NULL)
		return;
	admin_server_free_fields(as);
	free(as);
}

struct admin *
admin_new(struct event_base *base, const struct config *cfg,
    struct proxier *proxier)
{
	struct admin *a = xcalloc(1, sizeof(*a));

	a->cfg = cfg;
	a->proxier = proxier;
	if (cfg->healthz_str[0] != '\0') {
		if (admin_listen(&a->healthz, base, "--healthz-bind-address",
		    "healthz", cfg->healthz_str, &cfg->healthz_address) == -1)
			goto fail;
		evhttp_set_cb(a->healthz.as_http, "/healthz", healthz_cb, a);
		evhttp_set_cb(a->healthz.as_http, "/livez", livez_cb, a);
	}
	if (cfg->metrics_str[0] != '\0') {
		if (admin_listen(&a->metrics, base, "--metrics-bind-address",
		    "metrics", cfg->metrics_str, &cfg->metrics_address) == -1)
			goto fail;
		evhttp_set_cb(a->metrics.as_http, "/", status_page_cb, a);
		evhttp_set_cb(a->metrics.as_http, "/metrics", metrics_cb, a);
		evhttp_set_cb(a->metrics.as_http, "/debug/services", debug_services_cb, a);
		a->history = history_new(base, proxier);
		evhttp_set_cb(a->metrics.as_http, "/debug/history",
		    history_http_cb, a->history);
		evhttp_set_cb(a->metrics.as_http, "/proxyMode", proxy_mode_cb, a);
		evhttp_set_cb(a->metrics.as_http, "/configz", configz_cb, a);
		/* kube-proxy serves these on the metrics port too. */
		evhttp_set_cb(a->metrics.as_http, "/healthz", healthz_cb, a);
		evhttp_set_cb(a->metrics.as_http, "/livez", livez_cb, a);
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
	admin_server_free_fields(&a->healthz);
	admin_server_free_fields(&a->metrics);
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
