#!/bin/bash
# status_page.sh - GET / on the metrics address, loaded in headless
# Chromium: the rendered table holds every service port with its proxy
# port and endpoints, the packet path is there, and the page asks to be
# reloaded.  Skipped (77) when Chromium is not installed.
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
write_manifest svc.yaml "$(m_service name=web port=http/TCP/80 affinity=ClientIP)
---
$(m_slice name=web port=http/TCP/$P ep=127.0.0.11 ep=127.0.0.12)
---
$(m_service name=dns ns=kube-system ip=198.19.0.53 port=dns/UDP/53)
---
$(m_slice name=dns ns=kube-system port=dns/UDP/$P ep=127.0.0.13)
---
$(m_service name=empty ip=198.19.0.11 port=http/TCP/80)"
start_proxy
WP=$(wait_proxy_port default/web http)
DP=$(wait_proxy_port kube-system/dns dns)
EP=$(wait_proxy_port default/empty http)

expect_match "Content-Type of /" \
    "$(client http --header Content-Type "$METRICS_URL/")" '^text/html'

# Chromium writes its profile under HOME; keep it in the temp dir.
HOME=$T_DIR timeout 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu \
    --disable-dev-shm-usage --no-first-run --user-data-dir="$T_DIR/chromium" \
    --virtual-time-budget=1000 --dump-dom "$METRICS_URL/" \
    >"$T_DIR/dom.html" 2>"$T_DIR/chromium.err" ||
    hard_error "chromium failed: $(tail -3 "$T_DIR/chromium.err")"
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
expect_match "self-refresh" "$dom" '<meta http-equiv="refresh" content="2">'
case $dom in *'src="http'*|*'href="http'*) fail "the page loads an external asset" ;; esac
pass
