#!/bin/bash
# policy_hc.sh - the health-check node port of a LoadBalancer Service with
# externalTrafficPolicy: Local (issue 12, point 3), as a cloud load
# balancer polls it from outside: GET / answers 200 while node-a has a
# ready pod of the Service and 503 otherwise (a local pod that is only
# serving and terminating does not count), with Content-Type
# application/json, X-Content-Type-Options nosniff and the body
# {"service":{...},"localEndpoints":N,"serviceProxyHealthy":B}.  Our Node
# (a manifest) getting a deletionTimestamp turns /healthz to 503 (point
# 11), /livez stays 200, and the health check says serviceProxyHealthy
# false (503, as kube-proxy) so that load balancers drain the node.  The
# port moves with spec.healthCheckNodePort and closes when the Service no
# longer needs it.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/e2e/lib.sh"
pol_begin

# lb_with HCNP EP...: the Service (eTP Local, health check on HCNP) and its slice.
lb_with() {
	local hc=$1
	shift
	local eps="" e
	for e in "$@"; do eps="$eps ep=$e"; done
	# shellcheck disable=SC2086
	write_manifest lb.json "$(p_list "$(p_service name=lb type=LoadBalancer \
	    ip=198.19.0.40 port=http/TCP/80/80/30040 lb=198.18.100.40 etp=Local \
	    hcnp=$hc)" "$(p_slice name=lb port=http/TCP/80 $eps)")"
}
HC=http://$NODE_IP:32040/
JSON="content-type=application/json;nosniff=nosniff"

write_manifest node.json "$(p_node zone=zone-a)"
lb_with 32040 "$P1,$L" "$P3,$R"
pol_start_proxy
wait_proxy_port default/lb http >/dev/null
wait_for 5 "the health-check node port to answer" hc_status_is "$CLIENT" "$HC" 200
expect_eq "health check, one local pod" "$(hc_get "$CLIENT" "$HC")" \
    "200
$JSON
$(hc_body default lb 1 true)"
soft expect_eq "health check from the node itself (127.0.0.1)" \
    "$(hc_get "$NODE" http://127.0.0.1:32040/ | sed -n 1p)" 200
soft expect_eq "health check on the node's bridge address, from a pod" \
    "$(hc_get "$POD2" "http://$TOPO_NODE_BR:32040/" | sed -n 1p)" 200
# Held like a nodePort: no other program of the node can have the port.
taken=$(in_ns "$NODE" "$PYTHON3" -c '
import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("0.0.0.0", 32040))
    s.listen(4)
    print("bound")
except OSError as e:
    print("refused:" + e.strerror)')
soft expect_match "SO_REUSEADDR bind+listen of the health-check node port" "$taken" '^refused:'
soft expect_names "traffic while healthy" "$CLIENT" http://198.18.100.40/ 4 pod1

# Pods come and go.
lb_with 32040 "$P1,$L" "$P2,$L" "$P3,$R"
wait_for 5 "localEndpoints 2" eval \
    '[ "$(hc_get "$CLIENT" "$HC" | sed -n 3p)" = "$(hc_body default lb 2 true)" ]'
soft expect_eq "health check, two local pods" "$(hc_get "$CLIENT" "$HC" | sed -n 1p)" 200
lb_with 32040 "$P1,$R" "$P2,$R" "$P3,$R"
wait_for 5 "the health check to say 503 (no local pod)" hc_status_is "$CLIENT" "$HC" 503
soft expect_eq "health check, no local pod" "$(hc_get "$CLIENT" "$HC")" \
    "503
$JSON
$(hc_body default lb 0 true)"
lb_with 32040 "$P1,$L,s=term" "$P3,$R"
sleep 0.5
soft expect_eq "health check, a local pod serving but terminating" \
    "$(hc_get "$CLIENT" "$HC" | sed -n '1p;3p')" "503
$(hc_body default lb 0 true)"
lb_with 32040 "$P2,$L" "$P3,$R"
wait_for 5 "the health check to say 200 again" hc_status_is "$CLIENT" "$HC" 200
soft expect_eq "health check, a local pod back" "$(hc_get "$CLIENT" "$HC" | sed -n 3p)" \
    "$(hc_body default lb 1 true)"

# Our Node is being deleted: /healthz 503, /livez 200, the health check
# 503 with serviceProxyHealthy false; traffic still flows.
write_manifest node.json "$(p_node zone=zone-a deleting=1)"
wait_for 5 "/healthz 503 with our Node being deleted" healthz_is 503
soft expect_eq "/livez while our Node is being deleted" "$(livez_status)" 200
soft expect_eq "health check while our Node is being deleted" \
    "$(hc_get "$CLIENT" "$HC" | sed -n '1p;3p')" "503
$(hc_body default lb 1 false)"
soft expect_names "traffic while our Node is being deleted" "$CLIENT" \
    http://198.18.100.40/ 4 pod2
# Another node being deleted is not ours.
write_manifest node.json "$(p_node zone=zone-a)
"
write_manifest other-node.json "$(p_node name=$POL_OTHER deleting=1)"
wait_for 5 "/healthz 200 once our Node is not being deleted" healthz_is 200
sleep 0.3
soft expect_eq "/healthz with node-b being deleted" "$(healthz_status)" 200
soft expect_eq "health check with node-b being deleted" \
    "$(hc_get "$CLIENT" "$HC" | sed -n '1p;3p')" "200
$(hc_body default lb 1 true)"

# The port moves with the Service, then closes.
lb_with 32041 "$P2,$L" "$P3,$R"
wait_for 5 "the new health-check node port" hc_status_is "$CLIENT" http://$NODE_IP:32041/ 200
wait_for 5 "the old health-check node port to close" hc_closed "$CLIENT" "$HC"
write_manifest lb.json "$(p_list "$(p_service name=lb type=LoadBalancer \
    ip=198.19.0.40 port=http/TCP/80/80/30040 lb=198.18.100.40)" \
    "$(p_slice name=lb port=http/TCP/80 ep=$P2,$L ep=$P3,$R)")"
wait_for 5 "the health-check node port to close (eTP Cluster)" \
    hc_closed "$CLIENT" "http://$NODE_IP:32041/"
soft wait_names 5 "eTP Cluster after the health check closed" "$CLIENT" \
    http://198.18.100.40/ 4 "pod2 pod3"
pass
