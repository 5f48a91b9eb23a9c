#!/bin/bash
# policy_itp.sh - internalTrafficPolicy: Local (issue 12, point 4).  The
# clusterIP of a Service with pods 1 and 3 on our node (node-a) and pods 2
# and 4 on node-b reaches only pods 1 and 3, from the node, from a pod and
# from the external client, while its nodePort (externalTrafficPolicy
# Cluster) reaches all four.  With no local pod the clusterIP refuses at
# once and the nodePort still reaches all four.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/e2e/lib.sh"
pol_begin

# svc_with EP...: the Service (iTP Local, NodePort 30050) and its slice.
svc_with() {
	local eps="" e
	for e in "$@"; do eps="$eps ep=$e"; done
	# shellcheck disable=SC2086
	write_manifest itp.json "$(p_list "$(p_service name=itp type=NodePort \
	    ip=198.19.0.50 port=http/TCP/80/80/30050 itp=Local)" \
	    "$(p_slice name=itp port=http/TCP/80 $eps)")"
}
ALL="pod1 pod2 pod3 pod4"
CIP=http://198.19.0.50/

svc_with "$P1,$L" "$P2,$R" "$P3,$L" "$P4,$R"
pol_start_proxy
wait_proxy_port default/itp http >/dev/null
for from in "$NODE" "$POD2" "$CLIENT"; do
	soft expect_names "iTP Local, the clusterIP" "$from" "$CIP" 6 "pod1 pod3"
done
soft expect_names "iTP Local, the nodePort (eTP Cluster)" "$CLIENT" \
    "http://$NODE_IP:30050/" 8 "$ALL"

# No local pod: refused at once; the nodePort still works.
svc_with "$P1,$R" "$P2,$R" "$P3,$R" "$P4,$R"
wait_for 5 "the clusterIP to refuse (no local endpoint)" \
    is_refused_fast "$CLIENT" 198.19.0.50 80
soft expect_refused "iTP Local, no local endpoint" "$CLIENT" 198.19.0.50 80
soft expect_refused "iTP Local, no local endpoint" "$NODE" 198.19.0.50 80
soft expect_refused "iTP Local, no local endpoint" "$POD2" 198.19.0.50 80
soft expect_names "the nodePort with no local endpoint" "$CLIENT" \
    "http://$NODE_IP:30050/" 8 "$ALL"
soft expect_eq "services with iTP Local and no local endpoint (metric)" \
    "$(metric_sample 'kubeproxy_sync_proxy_rules_no_local_endpoints_total{traffic_policy="internal"}')" 1

# One local pod, not ready but serving and terminating: used (point 5).
svc_with "$P1,$R" "$P2,$L,s=term" "$P3,$R" "$P4,$R"
soft wait_names 5 "iTP Local, the local pod terminating" "$CLIENT" "$CIP" 4 pod2
soft expect_names "the nodePort: the ready pods only" "$CLIENT" \
    "http://$NODE_IP:30050/" 6 "pod1 pod3 pod4"

# A local pod not ready and not serving is not used.
svc_with "$P1,$R" "$P2,$L,s=notready" "$P3,$R" "$P4,$L"
soft wait_names 5 "iTP Local, one ready local pod" "$CLIENT" "$CIP" 4 pod4
pass
