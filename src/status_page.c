/*
 * status_page.c - the status page: /debug/services as HTML, with live
 * sparklines (see status_page.h).
 *
 * The tables are rendered here, from the same JSON that /debug/services
 * and `kube-uproxy show` use, so the three cannot disagree; they read in
 * a text browser and in `curl` too.  Each service port also gets a card
 * of four inline SVG sparklines, which a few lines of plain JavaScript
 * (status_page_assets.c, no external asset) redraw every second from
 * /debug/history (history.c: five minutes of one-second samples).  When the set of
 * service ports changes, the script reloads the page; without script,
 * <noscript><meta refresh> does.  Every string from a manifest is
 * HTML-escaped, and the script sets only textContent and attributes.
 */
#include <string.h>

#include "config.h"
#include "status_page.h"
#include "status_page_assets.h"

#define REFRESH_S	5	/* without script */

static void
put_html(struct evbuffer *b, const char *s)
{
	for (; s != NULL && *s != '\0'; s++) {
		switch (*s) {
		case '<':
			evbuffer_add(b, "&lt;", 4);
			break;
		case '>':
			evbuffer_add(b, "&gt;", 4);
			break;
		case '&':
			evbuffer_add(b, "&amp;", 5);
			break;
		case '"':
			evbuffer_add(b, "&quot;", 6);
			break;
		default:
			evbuffer_add(b, s, 1);
		}
	}
}

static const char *
str(const cJSON *o, const char *key)
{
	const char *s = cJSON_GetStringValue(cJSON_GetObjectItem(o, key));

	return s != NULL ? s : "";
}

static double
num(const cJSON *o, const char *key)
{
	const cJSON *n = cJSON_GetObjectItem(o, key);

	return cJSON_IsNumber(n) ? n->valuedouble : 0;
}

/* "ns/name:portname", or "ns/name:port" for an unnamed port (the store's key). */
static void
put_key(struct evbuffer *b, const cJSON *svc)
{
	put_html(b, str(svc, "service"));
	if (str(svc, "portName")[0] != '\0') {
		evbuffer_add(b, ":", 1);
		put_html(b, str(svc, "portName"));
	} else
		evbuffer_add_printf(b, ":%.0f", num(svc, "port"));
}

/*
 * IP:port for each string of an address array ("IPv6" gets brackets),
 * each after `sep` unless it is the first of the cell (*first).
 */
static void
put_addrs(struct evbuffer *b, const cJSON *arr, double port, const char *sep,
    int *first)
{
	const cJSON *a;
	int v6;

	cJSON_ArrayForEach(a, arr) {
		if (!cJSON_IsString(a))
			continue;
		v6 = strchr(a->valuestring, ':') != NULL;
		evbuffer_add_printf(b, "%s%s", *first ? "" : sep, v6 ? "[" : "");
		put_html(b, a->valuestring);
		evbuffer_add_printf(b, "%s:%.0f", v6 ? "]" : "", port);
		*first = 0;
	}
}

/* "internal Cluster: cluster set, 2 (ready)", for one kind of traffic. */
static void
put_traffic(struct evbuffer *b, const cJSON *svc, const char *key,
    const char *what, const char *policy_key)
{
	const cJSON *t = cJSON_GetObjectItem(svc, key);

	if (!cJSON_IsObject(t))
		return;
	evbuffer_add_printf(b, "<span class=\"traffic\">%s ", what);
	put_html(b, str(svc, policy_key));
	evbuffer_add_printf(b, ": ");
	put_html(b, str(t, "endpointSet"));
	evbuffer_add_printf(b, " set, %.0f (", num(t, "endpoints"));
	put_html(b, str(t, "reason"));
	evbuffer_add_printf(b, ")");
	if (num(t, "proxyPort") != num(svc, "proxyPort"))
		evbuffer_add_printf(b, ", proxy port %.0f", num(t, "proxyPort"));
	if (strcmp(key, "externalTraffic") == 0 &&
	    num(svc, "healthCheckNodePort") > 0)
		evbuffer_add_printf(b, ", health check node port %.0f",
		    num(svc, "healthCheckNodePort"));
	evbuffer_add_printf(b, "</span> ");
}

