#!/bin/bash
# lifecycle.sh - the outside contract of DESIGN.md section 2: flag errors
# (one line naming the flag, exit 1), --help, the HTTP endpoints and their
# shapes, counters that move with traffic, SIGHUP re-reading manifests,
# SIGTERM exiting 0 within 2 s.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/lib.sh"
t_begin

# run_bad WHAT EXPECTED-IN-STDERR ARGS...: must exit 1, one stderr line.
run_bad() {
	local what=$1 want=$2 rc
	shift 2
	timeout 5 "$KUBE_UPROXY" "$@" >"$T_DIR/bad.out" 2>"$T_DIR/bad.err" </dev/null
	rc=$?
	soft expect_eq "exit status for $what" "$rc" 1
	soft expect_eq "stderr lines for $what ($(head -c 300 "$T_DIR/bad.err"))" \
	    "$(wc -l <"$T_DIR/bad.err")" 1
	grep -qF -- "$want" "$T_DIR/bad.err" ||
	    soft fail "stderr for $what does not name '$want': $(cat "$T_DIR/bad.err")"
}
base="--iptables none --bind-address 127.0.0.1 --manifests $T_DIR/manifests --metrics-bind-address 127.0.0.1:0 --healthz-bind-address 127.0.0.1:0"
run_bad "a bad duration" udp-timeout $base --udp-timeout bogus
run_bad "a bad duration (=)" udp-timeout $base --udp-timeout=12parsecs
run_bad "an unknown flag" no-such-flag $base --no-such-flag
run_bad "a bad --iptables" iptables $base --iptables bogus
run_bad "a bad --bind-address" bind-address $base --bind-address 300.1.1.1
run_bad "a bad port range" proxy-port-range $base --proxy-port-range 9-x
run_bad "a missing value" v $base --v
run_bad "a missing manifests path" "$T_DIR/nonexistent" --iptables none \
    --bind-address 127.0.0.1 --manifests "$T_DIR/nonexistent" \
    --metrics-bind-address 127.0.0.1:0 --healthz-bind-address 127.0.0.1:0

timeout 5 "$KUBE_UPROXY" --help >"$T_DIR/help.out" 2>&1 </dev/null
expect_eq "exit status of --help" "$?" 0
grep -q -- --manifests "$T_DIR/help.out" || fail "--help does not list --manifests"

# A running daemon.
P=$(free_ports 1)
backend a tcp-name 127.0.0.11:$P
backend b tcp-name 127.0.0.12:$P
write_manifest web.yaml "$(m_service name=web port=http/TCP/80 type=NodePort nodeport=30001 extip=198.19.1.1)
---
$(m_slice name=web port=http/TCP/$P ep=127.0.0.11)"
write_manifest hup.yaml "$(m_service name=hup ip=198.19.0.11 port=http/TCP/80)
---
$(m_slice name=hup port=http/TCP/$P)"
# A second name for hup.yaml outside the watched directory: writes through
# it are invisible to a directory watch, so only SIGHUP can pick them up.
ln "$T_DIR/manifests/hup.yaml" "$T_DIR/hup-link.yaml"
start_proxy
PP=$(wait_proxy_port default/web http)

expect_eq "/livez" "$(client http --status "$HEALTHZ_URL/livez")" 200
res=$(client healthz-shape "$HEALTHZ_URL/healthz") || fail "/healthz: $res"
expect_eq "/healthz content type" \
    "$(client http --header Content-Type "$HEALTHZ_URL/healthz" | cut -d';' -f1)" application/json
expect_eq "unknown path" "$(client http --status "$METRICS_URL/no/such/path")" 404

res=$(client debug-shape "$METRICS_URL/debug/services" default/web http) ||
    fail "/debug/services shape: $(echo $res)"
field() { echo "$res" | sed -n "s/^$1=//p"; }
expect_eq "service" "$(field service)" default/web
expect_eq "portName" "$(field portName)" http
expect_eq "protocol" "$(field protocol)" TCP
expect_eq "clusterIPs" "$(field clusterIPs)" '["198.19.0.10"]'
expect_eq "port" "$(field port)" 80
expect_eq "nodePort" "$(field nodePort)" 30001
expect_eq "externalIPs" "$(field externalIPs)" '["198.19.1.1"]'
expect_eq "loadBalancerIPs" "$(field loadBalancerIPs)" '[]'
expect_eq "proxyPort" "$(field proxyPort)" "$PP"
expect_eq "sessionAffinity" "$(field sessionAffinity)" None
expect_eq "endpoints" "$(field endpoints)" "[\"127.0.0.11:$P\"]"

metrics=$(client http "$METRICS_URL/metrics")
expect_gt "# TYPE lines in /metrics" "$(echo "$metrics" | grep -c '^# TYPE kube_uproxy_')" 5
expect_eq "kube_uproxy_service_ports" "$(metric kube_uproxy_service_ports)" 2
before=$(metric kube_uproxy_tcp_connections_accepted_total)
bytes_before=$(metric kube_uproxy_bytes_to_clients_total)
expect_all "traffic" "$(client names 127.0.0.1 "$PP" 3)" a
expect_eq "connections accepted after 3 more" \
    "$(metric kube_uproxy_tcp_connections_accepted_total)" $((before + 3))
expect_eq "bytes to clients after 3 answers" \
    "$(metric kube_uproxy_bytes_to_clients_total)" $((bytes_before + 6))
expect_eq "/proxyMode" "$(client http --status "$METRICS_URL/proxyMode")" 200
expect_eq "/configz" "$(client http --status "$METRICS_URL/configz")" 200

# SIGHUP re-reads manifests.
printf '%s\n---\n%s\n' "$(m_service name=hup ip=198.19.0.11 port=http/TCP/80)" \
    "$(m_slice name=hup port=http/TCP/$P ep=127.0.0.12)" >"$T_DIR/hup-link.yaml"
kill -HUP "$T_DAEMON_PID"
hup_read() { [ "$(service_field default/hup http endpoints)" = "[\"127.0.0.12:$P\"]" ]; }
wait_for 1 "the manifest change after SIGHUP" hup_read
expect_all "the service changed by SIGHUP" \
    "$(client names 127.0.0.1 "$(proxy_port default/hup http)" 2)" b
daemon_alive

stop_proxy
expect_match "the proxy port after exit" "$(client refuse 127.0.0.1 "$PP" --timeout 1)" '^refused '
pass
