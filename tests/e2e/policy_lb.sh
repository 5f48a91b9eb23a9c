#!/bin/bash
# policy_lb.sh - LoadBalancer ingress IPs (issue 12, points 7 and 8).
# loadBalancerSourceRanges: the external client's allowed address reaches
# the LoadBalancer IP, its second address (outside the ranges) gets no
# answer at all (dropped in the kernel: no reset, and kube-uproxy never
# sees the connection), and neither does a pod; the nodePort and the
# clusterIP of the same Service are not restricted; a Service whose
# ranges include the node's address answers the node; the same for an
# IPv6 LoadBalancer IP.  Removing the
# ranges opens the LoadBalancer IP.  ipMode: Proxy: no rule anywhere (nat,
# filter, nftables) for that ingress IP, while the Service's VIP-mode and
# plain ingress IPs have theirs and answer.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/e2e/lib.sh"
pol_begin v6

OTHER_IP=198.18.0.3		# the client's address outside the ranges
in_ns "$CLIENT" ip addr add "$OTHER_IP/24" dev eth0 ||
    hard_error "cannot add $OTHER_IP to the client"
FROM_OTHER="--interface $OTHER_IP"
OTHER_IP6=2001:2::3
in_ns "$CLIENT" ip addr add "$OTHER_IP6/64" dev eth0 nodad ||
    hard_error "cannot add $OTHER_IP6 to the client"

# fw RANGES: the Service restricted to RANGES (none: no field).
fw() {
	write_manifest fw.json "$(p_list "$(p_service name=fw type=LoadBalancer \
	    ip=198.19.0.80 port=http/TCP/80/80/30080 lb=198.18.100.80 \
	    ${1:+ranges=$1})" \
	    "$(p_slice name=fw port=http/TCP/80 ep=$P1,$L ep=$P2,$R)")"
}
fw "$CLIENT_IP/32,198.18.200.0/24"
write_manifest fw-node.json "$(p_list "$(p_service name=fw-node type=LoadBalancer \
    ip=198.19.0.81 port=http/TCP/80/80/30081 lb=198.18.100.81 \
    ranges=$TOPO_NODE_BR/32)" \
    "$(p_slice name=fw-node port=http/TCP/80 ep=$P1,$L ep=$P2,$R)")"
write_manifest fw6.json "$(p_list "$(p_service name=fw6 type=LoadBalancer \
    ip=2001:2:0:10::80 port=http/TCP/80/80/30083 lb=2001:2:0:100::80 \
    ranges=$POL_CLIENT6/128)" \
    "$(p_slice name=fw6 family=IPv6 port=http/TCP/80 \
    ep=${POL_POD6_IPS[0]},$L ep=${POL_POD6_IPS[1]},$R)")"
write_manifest px.json "$(p_list "$(p_service name=px type=LoadBalancer \
    ip=198.19.0.82 port=http/TCP/80/80/30082 \
    lb=198.18.100.82/Proxy lb=198.18.100.83/VIP lb=198.18.100.84)" \
    "$(p_slice name=px port=http/TCP/80 ep=$P1,$L ep=$P2,$R)")"
pol_start_proxy
wait_proxy_port default/fw http >/dev/null
wait_proxy_port default/px http >/dev/null
soft wait_rules 3 default/px:http 8	# clusterIP + 2 ingress IPs + nodePort, x2

# 1. Source ranges.
soft expect_names "LoadBalancer IP from an allowed source" "$CLIENT" \
    http://198.18.100.80/ 4 "pod1 pod2"
accepted0=$(metric kube_uproxy_tcp_connections_accepted_total 2>/dev/null)
soft expect_eq "LoadBalancer IP from $OTHER_IP (outside the ranges): dropped, no answer" \
    "$(e2e_curl "$CLIENT" http://198.18.100.80/ $FROM_OTHER --max-time 1)" ERROR:28
soft expect_eq "LoadBalancer IP from a pod (outside the ranges)" \
    "$(e2e_curl "$POD2" http://198.18.100.80/ --max-time 1)" ERROR:28
soft expect_eq "connections kube-uproxy accepted for the dropped ones" \
    "$(metric kube_uproxy_tcp_connections_accepted_total 2>/dev/null)" "$accepted0"
