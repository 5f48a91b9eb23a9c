#!/bin/bash
# api_broken.sh - hostile objects from the API are logged with their
# namespace/name, counted and skipped, in the initial list and in the
# watch: a port out of range, an invalid cluster IP, an unknown protocol, a
# port of the wrong JSON type, a spec that is not an object, an invalid
# endpoint address, an object over 1 MiB.  Malformed JSON and a 20 MiB
# line in the watch stream neither kill the daemon nor grow its memory.
# Good services keep working and later changes still apply.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/lib.sh"
t_begin

P=$(free_ports 1)
backend a tcp-name 127.0.0.11:$P
backend b tcp-name 127.0.0.12:$P
fakeapi_start

# bad_service NAME SPEC-JSON: a Service in namespace "broken".
bad_service() {
	printf '{"kind":"Service","apiVersion":"v1","metadata":{"name":"%s","namespace":"broken"},"spec":%s}' "$1" "$2"
}
good_ports='[{"name":"http","protocol":"TCP","port":80,"targetPort":80}]'
bad_batch() {	# bad_batch SUFFIX: five broken Services
	local s=$1
	bad_service "bad-port$s" '{"clusterIP":"198.19.1.1","ports":[{"name":"http","protocol":"TCP","port":70000}]}'
	echo
	bad_service "bad-ip$s" "{\"clusterIP\":\"300.1.2.3\",\"clusterIPs\":[\"300.1.2.3\"],\"ports\":$good_ports}"
	echo
	bad_service "bad-proto$s" '{"clusterIP":"198.19.1.3","ports":[{"name":"http","protocol":"BOGUS","port":80}]}'
	echo
	bad_service "bad-type$s" '{"clusterIP":"198.19.1.4","ports":[{"name":"http","protocol":"TCP","port":"eighty"}]}'
	echo
	bad_service "bad-shape$s" '"nonsense"'
	echo
}
while read -r o; do api_apply "$o"; done <<<"$(bad_batch "")"
api_apply "$(j_service name=web port=http/TCP/80)" \
    "$(j_slice name=web port=http/TCP/$P ep=127.0.0.11 ep=127.0.0.12)" \
    "$(j_service name=sl ip=198.19.0.11 port=http/TCP/80)" \
    "$(j_slice name=sl port=http/TCP/$P ep=127.0.0.11)" \
    "$(j_slice name=sl slice=sl-bad port=http/TCP/$P ep=999.1.1.1)"

start_proxy_api "$API_KUBECONFIG"
WP=$(wait_proxy_port default/web http)
SP=$(wait_proxy_port default/sl http)
expect_alternating "web next to broken services" "$(client names 127.0.0.1 "$WP" 4)" a b 2
expect_all "sl with a broken slice" "$(client names 127.0.0.1 "$SP" 2)" a
expect_eq "service ports of namespace broken" \
    "$(client http "$METRICS_URL/debug/services" | jget 'len([o for o in d if o["service"].startswith("broken/")])')" 0
for n in bad-port bad-ip bad-proto bad-type bad-shape; do
	soft expect_gt "log lines naming broken/$n" "$(log_count "broken/$n")" 0
done
soft expect_gt "log lines naming default/sl-bad" "$(log_count 'default/sl-bad')" 0
soft expect_eq "services skipped in the list (port, IP, protocol, type, shape)" \
    "$(api_metric kube_uproxy_api_objects_skipped_total resource=services)" 5
soft expect_eq "endpointslices skipped in the list" \
    "$(api_metric kube_uproxy_api_objects_skipped_total resource=endpointslices)" 1

# The same in the watch, plus an object over 1 MiB.
S0=$(api_metric kube_uproxy_api_objects_skipped_total resource=services)
while read -r o; do api_apply "$o"; done <<<"$(bad_batch -2)"
"$PYTHON3" -c '
import json, sys
print(json.dumps({"kind": "Service", "apiVersion": "v1",
    "metadata": {"name": "huge", "namespace": "broken",
                 "annotations": {"filler": "x" * (1536 << 10)}},
    "spec": {"clusterIP": "198.19.1.9", "ports": json.loads(sys.argv[1])}}))' \
    "$good_ports" >"$T_DIR/huge.json"
