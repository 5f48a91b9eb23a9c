#!/bin/bash
# status_page.sh - GET / on the metrics address, loaded in headless
# Chromium: the rendered table holds every service port with its proxy
# port and endpoints, the packet path is there, each port has a card of
# four sparklines drawn from /debug/history, and after traffic the
# sparklines move and the endpoints show their share of connections and
# their failures.  The screenshot it takes is left beside its log
# (tests/integration/status_page.png in the build directory).  Skipped
# (77) when Chromium is not installed.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/lib.sh"

CHROMIUM=${CHROMIUM:-}
for c in chromium chromium-browser; do
	[ -z "$CHROMIUM" ] && command -v "$c" >/dev/null && CHROMIUM=$c
done
if [ -z "$CHROMIUM" ]; then
	echo "status_page: SKIP: chromium is not installed (Debian: apt-get install chromium)"
	exit 77
fi
t_begin

P=$(free_ports 1)
backend web1 tcp-sink-sha "127.0.0.11:$P" --reply-bytes 300000
backend web2 tcp-sink-sha "127.0.0.12:$P" --reply-bytes 300000
# 127.0.0.14 has no server: every connect to it fails (and is retried on
# the next endpoint), which the page must show as failures.
write_manifest svc.yaml "$(m_service name=web port=http/TCP/80 affinity=ClientIP)
---
$(m_slice name=web port=http/TCP/$P ep=127.0.0.11 ep=127.0.0.12)
---
$(m_service name=mixed ip=198.19.0.12 port=http/TCP/80)
---
$(m_slice name=mixed port=http/TCP/$P ep=127.0.0.11 ep=127.0.0.12 ep=127.0.0.14)
---
$(m_service name=dns ns=kube-system ip=198.19.0.53 port=dns/UDP/53)
---
$(m_slice name=dns ns=kube-system port=dns/UDP/$P ep=127.0.0.13)
---
$(m_service name=empty ip=198.19.0.11 port=http/TCP/80)"
start_proxy
WP=$(wait_proxy_port default/web http)
MP=$(wait_proxy_port default/mixed http)
DP=$(wait_proxy_port kube-system/dns dns)
EP=$(wait_proxy_port default/empty http)

expect_match "Content-Type of /" \
    "$(client http --header Content-Type "$METRICS_URL/")" '^text/html'
expect_match "Content-Type of /debug/history" \
    "$(client http --header Content-Type "$METRICS_URL/debug/history")" \
    '^application/json'

# chrome OUT ARGS...: headless Chromium on the status page, with enough
# virtual time for the script's first fetches and redraws.  Its profile
# goes under HOME: keep it in the temp dir.
# On a loaded machine Chromium now and then hangs at start (its zygote
# never answers): one more try before calling it an error.
chrome() {
	local out=$1 try
	shift
	for try in 1 2; do
		HOME=$T_DIR timeout 45 "$CHROMIUM" --headless --no-sandbox \
		    --disable-gpu --disable-dev-shm-usage --no-first-run \
		    --hide-scrollbars --user-data-dir="$T_DIR/chromium" \
		    --virtual-time-budget=3000 "$@" "$METRICS_URL/" \
		    >"$out" 2>"$T_DIR/chromium.err" && return 0
		log "chromium attempt $try failed: $(tail -1 "$T_DIR/chromium.err")"
	done
	hard_error "chromium failed: $(tail -3 "$T_DIR/chromium.err")"
}

chrome "$T_DIR/dom.html" --dump-dom
[ -s "$T_DIR/dom.html" ] || hard_error "chromium dumped nothing: $(tail -3 "$T_DIR/chromium.err")"

# Read the rendered table back: one line per row, cells separated by |.
"$PYTHON3" - "$T_DIR/dom.html" >"$T_DIR/rows" <<'PY' || fail "no table in the DOM"
import sys
from html.parser import HTMLParser

class Rows(HTMLParser):
    def __init__(self):
        super().__init__()
        self.in_table = self.in_cell = False
        self.rows, self.row, self.cell = [], None, ""
    def handle_starttag(self, tag, attrs):
        if tag == "table" and ("id", "services") in attrs:
            self.in_table = True
        elif self.in_table and tag == "tr":
            self.row = []
        elif self.in_table and tag in ("td", "th"):
            self.in_cell, self.cell = True, ""
        elif self.in_cell and tag == "br":
            self.cell += " "
    def handle_endtag(self, tag):
        if tag == "table":
            self.in_table = False
        elif self.in_table and tag in ("td", "th"):
            self.row.append(" ".join(self.cell.split()))
            self.in_cell = False
        elif self.in_table and tag == "tr":
            self.rows.append("|".join(self.row))
    def handle_data(self, data):
        if self.in_cell:
            self.cell += data

