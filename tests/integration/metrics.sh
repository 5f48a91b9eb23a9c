#!/bin/bash
# metrics.sh - /metrics in the Prometheus text format: kube-proxy's sync
# families and ours, every sample under a HELP and TYPE, histograms
# cumulative up to +Inf; and values that move with what happens: syncs
# and changes on a manifest edit, healthz answers, connections accepted,
# active and refused, bytes both ways, a connect failure counted for the
# dead endpoint and the retry for the live one; and a connection that
# outlives its endpoint, then its service port, still counted (no counter
# left dangling: run it under ASan or valgrind).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/lib.sh"
t_begin

P=$(free_ports 1)
backend live tcp-echo 127.0.0.11:$P
# 127.0.0.12:$P: nothing listens there (connection refused).
write_manifest svc.yaml "$(m_service name=web port=http/TCP/80)
---
$(m_slice name=web port=http/TCP/$P ep=127.0.0.11 ep=127.0.0.12)
---
$(m_service name=empty ip=198.19.0.11 port=http/TCP/80)
---
$(m_slice name=empty port=http/TCP/$P)"
start_proxy
WP=$(wait_proxy_port default/web http)
EP=$(wait_proxy_port default/empty http)

# sample 'NAME{LABELS}': the value of exactly that sample, or ABSENT.
sample() {
	client http "$METRICS_URL/metrics" | awk -v s="$1" \
	    'index($0, s " ") == 1 { print $2; found = 1 } END { if (!found) print "ABSENT" }'
}
WEB='service_port="default/web:http",protocol="TCP"'
# Every proxy socket is open: none missing (the count once wrapped below
# zero with each port added, and kept a retry walking every port).
expect_eq "proxy sockets missing" "$(sample kube_uproxy_proxy_sockets_missing)" 0

# --- the format ------------------------------------------------------------
client http "$METRICS_URL/metrics" >"$T_DIR/metrics.txt"
"$PYTHON3" - "$T_DIR/metrics.txt" <<'PY' || fail "exposition format (above)"
import re, sys
helps, types, bad = {}, {}, []
buckets = {}
for line in open(sys.argv[1]).read().splitlines():
    m = re.match(r"# (HELP|TYPE) (\S+) (.*)", line)
    if m:
        (helps if m.group(1) == "HELP" else types)[m.group(2)] = m.group(3)
        continue
    m = re.match(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$', line)
    if not m:
        bad.append("not a sample: %r" % line); continue
    name, labels, value = m.group(1), m.group(3) or "", float(m.group(4))
    fam = name
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix) and types.get(name[:-len(suffix)]) == "histogram":
            fam = name[:-len(suffix)]
    if fam not in types or fam not in helps:
        bad.append("no HELP/TYPE before %s" % name)
    if name.endswith("_bucket") and fam != name:
        le = re.search(r'le="([^"]*)"', labels).group(1)
        buckets.setdefault(fam, []).append((le, value))
    if name.endswith("_count") and fam != name:
        b = buckets.get(fam, [])
        if not b or b[-1][0] != "+Inf" or b[-1][1] != value:
            bad.append("%s: last bucket is not +Inf = _count" % fam)
        if any(x[1] > y[1] for x, y in zip(b, b[1:])):
            bad.append("%s: buckets not cumulative" % fam)
for b in bad:
    print(b)
sys.exit(1 if bad else 0)
PY
for f in "kubeproxy_sync_proxy_rules_duration_seconds histogram" \
    "kubeproxy_sync_proxy_rules_last_timestamp_seconds gauge" \
    "kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds gauge" \
    "kubeproxy_sync_proxy_rules_service_changes_total counter" \
    "kubeproxy_sync_proxy_rules_service_changes_pending gauge" \
    "kubeproxy_sync_proxy_rules_endpoint_changes_total counter" \
    "kubeproxy_sync_proxy_rules_endpoint_changes_pending gauge" \
    "kubeproxy_network_programming_duration_seconds histogram" \
    "kubeproxy_proxy_healthz_total counter" \
    "kube_uproxy_tcp_connections_accepted_total counter" \
    "kube_uproxy_tcp_connections_active gauge" \
    "kube_uproxy_tcp_connections_refused_total counter" \
    "kube_uproxy_bytes_to_endpoints_total counter" \
    "kube_uproxy_bytes_to_clients_total counter" \
    "kube_uproxy_udp_flows_active gauge" \
    "kube_uproxy_udp_flows_created_total counter" \
    "kube_uproxy_udp_flows_evicted_total counter" \
    "kube_uproxy_udp_datagrams_to_endpoints_total counter" \
    "kube_uproxy_endpoint_connections_active gauge" \
    "kube_uproxy_endpoint_dial_failures_total counter" \
    "kube_uproxy_endpoint_dial_retries_total counter" \
    "kube_uproxy_rule_syncs_total counter" \
    "kube_uproxy_rule_sync_failures_total counter"; do
	grep -qxF "# TYPE $f" "$T_DIR/metrics.txt" || fail "no '# TYPE $f' in /metrics"
