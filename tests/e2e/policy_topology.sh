#!/bin/bash
# policy_topology.sh - topology hints (issue 12, point 6), with our Node
# (node-a) and its topology.kubernetes.io/zone label from a manifest.
# Zone hints (trafficDistribution PreferClose, slices with
# hints.forZones): the clusterIP reaches the pods hinted for our zone, and
# follows the Node's zone when it changes; kube-proxy's rules for ignoring
# hints: no endpoint hinted for our zone, our Node without a zone, a ready
# endpoint without hints (a not-ready one does not count).  Node hints
# (PreferSameNode, hints.forNodes): the pods hinted for node-a, on the
# clusterIP and on the nodePort (externalTrafficPolicy Cluster); none
# hinted for node-a: the zone hints decide.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/e2e/lib.sh"
pol_begin

# zoned EP...: the PreferClose Service and its slice.
zoned() {
	local eps="" e
	for e in "$@"; do eps="$eps ep=$e"; done
	# shellcheck disable=SC2086
	write_manifest zoned.json "$(p_list "$(p_service name=zoned \
	    ip=198.19.0.70 port=http/TCP/80/80 td=PreferClose)" \
	    "$(p_slice name=zoned port=http/TCP/80 $eps)")"
}
# near EP...: the PreferSameNode Service (NodePort 30071) and its slice.
near() {
	local eps="" e
	for e in "$@"; do eps="$eps ep=$e"; done
	# shellcheck disable=SC2086
	write_manifest near.json "$(p_list "$(p_service name=near type=NodePort \
	    ip=198.19.0.71 port=http/TCP/80/80/30071 td=PreferSameNode)" \
	    "$(p_slice name=near port=http/TCP/80 $eps)")"
}
ALL="pod1 pod2 pod3 pod4"
ZONED=http://198.19.0.70/
NEAR=http://198.19.0.71/
# Pods 1, 2 on node-a in zone-a, pods 3, 4 on node-b in zone-b; the
# hints share them out: pods 1 and 3 for zone-a, 2 and 4 for zone-b.
Z1="$P1,$L,zone=zone-a,hz=zone-a" Z2="$P2,$L,zone=zone-a,hz=zone-b"
Z3="$P3,$R,zone=zone-b,hz=zone-a" Z4="$P4,$R,zone=zone-b,hz=zone-b"

write_manifest node.json "$(p_node zone=zone-a)"
zoned "$Z1" "$Z2" "$Z3" "$Z4"
near "$P1,$L,zone=zone-a,hz=zone-a,hn=$POL_NODE" \
    "$P2,$R,zone=zone-a,hz=zone-a,hn=$POL_OTHER" \
    "$P3,$R,zone=zone-b,hz=zone-b,hn=$POL_OTHER" \
    "$P4,$R,zone=zone-b,hz=zone-b,hn=$POL_OTHER"
pol_start_proxy
wait_proxy_port default/zoned http >/dev/null
wait_proxy_port default/near http >/dev/null

# Zone hints.
soft expect_names "zone hints, node-a in zone-a" "$CLIENT" "$ZONED" 6 "pod1 pod3"
soft expect_names "zone hints, from a pod" "$POD2" "$ZONED" 6 "pod1 pod3"
write_manifest node.json "$(p_node zone=zone-b)"
soft wait_names 5 "zone hints, node-a moved to zone-b" "$CLIENT" "$ZONED" 6 "pod2 pod4"
write_manifest node.json "$(p_node zone=zone-c)"
soft wait_names 5 "zone hints, none for zone-c: all" "$CLIENT" "$ZONED" 8 "$ALL"
write_manifest node.json "$(p_node zone=zone-a)"
soft wait_names 5 "zone hints, back in zone-a" "$CLIENT" "$ZONED" 6 "pod1 pod3"
write_manifest node.json "$(p_node)"
soft wait_names 5 "zone hints, our Node without a zone: all" "$CLIENT" "$ZONED" 8 "$ALL"
write_manifest node.json "$(p_node zone=zone-a)"
soft wait_names 5 "zone hints, zone-a again" "$CLIENT" "$ZONED" 6 "pod1 pod3"
zoned "$Z1" "$Z2" "$Z3" "$P4,$R,zone=zone-b"
soft wait_names 5 "zone hints, one ready endpoint without hints: all" "$CLIENT" "$ZONED" 8 "$ALL"
zoned "$Z1" "$Z2" "$Z3" "$P4,$R,zone=zone-b,s=notready"
soft wait_names 5 "zone hints, the endpoint without hints not ready" "$CLIENT" "$ZONED" 6 "pod1 pod3"

# Node hints.
soft expect_names "node hints, the clusterIP" "$CLIENT" "$NEAR" 4 pod1
soft expect_names "node hints, the nodePort" "$CLIENT" "http://$NODE_IP:30071/" 4 pod1
near "$P1,$L,zone=zone-a,hz=zone-a,hn=$POL_OTHER" \
    "$P2,$R,zone=zone-a,hz=zone-a,hn=$POL_OTHER" \
    "$P3,$R,zone=zone-b,hz=zone-b,hn=$POL_OTHER" \
    "$P4,$R,zone=zone-b,hz=zone-b,hn=$POL_OTHER"
soft wait_names 5 "node hints, none for node-a: zone hints" "$CLIENT" "$NEAR" 6 "pod1 pod2"
soft expect_names "node hints, none for node-a: the nodePort" "$CLIENT" \
    "http://$NODE_IP:30071/" 6 "pod1 pod2"
pass