p = Rows()
p.feed(open(sys.argv[1]).read())
if not p.rows:
    sys.exit(1)
print("\n".join(p.rows))
PY
log "rendered table:"; sed 's/^/    /' "$T_DIR/rows"
rows=$(cat "$T_DIR/rows")
expect_match "header row" "$rows" '^Service port\|Protocol\|Addresses\|Proxy port\|'
expect_match "web row" "$rows" "^default/web:http\|TCP\|198\.19\.0\.10:80\|$WP\|rr\|ClientIP"
expect_match "dns row" "$rows" "^kube-system/dns:dns\|UDP\|198\.19\.0\.53:53\|$DP\|rr\|None"
expect_match "empty row" "$rows" "^default/empty:http\|TCP\|198\.19\.0\.11:80\|$EP\|"
expect_match "web endpoint 1" "$rows" "^→ 127\.0\.0\.11:$P\|"
expect_match "web endpoint 2" "$rows" "^→ 127\.0\.0\.12:$P\|"
expect_match "dns endpoint" "$rows" "^→ 127\.0\.0\.13:$P\|"
expect_match "empty has none" "$rows" "^no ready endpoint"
dom=$(cat "$T_DIR/dom.html")
expect_match "packet path of web" "$dom" "127\.0\.0\.1:$WP<small>kube-uproxy, TCP"
expect_match "reloads itself without script" "$dom" \
    '<noscript><meta http-equiv="refresh" content="5"></noscript>'
case $dom in *'src="http'*|*'href="http'*) fail "the page loads an external asset" ;; esac

# sparks FILE: per card and series, the polyline's points and the shown
# value; per card, the endpoint rows the script drew.  One line each:
#   spark|PORT|SERIES|NOW|MAX-HEIGHT|POINTS
#   ep|PORT|ENDPOINT|SHARE|CONNECTIONS|ACTIVE|FAILURES
# MAX-HEIGHT is how far the line rises above its baseline, in viewBox
# units (0: a flat line).
sparks() {
	"$PYTHON3" - "$1" <<'PY'
import sys
from html.parser import HTMLParser

class Cards(HTMLParser):
    def __init__(self):
        super().__init__()
        self.port = self.series = None
        self.now = self.points = ""
        self.in_now = self.in_eps = self.in_cell = False
        self.row, self.cell, self.out = None, "", []
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        cls = a.get("class", "").split()
        if tag == "section" and "card" in cls:
            self.port = a.get("data-port")
        elif tag == "figure" and "spark" in cls:
            self.series, self.now, self.points = a.get("data-series"), "", ""
        elif tag == "span" and "now" in cls and self.series:
            self.in_now = True
        elif tag == "polyline" and self.series:
            self.points = a.get("points", "")
        elif tag == "table" and "eps" in cls:
            self.in_eps = True
        elif self.in_eps and tag == "tr":
            self.row = []
        elif self.in_eps and tag == "td":
            self.in_cell, self.cell = True, ""
    def handle_endtag(self, tag):
        if tag == "span":
            self.in_now = False
        elif tag == "figure" and self.series:
            ys = [float(p.split(",")[1]) for p in self.points.split()]
            rise = (max(ys) - min(ys)) if ys else 0
            self.out.append("spark|%s|%s|%s|%.1f|%s" % (self.port, self.series,
                self.now, rise, self.points))
            self.series = None
        elif tag == "td" and self.in_cell:
            self.row.append(" ".join(self.cell.split()))
            self.in_cell = False
        elif tag == "tr" and self.in_eps and self.row is not None:
            if len(self.row) == 5:
                self.out.append("ep|%s|%s" % (self.port, "|".join(self.row)))
            self.row = None
        elif tag == "table":
            self.in_eps = False
    def handle_data(self, data):
        if self.in_now:
            self.now += data
        if self.in_cell:
            self.cell += data

c = Cards()
c.feed(open(sys.argv[1]).read())
print("\n".join(c.out))
PY
}