static int
is_true(const cJSON *o, const char *key)
{
	return cJSON_IsTrue(cJSON_GetObjectItem(o, key));
}

/* The slices' view of an endpoint: node (* ours), state, which traffic. */
static void
put_endpoint_state(struct evbuffer *b, const cJSON *e)
{
	if (e == NULL)
		return;
	evbuffer_add_printf(b, "<small class=\"epstate\">");
	put_html(b, str(e, "nodeName")[0] != '\0' ? str(e, "nodeName") : "-");
	evbuffer_add_printf(b, "%s %s%s &middot; %s%s%s</small>",
	    is_true(e, "local") ? "*" : "",
	    is_true(e, "ready") ? "ready" : is_true(e, "serving") ? "serving" :
	    "not ready", is_true(e, "terminating") ? ", terminating" : "",
	    is_true(e, "internal") ? "internal " : "",
	    is_true(e, "external") ? "external" : "",
	    !is_true(e, "internal") && !is_true(e, "external") ?
	    "takes no traffic" : "");
}

/* allEndpoints' entry for an endpoint "IP:port", or NULL. */
static const cJSON *
find_endpoint(const cJSON *svc, const char *ep)
{
	const cJSON *e;

	cJSON_ArrayForEach(e, cJSON_GetObjectItem(svc, "allEndpoints"))
		if (strcmp(str(e, "endpoint"), ep) == 0)
			return e;
	return NULL;
}

static int
in_stats(const cJSON *svc, const char *ep)
{
	const cJSON *e;

	cJSON_ArrayForEach(e, cJSON_GetObjectItem(svc, "endpointStats"))
		if (strcmp(str(e, "endpoint"), ep) == 0)
			return 1;
	return 0;
}

static void
table(struct evbuffer *b, const cJSON *services)
{
	const cJSON *svc, *ep, *eps;
	int first;

	evbuffer_add_printf(b, "<table id=\"services\">\n<thead><tr>"
	    "<th>Service port</th><th>Protocol</th><th>Addresses</th>"
	    "<th>Proxy port</th><th>Scheduler</th><th>Affinity</th>"
	    "<th>ActiveConn</th><th>Connect failures</th></tr></thead>\n"
	    "<tbody>\n");
	cJSON_ArrayForEach(svc, services) {
		evbuffer_add_printf(b, "<tr class=\"svc\"><td>");
		put_key(b, svc);
		evbuffer_add_printf(b, "</td><td>");
		put_html(b, str(svc, "protocol"));
		evbuffer_add_printf(b, "</td><td class=\"mono\">");
		first = 1;
		put_addrs(b, cJSON_GetObjectItem(svc, "clusterIPs"),
		    num(svc, "port"), "<br>", &first);
		if (num(svc, "nodePort") > 0) {
			evbuffer_add_printf(b, "%snode:%.0f", first ? "" : "<br>",
			    num(svc, "nodePort"));
			first = 0;
		}
		put_addrs(b, cJSON_GetObjectItem(svc, "externalIPs"),
		    num(svc, "port"), "<br>", &first);
		put_addrs(b, cJSON_GetObjectItem(svc, "loadBalancerIPs"),
		    num(svc, "port"), "<br>", &first);
		evbuffer_add_printf(b, "</td><td class=\"num proxyport\">%.0f"
		    "</td><td>", num(svc, "proxyPort"));
		put_html(b, str(svc, "scheduler"));
		evbuffer_add_printf(b, "</td><td>");
		put_html(b, str(svc, "sessionAffinity"));
		if (strcmp(str(svc, "sessionAffinity"), "ClientIP") == 0)
			evbuffer_add_printf(b, " (%.0f s)",
			    num(svc, "affinityTimeoutSeconds"));
		evbuffer_add_printf(b, "</td><td class=\"num\">%.0f</td>"
		    "<td></td></tr>\n", num(svc, "activeConnections"));
		evbuffer_add_printf(b, "<tr class=\"policy\"><td colspan="
		    "\"8\">");
		put_traffic(b, svc, "internalTraffic", "internal",
		    "internalTrafficPolicy");
		put_traffic(b, svc, "externalTraffic", "external",
		    "externalTrafficPolicy");
		evbuffer_add_printf(b, "</td></tr>\n");
		eps = cJSON_GetObjectItem(svc, "endpointStats");
		if (cJSON_GetArraySize(eps) == 0)
			evbuffer_add_printf(b, "<tr class=\"ep none\"><td>"
			    "no ready endpoint: %s</td><td colspan=\"7\"></td>"
			    "</tr>\n", strcmp(str(svc, "protocol"), "UDP") == 0 ?
			    "datagrams are dropped" : "connections are refused");
		cJSON_ArrayForEach(ep, eps) {
			evbuffer_add_printf(b, "<tr class=\"ep\"><td>&rarr; ");
			put_html(b, str(ep, "endpoint"));
			evbuffer_add_printf(b, "</td><td colspan=\"5\">");
			put_endpoint_state(b, find_endpoint(svc,
			    str(ep, "endpoint")));
			evbuffer_add_printf(b, "</td>"
			    "<td class=\"num\">%.0f</td><td class=\"num\">%.0f"
			    "</td></tr>\n", num(ep, "activeConnections"),
			    num(ep, "dialFailures"));
		}
		/* Listed by the slices, used by no traffic: say why not. */
		cJSON_ArrayForEach(ep, cJSON_GetObjectItem(svc, "allEndpoints")) {
			if (in_stats(svc, str(ep, "endpoint")))
				continue;
			evbuffer_add_printf(b, "<tr class=\"ep unused\"><td>"
			    "&nbsp;&nbsp;");
			put_html(b, str(ep, "endpoint"));
			evbuffer_add_printf(b, "</td><td colspan=\"5\">");
			put_endpoint_state(b, ep);
			evbuffer_add_printf(b, "</td><td></td><td></td>"
			    "</tr>\n");
		}
	}
	evbuffer_add_printf(b, "</tbody>\n</table>\n");
}

