#!/bin/bash
# api_sync.sh - the initial sync from the Kubernetes API (fakeapi): /healthz
# says 503 until both the Service and the EndpointSlice lists are complete,
# then traffic is balanced round-robin.  Lists are paged (limit=500 and
# continue), watches start at the list's resourceVersion with bookmarks and
# kube-proxy's label selector, requests carry our User-Agent, a service the
# selector excludes never appears.  Then, on a server without
# discovery.k8s.io, the same daemon runs on v1 Endpoints.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/lib.sh"
t_begin

SEL='labelSelector=!service.kubernetes.io/headless,!service.kubernetes.io/service-proxy-name'
P=$(free_ports 1)
backend a tcp-name 127.0.0.11:$P
backend b tcp-name 127.0.0.12:$P
backend c tcp-name 127.0.0.13:$P
fakeapi_start
api_apply "$(j_service name=web port=http/TCP/80)" \
    "$(j_slice name=web port=http/TCP/$P ep=127.0.0.11 ep=127.0.0.12)" \
    "$(j_service name=db ns=data ip=198.19.0.11 port=pg/TCP/5432)" \
    "$(j_slice name=db ns=data port=pg/TCP/$P ep=127.0.0.13)" \
    "$(j_service name=other ip=198.19.0.12 port=http/TCP/80 \
	label=service.kubernetes.io/service-proxy-name=someone-else)" \
    "$(j_slice name=other port=http/TCP/$P ep=127.0.0.13 \
	label=service.kubernetes.io/service-proxy-name=someone-else)"
# 520 slices of services that do not exist: the slice list takes 2 pages.
"$PYTHON3" -c '
import json, sys
print(json.dumps({"kind": "EndpointSliceList", "apiVersion": "discovery.k8s.io/v1",
    "items": [{"metadata": {"name": "filler-%03d" % i, "namespace": "filler",
        "labels": {"kubernetes.io/service-name": "filler-%03d" % i}},
        "addressType": "IPv4", "ports": [{"name": "http", "port": 80, "protocol": "TCP"}],
        "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": True}}]}
        for i in range(520)]}))' >"$T_DIR/filler.json"
api_ctl POST /load "@$T_DIR/filler.json" >/dev/null

# The slice list stalls until the test ends it (30 s at most): the services
# are listed, /healthz stays 503.
api_post /faults/stall '{"seconds": 30, "path": "/endpointslices", "watch": false, "count": 1}'
t0=$(now_ms)
start_proxy_nowait --kubeconfig "$API_KUBECONFIG"
services_listed() {
	daemon_alive
	api_requests 'GET /api/v1/services?' | grep -v 'watch=' | grep -q '^[0-9]* 200 '
}
wait_for 10 "the first Service list" services_listed
expect_eq "/healthz while the slice list stalls" "$(healthz_status)" 503
soft expect_eq "service ports while not synced" \
    "$(client http "$METRICS_URL/debug/services" | jget 'len(d)')" 0
soft expect_eq "kube_uproxy_api_synced while not synced" \
    "$(api_metric kube_uproxy_api_synced)" 0
sleep 1
expect_eq "/healthz a second later, the slice list still stalled" \
    "$(healthz_status)" 503
api_ctl POST /faults/clear >/dev/null	# the stalled list is answered now
t1=$(now_ms)
wait_healthy 15
log "healthy $(( $(now_ms) - t1 )) ms after the stall ended ($(( t1 - t0 )) ms in)"

WP=$(wait_proxy_port default/web http)
DP=$(wait_proxy_port data/db pg)
expect_alternating "6 connections to web" "$(client names 127.0.0.1 "$WP" 6)" a b 3
expect_all "2 connections to data/db" "$(client names 127.0.0.1 "$DP" 2)" c
expect_eq "web endpoints in /debug/services" \
    "$(service_field default/web http endpoints | jget 'sorted(d)')" \
    "[\"127.0.0.11:$P\", \"127.0.0.12:$P\"]"
soft expect_eq "service excluded by the label selector" \
    "$(proxy_port default/other http || echo absent)" absent

