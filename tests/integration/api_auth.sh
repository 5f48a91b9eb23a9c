#!/bin/bash
# api_auth.sh - bearer tokens: after the server rotates the token (and
# rewrites the token file) the daemon's next requests get 401, it re-reads
# the tokenFile and recovers within a few seconds; a single injected 401
# is retried; with an inline token the server no longer accepts, the daemon
# stays up, keeps serving and reports the API as down.  No token ever
# appears in the log.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/lib.sh"
t_begin

P=$(free_ports 1)
backend a tcp-name 127.0.0.11:$P
backend b tcp-name 127.0.0.12:$P
fakeapi_start
api_apply "$(j_service name=web port=http/TCP/80)" \
    "$(j_slice name=web port=http/TCP/$P ep=127.0.0.11)"
grep -q '^    tokenFile: ' "$API_KUBECONFIG" || hard_error "fakeapi's kubeconfig has no tokenFile"
start_proxy_api "$API_KUBECONFIG"
WP=$(wait_proxy_port default/web http)
expect_all "web" "$(client names 127.0.0.1 "$WP" 2)" a
both_watching() { api_watching 2; }
wait_for 5 "two open watches" both_watching
TOKENS=$API_TOKEN

# changed_to BACKEND: the web slice now has only that backend; wait for it.
changed_to() {
	local ip=127.0.0.11
	[ "$1" = b ] && ip=127.0.0.12
	t0=$(now_ms)
	api_apply "$(j_slice name=web port=http/TCP/$P ep=$ip)"
	wait_for "${2:-3}" "web to move to $1" names_are "$WP" 2 "$1"
}

# --- the token file changes: 401, re-read, recovery ---------------------------
api_post /counters/reset
api_rotate_token
TOKENS="$TOKENS $API_TOKEN"
t0=$(now_ms)
api_post /faults/close-watches '{"mode": "clean"}'
recovered() {
	daemon_alive
	both_watching &&
	    [ "$(api_requests | awk '/watch=(true|1)/ && $2 == 200' | wc -l)" -ge 2 ]
}
wait_for 20 "both watches back with the new token" recovered
log "recovered $(( $(now_ms) - t0 )) ms after the rotation; $(api_counter 'd["auth_failures"]') 401s"
wait_for 10 "kube_uproxy_api_up 1 after the rotation" api_metric_is 1 kube_uproxy_api_up
changed_to b
expect_lt "ms until a change after the rotation" $(( $(now_ms) - t0 )) 1000

# --- one injected 401 on the Service watch ------------------------------------
api_post /counters/reset
api_post /faults/status '{"code": 401, "count": 1, "watch": true, "path": "/api/v1/services"}'
api_post /faults/close-watches '{"mode": "clean"}'
t0=$(now_ms)
wait_for 20 "both watches back after a 401" recovered
log "recovered $(( $(now_ms) - t0 )) ms after an injected 401"
expect_eq "401s answered" "$(api_requests | awk '$2 == 401' | wc -l)" 1
changed_to a

# --- an inline token the server stops accepting: stay up, keep serving --------
stop_proxy
sed "s|^    tokenFile: .*|    token: $API_TOKEN|" "$API_KUBECONFIG" >"$T_DIR/kc-inline"
grep -q "^    token: $API_TOKEN\$" "$T_DIR/kc-inline" || hard_error "inline kubeconfig"
start_proxy_api "$T_DIR/kc-inline"
WP=$(wait_proxy_port default/web http)
wait_for 5 "two open watches" both_watching
E0=$(api_metric kube_uproxy_api_errors_total)
api_rotate_token
TOKENS="$TOKENS $API_TOKEN"
api_post /faults/close-watches '{"mode": "clean"}'
wait_for 10 "kube_uproxy_api_up 0 with a refused token" api_metric_is 0 kube_uproxy_api_up
wait_for 15 "two failed requests" api_metric_above $((E0 + 1)) kube_uproxy_api_errors_total
expect_all "web while every API request gets 401" "$(client names 127.0.0.1 "$WP" 3)" a
expect_eq "/healthz while every API request gets 401" "$(healthz_status)" 200
soft expect_eq "kube_uproxy_api_synced while every API request gets 401" \
    "$(api_metric kube_uproxy_api_synced)" 1
daemon_alive

for t in $TOKENS; do
	expect_eq "lines of the log with a token" "$(grep -cF -- "$t" "$T_DIR/kube-uproxy.log")" 0
done
pass