static void
hop(struct evbuffer *b, const char *class, const char *title,
    const char *note)
{
	evbuffer_add_printf(b, "<span class=\"hop %s\">%s<small>%s</small>"
	    "</span><span class=\"arrow\">&rarr;</span>", class, title, note);
}

/* The last hop of a path: the endpoints in svc's list `key`, or none. */
static void
put_endpoints(struct evbuffer *b, const cJSON *svc, const char *key)
{
	const cJSON *ep;
	int first = 1;

	cJSON_ArrayForEach(ep, cJSON_GetObjectItem(svc, key)) {
		evbuffer_add_printf(b, "%s", first ? "" : " | ");
		put_html(b, cJSON_GetStringValue(ep));
		first = 0;
	}
	evbuffer_add_printf(b, "%s<small>endpoint</small></span></div>\n",
	    !first ? "" : strcmp(str(svc, "protocol"), "UDP") == 0 ?
	    "none: dropped" : "none: refused");
}

/*
 * External traffic with a proxy port of its own (a Local policy on one
 * side only): its path, to its own endpoint set.
 */
static void
ext_path(struct evbuffer *b, const struct config *cfg, const cJSON *svc)
{
	const cJSON *t = cJSON_GetObjectItem(svc, "externalTraffic");

	if (!cJSON_IsObject(t) || num(t, "proxyPort") == num(svc, "proxyPort"))
		return;
	evbuffer_add_printf(b, "<div class=\"path\"><strong>");
	put_key(b, svc);
	evbuffer_add_printf(b, "</strong>&nbsp;");
	hop(b, "", "client", "to nodePort, external or LB IP");
	evbuffer_add_printf(b, "<span class=\"hop proxy\">");
	put_html(b, cfg->bind_address_str);
	evbuffer_add_printf(b, ":%.0f<small>kube-uproxy, external traffic, "
	    "%s policy</small></span><span class=\"arrow\">&rarr;</span>"
	    "<span class=\"hop pod\">", num(t, "proxyPort"),
	    strcmp(str(svc, "externalTrafficPolicy"), "Local") == 0 ?
	    "Local" : "Cluster");
	put_endpoints(b, svc, "externalEndpoints");
}

