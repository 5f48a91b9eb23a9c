#!/bin/bash
# api_badlines.sh - whatever bad line a watch stream carries, that watch
# ends and relists, and a Service created afterwards is proxied within a
# bounded time (issue 11: a truncated event in the Services watch used to
# swallow every later event).  Each kind of bad line goes into both
# watches at once: a truncated event, garbage, two events on one line, a
# NUL byte, invalid UTF-8, a control byte, an unknown event type, a line
# over BOUND_WATCH_EVENT_BYTES.  Between kinds a good event on each watch
# is the progress that starts the backoff over.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/lib.sh"
t_begin

P=$(free_ports 1)
backend a tcp-name 127.0.0.11:$P
fakeapi_start
api_apply "$(j_service name=web port=http/TCP/80)" \
    "$(j_slice name=web port=http/TCP/$P ep=127.0.0.11)"
start_proxy_api "$API_KUBECONFIG"
WP=$(wait_proxy_port default/web http)
expect_all "web before any bad line" "$(client names 127.0.0.1 "$WP" 2)" a

both_watching() { api_watching 2; }

# inject_b64 PYTHON-BYTES-EXPR: those bytes into every open watch.
inject() {
	"$PYTHON3" -c 'import base64, json, sys
data = eval(sys.argv[1])
print(json.dumps({"data_b64": base64.b64encode(data).decode()}))' "$1" \
	    >"$T_DIR/inject.json" || hard_error "cannot build $1"
	api_ctl POST /faults/raw-watch "@$T_DIR/inject.json" >/dev/null
	rm -f "$T_DIR/inject.json"
}

# tick N: a good event on each watch (a label change on web and its slice).
tick() {
	api_apply "$(j_service name=web port=http/TCP/80 label=tick=$1)" \
	    "$(j_slice name=web port=http/TCP/$P ep=127.0.0.11 label=tick=$1)"
}

KINDS=(
	truncated	'b"{\"type\":\"ADDED\",\"object\":{\"kind\":\"Serv\n"'
	garbage		'b"not json at all\n"'
	two-on-a-line	'b"{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"1\"}}}{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"1\"}}}\n"'
	nul		'b"{\"type\":\"ADDED\",\"object\":{\"kind\":\"Service\",\"metadata\":{\"name\":\"x\x00y\"}}}\n"'
	bad-utf8	'b"{\"type\":\"ADDED\",\"object\":{\"kind\":\"Service\",\"metadata\":{\"name\":\"\xff\xfe\xc0\xaf\"}}}\n"'
	control		'b"{\"type\":\"ADDED\",\x01\"object\":{}}\n"'
	unknown-type	'b"{\"type\":\"SURPRISE\",\"object\":{}}\n"'
	not-an-event	'b"[1,2,3]\n"'
	huge		'b"{\"type\":\"ADDED\",\"object\":{\"kind\":\"Service\",\"x\":\"" + b"y" * (9 << 20) + b"\"}}\n"'
)
B0=$(api_metric kube_uproxy_api_watch_broken_total)
i=0
while [ $i -lt ${#KINDS[@]} ]; do
	kind=${KINDS[$i]} bytes=${KINDS[$((i + 1))]}
	n=$((i / 2 + 20))
	wait_for 30 "two open watches before the $kind line" both_watching
	tick "$n"
	sleep 0.3
	inject "$bytes"
	t0=$(now_ms)
	api_apply "$(j_service name=svc-$kind ip=198.19.0.$n port=http/TCP/80)" \
	    "$(j_slice name=svc-$kind port=http/TCP/$P ep=127.0.0.11)"
	works() {
		local pp
		daemon_alive
		pp=$(fast_proxy_port "default/svc-$kind" http) && [ -n "$pp" ] &&
		    names_are "$pp" 1 a
	}
	wait_for 15 "svc-$kind after a $kind line in both watches" works
	dt=$(( $(now_ms) - t0 ))
	log "$kind: svc-$kind proxied after $dt ms"
	expect_lt "ms until svc-$kind is proxied after a $kind line" "$dt" 8000
	i=$((i + 2))
done
expect_all "web after every bad line" "$(client names 127.0.0.1 "$WP" 2)" a
# Each line broke both watches (a watch already ended by the first of two
# lines may miss the second, so at least one per kind and watch type).
B1=$(api_metric kube_uproxy_api_watch_broken_total)
soft expect_gt "watches broken by bad lines" "$((B1 - B0))" $(( ${#KINDS[@]} / 2 * 2 - 1 ))
soft expect_gt "log lines naming the bound" \
    "$(log_count 'services: a watch event line larger than [0-9]+ bytes \(BOUND_WATCH_EVENT_BYTES\)')" 0
soft expect_gt "log lines naming a NUL byte" "$(log_count 'endpointslices: .*NUL byte')" 0
pass
