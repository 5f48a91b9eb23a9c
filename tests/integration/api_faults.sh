#!/bin/bash
# api_faults.sh - a failing API: 500s are retried with a backoff of at
# least 0.8 s, a 429's Retry-After is honoured, and while the API is down
# (listener restart, stop + compaction) the daemon keeps serving the last
# state, says so in kube_uproxy_api_up, and catches up afterwards: changes
# made during the outage arrive by replay or by a relist that keeps the
# proxy ports and open connections of unchanged services.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/lib.sh"
t_begin

P=$(free_ports 1)
backend a tcp-name 127.0.0.11:$P
backend b tcp-name 127.0.0.12:$P
backend c tcp-name 127.0.0.13:$P
backend e tcp-echo 127.0.0.14:$P
fakeapi_start
api_apply "$(j_service name=web port=http/TCP/80)" \
    "$(j_slice name=web port=http/TCP/$P ep=127.0.0.11 ep=127.0.0.12)" \
    "$(j_service name=echo ip=198.19.0.11 port=echo/TCP/7)" \
    "$(j_slice name=echo port=echo/TCP/$P ep=127.0.0.14)" \
    "$(j_service name=old ip=198.19.0.12 port=http/TCP/80)" \
    "$(j_slice name=old port=http/TCP/$P ep=127.0.0.13)" \
    "$(j_service name=gone ip=198.19.0.13 port=http/TCP/80)" \
    "$(j_slice name=gone port=http/TCP/$P ep=127.0.0.13)"
start_proxy_api "$API_KUBECONFIG"
WP=$(wait_proxy_port default/web http)
EP=$(wait_proxy_port default/echo echo)
wait_proxy_port default/old http >/dev/null
wait_proxy_port default/gone http >/dev/null
both_watching() { api_watching 2; }
wait_for 5 "two open watches" both_watching
wait_for 5 "kube_uproxy_api_up 1" api_metric_is 1 kube_uproxy_api_up
web_ab() { is_alternating "$(client names 127.0.0.1 "$WP" 4 --timeout 1)" a b 2; }

# gaps PATH-SUBSTRING STATUS: ms between the starts of consecutive watch
# requests of that path that got STATUS, one per line.
gaps() {
	api_requests "$1" | awk -v st="$2" '$2 == st && /watch=(true|1)/ {
		if (prev) print $1 - prev; prev = $1 }'
}

# --- 500 three times on the Service watch --------------------------------
E0=$(api_metric kube_uproxy_api_errors_total resource=services)
api_post /counters/reset
api_post /faults/status '{"code": 500, "count": 3, "watch": true, "path": "/api/v1/services"}'
api_post /faults/close-watches '{"mode": "clean"}'
wait_for 5 "kube_uproxy_api_up 0 while the watch fails" api_metric_is 0 kube_uproxy_api_up
web_ab || fail "traffic to web while the Service watch fails"
# The third retry comes 3.2-6.4 s after the third 500: lists in between
# succeed (api_up may read 1 early), so wait for the watch itself.
wait_for 30 "two open watches after three 500s" both_watching
wait_for 5 "kube_uproxy_api_up 1 after three 500s" api_metric_is 1 kube_uproxy_api_up
g=$(gaps /api/v1/services 500)
log "ms between the failed watch requests: $(echo $g)"
expect_eq "failed watch requests" "$(api_requests /api/v1/services | awk '$2 == 500' | wc -l)" 3
for x in $g; do
	expect_gt "ms between two failed watch requests (backoff >= 0.8 s)" "$x" 750
done
soft expect_lt "ms before the first retry (0.8 s x jitter < 2)" "$(echo "$g" | head -1)" 2200
# Doubling: the second delay is at least 1.6 s (a successful relist in
# between does not reset the backoff, as in client-go's reflector).
soft expect_gt "ms before the second retry (1.6 s x jitter >= 1)" "$(echo "$g" | sed -n 2p)" 1550
soft expect_gt "kube_uproxy_api_errors_total{services}" \
    "$(api_metric kube_uproxy_api_errors_total resource=services)" $((E0 + 2))
t0=$(now_ms)
api_apply "$(j_slice name=web port=http/TCP/$P ep=127.0.0.13)"
wait_for 3 "a change after the 500s" names_are "$WP" 2 c
expect_lt "ms until a change after the 500s" $(( $(now_ms) - t0 )) 1000
# An event on the Service watch is the progress that resets the backoff
# (a successful list alone is not, nor a watch closed within 1 s).
api_apply "$(j_service name=extra ip=198.19.0.14 port=http/TCP/80)"
wait_proxy_port default/extra http >/dev/null