/* One line per service port: client, rule, proxy port, endpoints. */
static void
paths(struct evbuffer *b, const struct config *cfg, const cJSON *services)
{
	const cJSON *svc;
	int rules = cfg->iptables == IPTABLES_LEGACY, first;

	evbuffer_add_printf(b, "<h2>The way a packet takes</h2>\n<p>%s</p>\n",
	    rules ? "A client sends to the service address.  In the nat "
	    "table, a rule of KUBE-PORTALS-CONTAINER (packets arriving at the "
	    "node) or KUBE-PORTALS-HOST (packets the node sends itself), or "
	    "for a nodePort KUBE-NODEPORT-*, REDIRECTs it to the service port's "
	    "proxy port.  kube-uproxy accepts it there, picks an endpoint "
	    "(round robin, or the client's by ClientIP affinity) and relays "
	    "the bytes both ways over its own connection to that endpoint." :
	    "--iptables none: no rules are installed, so clients connect to "
	    "the proxy port itself.  kube-uproxy accepts there, picks an "
	    "endpoint (round robin, or the client's by ClientIP affinity) and "
	    "relays the bytes both ways over its own connection to it.");
	cJSON_ArrayForEach(svc, services) {
		evbuffer_add_printf(b, "<div class=\"path\"><strong>");
		put_key(b, svc);
		evbuffer_add_printf(b, "</strong>&nbsp;");
		hop(b, "", "client", "pod or node");
		if (rules) {
			evbuffer_add_printf(b, "<span class=\"hop rule\">");
			first = 1;
			put_addrs(b, cJSON_GetObjectItem(svc, "clusterIPs"),
			    num(svc, "port"), ", ", &first);
			if (num(svc, "nodePort") > 0)
				evbuffer_add_printf(b, "%snode:%.0f", first ?
				    "" : ", ", num(svc, "nodePort"));
			evbuffer_add_printf(b, "<small>KUBE-PORTALS-* / "
			    "KUBE-NODEPORT-*: -j REDIRECT --to-ports "
			    "%.0f</small></span><span class=\"arrow\">&rarr;"
			    "</span>", num(svc, "proxyPort"));
		}
		evbuffer_add_printf(b, "<span class=\"hop proxy\">");
		put_html(b, cfg->bind_address_str);
		evbuffer_add_printf(b, ":%.0f<small>kube-uproxy, ", num(svc,
		    "proxyPort"));
		put_html(b, str(svc, "protocol"));
		evbuffer_add_printf(b, "</small></span><span class=\"arrow\">"
		    "&rarr;</span><span class=\"hop pod\">");
		put_endpoints(b, svc, "endpoints");
		ext_path(b, cfg, svc);
	}
}

/* One sparkline: a labelled SVG the script fills from /debug/history. */
static void
spark(struct evbuffer *b, const char *class, const char *series,
    const char *unit, const char *label)
{
	evbuffer_add_printf(b, "<figure class=\"spark %s\" data-series=\"%s\" "
	    "data-unit=\"%s\"><figcaption><span>%s</span><span class=\"now\">"
	    "&ndash;</span></figcaption>\n<svg viewBox=\"0 0 300 56\" "
	    "preserveAspectRatio=\"none\" role=\"img\" aria-label=\"%s, last "
	    "5 minutes\"><polygon points=\"\"/><polyline points=\"\"/></svg>\n"
	    "<div class=\"axis\"><span>&minus;5 min</span><span class=\"max\">"
	    "</span><span>now</span></div></figure>\n", class, series, unit,
	    label, label);
}

/*
 * A card per service port: its four sparklines and its endpoints, with
 * their share of the connections and their failures.  The endpoint rows
 * written here come from /debug/services; the script replaces them with
 * /debug/history's, which also count connections.
 */
