#!/bin/bash
# manifest_node.sh - our own Node from --manifests (issue 12): a Node object
# named --hostname-override gives our zone, so a Service whose endpoints
# all carry zone hints uses the ones hinted for it; Nodes of other names
# are ignored; editing or removing our Node's file follows.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/lib.sh"
t_begin

P=$(free_ports 1)

node() {
	printf '{"apiVersion":"v1","kind":"Node","metadata":{"name":"%s","labels":{"topology.kubernetes.io/zone":"%s"}}}\n' \
	    "$1" "$2"
}

write_manifest web.json '{"apiVersion":"v1","kind":"List","items":[
 {"apiVersion":"v1","kind":"Service","metadata":{"name":"web"},
  "spec":{"clusterIP":"198.19.0.10","ports":[{"name":"http","port":80}]}},
 {"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice",
  "metadata":{"name":"web-1","labels":{"kubernetes.io/service-name":"web"}},
  "addressType":"IPv4","ports":[{"name":"http","port":'$P'}],
  "endpoints":[
   {"addresses":["127.0.0.11"],"nodeName":"node-x",
    "hints":{"forZones":[{"name":"zone-a"}]}},
   {"addresses":["127.0.0.12"],"nodeName":"node-y",
    "hints":{"forZones":[{"name":"zone-b"}]}}]}]}'
write_manifest nodes.json "$(node node-b zone-b)"
write_manifest our-node.json "$(node node-a zone-a)"
start_proxy --hostname-override node-a
wait_proxy_port default/web http >/dev/null

eps() { service_field default/web http endpoints; }
eps_are() { daemon_alive; [ "$(eps)" = "$1" ]; }
BOTH="[\"127.0.0.11:$P\", \"127.0.0.12:$P\"]"

wait_for 3 "the endpoint hinted for zone-a" eps_are "[\"127.0.0.11:$P\"]"
write_manifest our-node.json "$(node node-a zone-b)"
wait_for 5 "the endpoint hinted for zone-b" eps_are "[\"127.0.0.12:$P\"]"
# A broken version of our Node keeps the last good one.
write_manifest our-node.json '{"apiVersion":"v1","kind":"Node","metadata":{"name":"node-a","labels":{"topology.kubernetes.io/zone":"zone b"}}}'
wait_for 5 "the broken Node to be reported" eval \
    '[ "$(log_count "our-node.json: document 1 node-a: .*zone b.*keeping its last good version")" -ge 1 ]'
expect_eq "endpoints after a broken Node" "$(eps)" "[\"127.0.0.12:$P\"]"
remove_manifest our-node.json
wait_for 5 "every endpoint without our Node" eps_are "$BOTH"
pass
