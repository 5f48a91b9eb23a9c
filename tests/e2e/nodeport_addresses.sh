#!/bin/bash
# nodeport_addresses.sh - --nodeport-addresses (issue 12, point 10): a
# NodePort answers on a local address inside the ranges and not on one
# outside them; `primary` means the node's primary IP (the source of its
# default route here: no Node addresses in manifests).  Without the flag
# it answers on every local address (nodeport_lb.sh).  KUP_PORTALS=
# nftables: the same on nftables.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/e2e/lib.sh"
e2e_begin
e2e_pods

ip -n "$NODE" route add default via "$CLIENT_IP" ||
    hard_error "cannot add the node's default route"
write_manifest np.yaml "$(m_service name=np ip=198.19.0.11 type=NodePort \
    nodeport=30001 port=http/TCP/8060)
---
$(nginx_slice np)"

# A pod reaches the node's bridge address ($TOPO_NODE_BR), outside the
# ranges; the client reaches $NODE_IP, inside.
check_nodeports() {	# check_nodeports WHAT
	wait_for $((5 * T_SLOW)) "the NodePort on $NODE_IP ($1)" \
	    eval 'e2e_curl "$CLIENT" "http://$NODE_IP:30001/" | grep -qE "^pod[12]$"'
	expect_answer "client to $NODE_IP:30001 ($1)" "$CLIENT" "http://$NODE_IP:30001/"
	expect_match "pod to $TOPO_NODE_BR:30001, outside ($1): not proxied" \
	    "$(e2e_curl "$POD1" "http://$TOPO_NODE_BR:30001/" --max-time 1)" '^ERROR:'
	expect_match "node to $TOPO_NODE_BR:30001, outside ($1): not proxied" \
	    "$(e2e_curl "$NODE" "http://$TOPO_NODE_BR:30001/" --max-time 1)" '^ERROR:'
	expect_answer "pod to the cluster IP ($1)" "$POD1" http://198.19.0.11:8060/
}

start_proxy --nodeport-addresses "198.18.0.0/24,2001:2::/48"
wait_proxy_port default/np http >/dev/null
check_nodeports "198.18.0.0/24"
if [ "$KUP_PORTALS" != nftables ]; then
	expect_match "the PREROUTING nodeports jump" \
	    "$(nat_rules | grep '^-A PREROUTING' | tail -n1)" \
	    '^-A PREROUTING -d 198.18.0.0/24 -m addrtype --dst-type LOCAL (-m comment --comment "[^"]*" )?-j KUBE-NODEPORT-CONTAINER$'
	expect_eq "nodeports jumps from OUTPUT" \
	    "$(nat_rules | grep -c -- '^-A OUTPUT .*-j KUBE-NODEPORT-HOST$')" 1
else
	expect_match "the nodeports rule of prerouting" \
	    "$(ip netns exec "$NODE" nft list chain ip kube-uproxy prerouting)" \
	    'fib daddr type local ip daddr 198.18.0.0/24 .*@nodeports'
fi
stop_proxy

start_proxy --nodeport-addresses primary
wait_proxy_port default/np http >/dev/null
check_nodeports primary
expect_ne "the primary IP in the log" \
    "$(log_count "nodeport-addresses primary: $NODE_IP\$")" 0
pass
