/*
 * show.c - `kube-uproxy show`: the running daemon's service ports, as
 * `ipvsadm -Ln` shows the kernel's virtual servers.
 *
 * The daemon already knows everything: this command fetches
 * /debug/services from its metrics address (libcurl, blocking: a CLI has
 * nothing else to do) and prints it.  Text and JSON come out of ONE walk
 * of the data (the iproute2 json_print idea): every field is handed to
 * pr_str/pr_num with both its JSON key and its text format, and the
 * printer's mode decides which one is used.  So the two forms cannot
 * drift apart.
 *
 *   Prot Service port                ProxyPort Scheduler Flags
 *     -> Endpoint                    ActiveConn Failures Retries
 *   TCP  default/web:http            40123     rr        persistent 10800
 *       198.19.0.10:80 node:30001
 *       internal Cluster: cluster set, 2 (ready)
 *       external Local: local set, 1 (local and ready), proxy port 40124,
 *         health check node port 32000
 *     -> 10.0.0.11:8080              1          0        0
 *     -> 10.0.0.12:8080              0          0        0
 *        Endpoint                    Node (* ours)        State      Traffic
 *        10.0.0.11:8080              node-a*              ready      int ext
 *        10.0.0.12:8080              node-b               ready      int
 *
 * The second table is every endpoint the slices list, whether traffic
 * may use it or not: with traffic policies, terminating endpoints and
 * topology hints, "why does my connection not go there" is answered here.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "config.h"
#include "log.h"
#include "show.h"
#include "util.h"

#define SHOW_TIMEOUT_MS		3000
#define SHOW_MAX_BODY		(64 * 1024 * 1024)
#define PR_DEPTH		8

/* Text or JSON: see the header comment. */
struct printer {
	int	 json;
	cJSON	*stack[PR_DEPTH];	/* open JSON containers; [0] the root */
	int	 depth;
};

