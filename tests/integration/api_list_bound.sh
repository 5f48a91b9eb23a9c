#!/bin/bash
# api_list_bound.sh - a list page larger than BOUND_LIST_PAGE_BYTES
# (64 MiB) is ended at the bound with one line naming the resource and
# the bound, retried after a backoff, and never buffered past it; the
# last good state is served meanwhile and the next list applies.
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

hwm() { awk '/^VmHWM:/ { print $2 }' "/proc/$T_DAEMON_PID/status"; }
H0=$(hwm)
api_post /faults/huge-list '{"resource": "services", "bytes": 320000000}'
api_post /faults/close-watches '{"mode": "error", "code": 410}'
bound_logged() {
	daemon_alive
	[ "$(log_count 'services: a list page larger than 67108864 bytes \(BOUND_LIST_PAGE_BYTES\).*retrying in')" -gt 0 ]
}
wait_for 60 "the list page bound in the log" bound_logged
expect_all "web while the list is over its bound" "$(client names 127.0.0.1 "$WP" 2)" a
wait_for 30 "two open watches after the oversized list" both_watching
api_apply "$(j_slice name=web port=http/TCP/$P ep=127.0.0.12)"
wait_for 5 "a change after the oversized list" names_are "$WP" 2 b
H1=$(hwm)
log "VmHWM ${H0} kB before a 320 MB list page, ${H1} kB after"
if [ -z "$KUBE_UPROXY_WRAP" ] && ! grep -q __asan_init "$KUBE_UPROXY"; then
	# The page buffer stops at 64 MiB + 1; a little for the rest.
	expect_lt "VmHWM growth (kB) from a 320 MB list page" $((H1 - H0)) $((64 * 1024 + 32768))
fi
pass