api_ctl POST /objects "@$T_DIR/huge.json" >/dev/null
soft wait_for 5 "six more services skipped (5 broken, 1 oversized)" \
    api_metric_above $((S0 + 5)) kube_uproxy_api_objects_skipped_total resource=services
soft expect_gt "log lines naming broken/huge" "$(log_count 'broken/huge')" 0
t0=$(now_ms)
api_apply "$(j_slice name=web port=http/TCP/$P ep=127.0.0.12)"
wait_for 3 "a change after the broken objects" names_are "$WP" 2 b
expect_lt "ms until a change after the broken objects" $(( $(now_ms) - t0 )) 1000
daemon_alive

# Malformed JSON in the Service watch: the daemon recovers (rewatch/relist).
both_watching() { api_watching 2; }
wait_for 5 "two open watches" both_watching
api_post /faults/raw-watch '{"resource": "services", "data": "{\"type\":\"ADDED\",\"object\":{\"kind\":\"Service\",,]]\n"}'
api_post /faults/raw-watch '{"resource": "services", "data": "not json at all\n"}'
expect_all "web after malformed JSON" "$(client names 127.0.0.1 "$WP" 2)" b
api_apply "$(j_service name=late ip=198.19.0.12 port=http/TCP/80)" \
    "$(j_slice name=late port=http/TCP/$P ep=127.0.0.11)"
late_works() {
	local pp
	daemon_alive
	pp=$(proxy_port default/late http) && [ -n "$pp" ] && names_are "$pp" 1 a
}
wait_for 30 "a service added after malformed JSON" late_works

# A 20 MiB line: memory stays bounded.
hwm() { awk '/^VmHWM:/ { print $2 }' "/proc/$T_DAEMON_PID/status"; }
wait_for 30 "two open watches" both_watching
H0=$(hwm)
"$PYTHON3" -c '
import json, sys
line = "{\"type\":\"ADDED\",\"object\":{\"kind\":\"Service\",\"metadata\":{\"name\":\"giant\",\"namespace\":\"broken\"},\"x\":\"" + "y" * (20 << 20) + "\"}}\n"
print(json.dumps({"resource": "services", "data": line}))' >"$T_DIR/giant.json"
api_ctl POST /faults/raw-watch "@$T_DIR/giant.json" >/dev/null
rm -f "$T_DIR/giant.json"
api_apply "$(j_slice name=web port=http/TCP/$P ep=127.0.0.11)"
wait_for 30 "a change after a 20 MiB line" names_are "$WP" 2 a
H1=$(hwm)
log "VmHWM ${H0} kB before the 20 MiB line, ${H1} kB after"
# (not measured under a wrapper or AddressSanitizer: their own heaps)
if [ -z "$KUBE_UPROXY_WRAP" ] && ! grep -q __asan_init "$KUBE_UPROXY"; then
	expect_lt "VmHWM growth (kB) from a 20 MiB line" $((H1 - H0)) 12288
fi
soft expect_eq "service ports of namespace broken" \
    "$(client http "$METRICS_URL/debug/services" | jget 'len([o for o in d if o["service"].startswith("broken/")])')" 0
stop_proxy

# A fresh start lists everything, the 1.5 MiB object included.
start_proxy_api "$API_KUBECONFIG"
WP=$(wait_proxy_port default/web http)
expect_all "web after a list with an object over 1 MiB" "$(client names 127.0.0.1 "$WP" 2)" a
wait_proxy_port default/late http >/dev/null
soft expect_eq "services skipped in the second list (10 broken, 1 oversized)" \
    "$(api_metric kube_uproxy_api_objects_skipped_total resource=services)" 11
pass
