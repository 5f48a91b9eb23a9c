#!/bin/bash
# source_ranges.sh - loadBalancerSourceRanges (issue 12, point 7): traffic
# to a LoadBalancer ingress IP from a source outside the ranges is dropped
# in the kernel (no answer, no reset), from inside it is proxied, and the
# node itself is let in as kube-proxy lets it in (allowFromNode: the node's
# primary IP is in a range, so a request from the VIP itself, as a VIP
# bound on the node sends it, passes).  The cluster IP and the nodePort of
# the same Service stay open to everyone.  Removing the ranges opens the
# LB IP again and takes our firewall out of the filter table; SIGTERM
# leaves nothing of ours.  KUP_PORTALS=nftables: the same on nftables.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/e2e/lib.sh"
e2e_begin
e2e_pods

OUTSIDE=198.18.0.3		# a second client address, not in the ranges
LB=198.18.100.1
# The node's primary IP is the source of its default route: ext0's.
ip -n "$NODE" route add default via "$CLIENT_IP" ||
    hard_error "cannot add the node's default route"
ip -n "$CLIENT" addr add "$OUTSIDE/24" dev eth0 ||
    hard_error "cannot add $OUTSIDE to the client"
# The VIP is also bound on the node (MetalLB L2 and many LBs do so):
# the node's own requests to it then come from the VIP.
ip -n "$NODE" addr add "$LB/32" dev lo || hard_error "cannot add $LB to lo"

lb_manifest() {	# lb_manifest RANGES-YAML-LIST
	write_manifest lb.yaml "apiVersion: v1
kind: Service
metadata: {name: lb, namespace: default}
spec:
  type: LoadBalancer
  clusterIP: 198.19.0.12
  ports: [{name: http, protocol: TCP, port: 8090, targetPort: 80, nodePort: 30002}]
  loadBalancerSourceRanges: $1
status:
  loadBalancer: {ingress: [{ip: $LB}]}
---
$(nginx_slice lb)"
}
lb_manifest "[\"$CLIENT_IP/32\", \"$NODE_IP/32\"]"
start_proxy
wait_proxy_port default/lb http >/dev/null

# curl's exit status 28 is its own timeout: nothing came back.  A reset
# or an ICMP error would be 7.
outside() { e2e_curl "$CLIENT" "http://$LB:8090/" --interface "$OUTSIDE" --max-time 1; }
wait_for $((5 * T_SLOW)) "the LB IP to answer the allowed client" \
    eval 'e2e_curl "$CLIENT" "http://$LB:8090/" | grep -qE "^pod[12]$"'
wait_for $((5 * T_SLOW)) "the LB IP to drop $OUTSIDE" eval '[ "$(outside)" = ERROR:28 ]'
expect_answer "allowed client ($CLIENT_IP) to the LB IP" "$CLIENT" "http://$LB:8090/"
expect_eq "client outside the ranges ($OUTSIDE) to the LB IP: dropped, no reset" \
    "$(outside)" ERROR:28
expect_answer "the node to the LB IP (from the VIP, allowFromNode)" "$NODE" \
    "http://$LB:8090/"
expect_eq "a pod ($POD1_IP, outside the ranges) to the LB IP: dropped" \
    "$(e2e_curl "$POD1" "http://$LB:8090/" --max-time 1)" ERROR:28
expect_match "$OUTSIDE to the cluster IP: open" \
    "$(e2e_curl "$CLIENT" http://198.19.0.12:8090/ --interface "$OUTSIDE")" '^pod[12]$'
expect_match "$OUTSIDE to the nodePort: open" \
    "$(e2e_curl "$CLIENT" "http://$NODE_IP:30002/" --interface "$OUTSIDE")" '^pod[12]$'
if [ "$KUP_PORTALS" != nftables ]; then
	flt=$(ip netns exec "$NODE" iptables-legacy -t filter -S)
	expect_match "the DROP rule" "$(echo "$flt" | grep -- '-j DROP')" \
	    "^-A KUBE-UPROXY-FIREWALL -d $LB/32 -p tcp -m tcp --dport 8090 .*-j DROP\$"
	expect_eq "jumps to KUBE-UPROXY-FIREWALL (INPUT, FORWARD, OUTPUT)" \
	    "$(echo "$flt" | grep -c -- '-j KUBE-UPROXY-FIREWALL$')" 3
	expect_eq "allowed sources in KUBE-PORTALS-CONTAINER" \
	    "$(rules_of default/lb:http KUBE-PORTALS-CONTAINER | grep -c -- "-s ")" 3
else
	set_json=$(ip netns exec "$NODE" nft -j list set ip kube-uproxy firewall-allow)
	expect_match "firewall-allow holds the client's range" "$set_json" "$CLIENT_IP"
fi

# No ranges: open to everyone, nothing of ours left in the filter table.
lb_manifest "[]"
wait_for $((5 * T_SLOW)) "the LB IP to open to $OUTSIDE" \
    eval 'outside | grep -qE "^pod[12]$"'
if [ "$KUP_PORTALS" != nftables ]; then
	expect_eq "filter table after the ranges went" \
	    "$(ip netns exec "$NODE" iptables-legacy -t filter -S | grep -c KUBE-UPROXY)" 0
fi

# Ranges again, then SIGTERM: nothing of ours anywhere.
lb_manifest "[\"$CLIENT_IP/32\"]"
wait_for $((5 * T_SLOW)) "the LB IP to drop $OUTSIDE again" eval '[ "$(outside)" = ERROR:28 ]'
stop_proxy
expect_eq "filter table after SIGTERM" \
    "$(ip netns exec "$NODE" iptables-legacy -t filter -S 2>/dev/null | grep -c KUBE-UPROXY)" 0
expect_eq "our nftables table after SIGTERM" \
    "$(ip netns exec "$NODE" nft list table ip kube-uproxy 2>/dev/null | wc -l)" 0
expect_match "$OUTSIDE to the LB IP with no proxy: not dropped by us" "$(outside)" '^ERROR:7$'
pass