# --- 429 with Retry-After: 2 -----------------------------------------------
api_post /counters/reset
api_post /faults/status '{"code": 429, "retry_after": 2, "count": 1, "watch": true, "path": "/api/v1/services"}'
api_post /faults/close-watches '{"mode": "clean"}'
watch_back() {
	daemon_alive
	api_requests /api/v1/services | awk '$2 == 429 { s = 1 } s && $2 == 200 { ok = 1 } END { exit !ok }'
}
wait_for 15 "a Service request answered after the 429" watch_back
after429=$(api_requests /api/v1/services | awk '$2 == 429 { t = $1; next } t { print $1 - t; exit }')
log "next Service request $after429 ms after the 429 (Retry-After: 2)"
expect_gt "ms from the 429 to the next request" "$after429" 1900
soft expect_lt "ms from the 429 to the next request" "$after429" 8000
wait_for 5 "two open watches" both_watching

# --- the API restarts ------------------------------------------------------
# Stopped and started by hand rather than for a fixed time: on a loaded
# machine the checks below could outlast a timed outage.
N0=$(wc -l <"$T_DIR/kube-uproxy.log")
api_post /listener/stop
t0=$(now_ms)
wait_for 3 "kube_uproxy_api_up 0 while the API is down" api_metric_is 0 kube_uproxy_api_up
expect_eq "fakeapi listening" "$(api_ctl GET /state | jget 'd["listening"]')" false
# Traffic flows on the last state, and changes made now arrive later.
expect_all "web while the API is down" "$(client names 127.0.0.1 "$WP" 3)" c
api_delete services default old
api_apply "$(j_slice name=web port=http/TCP/$P ep=127.0.0.11 ep=127.0.0.12)"
expect_all "web while the API is down, after a change there" "$(client names 127.0.0.1 "$WP" 2)" c
soft expect_eq "/healthz while the API is down" "$(healthz_status)" 200
down=$(( $(now_ms) - t0 ))
api_post /listener/start
wait_for 30 "kube_uproxy_api_up 1 after the restart" api_metric_is 1 kube_uproxy_api_up
log "API back for the daemon after $(( $(now_ms) - t0 )) ms ($down ms down)"
wait_for 5 "the change made during the outage (web on a and b)" web_ab
wait_for 5 "the service deleted during the outage to go" port_gone default/old http
outage_logged=$(tail -n +$((N0 + 1)) "$T_DIR/kube-uproxy.log" |
    grep -ciE 'api|watch|list|connect|refused|unreachable|error|fail')
soft expect_gt "log lines about the outage" "$outage_logged" 0
t0=$(now_ms)
api_apply "$(j_slice name=web port=http/TCP/$P ep=127.0.0.13)"
wait_for 3 "a change after the restart" names_are "$WP" 2 c
expect_lt "ms until a change after the restart" $(( $(now_ms) - t0 )) 1000
# Events on both watches (the slice above, a Service here) reset their
# backoff, so the next outage starts again from 0.8 s.
api_apply "$(j_service name=extra2 ip=198.19.0.15 port=http/TCP/80)"
wait_proxy_port default/extra2 http >/dev/null

# --- down, changed and compacted: the relist is a diff ---------------------
hold_open "$EP"
before=$(debug_ports | grep -v '^default/gone ')
R0=$(api_metric kube_uproxy_api_relists_total)
api_post /listener/stop
wait_for 5 "kube_uproxy_api_up 0 after the stop" api_metric_is 0 kube_uproxy_api_up
api_delete services default gone
api_apply "$(j_slice name=web port=http/TCP/$P ep=127.0.0.11)"
api_apply "$(j_endpoints name=unwatched port=http/TCP/$P ep=127.0.0.11)"
api_post /faults/compact
held_echo during-outage || fail "the held connection during the outage"
api_post /listener/start
wait_for 30 "a relist after the compacted outage" \
    api_metric_above "$R0" kube_uproxy_api_relists_total
# The other resource may still sit in its backoff (a few seconds: the
# stop costs each watch two or three failures).
wait_for 30 "kube_uproxy_api_up 1 after the relist" api_metric_is 1 kube_uproxy_api_up
wait_for 3 "web on a after the relist" names_are "$WP" 2 a
wait_for 3 "the service deleted during the outage to go" port_gone default/gone http
expect_eq "unchanged proxy ports after the relist" "$(debug_ports)" "$before"
held_echo after-relist || fail "the connection held open did not survive the relist"
pass
