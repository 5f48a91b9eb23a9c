#!/bin/bash
# api_error_backoff.sh - a server that answers every watch with an ERROR
# event (500 on Services, 410 Expired on EndpointSlices) is relisted with
# a growing backoff (0.8 s doubling, x [1, 2) jitter; the 30 s cap is
# checked in tests/unit/test_backoff), not once a second forever: an
# ERROR event, and the relist after it, are not progress (issue 11).
# When the fault clears, the watches open and changes flow again.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/lib.sh"
t_begin

P=$(free_ports 1)
backend a tcp-name 127.0.0.11:$P
backend b tcp-name 127.0.0.12:$P
fakeapi_start
api_apply "$(j_service name=web port=http/TCP/80)" \
    "$(j_slice name=web port=http/TCP/$P ep=127.0.0.11)"
start_proxy_api "$API_KUBECONFIG"
WP=$(wait_proxy_port default/web http)
both_watching() { api_watching 2; }
wait_for 5 "two open watches" both_watching

WINDOW=24
api_post /faults/watch-error "{\"code\": 500, \"resource\": \"services\", \"duration\": $WINDOW}"
api_post /faults/watch-error "{\"code\": 410, \"resource\": \"endpointslices\", \"duration\": $WINDOW}"
api_post /counters/reset
api_post /faults/close-watches '{"mode": "clean"}'
sleep "$WINDOW"
expect_all "web while every watch errors" "$(client names 127.0.0.1 "$WP" 2)" a

# list_gaps PATH: ms between consecutive lists (not watches) of PATH.
list_gaps() {
	api_requests "$1" | awk '!/watch=(true|1)/ {
		if (prev) print $1 - prev; prev = $1 }'
}
for res in /api/v1/services /apis/discovery.k8s.io/v1/endpointslices; do
	n=$(api_requests "$res" | grep -cvE 'watch=(true|1)')
	g=$(list_gaps "$res")
	log "$res: $n lists in ${WINDOW} s, ms between them: $(echo $g)"
	# 0.8+1.6+3.2+6.4 s at least before the fifth relist, 12.8 more
	# before the sixth; once a second (the old behaviour) is ~20.
	expect_lt "lists of $res in ${WINDOW} s" "$n" 8
	expect_gt "lists of $res in ${WINDOW} s" "$n" 2
	# Growing: each gap at least 0.8 times the one before (jitter and
	# request time), the third at least 3.2 s x 0.9.
	prev=0 k=0
	for x in $g; do
		k=$((k + 1))
		[ $prev -gt 0 ] && expect_gt "gap $k between lists of $res (ms, after $prev)" \
		    "$x" $((prev * 8 / 10))
		prev=$x
	done
	[ $k -ge 3 ] && expect_gt "third gap between lists of $res (ms)" \
	    "$(echo "$g" | sed -n 3p)" 2880
done

# The fault is over: the watches open again (within the current backoff,
# at most 25.6 s x 2 after the errors of the window) and changes flow.
wait_for 60 "two open watches after the errors" both_watching
t0=$(now_ms)
api_apply "$(j_slice name=web port=http/TCP/$P ep=127.0.0.12)"
wait_for 3 "a change after the errors" names_are "$WP" 2 b
pass
