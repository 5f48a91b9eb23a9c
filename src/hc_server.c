/*
 * hc_server.c - the health check node port of one Service (see
 * hc_server.h).
 *
 * The HTTP side is httpd.c's bounded server, the admin listeners' own,
 * fed with sockets made here: proxy_socket gives the dual-stack wildcard
 * that a NodePort's hold uses too, so IPv4 and IPv6 probes both arrive.
 * What the answer says is kube-proxy's (hcHandler.ServeHTTP): any method
 * httpd serves (GET, HEAD) on any path; the local endpoint count in
 * the body and in X-Load-Balancing-Endpoint-Weight; 200 only with a local
 * endpoint and a healthy proxy.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "bounds.h"
#include "hc_server.h"
#include "httpd.h"
#include "log.h"
#include "proxy_socket.h"
#include "util.h"

#define HC_BACKLOG	128

struct hc_server {
	struct event_base	*hs_base;
	char			*hs_ns;
	char			*hs_name;
	char			*hs_flag;	/* "health check node port of ns/name" */
	int			(*hs_healthy)(void *);
	void			*hs_arg;
	struct httpd		*hs_http;	/* NULL while not listening */
	uint16_t		 hs_port;
	unsigned		 hs_local;
};

/* Over every server: connections (the shared bound) and answers. */
static size_t	 hc_conns;
static uint64_t	 hc_ok, hc_unavailable;

static void
hc_answer_cb(struct httpd_req *req, void *arg)
{
	struct hc_server *hs = arg;
	struct evbuffer *b;
	cJSON *o, *svc;
	char *s, headers[128];
	int healthy, code;

	healthy = hs->hs_healthy(hs->hs_arg) != 0;
	code = hs->hs_local > 0 && healthy ? 200 : 503;
	if (code == 200)
		hc_ok++;
	else
		hc_unavailable++;

	o = cJSON_CreateObject();
	svc = cJSON_AddObjectToObject(o, "service");
	cJSON_AddStringToObject(svc, "namespace", hs->hs_ns);
	cJSON_AddStringToObject(svc, "name", hs->hs_name);
	cJSON_AddNumberToObject(o, "localEndpoints", hs->hs_local);
	cJSON_AddBoolToObject(o, "serviceProxyHealthy", healthy);
	s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (s == NULL || (b = evbuffer_new()) == NULL) {
		free(s);
		httpd_reply_text(req, 500, "500 out of memory\n");
		return;
	}
	evbuffer_add(b, s, strlen(s));
	free(s);
	snprintf(headers, sizeof(headers), "X-Content-Type-Options: nosniff\r\n"
	    "X-Load-Balancing-Endpoint-Weight: %u\r\n", hs->hs_local);
	httpd_reply(req, code, "application/json", headers, b);
	evbuffer_free(b);
}

struct hc_server *
hc_server_new(struct event_base *base, const char *ns, const char *name,
    int (*healthy)(void *), void *arg)
{
	struct hc_server *hs = xcalloc(1, sizeof(*hs));

	hs->hs_base = base;
	hs->hs_ns = xstrdup(ns);
	hs->hs_name = xstrdup(name);
	hs->hs_flag = xasprintf("health check node port of %s/%s", ns, name);
	hs->hs_healthy = healthy;
	hs->hs_arg = arg;
	return hs;
}

void
hc_server_close(struct hc_server *hs)
{
	/* Frees the listeners, their sockets and connections. */
	httpd_free(hs->hs_http);
	hs->hs_http = NULL;
	hs->hs_port = 0;
}

void
hc_server_free(struct hc_server *hs)
{
	if (hs == NULL)
		return;
	hc_server_close(hs);
	free(hs->hs_ns);
	free(hs->hs_name);
	free(hs->hs_flag);
	free(hs);
}

/* A listening socket on addr:port, or -1 with errno. */
static int
hc_socket(const union addr *addr, uint16_t port)
{
	union addr a = *addr, as;
	int fd, one = 1, saved;

	addr_set_port(&a, port);
	if ((fd = proxy_socket(&a, SOCK_STREAM, &as)) == -1)
		return -1;
	/*
	 * SO_REUSEADDR as Go's listeners (kube-proxy's) set it: a restart
	 * rebinds at once despite TIME_WAIT.  A listening socket still
	 * keeps any other program from listening on the port.
	 */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    bind(fd, &as.sa, addr_len(&as)) == -1 ||
	    listen(fd, HC_BACKLOG) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

int
hc_server_listen(struct hc_server *hs, uint16_t port,
    const union addr *addrs, size_t n)
{
	struct httpd *h;
	size_t i;
	int fd, saved;

	if (hs->hs_http != NULL && hs->hs_port == port)
		return 0;
	hc_server_close(hs);
	if ((h = httpd_new(hs->hs_base, hs->hs_flag, &hc_conns,
	    BOUND_HEALTH_CHECK_CONNECTIONS)) == NULL)
		return -1;
	httpd_route(h, NULL, hc_answer_cb, hs);
	for (i = 0; i < n; i++) {
		if ((fd = hc_socket(&addrs[i], port)) == -1)
			goto fail;
		if (httpd_accept_fd(h, fd) == -1) {
			saved = errno;
			close(fd);
			errno = saved;
			goto fail;
		}
	}
	hs->hs_http = h;
	hs->hs_port = port;
	log_debug(1, "%s: listening on %u", hs->hs_flag, port);
	return 0;
fail:
	saved = errno;
	httpd_free(h);
	errno = saved;
	return -1;
}

uint16_t
hc_server_port(const struct hc_server *hs)
{
	return hs->hs_port;
}

void
hc_server_set_local(struct hc_server *hs, unsigned n)
{
	if (n != hs->hs_local)
		log_debug(2, "%s: %u local endpoints", hs->hs_flag, n);
	hs->hs_local = n;
}

unsigned
hc_server_local(const struct hc_server *hs)
{
	return hs->hs_local;
}

void
hc_server_answers(uint64_t *ok, uint64_t *unavailable)
{
	*ok = hc_ok;
	*unavailable = hc_unavailable;
}

size_t
hc_server_connections(void)
{
	return hc_conns;
}
