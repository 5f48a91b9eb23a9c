/*
 * status_page.c - the status page: /debug/services as HTML (see
 * status_page.h).
 *
 * Rendered here, from the same JSON that /debug/services and `kube-uproxy
 * show` use, so the three cannot disagree.  The page refreshes itself with
 * <meta http-equiv="refresh">: no script, so it also reads in a text
 * browser and in `curl`.  Every string from a manifest is HTML-escaped.
 */
#include <string.h>

#include "config.h"
#include "status_page.h"

#define REFRESH_S	2

static const char head[] =
"<title>kube-uproxy: service ports</title>\n"
"<style>\n"
"body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }\n"
"h1 { font-size: 1.4em; margin: 0; } h2 { font-size: 1.1em; margin-top: 2em; }\n"
".sub { color: #666; margin: .2em 0 1.2em; }\n"
"table { border-collapse: collapse; }\n"
"th, td { text-align: left; padding: .25em .8em; border-bottom: 1px solid #ddd; }\n"
"th { background: #f3f3f3; } td.num { text-align: right; }\n"
"tr.svc td { border-top: 2px solid #bbb; font-weight: 600; }\n"
"tr.ep td:first-child { padding-left: 2.2em; font-family: monospace; }\n"
"tr.none td { color: #b00; font-style: italic; }\n"
".mono { font-family: monospace; }\n"
".path { display: flex; flex-wrap: wrap; align-items: center; gap: .4em; margin: .5em 0; }\n"
".hop { border: 1px solid #999; border-radius: 4px; padding: .2em .5em; background: #fafafa; }\n"
".hop small { display: block; color: #666; }\n"
".rule { background: #fff6e0; } .proxy { background: #e8f2ff; } .pod { background: #eaf7ea; }\n"
".arrow { color: #888; }\n"
"</style>\n</head>\n<body>\n";

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
		eps = cJSON_GetObjectItem(svc, "endpointStats");
		if (cJSON_GetArraySize(eps) == 0)
			evbuffer_add_printf(b, "<tr class=\"ep none\"><td>"
			    "no ready endpoint: %s</td><td colspan=\"7\"></td>"
			    "</tr>\n", strcmp(str(svc, "protocol"), "UDP") == 0 ?
			    "datagrams are dropped" : "connections are refused");
		cJSON_ArrayForEach(ep, eps) {
			evbuffer_add_printf(b, "<tr class=\"ep\"><td>&rarr; ");
			put_html(b, str(ep, "endpoint"));
			evbuffer_add_printf(b, "</td><td colspan=\"5\"></td>"
			    "<td class=\"num\">%.0f</td><td class=\"num\">%.0f"
			    "</td></tr>\n", num(ep, "activeConnections"),
			    num(ep, "dialFailures"));
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

/* One line per service port: client, rule, proxy port, endpoints. */
static void
paths(struct evbuffer *b, const struct config *cfg, const cJSON *services)
{
	const cJSON *svc, *ep;
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
		first = 1;
		cJSON_ArrayForEach(ep, cJSON_GetObjectItem(svc, "endpoints")) {
			evbuffer_add_printf(b, "%s", first ? "" : " | ");
			put_html(b, cJSON_GetStringValue(ep));
			first = 0;
		}
		evbuffer_add_printf(b, "%s<small>endpoint</small></span></div>\n",
		    !first ? "" : strcmp(str(svc, "protocol"), "UDP") == 0 ?
		    "none: dropped" : "none: refused");
	}
}

void
status_page_write(struct evbuffer *b, const struct config *cfg,
    const cJSON *services)
{
	evbuffer_add_printf(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
	    "<meta charset=\"utf-8\">\n"
	    "<meta http-equiv=\"refresh\" content=\"%d\">\n", REFRESH_S);
	evbuffer_add(b, head, sizeof(head) - 1);
	evbuffer_add_printf(b, "<h1>kube-uproxy on ");
	put_html(b, cfg->hostname);
	evbuffer_add_printf(b, "</h1>\n<p class=\"sub\">userspace service "
	    "proxy &middot; %d service ports &middot; iptables %s &middot; "
	    "refreshed every %d s &middot; <a href=\"/metrics\">metrics</a> "
	    "&middot; <a href=\"/debug/services\">JSON</a></p>\n",
	    cJSON_GetArraySize(services),
	    cfg->iptables == IPTABLES_LEGACY ? "legacy" : "none", REFRESH_S);
	table(b, services);
	paths(b, cfg, services);
	evbuffer_add_printf(b, "</body>\n</html>\n");
}
