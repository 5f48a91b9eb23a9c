#!/bin/bash
# concurrent.sh - 500 connections open at the same time are all relayed,
# the active-connections gauge counts them, and drops back to 0.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/lib.sh"
N=500
# Client, proxy (two per connection) and backend each need N descriptors.
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 4096 ]; then
	ulimit -n 4096 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null
	[ "$(ulimit -n)" -ge $((2 * N + 100)) ] || skip "ulimit -n is $(ulimit -n), need $((2 * N + 100))"
fi
t_begin

P=$(free_ports 1)
backend a tcp-echo 127.0.0.11:$P
backend b tcp-echo 127.0.0.12:$P
write_manifest echo.yaml "$(m_service name=echo port=echo/TCP/7)
---
$(m_slice name=echo port=echo/TCP/$P ep=127.0.0.11 ep=127.0.0.12)"
start_proxy
PP=$(wait_proxy_port default/echo echo)

res=$(client concurrent 127.0.0.1 "$PP" $N --timeout 15 \
    --metrics "$METRICS_URL/metrics" --gauge kube_uproxy_tcp_connections_active)
expect_match "$N concurrent connections" "$(echo "$res" | tail -n1)" "^ok $N\$"
expect_eq "active connections while all were open" "$(echo "$res" | head -n1)" "gauge $N"
expect_eq "connections accepted" "$(metric kube_uproxy_tcp_connections_accepted_total)" $N

drained() { [ "$(metric kube_uproxy_tcp_connections_active)" = 0 ]; }
wait_for 2 "active connections to drop to 0" drained
both_done() { [ "$(cat "$T_DIR/out/a" "$T_DIR/out/b" | grep -c '^conn eof$')" = $N ]; }
wait_for 2 "every backend connection to end with EOF" both_done
# Round robin spread them evenly.
expect_eq "connections on backend a" "$(grep -c '^conn eof$' "$T_DIR/out/a")" $((N / 2))
pass
