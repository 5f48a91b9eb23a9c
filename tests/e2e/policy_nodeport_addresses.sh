#!/bin/bash
# policy_nodeport_addresses.sh - --nodeport-addresses (issue 12, point 10).
# The node has two addresses on its external link, 198.18.0.1 and
# 198.18.0.5, and 198.18.1.1 on the pod bridge; with
# --nodeport-addresses 198.18.0.1/32 a NodePort (TCP and UDP) and a
# health-check node port answer on 198.18.0.1 only: not on 198.18.0.5
# (same link, outside the range), not on the bridge address, not on
# 127.0.0.1.  The clusterIP is not affected.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/e2e/lib.sh"
pol_begin udp
NODE_IP2=198.18.0.5
in_ns "$NODE" ip addr add "$NODE_IP2/24" dev ext0 ||
    hard_error "cannot add $NODE_IP2 to the node"

write_manifest np.json "$(p_list "$(p_service name=np type=LoadBalancer \
    ip=198.19.0.95 port=http/TCP/80/80/30095 port=dns/UDP/53/$UDP_PORT/30096 \
    lb=198.18.100.95 etp=Local hcnp=32095)" \
    "$(p_slice name=np port=http/TCP/80 port=dns/UDP/$UDP_PORT \
    ep=$P1,$L ep=$P2,$L)")"
pol_start_proxy --nodeport-addresses "$NODE_IP/32"
wait_proxy_port default/np http >/dev/null

soft expect_names "the nodePort on $NODE_IP (in the range)" "$CLIENT" \
    "http://$NODE_IP:30095/" 4 "pod1 pod2"
soft expect_match "the UDP nodePort on $NODE_IP" \
    "$(udp_ask "$CLIENT" "$NODE_IP" 30096)" "^pod[12] from $NODE_IP\$"
soft expect_eq "the health check on $NODE_IP" \
    "$(hc_get "$CLIENT" "http://$NODE_IP:32095/" | sed -n 1p)" 200

# Outside the range: not redirected, not answered by kube-uproxy.
soft expect_match "the nodePort on $NODE_IP2 (outside)" \
    "$(e2e_curl "$CLIENT" "http://$NODE_IP2:30095/" --max-time 1)" '^ERROR:'
soft expect_eq "the UDP nodePort on $NODE_IP2 (outside)" \
    "$(udp_ask "$CLIENT" "$NODE_IP2" 30096)" TIMEOUT
soft expect_match "the health check on $NODE_IP2 (outside)" \
    "$(hc_get "$CLIENT" "http://$NODE_IP2:32095/" | sed -n 1p)" '^ERROR:'
soft expect_match "the nodePort on the bridge address, from a pod" \
    "$(e2e_curl "$POD2" "http://$TOPO_NODE_BR:30095/" --max-time 1)" '^ERROR:'
soft expect_match "the nodePort on 127.0.0.1, from the node" \
    "$(e2e_curl "$NODE" http://127.0.0.1:30095/ --max-time 1)" '^ERROR:'
# The node itself on the address in the range.
soft expect_names "the nodePort on $NODE_IP from the node" "$NODE" \
    "http://$NODE_IP:30095/" 4 "pod1 pod2"
# Service addresses are not node ports.
soft expect_names "the clusterIP" "$CLIENT" http://198.19.0.95/ 4 "pod1 pod2"
soft expect_names "the LoadBalancer IP" "$CLIENT" http://198.18.100.95/ 4 "pod1 pod2"
pass