static void	pr_text(struct printer *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static void	pr_str(struct printer *, const char *, const char *,
		    const char *, ...) __attribute__((format(printf, 4, 5)));
static void	pr_num(struct printer *, const char *, double,
		    const char *, ...) __attribute__((format(printf, 4, 5)));
static void	pr_bool(struct printer *, const char *, int,
		    const char *, ...) __attribute__((format(printf, 4, 5)));

/* Text mode only: headers, separators, newlines. */
static void
pr_text(struct printer *p, const char *fmt, ...)
{
	va_list ap;

	if (p->json)
		return;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}

/* Add item under key (or to the array) of the innermost open container. */
static void
pr_add(struct printer *p, const char *key, cJSON *item)
{
	cJSON *top = p->stack[p->depth - 1];

	if (cJSON_IsArray(top))
		cJSON_AddItemToArray(top, item);
	else
		cJSON_AddItemToObject(top, key, item);
}

/* A string: `value` in JSON, fmt and its arguments in text. */
static void
pr_str(struct printer *p, const char *key, const char *value,
    const char *fmt, ...)
{
	va_list ap;

	if (p->json) {
		pr_add(p, key, cJSON_CreateString(value));
		return;
	}
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}

static void
pr_num(struct printer *p, const char *key, double value, const char *fmt, ...)
{
	va_list ap;

	if (p->json) {
		pr_add(p, key, cJSON_CreateNumber(value));
		return;
	}
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}

static void
pr_bool(struct printer *p, const char *key, int value, const char *fmt, ...)
{
	va_list ap;

	if (p->json) {
		pr_add(p, key, cJSON_CreateBool(value));
		return;
	}
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}

/* Open an object or array under key (JSON only; text has no nesting). */
static void
pr_open(struct printer *p, const char *key, int array)
{
	cJSON *c;

	if (!p->json)
		return;
	if (p->depth == PR_DEPTH)
		fatalx("show: printer nesting too deep");
	c = array ? cJSON_CreateArray() : cJSON_CreateObject();
	pr_add(p, key, c);
	p->stack[p->depth++] = c;
}

static void
pr_close(struct printer *p)
{
	if (p->json)
		p->depth--;
}

static const char *
jstr(const cJSON *o, const char *key)
{
	const char *s = cJSON_GetStringValue(cJSON_GetObjectItem(o, key));

	return s != NULL ? s : "";
}

static double
jnum(const cJSON *o, const char *key)
{
	const cJSON *n = cJSON_GetObjectItem(o, key);

	return cJSON_IsNumber(n) ? n->valuedouble : 0;
}

/* An address array: IPs in JSON, IP:port (v6 bracketed) in text. */
static void
show_addrs(struct printer *p, const cJSON *svc, const char *key,
    const char *what)
{
	const cJSON *a;
	const char *ip;
	int v6;

	pr_open(p, key, 1);
	cJSON_ArrayForEach(a, cJSON_GetObjectItem(svc, key)) {
		if ((ip = cJSON_GetStringValue(a)) == NULL)
			continue;
		v6 = strchr(ip, ':') != NULL;
		pr_str(p, NULL, ip, " %s%s%s:%.0f%s", v6 ? "[" : "", ip,
		    v6 ? "]" : "", jnum(svc, "port"), what);
	}
	pr_close(p);
}

static int
jbool(const cJSON *o, const char *key)
{
	return cJSON_IsTrue(cJSON_GetObjectItem(o, key));
}

/*
 * One kind of traffic (internalTraffic, externalTraffic): its policy, the
 * set it uses and why.
 */
static void
show_traffic(struct printer *p, const cJSON *svc, const char *key,
    const char *what, const char *policy_key)
{
	const cJSON *t = cJSON_GetObjectItem(svc, key);

	if (!cJSON_IsObject(t))
		return;
	pr_open(p, key, 0);
	pr_str(p, "trafficPolicy", jstr(svc, policy_key), "    %s %s: ", what,
	    jstr(svc, policy_key));
	pr_str(p, "endpointSet", jstr(t, "endpointSet"), "%s set, ",
	    jstr(t, "endpointSet"));
	pr_num(p, "endpoints", jnum(t, "endpoints"), "%.0f ",
	    jnum(t, "endpoints"));
	pr_str(p, "reason", jstr(t, "reason"), "(%s)", jstr(t, "reason"));
	pr_num(p, "proxyPort", jnum(t, "proxyPort"), "%s", "");
	if (jnum(t, "proxyPort") != jnum(svc, "proxyPort"))
		pr_text(p, ", proxy port %.0f", jnum(t, "proxyPort"));
	pr_close(p);
	if (strcmp(key, "externalTraffic") == 0 &&
	    jnum(svc, "healthCheckNodePort") > 0)
		pr_text(p, ", health check node port %.0f",
		    jnum(svc, "healthCheckNodePort"));
	pr_text(p, "\n");
}

/* Every endpoint of the slices, with its state and the traffic it takes. */
static void
show_all_endpoints(struct printer *p, const cJSON *svc)
{
	const cJSON *ep;
	char node[80], state[48];

	pr_open(p, "allEndpoints", 1);
	if (cJSON_GetArraySize(cJSON_GetObjectItem(svc, "allEndpoints")) > 0)
		pr_text(p, "     %-28s %-20s %-18s %s\n", "Endpoint",
		    "Node (* ours)", "State", "Traffic");
	cJSON_ArrayForEach(ep, cJSON_GetObjectItem(svc, "allEndpoints")) {
		pr_open(p, NULL, 0);
		snprintf(node, sizeof(node), "%s%s%s%s",
		    jstr(ep, "nodeName")[0] ? jstr(ep, "nodeName") : "-",
		    jbool(ep, "local") ? "*" : "", jstr(ep, "zone")[0] ? "/" :
		    "", jstr(ep, "zone"));
		snprintf(state, sizeof(state), "%s%s",
		    jbool(ep, "ready") ? "ready" : jbool(ep, "serving") ?
		    "serving" : "not-ready",
		    jbool(ep, "terminating") ? ",terminating" : "");
		pr_str(p, "endpoint", jstr(ep, "endpoint"), "     %-28s ",
		    jstr(ep, "endpoint"));
		pr_str(p, "nodeName", jstr(ep, "nodeName"), "%-20s ", node);
		pr_str(p, "zone", jstr(ep, "zone"), "%s", "");
		pr_bool(p, "local", jbool(ep, "local"), "%s", "");
		pr_bool(p, "ready", jbool(ep, "ready"), "%s", "");
		pr_bool(p, "serving", jbool(ep, "serving"), "%s", "");
		pr_bool(p, "terminating", jbool(ep, "terminating"), "%-18s ",
		    state);
		pr_bool(p, "internal", jbool(ep, "internal"), "%s",
		    jbool(ep, "internal") ? "int" : "");
		pr_bool(p, "external", jbool(ep, "external"), "%s",
		    !jbool(ep, "external") ? "" : jbool(ep, "internal") ?
		    " ext" : "ext");
		if (!jbool(ep, "internal") && !jbool(ep, "external"))
			pr_text(p, "-");
		pr_text(p, "\n");
		pr_close(p);
	}
	pr_close(p);
}

static void
show_endpoints(struct printer *p, const cJSON *svc)
{
	const cJSON *ep;

	pr_open(p, "endpoints", 1);
	if (cJSON_GetArraySize(cJSON_GetObjectItem(svc, "endpointStats")) == 0)
		pr_text(p, "  -> (no ready endpoint)\n");
	cJSON_ArrayForEach(ep, cJSON_GetObjectItem(svc, "endpointStats")) {
		pr_open(p, NULL, 0);
		pr_str(p, "endpoint", jstr(ep, "endpoint"), "  -> %-28s ",
		    jstr(ep, "endpoint"));
		pr_num(p, "activeConnections", jnum(ep, "activeConnections"),
		    "%-10.0f ", jnum(ep, "activeConnections"));
		pr_num(p, "dialFailures", jnum(ep, "dialFailures"), "%-8.0f ",
		    jnum(ep, "dialFailures"));
		pr_num(p, "dialRetries", jnum(ep, "dialRetries"), "%.0f\n",
		    jnum(ep, "dialRetries"));
		pr_close(p);
	}
	pr_close(p);
}

/* The one walk over the data, for both forms. */
static void
show_services(struct printer *p, const cJSON *services)
{
	const cJSON *svc;
	char name[512];
	int client_ip;

	pr_text(p, "Prot Service port                ProxyPort Scheduler "
	    "Flags\n  -> Endpoint                     ActiveConn Failures "
	    "Retries\n");
	pr_open(p, "services", 1);
	cJSON_ArrayForEach(svc, services) {
		pr_open(p, NULL, 0);
		/* The store's key: an unnamed port goes by its number. */
		if (jstr(svc, "portName")[0] != '\0')
			snprintf(name, sizeof(name), "%s:%s",
			    jstr(svc, "service"), jstr(svc, "portName"));
		else
			snprintf(name, sizeof(name), "%s:%.0f",
			    jstr(svc, "service"), jnum(svc, "port"));
		pr_str(p, "protocol", jstr(svc, "protocol"), "%-4s ",
		    jstr(svc, "protocol"));
		pr_str(p, "service", jstr(svc, "service"), "%-28s ", name);
		pr_str(p, "portName", jstr(svc, "portName"), "%s", "");
		pr_num(p, "proxyPort", jnum(svc, "proxyPort"), "%-9.0f ",
		    jnum(svc, "proxyPort"));
		pr_str(p, "scheduler", jstr(svc, "scheduler"), "%-9s ",
		    jstr(svc, "scheduler"));
		client_ip = strcmp(jstr(svc, "sessionAffinity"), "ClientIP") == 0;
		pr_str(p, "sessionAffinity", jstr(svc, "sessionAffinity"), "%s",
		    client_ip ? "persistent " : "");
		pr_num(p, "affinityTimeoutSeconds",
		    jnum(svc, "affinityTimeoutSeconds"), "%s", "");
		if (client_ip)
			pr_text(p, "%.0f", jnum(svc, "affinityTimeoutSeconds"));
		pr_num(p, "activeConnections", jnum(svc, "activeConnections"),
		    "%s", "");
		pr_text(p, "\n    ");
		pr_num(p, "port", jnum(svc, "port"), "%s", "");
		show_addrs(p, svc, "clusterIPs", "");
		pr_num(p, "nodePort", jnum(svc, "nodePort"), "%s", "");
		if (jnum(svc, "nodePort") > 0)
			pr_text(p, " node:%.0f", jnum(svc, "nodePort"));
		show_addrs(p, svc, "externalIPs", " (external)");
		show_addrs(p, svc, "loadBalancerIPs", " (load balancer)");
		pr_text(p, "\n");
		pr_num(p, "healthCheckNodePort", jnum(svc, "healthCheckNodePort"),
		    "%s", "");
		show_traffic(p, svc, "internalTraffic", "internal",
		    "internalTrafficPolicy");
		show_traffic(p, svc, "externalTraffic", "external",
		    "externalTrafficPolicy");
		show_endpoints(p, svc);
		show_all_endpoints(p, svc);
		pr_close(p);
	}
	pr_close(p);
}

static size_t
collect(char *data, size_t size, size_t n, void *arg)
{
	struct { char *buf; size_t len; } *body = arg;

	if (body->len + size * n > SHOW_MAX_BODY)
		return 0;	/* makes curl fail: not our daemon */
	body->buf = xreallocarray(body->buf, body->len + size * n + 1, 1);
	memcpy(body->buf + body->len, data, size * n);
	body->len += size * n;
	body->buf[body->len] = '\0';
	return size * n;
}

/* GET url; returns the body (caller frees) or NULL with err set. */
static char *
fetch(const char *url, char *err, size_t err_len)
{
	struct { char *buf; size_t len; } body = { NULL, 0 };
	char curl_err[CURL_ERROR_SIZE] = "";
	CURL *c;
	CURLcode rc;
	long status = 0;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 ||
	    (c = curl_easy_init()) == NULL) {
		snprintf(err, err_len, "cannot initialise libcurl");
		return NULL;
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)SHOW_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_err);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
	/* A node may have a proxy in its environment; this is loopback. */
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	curl_global_cleanup();
	if (rc != CURLE_OK)
		snprintf(err, err_len, "%s", curl_err[0] != '\0' ? curl_err :
		    curl_easy_strerror(rc));
	else if (status != 200)
		snprintf(err, err_len, "HTTP status %ld", status);
	else
		return body.buf != NULL ? body.buf : xstrdup("");
	free(body.buf);
	return NULL;
}

