#!/bin/bash
# traffic_policy.sh - externalTrafficPolicy Local on a LoadBalancer
# Service with two "nodes" worth of endpoints (nodeName ours and another),
# from manifests (issue 12, points 2, 3 and 5).  Without rules
# (--iptables none) a client reaches the proxy ports directly: external
# traffic has a proxy port of its own (externalProxyPort in
# /debug/services), internal traffic the usual one.
#  - external traffic reaches only the local endpoint, internal both;
#  - the health check node port answers 200 with localEndpoints 1 and
#    kube-proxy's headers, on any path;
#  - the local endpoint not ready: external refused at once, the health
#    check 503 with localEndpoints 0, the no-local-endpoints gauge 1,
#    internal traffic still served;
#  - the local endpoint serving and terminating: external traffic uses it
#    (KEP-1669), the health check stays 503 (only ready ones count);
#  - a connection open to the local endpoint is not cut when the endpoint
#    terminates or leaves;
#  - the policy back to Cluster: one proxy port for both, health check
#    port closed;
#  - with --nodeport-addresses the health check listens only on the local
#    addresses in those ranges.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/lib.sh"
t_begin
[ -n "$T_CURL" ] || skip "no curl"

read -r P HC NP <<<"$(free_ports 3 | tr '\n' ' ')"
backend a tcp-name 127.0.0.11:$P
backend b tcp-name 127.0.0.12:$P
backend e tcp-echo 127.0.0.13:$P

# svc POLICY [HCNP]: the Service, LoadBalancer with an ingress IP.
svc() {
	cat <<EOF
apiVersion: v1
kind: Service
metadata: {name: lb, namespace: default}
spec:
  type: LoadBalancer
  clusterIP: 198.19.0.10
  clusterIPs: [198.19.0.10]
  externalTrafficPolicy: $1
${2:+  healthCheckNodePort: $2}
  ports:
  - {name: web, protocol: TCP, port: 80, targetPort: $P, nodePort: $NP}
status:
  loadBalancer:
    ingress: [{ip: 198.18.200.1}]
EOF
}

# slice A-CONDITIONS [E-CONDITIONS]: a on our node, b on another, and e
# (an echo server) on ours when E-CONDITIONS is given.
slice() {
	cat <<EOF
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: lb-1
  namespace: default
  labels: {kubernetes.io/service-name: lb}
addressType: IPv4
ports: [{name: web, protocol: TCP, port: $P}]
endpoints:
- addresses: [127.0.0.11]
  nodeName: node-a
  conditions: $1
- addresses: [127.0.0.12]
  nodeName: node-b
  conditions: {ready: true, serving: true, terminating: false}
EOF
	[ -n "${2:-}" ] && cat <<EOF
- addresses: [127.0.0.13]
  nodeName: node-a
  conditions: $2
EOF
	return 0
}

READY='{ready: true, serving: true, terminating: false}'
NOTREADY='{ready: false, serving: false, terminating: false}'
TERMINATING='{ready: false, serving: true, terminating: true}'

write_manifest lb.yaml "$(svc Local "$HC")
---
$(slice "$READY")"
start_proxy --hostname-override node-a --service-node-port-range 1024-65535
IN=$(wait_proxy_port default/lb web)
EX=$(service_field default/lb web externalProxyPort)
log "internal proxy port $IN, external $EX, health check $HC"
expect_ne "external traffic has a proxy port of its own" "$EX" "$IN"
expect_ne "external proxy port open" "$EX" 0
expect_eq "external endpoints" "$(service_field default/lb web externalEndpoints)" \
    "[\"127.0.0.11:$P\"]"
expect_eq "internal endpoints" "$(service_field default/lb web endpoints)" \
    "[\"127.0.0.11:$P\", \"127.0.0.12:$P\"]"
expect_eq "external reason" \
    "$(service_field default/lb web externalTraffic | jq -r .reason)" "local and ready"

# kube-uproxy show: the policies, the sets and why, every endpoint.
out=$("$KUBE_UPROXY" show --metrics-address "127.0.0.1:$METRICS_PORT") ||
    fail "show exited $?"
log "show:"; printf '%s\n' "$out" | sed 's/^/    /'
expect_match "show: internal" "$out" \
    "    internal Cluster: cluster set, 2 \(ready\)"
expect_match "show: external" "$out" \
    "    external Local: local set, 1 \(local and ready\), proxy port $EX, health check node port $HC"
expect_eq "show: endpoint a" "$(printf '%s\n' "$out" |
    grep -cE "^     127\.0\.0\.11:$P +node-a\* +ready +int ext$")" 1
expect_eq "show: endpoint b" "$(printf '%s\n' "$out" |
    grep -cE "^     127\.0\.0\.12:$P +node-b +ready +int$")" 1

# The status page: the policy row, the external path, endpoint states.
page=$("$T_CURL" -s -m 2 "$METRICS_URL/")
expect_match "status page: external traffic" "$page" \
    "external Local: local set, 1 \(local and ready\), proxy port $EX, health check node port $HC"
expect_match "status page: external path" "$page" \
    "127\.0\.0\.1:$EX<small>kube-uproxy, external traffic, Local policy"
