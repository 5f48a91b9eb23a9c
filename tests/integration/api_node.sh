#!/bin/bash
# api_node.sh - our own Node from the API (issue 12): kube-uproxy watches
# /api/v1/nodes?fieldSelector=metadata.name=NAME as kube-proxy does.  A 403
# on nodes holds nothing back (Services are served, one warning, retried
# with backoff); the Node's topology.kubernetes.io/zone label then narrows
# a Service whose endpoints all carry zone hints to the ones hinted for our
# zone, follows a change of zone, and is forgotten with the Node.  The
# deletionTimestamp and the cluster autoscaler's taint are seen.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/lib.sh"
t_begin

P=$(free_ports 1)

# node NAME ZONE: a Node object.
node() {
	printf '{"apiVersion":"v1","kind":"Node","metadata":{"name":"%s","labels":{"kubernetes.io/hostname":"%s","topology.kubernetes.io/zone":"%s"}},"spec":{}}\n' \
	    "$1" "$1" "$2"
}

# A slice whose two endpoints run elsewhere, each hinted for one zone.
SLICE='{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice",
 "metadata":{"name":"web-1","namespace":"default",
  "labels":{"kubernetes.io/service-name":"web"}},
 "addressType":"IPv4","ports":[{"name":"http","protocol":"TCP","port":'$P'}],
 "endpoints":[
  {"addresses":["127.0.0.11"],"conditions":{"ready":true},"nodeName":"node-x",
   "zone":"zone-a","hints":{"forZones":[{"name":"zone-a"}]}},
  {"addresses":["127.0.0.12"],"conditions":{"ready":true},"nodeName":"node-y",
   "zone":"zone-b","hints":{"forZones":[{"name":"zone-b"}]}}]}'

fakeapi_start
api_apply "$(j_service name=web port=http/TCP/80)" "$SLICE" \
    "$(node node-a zone-a)" "$(node node-b zone-b)"
# Not allowed to read nodes until the test allows it (60 s at most).
api_post /faults/status '{"code": 403, "path": "/nodes", "duration": 60}'
start_proxy_api "$API_KUBECONFIG" --hostname-override node-a
wait_proxy_port default/web http >/dev/null

eps() { service_field default/web http endpoints; }
eps_are() { daemon_alive; [ "$(eps)" = "$1" ]; }
BOTH="[\"127.0.0.11:$P\", \"127.0.0.12:$P\"]"
A="[\"127.0.0.11:$P\"]"
B="[\"127.0.0.12:$P\"]"

# Served without our Node: every endpoint, one warning for the 403s.
expect_eq "endpoints without our Node" "$(eps)" "$BOTH"
wait_for 5 "a nodes request refused with 403" eval \
    '[ -n "$(api_requests "/api/v1/nodes" | awk "\$2 == 403")" ]'
expect_eq "endpoints still without our Node" "$(eps)" "$BOTH"
api_ctl POST /faults/clear >/dev/null

# Once allowed: our Node (and only ours) is listed and watched by name.
wait_for 15 "the endpoints hinted for zone-a" eps_are "$A"
expect_eq "warnings about nodes" "$(log_count 'api: nodes: .*going on without our Node')" 1
for r in $(api_requests "/api/v1/nodes" | awk '{ print $4 }'); do
	expect_match "nodes request" "$r" 'fieldSelector=metadata\.name=node-a(&|$)'
done
expect_gt "nodes watches" "$(api_counter 'd["watches_by_resource"].get("nodes", 0)')" 0

# Another Node changing is not ours to see.
api_apply "$(node node-b zone-a)"
sleep 0.5
expect_eq "endpoints after another Node changed" "$(eps)" "$A"

# Our Node moves to zone-b.
api_apply "$(node node-a zone-b)"
wait_for 5 "the endpoints hinted for zone-b" eps_are "$B"

# The cluster autoscaler's taint, then a deletion held by a finalizer.
api_post /nodes/node-a/taint
wait_for 5 "the taint to be seen" eval \
    '[ "$(log_count "node node-a: seen, being deleted")" -ge 1 ]'
api_post /nodes/node-a/untaint
wait_for 5 "the taint to be gone" eval \
    '[ "$(log_count "node node-a: seen$")" -ge 2 ]'
api_post /nodes/node-a/deleting
wait_for 5 "the deletionTimestamp to be seen" eval \
    '[ "$(log_count "node node-a: seen, being deleted")" -ge 2 ]'

# Deleted: no zone, every endpoint again.
api_ctl DELETE /objects/nodes/node-a >/dev/null
wait_for 5 "every endpoint once our Node is gone" eps_are "$BOTH"
expect_eq "node gone lines" "$(log_count 'node node-a: gone')" 1
pass
