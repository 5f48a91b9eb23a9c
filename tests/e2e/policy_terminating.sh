#!/bin/bash
# policy_terminating.sh - terminating endpoints during a rolling update
# (issue 12, point 5; KEP-1669).  Old pods 1 (node-a) and 3 (node-b) are
# replaced by new pods 2 (node-a) and 4 (node-b), the way a Deployment
# with maxSurge does it when the new pods are slow to become ready: the
# new pods appear not ready, the old ones start terminating (serving, no
# longer ready) before any new pod is ready, then the new pods become
# ready one by one (node-b's first) and the old ones go.  Two clients loop requests
# meanwhile: one to the clusterIP of a Service, one to the nodePort of a
# Service with externalTrafficPolicy: Local on the same pods.  Not one
# request may fail: while no pod is ready, the serving-and-terminating
# ones take the traffic (node-a's only, for eTP Local, even once node-b
# has a ready pod).  A keep-alive
# connection opened to an old pod is not cut when the pod starts
# terminating nor when it leaves the slice.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/e2e/lib.sh"
pol_begin

# step EP...: both Services' slices with these endpoints.
step() {
	local eps="" e
	for e in "$@"; do eps="$eps ep=$e"; done
	# shellcheck disable=SC2086
	write_manifest roll.json "$(p_list \
	    "$(p_service name=roll ip=198.19.0.60 port=http/TCP/80/80)" \
	    "$(p_slice name=roll port=http/TCP/80 $eps)" \
	    "$(p_service name=roll-local type=NodePort ip=198.19.0.61 \
	        port=http/TCP/80/80/30061 etp=Local)" \
	    "$(p_slice name=roll-local port=http/TCP/80 $eps)")"
}

step "$P1,$L" "$P3,$R"
pol_start_proxy
wait_proxy_port default/roll http >/dev/null
wait_proxy_port default/roll-local http >/dev/null
expect_names "before the update" "$CLIENT" http://198.19.0.60/ 4 "pod1 pod3"
soft expect_names "eTP Local before the update" "$CLIENT" "http://$NODE_IP:30061/" 4 pod1
held_start "$CLIENT" http://198.19.0.60/
held0=$(held_answer 0)
expect_match "the held connection" "$held0" '^pod[13] port [0-9]+$'

loop_start cip "$CLIENT" http://198.19.0.60/
loop_start ext "$CLIENT" "http://$NODE_IP:30061/"
loop_wait cip 10
loop_wait ext 10

# New pods, not ready yet.
step "$P1,$L" "$P3,$R" "$P2,$L,s=notready" "$P4,$R,s=notready"
loop_wait cip 20
# The old pods terminate before a new one is ready: nothing is ready.
step "$P1,$L,s=term" "$P3,$R,s=term" "$P2,$L,s=notready" "$P4,$R,s=notready"
sleep 0.2
m_cip=$(loop_lines cip) m_ext=$(loop_lines ext)
loop_wait cip 30
loop_wait ext 30
soft expect_eq "clusterIP answers while only terminating pods serve" \
    "$(loop_since cip "$m_cip")" "pod1 pod3"
soft expect_eq "eTP Local answers while only terminating pods serve" \
    "$(loop_since ext "$m_ext")" pod1
held_ask 1
soft expect_eq "the held connection once its pod is terminating" \
    "$(held_answer 1)" "$held0"

# The new node-b pod is ready first: the clusterIP uses it alone, while
# eTP Local still has no ready pod on node-a and keeps to the
# terminating one there (kube-proxy's local set falls back on its own).
step "$P1,$L,s=term" "$P3,$R,s=term" "$P2,$L,s=notready" "$P4,$R"
wait_for 5 "the clusterIP loop to reach pod 4" loop_last_is cip pod4
m_cip=$(loop_lines cip) m_ext=$(loop_lines ext)
loop_wait cip 20
loop_wait ext 20
soft expect_eq "clusterIP once pod 4 is ready" "$(loop_since cip "$m_cip")" pod4
soft expect_eq "eTP Local once pod 4 (node-b) is ready" "$(loop_since ext "$m_ext")" pod1

# The new node-a pod is ready.
step "$P1,$L,s=term" "$P3,$R,s=term" "$P2,$L" "$P4,$R"
wait_for 5 "the eTP Local loop to reach pod 2" loop_last_is ext pod2
m_cip=$(loop_lines cip) m_ext=$(loop_lines ext)
loop_wait cip 20
loop_wait ext 20
soft expect_eq "clusterIP once pods 2 and 4 are ready" "$(loop_since cip "$m_cip")" "pod2 pod4"
soft expect_eq "eTP Local once pod 2 is ready" "$(loop_since ext "$m_ext")" pod2

# The old pods leave the slices.
step "$P2,$L" "$P4,$R"
sleep 0.3
m_cip=$(loop_lines cip)
loop_wait cip 20
loop_wait ext 10
loop_stop
soft expect_eq "clusterIP after the update" "$(loop_since cip "$m_cip")" "pod2 pod4"
held_ask 2 last
soft expect_eq "the held connection once its pod left the slice" \
    "$(held_answer 2)" "$held0"

for l in cip ext; do
	n=$(loop_lines $l)
	failed=$(grep -c '^FAIL' "$T_DIR/loop-$l")
	log "loop $l: $n requests, $failed failed"
	soft expect_eq "failed requests of loop $l ($(grep -m1 '^FAIL' "$T_DIR/loop-$l"))" \
	    "$failed" 0
	soft expect_gt "requests of loop $l" "$n" 80
done
soft expect_eq "pods that answered the eTP Local loop" \
    "$(loop_since ext 0)" "pod1 pod2"
pass
