#!/bin/bash
# policy_node_api.sh - our Node from the API (issue 12, points 1, 2, 6 and
# 11), with the fake API server (tests/fakeapi/) in the node's namespace.
# kube-uproxy watches only its own Node (fieldSelector
# metadata.name=node-a); endpoints the API says are on node-a are local
# (externalTrafficPolicy: Local from the API); the Node's zone label
# picks the zone hints and a change of it is followed; the cluster
# autoscaler's taint ToBeDeletedByClusterAutoscaler and then a
# deletionTimestamp turn /healthz to 503 while /livez stays 200 and
# traffic still flows; another Node being deleted changes nothing.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/e2e/lib.sh"
pol_begin
pol_fakeapi_start

pol_api_apply "$(p_node zone=zone-a)" "$(p_node name=$POL_OTHER zone=zone-b)" \
    "$(p_service name=web type=NodePort ip=198.19.0.100 \
        port=http/TCP/80/80/30100 etp=Local)" \
    "$(p_slice name=web port=http/TCP/80 ep=$P1,$L ep=$P2,$R)" \
    "$(p_service name=zoned ip=198.19.0.101 port=http/TCP/80/80 td=PreferClose)" \
    "$(p_slice name=zoned port=http/TCP/80 ep=$P3,$R,zone=zone-b,hz=zone-a \
        ep=$P4,$R,zone=zone-b,hz=zone-b)"
pol_start_proxy_api
wait_proxy_port default/web http 5 >/dev/null
wait_proxy_port default/zoned http 5 >/dev/null

soft expect_match "the daemon's Node requests (only its own)" \
    "$(api_requests /api/v1/nodes | head -n 3)" \
    'fieldSelector=metadata\.name=node-a'
soft expect_eq "Node requests without that field selector" \
    "$(api_requests /api/v1/nodes | grep -vc 'fieldSelector=metadata\.name=node-a')" 0

# Locality and zone from the API.
soft expect_names "eTP Local from the API, the nodePort" "$CLIENT" \
    "http://$NODE_IP:30100/" 4 pod1
soft expect_names "eTP Local from the API, the clusterIP" "$CLIENT" \
    http://198.19.0.100/ 4 "pod1 pod2"
soft expect_names "zone hints, node-a in zone-a (API)" "$CLIENT" \
    http://198.19.0.101/ 4 pod3
pol_api_apply "$(p_node zone=zone-b)"
soft wait_names 5 "zone hints, node-a moved to zone-b (API)" "$CLIENT" \
    http://198.19.0.101/ 4 pod4

# Another Node being deleted: not ours.
pol_api_apply "$(p_node name=$POL_OTHER zone=zone-b deleting=1)"
sleep 0.5
soft expect_eq "/healthz with node-b being deleted" "$(healthz_status)" 200

# The autoscaler's taint, then a deletionTimestamp.
pol_api_apply "$(p_node zone=zone-b taint=1)"
soft wait_for 5 "/healthz 503 with the autoscaler's deletion taint" healthz_is 503
soft expect_eq "/livez with the taint" "$(livez_status)" 200
pol_api_apply "$(p_node zone=zone-b)"
soft wait_for 5 "/healthz 200 once the taint is gone" healthz_is 200
pol_api_apply "$(p_node zone=zone-b deleting=1)"
wait_for 5 "/healthz 503 with our Node being deleted" healthz_is 503
soft expect_eq "/livez while our Node is being deleted" "$(livez_status)" 200
sleep 0.5
soft expect_eq "/healthz still 503 (no flapping)" "$(healthz_status)" 503
soft expect_names "traffic while our Node is being deleted" "$CLIENT" \
    "http://$NODE_IP:30100/" 4 pod1
pass
