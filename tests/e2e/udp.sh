#!/bin/bash
# udp.sh - UDP through the kernel: a ClusterIP and a NodePort UDP service
# reached from the node, a pod and the external client.  kube-uproxy must
# send each reply from the address the request was redirected to
# (IP_PKTINFO), so that conntrack turns its source back into the service
# address: the clients' sockets are connect()ed to the service address,
# and the kernel would drop a reply from anywhere else.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/e2e/lib.sh"
e2e_begin
e2e_pods udp

write_manifest dns.yaml "$(m_service name=dns ip=198.19.0.53 type=NodePort \
    nodeport=30053 port=dns/UDP/53)
---
$(m_slice name=dns port=dns/UDP/$UDP_PORT ep=$POD1_IP ep=$POD2_IP)"
start_proxy --udp-timeout 5s
PP=$(wait_proxy_port default/dns dns)
wait_rules 3 default/dns:dns 4
expect_match "UDP rule" "$(rules_of default/dns:dns KUBE-PORTALS-CONTAINER)" \
    "^-A KUBE-PORTALS-CONTAINER -d 198\.19\.0\.53/32 -p udp -m udp --dport 53 .*-j REDIRECT --to-ports $PP\$"

# Connected sockets: a reply with any other source is never received.
for from in "$NODE" "$POD1" "$CLIENT"; do
	names=$(client_in "$from" udp-connect 198.19.0.53 53 --count 3 --timeout 2)
	first=$(echo "$names" | head -n1)
	soft expect_match "UDP from ${from##*-} to 198.19.0.53:53" "$first" '^pod[12]$'
	soft expect_all "one flow from ${from##*-} (3 datagrams)" "$names" "$first"
done

# Unconnected: the source of the reply, as the client sees it.
for from in "$NODE" "$POD2" "$CLIENT"; do
	res=$(client_in "$from" udp-connect 198.19.0.53 53 --source --timeout 2)
	soft expect_match "reply source seen by ${from##*-}" "$res" \
	    '^pod[12] from 198\.19\.0\.53:53$'
done
res=$(client_in "$CLIENT" udp-connect "$NODE_IP" 30053 --source --timeout 2)
soft expect_match "NodePort UDP reply source" "$res" \
    "^pod[12] from ${NODE_IP//./\\.}:30053\$"
res=$(client_in "$CLIENT" udp-connect "$NODE_IP" 30053 --count 2 --timeout 2)
soft expect_match "NodePort UDP, connected" "$res" '^pod[12]'

# The UDP nodePort is held on the node: another program's bind fails, even
# with SO_REUSEADDR (which lets two UDP sockets share a port if both set it).
held=$(in_ns "$NODE" "$PYTHON3" -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("0.0.0.0", 30053))
    print("bound")
except OSError as e:
    print("refused:" + e.strerror)')
soft expect_match "SO_REUSEADDR bind of UDP 30053 on the node" "$held" '^refused:'

# New flows (new client ports) go round robin.
names=$(for i in 1 2 3 4; do
	client_in "$CLIENT" udp-connect 198.19.0.53 53 --timeout 2
done)
soft expect_alternating "4 new flows from the client" "$names" pod1 pod2 2
expect_eq "datagrams dropped" \
    "$(metric kube_uproxy_udp_datagrams_dropped_total)" 0
pass
