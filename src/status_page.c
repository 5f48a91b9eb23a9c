/*
 * status_page.c - the status page: /debug/services as HTML, with live
 * sparklines (see status_page.h).
 *
 * The tables are rendered here, from the same JSON that /debug/services
 * and `kube-uproxy show` use, so the three cannot disagree; they read in
 * a text browser and in `curl` too.  Each service port also gets a card
 * of four inline SVG sparklines, which a few lines of plain JavaScript
 * (below, no external asset) redraw every second from /debug/history
 * (history.c: five minutes of one-second samples).  When the set of
 * service ports changes, the script reloads the page; without script,
 * <noscript><meta refresh> does.  Every string from a manifest is
 * HTML-escaped, and the script sets only textContent and attributes.
 */
#include <string.h>

#include "config.h"
#include "status_page.h"

#define REFRESH_S	5	/* without script */

static const char style[] =
"<style>\n"
":root { --new: #2563eb; --active: #059669; --up: #d97706; --down: #7c3aed; --line: #dde3e9; }\n"
"body { font: 14px/1.45 system-ui, sans-serif; margin: 0; color: #1f2933; background: #f4f6f8; }\n"
"header { background: #1f2933; color: #fff; padding: .9em 1.5em; }\n"
"header h1 { font-size: 1.35em; margin: 0; font-weight: 600; }\n"
"header .sub { color: #cbd2d9; margin: .2em 0 0; font-size: .9em; }\n"
"header a { color: #9fc5f8; }\n"
"main { padding: .2em 1.5em 2em; max-width: 1400px; }\n"
"h2 { font-size: 1.1em; margin: 1.6em 0 .4em; }\n"
"#live-state.ok::before { content: \"\\25cf  \"; color: #3ebd93; }\n"
"#live-state.bad { color: #f8a5a5; }\n"
".card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: .8em 1em 1em; margin: .9em 0; box-shadow: 0 1px 2px rgba(0, 0, 0, .05); }\n"
".card-head { display: flex; align-items: baseline; gap: .7em; flex-wrap: wrap; }\n"
".card h3 { margin: 0; font-size: 1.05em; }\n"
".tag { font-size: .72em; font-weight: 700; padding: .1em .5em; border-radius: 3px; background: #e4e7eb; color: #3e4c59; }\n"
".card-head .mono { color: #52606d; font-size: .9em; }\n"
".sparks { display: grid; grid-template-columns: repeat(auto-fit, minmax(230px, 1fr)); gap: .6em 1.4em; margin: .7em 0 .9em; }\n"
".spark { margin: 0; }\n"
".spark figcaption { display: flex; justify-content: space-between; align-items: baseline; font-size: .85em; color: #52606d; }\n"
".spark .now { font-size: 1.15em; font-weight: 700; font-variant-numeric: tabular-nums; }\n"
".spark svg { display: block; width: 100%; height: 56px; background: #fafbfc; border-bottom: 1px solid #bcc5ce; }\n"
".spark polyline { fill: none; stroke-width: 1.8; vector-effect: non-scaling-stroke; stroke-linejoin: round; }\n"
".spark polygon { stroke: none; opacity: .16; }\n"
".s-new polyline { stroke: var(--new); } .s-new polygon { fill: var(--new); } .s-new .now { color: var(--new); }\n"
".s-active polyline { stroke: var(--active); } .s-active polygon { fill: var(--active); } .s-active .now { color: var(--active); }\n"
".s-up polyline { stroke: var(--up); } .s-up polygon { fill: var(--up); } .s-up .now { color: var(--up); }\n"
".s-down polyline { stroke: var(--down); } .s-down polygon { fill: var(--down); } .s-down .now { color: var(--down); }\n"
".axis { display: flex; justify-content: space-between; font-size: .72em; color: #9aa5b1; }\n"
".card.idle .spark svg { opacity: .55; }\n"
"table { border-collapse: collapse; background: #fff; }\n"
"th, td { text-align: left; padding: .25em .8em; border-bottom: 1px solid var(--line); }\n"
"th { background: #eef1f4; font-weight: 600; } td.num { text-align: right; font-variant-numeric: tabular-nums; }\n"
"table.eps { width: 100%; font-size: .92em; table-layout: fixed; }\n"
"table.eps th:nth-child(1) { width: 24%; } table.eps th:nth-child(2) { width: 36%; }\n"
"th.num { text-align: right; }\n"
"table.eps th { background: #f6f8fa; }\n"
"td.share { white-space: nowrap; }\n"
".bar { display: inline-block; width: 70%; max-width: 260px; height: 9px; background: #e4e7eb; border-radius: 5px; vertical-align: middle; overflow: hidden; }\n"
".bar span { display: block; height: 100%; background: var(--new); }\n"
"td.bad { color: #c81e1e; font-weight: 700; }\n"
"td.none, tr.none td { color: #b00; font-style: italic; }\n"
"tr.svc td { border-top: 2px solid #bbb; font-weight: 600; }\n"
"tr.ep td:first-child { padding-left: 2.2em; font-family: monospace; }\n"
"tr.policy td { color: #555; font-size: 90%; padding-left: 2.2em; }\n"
"tr.ep.unused td { color: #999; }\n"
"small.epstate { color: #666; }\n"
".mono { font-family: monospace; }\n"
".path { display: flex; flex-wrap: wrap; align-items: center; gap: .4em; margin: .5em 0; }\n"
".hop { border: 1px solid #999; border-radius: 4px; padding: .2em .5em; background: #fafafa; }\n"
".hop small { display: block; color: #666; }\n"
".rule { background: #fff6e0; } .proxy { background: #e8f2ff; } .pod { background: #eaf7ea; }\n"
".arrow { color: #888; }\n"
"</style>\n";