static int
usage(void)
{
	fprintf(stderr, "usage: kube-uproxy show [--json] "
	    "[--metrics-address IP:PORT]\n");
	return 2;
}

int
show_main(int argc, char **argv)
{
	struct printer pr = { 0 };
	struct config defaults;
	const char *address = NULL;
	char *url, *body, *out, err[CURL_ERROR_SIZE + 64];
	cJSON *services;
	int i;

	config_defaults(&defaults);
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			pr.json = 1;
		else if (strcmp(argv[i], "--metrics-address") == 0 &&
		    i + 1 < argc)
			address = argv[++i];
		else if (strncmp(argv[i], "--metrics-address=", 18) == 0)
			address = argv[i] + 18;
		else {
			config_free(&defaults);
			return usage();
		}
	}
	if (address == NULL)
		address = defaults.metrics_str;
	/* A daemon listening on every address answers on loopback. */
	if (strncmp(address, "0.0.0.0:", 8) == 0)
		url = xasprintf("http://127.0.0.1:%s/debug/services", address + 8);
	else if (strncmp(address, "[::]:", 5) == 0)
		url = xasprintf("http://[::1]:%s/debug/services", address + 5);
	else
		url = xasprintf("http://%s/debug/services", address);
	config_free(&defaults);

	if ((body = fetch(url, err, sizeof(err))) == NULL) {
		fprintf(stderr, "kube-uproxy show: %s: %s (is kube-uproxy "
		    "running with this --metrics-bind-address?)\n", url, err);
		free(url);
		return 1;
	}
	services = cJSON_Parse(body);
	free(body);
	if (!cJSON_IsArray(services)) {
		fprintf(stderr, "kube-uproxy show: %s: not a JSON array\n", url);
		cJSON_Delete(services);
		free(url);
		return 1;
	}
	free(url);

	if (pr.json) {
		/* A wrapper object holds the root array while it is built. */
		pr.stack[pr.depth++] = cJSON_CreateObject();
		show_services(&pr, services);
		out = cJSON_Print(cJSON_GetObjectItem(pr.stack[0], "services"));
		printf("%s\n", out);
		free(out);
		cJSON_Delete(pr.stack[0]);
	} else
		show_services(&pr, services);
	cJSON_Delete(services);
	return fflush(stdout) == 0 ? 0 : 1;
}