soft expect_names "the nodePort from $OTHER_IP (not restricted)" "$CLIENT" \
    "http://$NODE_IP:30080/" 4 "pod1 pod2" $FROM_OTHER
soft expect_names "the clusterIP from $OTHER_IP (not restricted)" "$CLIENT" \
    http://198.19.0.80/ 4 "pod1 pod2" $FROM_OTHER
soft expect_names "a LoadBalancer IP whose ranges hold the node's address, from the node" \
    "$NODE" http://198.18.100.81/ 4 "pod1 pod2"
soft expect_eq "that LoadBalancer IP from the client (outside its ranges)" \
    "$(e2e_curl "$CLIENT" http://198.18.100.81/ --max-time 1)" ERROR:28
# IPv6.
soft expect_names "IPv6 LoadBalancer IP from an allowed source" "$CLIENT" \
    "http://[2001:2:0:100::80]/" 4 "pod1 pod2" -g --interface "$POL_CLIENT6"
soft expect_eq "IPv6 LoadBalancer IP from $OTHER_IP6 (outside the ranges)" \
    "$(e2e_curl "$CLIENT" "http://[2001:2:0:100::80]/" -g --interface "$OTHER_IP6" --max-time 1)" ERROR:28
soft expect_names "IPv6 nodePort from $OTHER_IP6 (not restricted)" "$CLIENT" \
    "http://[$POL_NODE6_EXT]:30083/" 4 "pod1 pod2" -g --interface "$OTHER_IP6"
log "the node to 198.18.100.80 (its address is outside the ranges): $(e2e_curl "$NODE" http://198.18.100.80/ --max-time 1)"

# Without ranges, everyone.
fw ""
soft wait_for 5 "the LoadBalancer IP to answer $OTHER_IP once the ranges are gone" \
    names_are_set "$CLIENT" http://198.18.100.80/ 2 "pod1 pod2" $FROM_OTHER
soft expect_names "the LoadBalancer IP from a pod, no ranges" "$POD2" \
    http://198.18.100.80/ 4 "pod1 pod2"
# And back: dropped again.
fw "$CLIENT_IP/32"
soft wait_for 5 "$OTHER_IP dropped again" eval \
    "[ \"\$(e2e_curl $CLIENT http://198.18.100.80/ $FROM_OTHER --max-time 1)\" = ERROR:28 ]"
soft expect_names "the allowed source, ranges back" "$CLIENT" \
    http://198.18.100.80/ 4 "pod1 pod2"

# 2. ipMode: Proxy.
rules=$(all_rules)
soft expect_eq "rules naming 198.18.100.82 (ipMode Proxy)" \
    "$(printf '%s\n' "$rules" | grep -cF 198.18.100.82)" 0
soft expect_match "a rule for 198.18.100.83 (ipMode VIP)" "$rules" '198\.18\.100\.83'
soft expect_match "a rule for 198.18.100.84 (no ipMode)" "$rules" '198\.18\.100\.84'
soft expect_names "the VIP-mode ingress IP" "$CLIENT" http://198.18.100.83/ 4 "pod1 pod2"
soft expect_names "the ingress IP without ipMode" "$CLIENT" http://198.18.100.84/ 4 "pod1 pod2"
lbips=$(service_field default/px http loadBalancerIPs)
soft expect_match "the VIP-mode ingress IPs in /debug/services" "$lbips" '100\.83.*100\.84'
soft expect_eq "the Proxy-mode ingress IP in /debug/services ($lbips)" \
    "$(printf '%s\n' "$lbips" | grep -c '100\.82')" 0
soft expect_eq "the Proxy-mode ingress IP is not taken by kube-uproxy" \
    "$(e2e_curl "$CLIENT" http://198.18.100.82/ --max-time 1)" ERROR:28
# ipMode changed to VIP: the rule comes.
write_manifest px.json "$(p_list "$(p_service name=px type=LoadBalancer \
    ip=198.19.0.82 port=http/TCP/80/80/30082 \
    lb=198.18.100.82/VIP lb=198.18.100.83/VIP lb=198.18.100.84)" \
    "$(p_slice name=px port=http/TCP/80 ep=$P1,$L ep=$P2,$R)")"
soft wait_names 5 "the ingress IP once its ipMode is VIP" "$CLIENT" \
    http://198.18.100.82/ 4 "pod1 pod2"
pass
