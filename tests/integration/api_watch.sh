#!/bin/bash
# api_watch.sh - changes through the watch: adding, modifying and deleting
# Services and EndpointSlices reach traffic within 1 s of the API call.  A
# watch that ends cleanly resumes from the last resourceVersion without a
# relist; a dropped one recovers.  An ERROR 410 event, and compacted
# history, cause a relist that keeps every unchanged proxy port and open
# connection.
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
    "$(j_slice name=echo port=echo/TCP/$P ep=127.0.0.14)"
start_proxy_api "$API_KUBECONFIG"
WP=$(wait_proxy_port default/web http)
EP=$(wait_proxy_port default/echo echo)
expect_alternating "web before any change" "$(client names 127.0.0.1 "$WP" 4)" a b 2

# within_1s WHAT COMMAND...: COMMAND succeeds within 1 s of $t0 (waits up
# to 3 s so that a slow change is measured, not just timed out).
within_1s() {
	local what=$1 dt
	shift
	wait_for 3 "$what" "$@"
	dt=$(( $(now_ms) - t0 ))
	log "$what: $dt ms"
	expect_lt "ms until $what" "$dt" 1000
}

# Add a service and its slice.
new_works() {
	local pp
	pp=$(fast_proxy_port default/new http) && [ -n "$pp" ] && names_are "$pp" 1 c
}
api_apply "$(j_slice name=new port=http/TCP/$P ep=127.0.0.13)"
t0=$(now_ms)
api_apply "$(j_service name=new ip=198.19.0.12 port=http/TCP/80)"
within_1s "the added service to answer" new_works
NP=$(proxy_port default/new http)

# Modify a slice: web moves to c, on the same proxy port.
t0=$(now_ms)
api_apply "$(j_slice name=web port=http/TCP/$P ep=127.0.0.13)"
within_1s "web to move to c" names_are "$WP" 2 c
expect_eq "web's proxy port after the slice change" "$(proxy_port default/web http)" "$WP"

# Not-ready endpoints take no traffic.
t0=$(now_ms)
api_apply "$(j_slice name=web port=http/TCP/$P ep=127.0.0.11 notready=127.0.0.12)"
within_1s "web to move to a only" names_are "$WP" 4 a

# Modify a service: a second port appears, the first keeps its proxy port.
api_apply "$(j_slice name=web port=http/TCP/$P port=alt/TCP/$P ep=127.0.0.12)"
t0=$(now_ms)
api_apply "$(j_service name=web port=http/TCP/80 port=alt/TCP/81)"
alt_works() {
	local pp
	pp=$(fast_proxy_port default/web alt) && [ -n "$pp" ] && names_are "$pp" 1 b
}
within_1s "the added service port to answer" alt_works
expect_eq "web http's proxy port after the service change" "$(proxy_port default/web http)" "$WP"

# Delete a slice: no endpoints, connections refused at once.
t0=$(now_ms)
api_delete endpointslices default new-slice
within_1s "connections to a service without slice to be refused" refused "$NP"

# Delete the service: its proxy port closes.
t0=$(now_ms)
api_delete services default new
within_1s "the deleted service to leave /debug/services" port_gone default/new http
expect_match "connecting to the deleted service's proxy port" \
    "$(client refuse 127.0.0.1 "$NP" --timeout 1)" '^refused '

soft expect_gt "ADDED events" \
    "$(api_metric kube_uproxy_api_watch_events_total type=ADDED)" 0
soft expect_gt "MODIFIED events" \
    "$(api_metric kube_uproxy_api_watch_events_total type=MODIFIED)" 0
soft expect_eq "DELETED events" \
    "$(api_metric kube_uproxy_api_watch_events_total type=DELETED)" 2

# A clean end of the watches: new watches from the last RV, no list.
both_watching() { api_watching 2; }
# Relists of the Service and slice watchers (our Node's has a backoff of its own).
relists() {
	echo $(( $(api_metric kube_uproxy_api_relists_total resource=services) +
	    $(api_metric kube_uproxy_api_relists_total resource=endpointslices) ))
}
relists_above() { daemon_alive; [ "$(relists)" -gt "$1" ]; }
wait_for 5 "two open watches" both_watching
W0=$(api_metric kube_uproxy_api_watches_total)
L0=$(api_counter 'd["lists"]')
api_post /counters/reset
api_post /faults/close-watches '{"mode": "clean"}'
wait_for 10 "two new watches after a clean close" \
    api_metric_above $((W0 + 1)) kube_uproxy_api_watches_total
wait_for 5 "two open watches again" both_watching
expect_eq "lists (fakeapi) after a clean close" "$(api_counter 'd["lists"]')" 0
expect_eq "relists after a clean close" "$(api_metric kube_uproxy_api_relists_total)" 0
for w in $(api_requests | awk '/watch=(true|1)/ { print $4 }'); do
	expect_match "resumed watch" "$w" 'resourceVersion=[1-9][0-9]*'
done
t0=$(now_ms)
api_apply "$(j_slice name=web port=http/TCP/$P port=alt/TCP/$P ep=127.0.0.13)"
within_1s "a change after the resumed watch" names_are "$WP" 2 c

# Dropped in the middle of an event: the watch comes back.
api_post /faults/close-watches '{"mode": "abort"}'
sleep 0.2
api_apply "$(j_slice name=web port=http/TCP/$P port=alt/TCP/$P ep=127.0.0.11)"
wait_for 30 "web to move to a after a dropped watch" names_are "$WP" 2 a
wait_for 30 "two open watches after the drop" both_watching

# ERROR 410 in the stream: a relist, and no churn.
hold_open "$EP"
before=$(debug_ports)
R0=$(relists)
api_post /faults/close-watches '{"mode": "error", "code": 410}'
wait_for 15 "a relist after ERROR 410" relists_above "$R0"
wait_for 15 "two open watches after the relist" both_watching
soft expect_eq "relists after ERROR 410 on both watches" "$(relists)" $((R0 + 2))
soft expect_gt "ERROR events" \
    "$(api_metric kube_uproxy_api_watch_events_total type=ERROR)" 0
expect_eq "proxy ports after the relist" "$(debug_ports)" "$before"
held_echo after-410 || fail "the connection held open did not survive the relist"
expect_all "web after the relist" "$(client names 127.0.0.1 "$WP" 2)" a

# Compacted history: resuming fails with 410 inside the stream, relist.
# (The Endpoints write moves the global RV past both watches' RVs.)
api_apply "$(j_endpoints name=unwatched port=http/TCP/$P ep=127.0.0.11)"
api_post /faults/compact
R0=$(relists)
api_post /faults/close-watches '{"mode": "clean"}'
wait_for 15 "a relist after compaction" relists_above "$R0"
wait_for 15 "two open watches after the relist" both_watching
expect_eq "proxy ports after the second relist" "$(debug_ports)" "$before"
held_echo after-compact || fail "the connection held open did not survive the second relist"
t0=$(now_ms)
api_apply "$(j_slice name=web port=http/TCP/$P port=alt/TCP/$P ep=127.0.0.12)"
within_1s "a change after the relist" names_are "$WP" 2 b
pass