done
expect_eq "le of the first sync bucket" \
    "$(grep -c 'kubeproxy_sync_proxy_rules_duration_seconds_bucket{le="0.001"}' "$T_DIR/metrics.txt")" 1
expect_eq "/proxyMode" "$(client http "$METRICS_URL/proxyMode")" userspace

# --- healthz answers are counted by code ----------------------------------
h0=$(sample 'kubeproxy_proxy_healthz_total{code="200"}')
expect_gt "healthz 200 answers after start" "$h0" 0
healthz_ok && healthz_ok || fail "/healthz not 200"
expect_eq "healthz 200 answers after two more" \
    "$(sample 'kubeproxy_proxy_healthz_total{code="200"}')" $((h0 + 2))

# --- a sync per change ------------------------------------------------------
c0=$(metric kubeproxy_sync_proxy_rules_duration_seconds_count)
s0=$(metric kubeproxy_sync_proxy_rules_service_changes_total)
e0=$(metric kubeproxy_sync_proxy_rules_endpoint_changes_total)
expect_gt "syncs after start" "$c0" 0
expect_gt "service changes after start" "$s0" 1
write_manifest more.yaml "$(m_service name=more ip=198.19.0.12 port=http/TCP/80)
---
$(m_slice name=more port=http/TCP/$P ep=127.0.0.11)"
wait_proxy_port default/more http >/dev/null
synced() { [ "$(metric kubeproxy_sync_proxy_rules_duration_seconds_count)" -gt "$c0" ]; }
wait_for 3 "the sync count to grow past $c0" synced
expect_eq "service changes after adding a service" \
    "$(metric kubeproxy_sync_proxy_rules_service_changes_total)" $((s0 + 1))
expect_eq "endpoint changes after adding its endpoints" \
    "$(metric kubeproxy_sync_proxy_rules_endpoint_changes_total)" $((e0 + 1))
expect_eq "service changes pending after the sync" \
    "$(metric kubeproxy_sync_proxy_rules_service_changes_pending)" 0
last=$(metric kubeproxy_sync_proxy_rules_last_timestamp_seconds)
expect_gt "last sync timestamp (s)" "${last%.*}" $(( $(date +%s) - 60 ))

# --- network programming latency: from the slice's trigger time ----------------
n0=$(metric kubeproxy_network_programming_duration_seconds_count)
sum0=$(metric kubeproxy_network_programming_duration_seconds_sum)
trigger=$(date -u -d @$(( $(date +%s) - 5 )) +%Y-%m-%dT%H:%M:%SZ)
write_manifest more.yaml "$(m_service name=more ip=198.19.0.12 port=http/TCP/80)
---
$(m_slice name=more port=http/TCP/$P ep=127.0.0.11 ep=127.0.0.13 |
    sed "/^  namespace:/a\\  annotations:\\n    endpoints.kubernetes.io/last-change-trigger-time: \"$trigger\"")"
programmed() { [ "$(metric kubeproxy_network_programming_duration_seconds_count)" = $((n0 + 1)) ]; }
wait_for 3 "a network programming observation" programmed
# Between 5 s (the trigger's age) and 5 s plus the wait and a second of rounding.
delta=$("$PYTHON3" -c "print(int($(metric kubeproxy_network_programming_duration_seconds_sum) - $sum0))")
[ "$delta" -ge 4 ] && [ "$delta" -le 10 ] ||
    fail "network programming latency: $delta s, wanted about 5"
expect_eq "observations in le=0.5 (none was that fast)" \
    "$(sample 'kubeproxy_network_programming_duration_seconds_bucket{le="0.5"}')" 0

# --- traffic -----------------------------------------------------------------
a0=$(sample "kube_uproxy_tcp_connections_accepted_total{$WEB}")
# Hold one connection open and make it carry one line each way.
exec 3<>"/dev/tcp/127.0.0.1/$WP" || fail "cannot connect to the proxy port $WP"
printf 'hello\n' >&3
read -r -t 5 reply <&3 || fail "no echo through the proxy"
expect_eq "echo through the proxy" "$reply" hello
expect_eq "accepted on default/web:http" \
    "$(sample "kube_uproxy_tcp_connections_accepted_total{$WEB}")" $((a0 + 1))
expect_eq "active on default/web:http" \
    "$(sample "kube_uproxy_tcp_connections_active{$WEB}")" 1
