#!/bin/bash
# show.sh - `kube-uproxy show` and `show --json` on a running proxy: every
# service port with protocol, addresses, proxy port, scheduler, affinity
# and its endpoints, each with its active connections (1 on the endpoint
# that carries a connection held open); both forms say the same; and a
# clear error, exit status 1, when no daemon answers.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/lib.sh"
t_begin

P=$(free_ports 1)
backend a tcp-echo 127.0.0.11:$P
backend b tcp-echo 127.0.0.12:$P
backend dns udp-echo-name 127.0.0.13:$P
write_manifest svc.yaml "$(m_service name=web port=http/TCP/80 affinity=ClientIP timeout=600 type=NodePort nodeport=30080 extip=198.18.0.7)
---
$(m_slice name=web port=http/TCP/$P ep=127.0.0.11 ep=127.0.0.12)
---
$(m_service name=dns ns=kube-system ip=198.19.0.53 port=dns/UDP/53)
---
$(m_slice name=dns ns=kube-system port=dns/UDP/$P ep=127.0.0.13)"
start_proxy
WP=$(wait_proxy_port default/web http)
DP=$(wait_proxy_port kube-system/dns dns)
show() { "$KUBE_UPROXY" show --metrics-address "127.0.0.1:$METRICS_PORT" "$@"; }

# --- text, like ipvsadm -Ln ---------------------------------------------------
out=$(show) || fail "show exited $?"
log "show:"; printf '%s\n' "$out" | sed 's/^/    /'
expect_match "header" "$(printf '%s\n' "$out" | head -1)" '^Prot Service port +ProxyPort Scheduler Flags'
expect_match "web line" "$out" "TCP +default/web:http +$WP +rr +persistent 600"
expect_match "web addresses" "$out" "198\.19\.0\.10:80 node:30080 198\.18\.0\.7:80 \(external\)"
expect_match "dns line" "$out" "UDP +kube-system/dns:dns +$DP +rr"
expect_match "endpoint a" "$out" "^  -> 127\.0\.0\.11:$P +0 +0 +0$"
expect_match "endpoint b" "$out" "^  -> 127\.0\.0\.12:$P +0 +0 +0$"
expect_match "dns endpoint" "$out" "^  -> 127\.0\.0\.13:$P +0 "

# --- a connection held open shows on its endpoint ----------------------------
exec 3<>"/dev/tcp/127.0.0.1/$WP" || fail "cannot connect to proxy port $WP"
printf 'hello\n' >&3
read -r -t 5 reply <&3 || fail "no echo through the proxy"
out=$(show) || fail "show exited $?"
active=$(printf '%s\n' "$out" | awk -v p=":$P" '$1 == "->" && index($2, p) { print $2, $3 }')
log "ActiveConn per endpoint: $(echo $active)"
expect_eq "endpoints with ActiveConn 1" "$(printf '%s\n' "$active" | grep -c ' 1$')" 1
expect_eq "endpoints with ActiveConn 0" "$(printf '%s\n' "$active" | grep -c ' 0$')" 2

# --- the same as JSON ------------------------------------------------------------
show --json >"$T_DIR/show.json" || fail "show --json exited $?"
"$PYTHON3" - "$T_DIR/show.json" "$WP" "$DP" "$P" <<'PY' || fail "show --json (above)"
import json, sys
data = json.load(open(sys.argv[1]))
wp, dp, p = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
by = {(s["service"], s["portName"]): s for s in data}
bad = []
web, dns = by.get(("default/web", "http")), by.get(("kube-system/dns", "dns"))
if web is None or dns is None:
    sys.exit("services missing: %s" % sorted(by))
want = {"protocol": "TCP", "proxyPort": wp, "scheduler": "rr",
        "sessionAffinity": "ClientIP", "affinityTimeoutSeconds": 600,
        "port": 80, "clusterIPs": ["198.19.0.10"], "nodePort": 30080,
        "externalIPs": ["198.18.0.7"], "activeConnections": 1}
for k, v in want.items():
    if web.get(k) != v:
        bad.append("web %s: %r, wanted %r" % (k, web.get(k), v))
eps = {e["endpoint"]: e["activeConnections"] for e in web["endpoints"]}
if sorted(eps) != ["127.0.0.11:" + p, "127.0.0.12:" + p] or sorted(eps.values()) != [0, 1]:
    bad.append("web endpoints: %r" % eps)
if dns.get("protocol") != "UDP" or dns.get("proxyPort") != dp:
    bad.append("dns: %r" % dns)
for b in bad:
    print(b)
sys.exit(1 if bad else 0)
PY
exec 3>&-

# --- no daemon ------------------------------------------------------------------
NP=$(free_ports 1)
err=$("$KUBE_UPROXY" show --metrics-address "127.0.0.1:$NP" 2>&1 >/dev/null)
rc=$?
expect_eq "exit status of show without a daemon" "$rc" 1
expect_match "error of show without a daemon" "$err" "^kube-uproxy show: http://127\.0\.0\.1:$NP/debug/services: "
"$KUBE_UPROXY" show --bogus >/dev/null 2>&1
expect_eq "exit status of show with a bad flag" "$?" 2
pass