sparks "$T_DIR/dom.html" >"$T_DIR/before"
before=$(cat "$T_DIR/before")
expect_eq "sparklines: 4 service ports x 4 series" \
    "$(grep -c '^spark|' "$T_DIR/before")" 16
expect_match "web's new-connection sparkline is drawn" "$before" \
    '^spark\|default/web:http\|newConnections\|0\|0\.0\|[0-9]'
expect_match "UDP port labelled in flows" "$dom" 'new flows/s'

# Traffic for a few seconds: uploads and downloads through web, and
# connections through mixed, whose third endpoint refuses.
for i in 1 2 3 4 5 6; do
	client bulk 127.0.0.1 "$WP" --bytes 400000 --reply-bytes 300000 >/dev/null ||
	    fail "bulk transfer $i through default/web failed"
	client bulk 127.0.0.1 "$MP" --bytes 1000 --reply-bytes 300000 >/dev/null ||
	    fail "transfer $i through default/mixed failed"
	sleep 0.4
done
# The sampler runs once a second: wait until it has seen the traffic.
history_has_traffic() {
	client http "$METRICS_URL/debug/history" | "$PYTHON3" -c '
import json, sys
h = json.load(sys.stdin)
web = [p for p in h["ports"] if p["servicePort"] == "default/web:http"][0]
sys.exit(0 if sum(web.get("bytesToClients", [])) >= 6 * 300000 else 1)'
}
wait_for 5 "/debug/history to hold the traffic" history_has_traffic
client http "$METRICS_URL/debug/history" >"$T_DIR/history.json"

chrome "$T_DIR/dom-after.html" --dump-dom
sparks "$T_DIR/dom-after.html" >"$T_DIR/after"
log "after traffic:"; cut -d'|' -f1-5 "$T_DIR/after" | sed 's/^/    /'
after=$(cat "$T_DIR/after")
for s in newConnections bytesToEndpoints bytesToClients; do
	b=$(grep "^spark|default/web:http|$s|" "$T_DIR/before" | cut -d'|' -f6)
	a=$(grep "^spark|default/web:http|$s|" "$T_DIR/after" | cut -d'|' -f6)
	expect_ne "web's $s polyline moved" "$a" "$b"
	expect_match "web's $s line rises after traffic" \
	    "$(grep "^spark|default/web:http|$s|" "$T_DIR/after")" \
	    "^spark\|[^|]*\|$s\|[^|]*\|([1-9][0-9]*|[0-9]*[1-9])\.[0-9]\|"
done
expect_match "the idle UDP port stays flat" "$after" \
    '^spark\|kube-system/dns:dns\|newConnections\|0\|0\.0\|'
# mixed: three endpoints, round robin; the refusing one served nothing
# (its attempts went on to the next endpoint) and shows its failures.
expect_match "mixed endpoint .14: no share, failures" "$after" \
    "^ep\|default/mixed:http\|127\.0\.0\.14:$P\|0%\|0\|0\|[1-9][0-9]*$"
expect_match "mixed endpoint .11: a share" "$after" \
    "^ep\|default/mixed:http\|127\.0\.0\.11:$P\|[1-9][0-9]*%\|[1-9][0-9]*\|0\|0$"
expect_match "mixed endpoint .12: a share" "$after" \
    "^ep\|default/mixed:http\|127\.0\.0\.12:$P\|[1-9][0-9]*%\|[1-9][0-9]*\|0\|0$"
shares=$(grep "^ep|default/web:http|" "$T_DIR/after" | cut -d'|' -f4 | tr -d % |
    awk '{ s += $1 } END { print s }')
expect_match "web's shares add up to about 100%" "$shares" '^(99|100|101)$'
expect_match "live state shown" "$(cat "$T_DIR/dom-after.html")" \
    'id="live-state" class="ok">live · updated'

chrome "$T_DIR/chromium.out" --screenshot="$T_DIR/status_page.png" \
    --window-size=1280,1500
[ -s "$T_DIR/status_page.png" ] || fail "no screenshot"
# Kept beside the test's log, where the temp dir is not.
shot=$T_DIR/status_page.png
if [ -d "${TESTS_BUILDDIR:-}/integration" ]; then
	cp "$T_DIR/status_page.png" "$TESTS_BUILDDIR/integration/status_page.png" &&
	    shot=$TESTS_BUILDDIR/integration/status_page.png
fi
log "screenshot: $shot"
pass