/* The page's only script: fetch /debug/history every second, redraw. */
static const char script[] =
"<script>\n"
"(function () {\n"
"\"use strict\";\n"
"/* Redraws the sparklines and endpoint shares from /debug/history once a second. */\n"
"var W = 300, H = 56, PAD = 4;\n"
"var cards = Array.prototype.slice.call(document.querySelectorAll(\"section.card\"));\n"
"var shown = cards.map(function (c) { return c.getAttribute(\"data-port\"); }).sort().join(\"\\n\");\n"
"var state = document.getElementById(\"live-state\");\n"
"\n"
"function human(v, bytes) {\n"
"\tvar units = bytes ? [\"B\", \"kB\", \"MB\", \"GB\"] : [\"\", \"k\", \"M\", \"G\"], i = 0;\n"
"\twhile (v >= 1000 && i < units.length - 1) { v /= 1000; i++; }\n"
"\tvar s = v >= 100 || i === 0 ? Math.round(v).toString() : v.toFixed(1);\n"
"\treturn s + (bytes ? \"\\u202f\" + units[i] + \"/s\" : units[i]);\n"
"}\n"
"\n"
"function draw(fig, data, len) {\n"
"\tvar bytes = fig.getAttribute(\"data-unit\") === \"bytes\";\n"
"\tvar max = 0, i, x, y, pts = [];\n"
"\tfor (i = 0; i < data.length; i++) max = Math.max(max, data[i]);\n"
"\tvar x0 = len - data.length;\n"
"\tfor (i = 0; i < data.length; i++) {\n"
"\t\tx = (x0 + i) * W / (len - 1);\n"
"\t\ty = H - PAD / 2 - (max > 0 ? data[i] / max * (H - PAD * 2) : 0);\n"
"\t\tpts.push(x.toFixed(1) + \",\" + y.toFixed(1));\n"
"\t}\n"
"\tif (pts.length === 1) pts.push(W + \",\" + pts[0].split(\",\")[1]);\n"
"\tfig.querySelector(\"polyline\").setAttribute(\"points\", pts.join(\" \"));\n"
"\tfig.querySelector(\"polygon\").setAttribute(\"points\", pts.length ?\n"
"\t    (x0 * W / (len - 1)).toFixed(1) + \",\" + H + \" \" + pts.join(\" \") + \" \" + W + \",\" + H : \"\");\n"
"\tfig.querySelector(\".now\").textContent = human(data.length ? data[data.length - 1] : 0, bytes);\n"
"\tfig.querySelector(\".max\").textContent = \"peak \" + human(max, bytes);\n"
"}\n"
"\n"
"function cell(tr, text, cls) {\n"
"\tvar td = document.createElement(\"td\");\n"
"\ttd.textContent = text;\n"
"\tif (cls) td.className = cls;\n"
"\ttr.appendChild(td);\n"
"\treturn td;\n"
"}\n"
"\n"
"function endpoints(card, eps) {\n"
"\t/* \"connections\" counts attempts; a failed one served nobody. */\n"
"\tvar tbody = card.querySelector(\"table.eps tbody\"), total = 0, i;\n"
"\teps.forEach(function (e) { e.served = Math.max(0, e.connections - e.dialFailures); });\n"
"\tfor (i = 0; i < eps.length; i++) total += eps[i].served;\n"
"\ttbody.textContent = \"\";\n"
"\tif (eps.length === 0) {\n"
"\t\tvar tr = document.createElement(\"tr\");\n"
"\t\tcell(tr, \"no ready endpoint\", \"none\").colSpan = 5;\n"
"\t\ttbody.appendChild(tr);\n"
"\t}\n"
"\teps.forEach(function (e) {\n"
"\t\tvar tr = document.createElement(\"tr\"), share = total ? e.served / total : 0;\n"
"\t\tcell(tr, e.endpoint, \"mono\");\n"
"\t\tvar td = cell(tr, \"\", \"share\"), bar = document.createElement(\"span\"), fill = document.createElement(\"span\");\n"
"\t\tbar.className = \"bar\";\n"
"\t\tfill.style.width = (share * 100).toFixed(1) + \"%\";\n"
"\t\tbar.appendChild(fill);\n"
"\t\ttd.appendChild(bar);\n"
"\t\ttd.appendChild(document.createTextNode(\" \" + (share * 100).toFixed(0) + \"%\"));\n"
"\t\tcell(tr, e.served, \"num\");\n"
"\t\tcell(tr, e.active, \"num\");\n"
"\t\tcell(tr, e.dialFailures, e.dialFailures > 0 ? \"num bad\" : \"num\");\n"
"\t\ttbody.appendChild(tr);\n"
"\t});\n"
"}\n"
"\n"
"function update(h) {\n"
"\tvar now = h.ports.map(function (p) { return p.servicePort; }).sort().join(\"\\n\");\n"
"\tif (now !== shown) { location.reload(); return; }\n"
"\th.ports.forEach(function (p) {\n"
"\t\tvar card = cards.filter(function (c) { return c.getAttribute(\"data-port\") === p.servicePort; })[0];\n"
"\t\tif (!card) return;\n"
"\t\tcard.querySelectorAll(\"figure.spark\").forEach(function (fig) {\n"
"\t\t\tvar s = fig.getAttribute(\"data-series\");\n"
"\t\t\tvar data = p[s] || new Array(p.samples).fill(0);\n"
"\t\t\tdraw(fig, data, h.length);\n"
"\t\t});\n"
"\t\tcard.classList.toggle(\"idle\", !!p.idle);\n"
"\t\tendpoints(card, p.endpoints);\n"
"\t});\n"
"\tstate.textContent = \"live \\u00b7 updated \" + new Date().toLocaleTimeString();\n"
"\tstate.className = \"ok\";\n"
"}\n"
"\n"
"function poll() {\n"
"\tfetch(\"/debug/history\", { cache: \"no-store\" })\n"
"\t    .then(function (r) { if (!r.ok) throw new Error(\"HTTP \" + r.status); return r.json(); })\n"
"\t    .then(update)\n"
"\t    .catch(function (e) { state.textContent = \"not updating: \" + e.message; state.className = \"bad\"; })\n"
"\t    .then(function () { setTimeout(poll, 1000); });\n"
"}\n"
"poll();\n"
"})();\n"
"</script>\n";

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
	evbuffer_add(b, style, sizeof(style) - 1);
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
	evbuffer_add(b, script, sizeof(script) - 1);
	evbuffer_add_printf(b, "</body>\n</html>\n");
}
