#!/bin/bash
# policy_dualstack.sh - IPv6 and dual-stack Services (issue 12, point 9),
# TCP and UDP, from a pod, from the node and from the external client,
# with the daemon's default --bind-address 0.0.0.0 (the proxy must listen
# on IPv6 too).  An IPv6-only Service (clusterIP, nodePort, externalIP
# and LoadBalancer IP in 2001:2::/48) reaches pods 1 and 2 on their IPv6
# addresses; a dual-stack Service reaches pods 1 and 2 on its IPv4
# clusterIP (IPv4 slice) and pods 3 and 4 on its IPv6 one (IPv6 slice):
# each family to its own endpoints.  An IPv6 LoadBalancer Service with
# externalTrafficPolicy: Local keeps external IPv6 traffic on node-a's
# pods.  UDP replies come from the address
# the client sent to (the clusterIP, the node's address of a nodePort).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/e2e/lib.sh"
pol_begin v6 udp
Q1=${POL_POD6_IPS[0]} Q2=${POL_POD6_IPS[1]} Q3=${POL_POD6_IPS[2]} Q4=${POL_POD6_IPS[3]}
V6CIP=2001:2:0:10::10 V6EXT=2001:2:0:50::10 V6LB=2001:2:0:100::10
DSCIP4=198.19.0.90 DSCIP6=2001:2:0:10::90

write_manifest v6only.json "$(p_list "$(p_service name=v6only type=LoadBalancer \
    ip=$V6CIP port=http/TCP/80/80/30110 port=dns/UDP/53/$UDP_PORT/30111 \
    extip=$V6EXT lb=$V6LB)" \
    "$(p_slice name=v6only family=IPv6 port=http/TCP/80 port=dns/UDP/$UDP_PORT \
    ep=$Q1,$L ep=$Q2,$R)")"
write_manifest dual.json "$(p_list "$(p_service name=dual \
    ip=$DSCIP4,$DSCIP6 port=http/TCP/80/80 port=dns/UDP/53/$UDP_PORT)" \
    "$(p_slice name=dual slice=dual-v4 port=http/TCP/80 port=dns/UDP/$UDP_PORT \
    ep=$P1,$L ep=$P2,$R)" \
    "$(p_slice name=dual slice=dual-v6 family=IPv6 port=http/TCP/80 \
    port=dns/UDP/$UDP_PORT ep=$Q3,$L ep=$Q4,$R)")"
# IPv6 with externalTrafficPolicy: Local: pods 1 and 3 on node-a.
write_manifest v6local.json "$(p_list "$(p_service name=v6local type=LoadBalancer \
    ip=2001:2:0:10::11 port=http/TCP/80/80/30112 lb=2001:2:0:100::11 etp=Local)" \
    "$(p_slice name=v6local family=IPv6 port=http/TCP/80 \
    ep=$Q1,$L ep=$Q2,$R ep=$Q3,$L)")"
pol_start_proxy --udp-timeout 2s
wait_proxy_port default/v6only http >/dev/null
wait_proxy_port default/dual dns >/dev/null

# TCP.
for from in "$POD3" "$NODE" "$CLIENT"; do
	soft expect_names "IPv6-only clusterIP" "$from" "http://[$V6CIP]/" 4 "pod1 pod2" -g
	soft expect_names "dual-stack, IPv6 clusterIP" "$from" "http://[$DSCIP6]/" 4 "pod3 pod4" -g
	soft expect_names "dual-stack, IPv4 clusterIP" "$from" "http://$DSCIP4/" 4 "pod1 pod2"
done
soft expect_names "IPv6 nodePort" "$CLIENT" "http://[$POL_NODE6_EXT]:30110/" 4 "pod1 pod2" -g
soft expect_names "IPv6 nodePort from the node" "$NODE" "http://[$POL_NODE6_EXT]:30110/" 4 "pod1 pod2" -g
soft expect_names "IPv6 externalIP" "$CLIENT" "http://[$V6EXT]/" 4 "pod1 pod2" -g
soft expect_names "IPv6 LoadBalancer IP" "$CLIENT" "http://[$V6LB]/" 4 "pod1 pod2" -g
soft expect_names "IPv6 LoadBalancer IP from a pod" "$POD4" "http://[$V6LB]/" 4 "pod1 pod2" -g

soft expect_names "IPv6 eTP Local, the nodePort" "$CLIENT" \
    "http://[$POL_NODE6_EXT]:30112/" 4 "pod1 pod3" -g
soft expect_names "IPv6 eTP Local, the LoadBalancer IP" "$CLIENT" \
    "http://[2001:2:0:100::11]/" 4 "pod1 pod3" -g
soft expect_names "IPv6 eTP Local, the clusterIP" "$CLIENT" \
    "http://[2001:2:0:10::11]/" 6 "pod1 pod2 pod3" -g

# UDP: the answering pod, and the reply's source as the client sees it.
for from in "$POD3" "$NODE" "$CLIENT"; do
	soft expect_eq "IPv6-only UDP clusterIP from ${from##*-}" \
	    "$(udp_names "$from" "$V6CIP" 53 4)" "pod1 from $V6CIP pod2 from $V6CIP"
	soft expect_eq "dual-stack UDP, IPv6 clusterIP from ${from##*-}" \
	    "$(udp_names "$from" "$DSCIP6" 53 4)" "pod3 from $DSCIP6 pod4 from $DSCIP6"
	soft expect_eq "dual-stack UDP, IPv4 clusterIP from ${from##*-}" \
	    "$(udp_names "$from" "$DSCIP4" 53 4)" "pod1 from $DSCIP4 pod2 from $DSCIP4"
done
soft expect_eq "IPv6 UDP nodePort from the client" \
    "$(udp_names "$CLIENT" "$POL_NODE6_EXT" 30111 4)" \
    "pod1 from $POL_NODE6_EXT pod2 from $POL_NODE6_EXT"
soft expect_eq "IPv6 UDP LoadBalancer IP from the client" \
    "$(udp_names "$CLIENT" "$V6LB" 53 4)" "pod1 from $V6LB pod2 from $V6LB"
# One flow: three datagrams from one socket stay with one pod.
flow=$(udp_ask "$CLIENT" "$V6CIP" 53 3 | sort -u)
soft expect_match "one IPv6 UDP flow stays with one pod" "$flow" "^pod[12] from $V6CIP\$"
pass