expect_eq "active on the live endpoint" \
    "$(sample "kube_uproxy_endpoint_connections_active{service_port=\"default/web:http\",endpoint=\"127.0.0.11:$P\"}")" 1
expect_eq "active on the dead endpoint" \
    "$(sample "kube_uproxy_endpoint_connections_active{service_port=\"default/web:http\",endpoint=\"127.0.0.12:$P\"}")" 0
expect_eq "bytes to endpoints" "$(sample "kube_uproxy_bytes_to_endpoints_total{$WEB}")" 6
expect_eq "bytes to clients" "$(sample "kube_uproxy_bytes_to_clients_total{$WEB}")" 6
exec 3>&-
idle() { [ "$(sample "kube_uproxy_tcp_connections_active{$WEB}")" = 0 ]; }
wait_for 3 "the connection to end" idle

# Round robin over a live and a dead endpoint: two more connections make
# sure one pick hits the dead one, which fails and is retried on the live.
for i in 1 2; do
	exec 3<>"/dev/tcp/127.0.0.1/$WP" || fail "connect $i"
	printf 'x\n' >&3
	read -r -t 5 reply <&3 || fail "no echo on connection $i"
	exec 3>&-
done
DEAD="service_port=\"default/web:http\",endpoint=\"127.0.0.12:$P\""
LIVE="service_port=\"default/web:http\",endpoint=\"127.0.0.11:$P\""
expect_gt "connect failures of the dead endpoint" \
    "$(sample "kube_uproxy_endpoint_dial_failures_total{$DEAD}")" 0
expect_eq "connect failures of the live endpoint" \
    "$(sample "kube_uproxy_endpoint_dial_failures_total{$LIVE}")" 0
expect_gt "retries that went to the live endpoint" \
    "$(sample "kube_uproxy_endpoint_dial_retries_total{$LIVE}")" 0
expect_eq "port connect failures = the dead endpoint's" \
    "$(sample "kube_uproxy_connect_failures_total{$WEB}")" \
    "$(sample "kube_uproxy_endpoint_dial_failures_total{$DEAD}")"

# --- refused: no endpoint -----------------------------------------------------
res=$(client refuse 127.0.0.1 "$EP" --timeout 2)
expect_match "connection to a service without endpoints" "$res" '^(reset|eof|refused) '
expect_eq "refused on default/empty:http" \
    "$(sample 'kube_uproxy_tcp_connections_refused_total{service_port="default/empty:http",protocol="TCP"}')" 1
expect_eq "refused on default/web:http" \
    "$(sample "kube_uproxy_tcp_connections_refused_total{$WEB}")" 0

# --- counters outlive what they count ------------------------------------------
# An endpoint leaves while a connection to it is open: its series goes,
# the connection runs on and is still counted on its port.
exec 3<>"/dev/tcp/127.0.0.1/$WP" || fail "connect before the endpoint change"
printf 'one\n' >&3
read -r -t 5 reply <&3 || fail "no echo before the endpoint change"
write_manifest svc.yaml "$(m_service name=web port=http/TCP/80)
---
$(m_slice name=web port=http/TCP/$P ep=127.0.0.12)
---
$(m_service name=empty ip=198.19.0.11 port=http/TCP/80)
---
$(m_slice name=empty port=http/TCP/$P)"
gone() { [ "$(sample "kube_uproxy_endpoint_connections_active{$LIVE}")" = ABSENT ]; }
wait_for 3 "the live endpoint's series to go" gone
expect_eq "active on default/web:http after the endpoint left" \
    "$(sample "kube_uproxy_tcp_connections_active{$WEB}")" 1
printf 'two\n' >&3
read -r -t 5 reply <&3 || fail "no echo after the endpoint left"
expect_eq "echo after the endpoint left" "$reply" two
# Now the whole service port goes: the relay moves to the "(removed)" row.
MP=$(wait_proxy_port default/more http)
exec 4<>"/dev/tcp/127.0.0.1/$MP" || fail "connect to default/more"
printf 'three\n' >&4
read -r -t 5 reply <&4 || fail "no echo from default/more"
remove_manifest more.yaml
REMOVED='service_port="(removed)",protocol=""'
moved() { [ "$(sample "kube_uproxy_tcp_connections_active{$REMOVED}")" = 1 ]; }
wait_for 3 "the open relay of default/more to count as removed" moved
printf 'four\n' >&4
read -r -t 5 reply <&4 || fail "no echo after the port was removed"
expect_eq "echo after the port was removed" "$reply" four
exec 3>&- 4>&-
drained() { [ "$(metric kube_uproxy_tcp_connections_active)" = 0 ]; }
wait_for 3 "every connection to end" drained
pass
