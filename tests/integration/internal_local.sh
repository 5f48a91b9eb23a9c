#!/bin/bash
# internal_local.sh - internalTrafficPolicy Local over TCP and UDP (issue
# 12, point 4), from manifests with endpoints on our node and another.
# A NodePort Service with iTP Local and eTP Cluster: cluster IP traffic
# only to the local endpoint, nodePort traffic (its own proxy port, here
# reached directly: --iptables none) to both; the local endpoint gone,
# cluster IP traffic is refused (TCP reset at once, UDP dropped) while
# nodePort traffic goes on.  A ClusterIP Service with iTP Local has no
# external traffic, so no second proxy port.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/lib.sh"
t_begin

read -r P NP <<<"$(free_ports 2 | tr '\n' ' ')"
backend a tcp-name 127.0.0.11:$P
backend b tcp-name 127.0.0.12:$P
backend ua udp-echo-name 127.0.0.11:$P --name a
backend ub udp-echo-name 127.0.0.12:$P --name b

svc() {	# NAME TYPE
	cat <<EOF
apiVersion: v1
kind: Service
metadata: {name: $1, namespace: default}
spec:
  type: $2
  clusterIP: 198.19.0.${3:-10}
  internalTrafficPolicy: Local
  ports:
  - {name: web, protocol: TCP, port: 80, targetPort: $P$( [ "$2" = NodePort ] && echo ", nodePort: $NP")}
  - {name: dns, protocol: UDP, port: 53, targetPort: $P$( [ "$2" = NodePort ] && echo ", nodePort: $NP")}
EOF
}
slice() {	# SERVICE A-READY
	cat <<EOF
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: $1-1
  namespace: default
  labels: {kubernetes.io/service-name: $1}
addressType: IPv4
ports: [{name: web, protocol: TCP, port: $P}, {name: dns, protocol: UDP, port: $P}]
endpoints:
- addresses: [127.0.0.11]
  nodeName: node-a
  conditions: {ready: $2}
- addresses: [127.0.0.12]
  nodeName: node-b
  conditions: {ready: true}
EOF
}

write_manifest np.yaml "$(svc np NodePort)
---
$(slice np true)
---
$(svc cip ClusterIP 11)
---
$(slice cip true)"
start_proxy --hostname-override node-a --service-node-port-range 1024-65535
TI=$(wait_proxy_port default/np web)
TE=$(service_field default/np web externalProxyPort)
UI=$(wait_proxy_port default/np dns)
UE=$(service_field default/np dns externalProxyPort)
CI=$(wait_proxy_port default/cip web)
log "np: TCP $TI/$TE, UDP $UI/$UE; cip: TCP $CI"
expect_ne "TCP: nodePort traffic on a proxy port of its own" "$TE" "$TI"
expect_ne "UDP: nodePort traffic on a proxy port of its own" "$UE" "$UI"
expect_eq "cip: no external traffic, no second port" \
    "$(service_field default/cip web externalProxyPort)" "$CI"

names_are "$TI" 4 a || fail "TCP cluster IP traffic left our node"
names_are "$CI" 4 a || fail "TCP cluster IP traffic of cip left our node"
seen=$(for i in 1 2 3 4; do t_outcome "$TE"; done | sort -u | tr '\n' ' ')
expect_eq "TCP nodePort traffic to both" "$seen" "a b "
expect_all "UDP cluster IP traffic, local only" \
    "$(for i in 1 2 3 4; do client udp 127.0.0.1 "$UI"; done)" a
seen=$(for i in 1 2 3 4; do client udp 127.0.0.1 "$UE"; done | sort -u | tr '\n' ' ')
expect_eq "UDP nodePort traffic to both" "$seen" "a b "

# The local endpoint is not ready: cluster IP traffic has nowhere to go.
write_manifest np.yaml "$(svc np NodePort)
---
$(slice np false)
---
$(svc cip ClusterIP 11)
---
$(slice cip false)"
wait_for 3 "TCP cluster IP traffic refused" refused "$TI"
out=$(client refuse 127.0.0.1 "$TI")
log "refused: $out"
expect_match "refused at once" "$out" '^(refused|reset|eof) '
names_are "$TE" 4 b || fail "TCP nodePort traffic not served by b"
udp_none() { [ "$(client udp 127.0.0.1 "$UI" 2>&1)" != a ]; }
wait_for 3 "UDP cluster IP traffic dropped" udp_none
expect_all "UDP nodePort traffic to b" \
    "$(for i in 1 2 3; do client udp 127.0.0.1 "$UE"; done)" b
expect_eq "no local endpoints gauge (internal)" \
    "$(client metric "$METRICS_URL/metrics" kubeproxy_sync_proxy_rules_no_local_endpoints_total)" 4
stop_proxy
pass
