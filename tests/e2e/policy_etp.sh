#!/bin/bash
# policy_etp.sh - externalTrafficPolicy: Local (issue 12, point 2).  A
# LoadBalancer Service (tests/data/policy/etp-local.yaml) has pods 1 and 2
# on our node (node-a) and pods 3 and 4 on node-b: the external client
# reaches only pods 1 and 2 through the nodePorts (TCP and UDP), the
# externalIP and the LoadBalancer IP, while the clusterIP of the same
# Service reaches all four.  With no local pod left, the external
# addresses refuse at once (reset, as a port without endpoints) and the
# clusterIP still reaches the pods of node-b; a local pod back is used
# again.  Switching the policy to Cluster and back refuses no request of
# a client looping on the nodePort.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/e2e/lib.sh"
pol_begin udp

cp "$TESTS_SRCDIR/data/policy/etp-local.yaml" "$T_DIR/manifests/web.yaml" ||
    hard_error "cannot copy the manifest"
pol_start_proxy
wait_proxy_port default/web http >/dev/null
EXT="http://$NODE_IP:30030/ http://198.18.50.30/ http://198.18.100.30/"
ALL="pod1 pod2 pod3 pod4"

# 1. Pods 1 and 2 local.
for url in $EXT; do
	soft expect_names "eTP Local, external traffic" "$CLIENT" "$url" 6 "pod1 pod2"
done
soft expect_names "the clusterIP from the client" "$CLIENT" http://198.19.0.30/ 8 "$ALL"
soft expect_names "the clusterIP from a pod" "$POD3" http://198.19.0.30/ 8 "$ALL"
soft expect_names "the clusterIP from the node" "$NODE" http://198.19.0.30/ 8 "$ALL"
# UDP: each new flow (a new client socket) is balanced.
soft expect_eq "eTP Local, UDP nodePort" \
    "$(udp_names "$CLIENT" "$NODE_IP" 30031 6)" \
    "pod1 from $NODE_IP pod2 from $NODE_IP"
soft expect_eq "eTP Local, UDP LoadBalancer IP" \
    "$(udp_names "$CLIENT" 198.18.100.30 53 6)" \
    "pod1 from 198.18.100.30 pod2 from 198.18.100.30"
soft expect_eq "UDP clusterIP" "$(udp_names "$CLIENT" 198.19.0.30 53 8)" \
    "pod1 from 198.19.0.30 pod2 from 198.19.0.30 pod3 from 198.19.0.30 pod4 from 198.19.0.30"
# (Not asserted: kube-proxy sends the node's own traffic to an external
# address to every endpoint, "short-circuiting" it; the issue is silent.)
log "the node to its own nodePort: $(names_seen "$NODE" http://127.0.0.1:30030/ 6)"

# 2. No local pod: external traffic refused at once, clusterIP unchanged.
write_manifest web.yaml "$(p_list "$(p_service name=web type=LoadBalancer \
    ip=198.19.0.30 port=http/TCP/80/80/30030 extip=198.18.50.30 \
    lb=198.18.100.30 etp=Local hcnp=32030)" \
    "$(p_slice name=web slice=web-abcde port=http/TCP/80 \
    ep=$P1,$R ep=$P2,$R ep=$P3,$R ep=$P4,$R)")"
wait_for 5 "the nodePort to refuse (no local endpoint)" \
    is_refused_fast "$CLIENT" "$NODE_IP" 30030
soft expect_refused "nodePort, no local endpoint" "$CLIENT" "$NODE_IP" 30030
soft expect_refused "externalIP, no local endpoint" "$CLIENT" 198.18.50.30 80
soft expect_refused "LoadBalancer IP, no local endpoint" "$CLIENT" 198.18.100.30 80
soft expect_names "the clusterIP with no local endpoint" "$CLIENT" \
    http://198.19.0.30/ 8 "$ALL"
soft expect_eq "services with eTP Local and no local endpoint (metric)" \
    "$(metric_sample 'kubeproxy_sync_proxy_rules_no_local_endpoints_total{traffic_policy="external"}')" 1

# 3. Pod 4 moves to our node (as if rescheduled): it alone takes external
# traffic.
write_manifest web.yaml "$(p_list "$(p_service name=web type=LoadBalancer \
    ip=198.19.0.30 port=http/TCP/80/80/30030 extip=198.18.50.30 \
    lb=198.18.100.30 etp=Local hcnp=32030)" \
    "$(p_slice name=web slice=web-abcde port=http/TCP/80 \
    ep=$P1,$R ep=$P2,$R ep=$P3,$R ep=$P4,$L)")"
soft wait_names 5 "eTP Local, one local pod" "$CLIENT" "http://$NODE_IP:30030/" 4 pod4
soft expect_eq "services with eTP Local and no local endpoint, one local pod (metric)" \
    "$(metric_sample 'kubeproxy_sync_proxy_rules_no_local_endpoints_total{traffic_policy="external"}')" 0
soft expect_names "LoadBalancer IP, one local pod" "$CLIENT" http://198.18.100.30/ 4 pod4
soft expect_names "the clusterIP, one local pod" "$CLIENT" http://198.19.0.30/ 8 "$ALL"

# 4. externalTrafficPolicy to Cluster and back, under a client looping
# on the nodePort: every pod, then pod 4 only, and not one request
# refused on the way (the pods never stopped serving).  Each switch comes
# right after another rule change (a new Service), within
# --iptables-min-sync-period of it, so the rules of the switch may wait:
# the proxy ports must keep serving until they do.
loop_start np "$CLIENT" "http://$NODE_IP:30030/"
loop_wait np 5
write_manifest other.json "$(p_service name=other ip=198.19.0.31 port=http/TCP/80/80)"
write_manifest web.yaml "$(p_list "$(p_service name=web type=LoadBalancer \
    ip=198.19.0.30 port=http/TCP/80/80/30030 extip=198.18.50.30 \
    lb=198.18.100.30)" \
    "$(p_slice name=web slice=web-abcde port=http/TCP/80 \
    ep=$P1,$R ep=$P2,$R ep=$P3,$R ep=$P4,$L)")"
soft wait_for 5 "the nodePort loop to reach all four pods (eTP Cluster)" \
    loop_tail_is np 8 "$ALL"
write_manifest other.json "$(p_service name=other ip=198.19.0.32 port=http/TCP/80/80)"
write_manifest web.yaml "$(p_list "$(p_service name=web type=LoadBalancer \
    ip=198.19.0.30 port=http/TCP/80/80/30030 extip=198.18.50.30 \
    lb=198.18.100.30 etp=Local hcnp=32030)" \
    "$(p_slice name=web slice=web-abcde port=http/TCP/80 \
    ep=$P1,$R ep=$P2,$R ep=$P3,$R ep=$P4,$L)")"
soft wait_for 5 "the nodePort loop to reach pod 4 alone (eTP Local)" \
    loop_tail_is np 12 pod4
loop_stop
soft expect_eq "requests of the nodePort loop refused while the policy changed ($(grep -m1 '^FAIL' "$T_DIR/loop-np"))" \
    "$(grep -c '^FAIL' "$T_DIR/loop-np")" 0
log "nodePort loop: $(loop_lines np) requests"
soft expect_names "eTP Local, the LoadBalancer IP at the end" "$CLIENT" \
    http://198.18.100.30/ 4 pod4
pass
