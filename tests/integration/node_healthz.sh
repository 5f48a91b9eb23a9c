#!/bin/bash
# node_healthz.sh - /healthz answers 503 while our Node is being deleted
# or carries the cluster autoscaler's deletion taint (kube-proxy >= 1.29,
# issue 12 point 11), with "nodeEligible": false; /livez stays 200; the
# health check node port of an eTP Local Service says
# serviceProxyHealthy false (503) meanwhile.  Our Node from --manifests.
# Needs main.c to hand the store to the proxier (proxier_set_store).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/lib.sh"
t_begin
[ -n "$T_CURL" ] || skip "no curl"

read -r P HC NP <<<"$(free_ports 3 | tr '\n' ' ')"
backend a tcp-name 127.0.0.11:$P
node() {	# NAME [EXTRA-METADATA] [SPEC]
	printf '{"apiVersion":"v1","kind":"Node","metadata":{"name":"%s"%s}%s}\n' \
	    "$1" "${2:-}" "${3:-}"
}
write_lb_local "$P" "$HC" "$NP"
write_manifest node.json "$(node node-a)"
start_proxy --hostname-override node-a --service-node-port-range 1024-65535

status() { "$T_CURL" -s -m 2 -o "$T_DIR/body" -w '%{http_code}' "$1"; }
healthz_is() { [ "$(status "$HEALTHZ_URL/healthz")" = "$1" ]; }
hc_is() { [ "$(status "http://127.0.0.1:$HC/")" = "$1" ]; }
wait_for 3 "health check 200" hc_is 200
expect_match "healthz nodeEligible" "$(status "$HEALTHZ_URL/healthz"; cat "$T_DIR/body")" \
    '^200.*"nodeEligible":true'

# Another node being deleted changes nothing.
write_manifest other.json "$(node node-b ',"deletionTimestamp":"2026-12-07T15:00:00Z"')"
sleep 0.5
healthz_is 200 || fail "/healthz failed for another node's deletion"

write_manifest node.json "$(node node-a ',"deletionTimestamp":"2026-12-07T15:00:00Z"')"
wait_for 5 "/healthz 503 while our Node is deleted" healthz_is 503
expect_match "healthz body" "$(cat "$T_DIR/body")" '"nodeEligible":false'
expect_eq "/livez unaffected" "$(status "$HEALTHZ_URL/livez")" 200
hc_is 503 || fail "health check node port not 503"
expect_match "health check body" "$(cat "$T_DIR/body")" \
    '"localEndpoints":1,"serviceProxyHealthy":false'

write_manifest node.json "$(node node-a)"
wait_for 5 "/healthz 200 again" healthz_is 200
write_manifest node.json "$(node node-a '' \
    ',"spec":{"taints":[{"key":"ToBeDeletedByClusterAutoscaler","value":"1700000000","effect":"NoSchedule"}]}')"
wait_for 5 "/healthz 503 with the autoscaler's taint" healthz_is 503
remove_manifest node.json
wait_for 5 "/healthz 200 without a Node" healthz_is 200
stop_proxy
pass