expect_match "status page: endpoint b" "$page" \
    "node-b ready &middot; internal </small>"

# External: only a.  Internal: both, in turn.
names_are "$EX" 6 a || fail "external traffic reached another endpoint than the local one"
seen=$(for i in 1 2 3 4; do t_outcome "$IN"; done | sort -u | tr '\n' ' ')
expect_eq "internal traffic reaches both endpoints" "$seen" "a b "

hc() { "$T_CURL" -s -m 2 -D "$T_DIR/hc.headers" -o "$T_DIR/hc.body" \
    -w '%{http_code}' "http://127.0.0.1:$HC${1:-/}"; }
hc_is() { [ "$(hc)" = "$1" ]; }
wait_for 3 "health check node port 200" hc_is 200
expect_eq "health check body" "$(cat "$T_DIR/hc.body")" \
    '{"service":{"namespace":"default","name":"lb"},"localEndpoints":1,"serviceProxyHealthy":true}'
expect_match "Content-Type" "$(tr -d '\r' <"$T_DIR/hc.headers")" \
    $'Content-Type: application/json\n'
expect_match "X-Content-Type-Options" "$(tr -d '\r' <"$T_DIR/hc.headers")" \
    $'X-Content-Type-Options: nosniff\n'
expect_eq "any path" "$(hc /whatever)" 200
expect_eq "IPv6 probe too (dual-stack listener)" \
    "$("$T_CURL" -s -m 2 -o /dev/null -w '%{http_code}' "http://[::1]:$HC/" ||
    true)" 200

# The local endpoint stops being ready.
write_manifest lb.yaml "$(svc Local "$HC")
---
$(slice "$NOTREADY")"
wait_for 3 "health check 503" hc_is 503
expect_eq "health check body, none local" "$(cat "$T_DIR/hc.body")" \
    '{"service":{"namespace":"default","name":"lb"},"localEndpoints":0,"serviceProxyHealthy":true}'
wait_for 3 "external traffic refused" refused "$EX"
names_are "$IN" 4 b || fail "internal traffic not served by b"
expect_eq "no local endpoints gauge (external)" \
    "$(client metric "$METRICS_URL/metrics" kubeproxy_sync_proxy_rules_no_local_endpoints_total)" 1
expect_eq "external reason" \
    "$(service_field default/lb web externalTraffic | jq -r .reason)" "no local endpoint"

# Serving and terminating: external traffic falls back to it; the health
# check counts ready endpoints only.
write_manifest lb.yaml "$(svc Local "$HC")
---
$(slice "$TERMINATING")"
wait_for 3 "external traffic to the terminating local endpoint" names_are "$EX" 1 a
names_are "$EX" 4 a || fail "external traffic left the terminating endpoint"
hc_is 503 || fail "health check not 503 with only a terminating local endpoint"
names_are "$IN" 4 b || fail "internal traffic went to the terminating endpoint"

# An open connection to a local endpoint that terminates, then leaves.
write_manifest lb.yaml "$(svc Local "$HC")
---
$(slice "$NOTREADY" "$READY")"
wait_for 3 "external endpoint e" \
    eval '[ "$(service_field default/lb web externalEndpoints)" = "[\"127.0.0.13:$P\"]" ]'
hold_open "$EX"
write_manifest lb.yaml "$(svc Local "$HC")
---
$(slice "$NOTREADY" "$TERMINATING")"
wait_for 3 "e terminating" \
    eval '[ "$(service_field default/lb web externalTraffic | jq -r .reason)" = "local, serving and terminating (none ready)" ]'
held_echo terminating || fail "connection cut when its endpoint began terminating"
write_manifest lb.yaml "$(svc Local "$HC")
---
$(slice "$NOTREADY")"
wait_for 3 "e gone" refused "$EX"
held_echo gone || fail "connection cut when its endpoint left"

# Back to Cluster: one proxy port, no health check port.
write_manifest lb.yaml "$(svc Cluster)
---
$(slice "$READY")"
wait_for 3 "one proxy port for both" \
    eval '[ "$(service_field default/lb web externalProxyPort)" = "$IN" ]'
hc_closed() { [ "$(hc)" = 000 ]; }
wait_for 3 "health check port closed" hc_closed
expect_eq "no local endpoints gauge" \
    "$(client metric "$METRICS_URL/metrics" kubeproxy_sync_proxy_rules_no_local_endpoints_total)" 0
held_echo still || fail "connection cut when the policy changed"
stop_proxy

# --nodeport-addresses: the health check listens on the local addresses
# in the ranges only (here 127.0.0.1, not ::1).
write_manifest lb.yaml "$(svc Local "$HC")
---
$(slice "$READY")"
start_proxy --hostname-override node-a --service-node-port-range 1024-65535 \
    --nodeport-addresses 127.0.0.0/8
wait_for 3 "health check node port 200 on 127.0.0.1" hc_is 200
expect_eq "not on ::1" "$("$T_CURL" -s -m 2 -o /dev/null -w '%{http_code}' \
    "http://[::1]:$HC/" || true)" 000
stop_proxy
pass
