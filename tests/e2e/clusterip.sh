#!/bin/bash
# clusterip.sh - a ClusterIP Service through the kernel: the node, a pod
# and an external client reach 198.19.0.10:80 itself (no proxy port in
# sight), the nat rules redirect it to kube-uproxy, and new connections
# alternate between the two nginx pods.  The rules carry the service
# port's name as their comment.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/e2e/lib.sh"
e2e_begin
e2e_pods

write_manifest nginx-svc.yaml "$(m_service name=nginx-svc ip=198.19.0.10 port=http/TCP/80)
---
$(nginx_slice nginx-svc)"
start_proxy
PP=$(wait_proxy_port default/nginx-svc http)
# One rule in KUBE-PORTALS-CONTAINER, one in KUBE-PORTALS-HOST.
wait_rules 3 default/nginx-svc:http 2

rule=$(rules_of default/nginx-svc:http KUBE-PORTALS-CONTAINER)
expect_match "PREROUTING rule" "$rule" \
    "^-A KUBE-PORTALS-CONTAINER -d 198\.19\.0\.10/32 -p tcp -m tcp --dport 80 .*-j REDIRECT --to-ports $PP\$"
rule=$(rules_of default/nginx-svc:http KUBE-PORTALS-HOST)
expect_match "OUTPUT rule" "$rule" \
    "^-A KUBE-PORTALS-HOST -d 198\.19\.0\.10/32 -p tcp -m tcp --dport 80 .*-j REDIRECT --to-ports $PP\$"
nat=$(nat_rules)
# The jumps come first in PREROUTING and OUTPUT (before the NodePort ones).
expect_match "first rule of PREROUTING" \
    "$(echo "$nat" | grep '^-A PREROUTING' | head -n1)" \
    '^-A PREROUTING (-m comment --comment "[^"]*" )?-j KUBE-PORTALS-CONTAINER$'
expect_match "first rule of OUTPUT" \
    "$(echo "$nat" | grep '^-A OUTPUT' | head -n1)" \
    '^-A OUTPUT (-m comment --comment "[^"]*" )?-j KUBE-PORTALS-HOST$'

# From each place, four connections alternate between the pods.
for from in "$NODE" "$POD1" "$CLIENT"; do
	names=$(get_names "$from" http://198.19.0.10/ 4)
	soft expect_alternating "4 requests from ${from##*-} to 198.19.0.10:80" \
	    "$names" pod1 pod2 2
done

# The pods saw the node's relayed connections, from the node's bridge
# address (a userspace proxy connects from its own address).
expect_match "pod1 access log" "$(tail -n 1 "$T_DIR/pod1/access.log")" \
    "^$TOPO_NODE_BR "

# The proxy port itself is not what clients use: nothing else is needed,
# but the port outside the service IP (the node's address, port 80) is
# not redirected.
expect_eq "node address port 80 (not a service)" \
    "$(is_silent "$CLIENT" "http://$NODE_IP/" && echo silent)" silent
pass