static void
cards(struct evbuffer *b, const cJSON *services)
{
	const cJSON *svc, *ep;
	int first, udp;

	evbuffer_add_printf(b, "<h2>The last five minutes</h2>\n");
	if (cJSON_GetArraySize(services) == 0)
		evbuffer_add_printf(b, "<p>No service port yet.</p>\n");
	cJSON_ArrayForEach(svc, services) {
		udp = strcmp(str(svc, "protocol"), "UDP") == 0;
		evbuffer_add_printf(b, "<section class=\"card\" data-port=\"");
		put_key(b, svc);
		evbuffer_add_printf(b, "\">\n<div class=\"card-head\"><h3>");
		put_key(b, svc);
		evbuffer_add_printf(b, "</h3><span class=\"tag\">");
		put_html(b, str(svc, "protocol"));
		evbuffer_add_printf(b, "</span><span class=\"mono\">");
		first = 1;
		put_addrs(b, cJSON_GetObjectItem(svc, "clusterIPs"),
		    num(svc, "port"), ", ", &first);
		if (num(svc, "nodePort") > 0)
			evbuffer_add_printf(b, "%snode:%.0f", first ? "" : ", ",
			    num(svc, "nodePort"));
		evbuffer_add_printf(b, " &rarr; proxy port %.0f</span></div>\n"
		    "<div class=\"sparks\">\n", num(svc, "proxyPort"));
		spark(b, "s-new", "newConnections", "count", udp ?
		    "new flows/s" : "new connections/s");
		spark(b, "s-active", "active", "count", udp ?
		    "active flows" : "active connections");
		spark(b, "s-up", "bytesToEndpoints", "bytes",
		    "bytes/s to endpoints");
		spark(b, "s-down", "bytesToClients", "bytes",
		    "bytes/s to clients");
		evbuffer_add_printf(b, "</div>\n<table class=\"eps\"><thead><tr>"
		    "<th>Endpoint</th><th>Share of %s</th><th class=\"num\">%s"
		    "</th><th class=\"num\">Active</th><th class=\"num\">"
		    "Connect failures</th></tr></thead>\n"
		    "<tbody>\n", udp ? "flows" : "connections",
		    udp ? "Flows" : "Connections");
		if (cJSON_GetArraySize(cJSON_GetObjectItem(svc,
		    "endpointStats")) == 0)
			evbuffer_add_printf(b, "<tr class=\"none\"><td "
			    "colspan=\"5\">no ready endpoint</td></tr>\n");
		cJSON_ArrayForEach(ep, cJSON_GetObjectItem(svc,
		    "endpointStats")) {
			evbuffer_add_printf(b, "<tr><td class=\"mono\">");
			put_html(b, str(ep, "endpoint"));
			evbuffer_add_printf(b, "</td><td class=\"share\"></td>"
			    "<td class=\"num\"></td><td class=\"num\">%.0f</td>"
			    "<td class=\"num\">%.0f</td></tr>\n",
			    num(ep, "activeConnections"), num(ep,
			    "dialFailures"));
		}
		evbuffer_add_printf(b, "</tbody></table>\n</section>\n");
	}
}

void
status_page_write(struct evbuffer *b, const struct config *cfg,
    const cJSON *services)
{
	/* Without script, the page still reloads itself. */
	evbuffer_add_printf(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
	    "<meta charset=\"utf-8\">\n<noscript><meta http-equiv=\"refresh\" "
	    "content=\"%d\"></noscript>\n<title>kube-uproxy: service ports"
	    "</title>\n", REFRESH_S);
	evbuffer_add(b, status_page_style, strlen(status_page_style));
	evbuffer_add_printf(b, "</head>\n<body>\n<header><h1>kube-uproxy on ");
	put_html(b, cfg->hostname);
	evbuffer_add_printf(b, "</h1>\n<p class=\"sub\">userspace service "
	    "proxy &middot; %d service ports &middot; iptables %s &middot; "
	    "<span id=\"live-state\">loading&hellip;</span> &middot; "
	    "<a href=\"/metrics\">metrics</a> &middot; <a href=\"/debug/"
	    "services\">services JSON</a> &middot; <a href=\"/debug/history\">"
	    "history JSON</a></p></header>\n<main>\n",
	    cJSON_GetArraySize(services),
	    cfg->iptables == IPTABLES_LEGACY ? "legacy" : "none");
	cards(b, services);
	evbuffer_add_printf(b, "<h2>Service ports</h2>\n");
	table(b, services);
	paths(b, cfg, services);
	evbuffer_add_printf(b, "</main>\n");
	evbuffer_add(b, status_page_script, strlen(status_page_script));
	evbuffer_add_printf(b, "</body>\n</html>\n");
}
