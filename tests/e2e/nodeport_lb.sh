#!/bin/bash
# nodeport_lb.sh - the ways in from outside the cluster: a NodePort on the
# node's address, an externalIP and a LoadBalancer ingress IP, each from
# the external client (and the NodePort from the node and a pod too), and
# the nodePort held by kube-uproxy so that no other program on the node
# can open it.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/e2e/lib.sh"
e2e_begin
e2e_pods

write_manifest nginx-app.yaml "$(m_service name=nginx-app ip=198.19.0.11 \
    type=NodePort nodeport=30001 extip=198.18.50.1 port=http/TCP/8060)
---
$(nginx_slice nginx-app)"
write_manifest nginx-metallb.yaml "$(m_service name=nginx-metallb \
    ip=198.19.0.12 type=LoadBalancer nodeport=30002 port=http/TCP/8090)
$(m_lb_status 198.18.100.1)
---
$(nginx_slice nginx-metallb)"
start_proxy
PP=$(wait_proxy_port default/nginx-app http)
expect_eq "nodePort in /debug/services" \
    "$(service_field default/nginx-app http nodePort)" 30001
expect_eq "loadBalancerIPs in /debug/services" \
    "$(service_field default/nginx-metallb http loadBalancerIPs)" '["198.18.100.1"]'
# nginx-app: clusterIP + externalIP in both PORTALS chains, the nodePort
# in both NODEPORT chains = 6; nginx-metallb: clusterIP + LB IP + nodePort = 6.
wait_rules 3 default/nginx-app:http 6
wait_rules 3 default/nginx-metallb:http 6
expect_match "NodePort rule" \
    "$(rules_of default/nginx-app:http KUBE-NODEPORT-CONTAINER)" \
    "^-A KUBE-NODEPORT-CONTAINER -p tcp -m tcp --dport 30001 .*-j REDIRECT --to-ports $PP\$"
nat=$(nat_rules)
expect_match "last rule of PREROUTING" \
    "$(echo "$nat" | grep '^-A PREROUTING' | tail -n1)" \
    '^-A PREROUTING -m addrtype --dst-type LOCAL (-m comment --comment "[^"]*" )?-j KUBE-NODEPORT-CONTAINER$'
expect_match "last rule of OUTPUT" \
    "$(echo "$nat" | grep '^-A OUTPUT' | tail -n1)" \
    '^-A OUTPUT -m addrtype --dst-type LOCAL (-m comment --comment "[^"]*" )?-j KUBE-NODEPORT-HOST$'

for url in "http://$NODE_IP:30001/" http://198.18.50.1:8060/ \
    http://198.18.100.1:8090/ "http://$NODE_IP:30002/" \
    http://198.19.0.11:8060/; do
	names=$(get_names "$CLIENT" "$url" 2)
	soft expect_alternating "client to $url" "$names" pod1 pod2 1
done
soft expect_answer "node to its own NodePort (127.0.0.1:30001)" "$NODE" \
    http://127.0.0.1:30001/
soft expect_answer "node to $TOPO_NODE_BR:30001" "$NODE" "http://$TOPO_NODE_BR:30001/"
soft expect_answer "pod to the node's NodePort" "$POD2" "http://$TOPO_NODE_BR:30001/"
soft expect_answer "pod to the LoadBalancer IP" "$POD1" http://198.18.100.1:8090/

# The nodePort is taken on the node: a plain bind fails, and so does the
# bind + listen of a server that sets SO_REUSEADDR (most do: nginx, Go).
try_bind() {
	in_ns "$NODE" "$PYTHON3" - "$@" <<'PY'
import socket, sys
port, reuse = int(sys.argv[1]), sys.argv[2] == "reuse"
s = socket.socket()
if reuse:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("0.0.0.0", port))
    s.listen(16)
    print("bound")
except OSError as e:
    print("refused:%s" % e.strerror)
PY
}
soft expect_match "plain bind of 30001 on the node" "$(try_bind 30001 plain)" '^refused:'
soft expect_match "SO_REUSEADDR bind+listen of 30001 on the node" \
    "$(try_bind 30001 reuse)" '^refused:'
soft expect_match "SO_REUSEADDR bind+listen of 30002 on the node" \
    "$(try_bind 30002 reuse)" '^refused:'
# A port no service uses binds fine (the check itself works).
expect_eq "bind of an unused port 30003" "$(try_bind 30003 reuse)" bound
# And the service still answers afterwards.
expect_answer "NodePort after the bind attempts" "$CLIENT" "http://$NODE_IP:30001/"
pass