# The requests themselves.
lists=$(api_requests 'GET /api/v1/services?' | grep -v 'watch=')
log "service lists: $(echo "$lists" | cut -d' ' -f3-4 | head -3)"
soft expect_match "the Service list" "$(echo "$lists" | head -1)" 'limit=500'
soft expect_match "the Service list selector" "$(echo "$lists" | head -1)" "$SEL(&|\$| )"
slists=$(api_requests 'GET /apis/discovery.k8s.io/v1/endpointslices?' | grep -v 'watch=')
soft expect_eq "EndpointSlice list requests answered (2 pages, the first stalled)" \
    "$(echo "$slists" | grep -c ' 200 ')" 2
soft expect_match "second page of the slice list" \
    "$(echo "$slists" | grep ' 200 ' | tail -1)" 'continue=[A-Za-z0-9_-]+'
soft expect_match "the slice list selector" "$(echo "$slists" | tail -1)" "$SEL(&|\$| )"
watch_up() { api_watching 2; }
wait_for 5 "two open watches" watch_up
for path in /api/v1/services /apis/discovery.k8s.io/v1/endpointslices; do
	w=$(api_requests "GET $path?" | grep -E 'watch=(true|1)' | tail -1)
	[ -n "$w" ] || w=$(api_requests "GET ${path%/*}/watch/${path##*/}" | tail -1)
	[ -n "$w" ] || fail "no watch request on $path"
	log "watch: $(echo "$w" | cut -d' ' -f4)"
	soft expect_match "watch of $path: bookmarks" "$w" 'allowWatchBookmarks=true'
	soft expect_match "watch of $path: selector" "$w" "$SEL(&|\$| )"
	soft expect_match "watch of $path: from the list RV" "$w" 'resourceVersion=[1-9][0-9]*'
done
bad_ua=$(api_requests | awk '$5 !~ /^kube-uproxy\//' | head -3)
soft expect_eq "requests without User-Agent kube-uproxy/VERSION" "$bad_ua" ""

soft expect_eq "kube_uproxy_api_synced" "$(api_metric kube_uproxy_api_synced)" 1
soft expect_eq "lists of services" \
    "$(api_metric kube_uproxy_api_lists_total resource=services)" 1
soft expect_eq "lists of endpointslices (two pages are one list)" \
    "$(api_metric kube_uproxy_api_lists_total resource=endpointslices)" 1
soft expect_eq "relists" "$(api_metric kube_uproxy_api_relists_total)" 0
soft expect_eq "objects skipped" "$(api_metric kube_uproxy_api_objects_skipped_total)" 0
soft wait_for 5 "kube_uproxy_api_up 1" api_metric_is 1 kube_uproxy_api_up
stop_proxy

# A server without discovery.k8s.io: v1 Endpoints instead.
api_post /discovery '{"endpointslices": false}'
api_apply "$(j_endpoints name=web port=http/TCP/$P ep=127.0.0.13)" \
    "$(j_endpoints name=db ns=data port=pg/TCP/$P ep=127.0.0.11)"
api_post /counters/reset
start_proxy_api "$API_KUBECONFIG"
WP=$(wait_proxy_port default/web http)
DP=$(wait_proxy_port data/db pg)
expect_all "web on Endpoints" "$(client names 127.0.0.1 "$WP" 3)" c
expect_all "data/db on Endpoints" "$(client names 127.0.0.1 "$DP" 2)" a
soft expect_eq "lists of endpoints" \
    "$(api_metric kube_uproxy_api_lists_total resource=endpoints)" 1
soft expect_eq "successful slice requests without the group" \
    "$(api_requests /endpointslices | grep -c '^[0-9]* 200 ')" 0
t0=$(now_ms)
api_apply "$(j_endpoints name=web port=http/TCP/$P ep=127.0.0.11 ep=127.0.0.12)"
ab() { is_alternating "$(t_outcome "$WP"; t_outcome "$WP")" a b; }
wait_for 3 "web to move to a and b (Endpoints watch)" ab
dt=$(( $(now_ms) - t0 ))
log "Endpoints change took effect after $dt ms"
expect_lt "ms from the Endpoints change to traffic" "$dt" 1000
expect_alternating "web after the change" "$(client names 127.0.0.1 "$WP" 4)" a b 2
pass
