#!/bin/bash
# reset.sh - a reset is relayed as a reset, both ways: a backend that
# aborts its connection makes the client see ECONNRESET (not a clean EOF),
# and a client that aborts makes the backend see one.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/lib.sh"
t_begin

P=$(free_ports 1)
backend rst tcp-reset 127.0.0.11:$P
backend echo tcp-echo 127.0.0.12:$P
write_manifest svc.yaml "$(m_service name=rst port=tcp/TCP/9)
---
$(m_slice name=rst port=tcp/TCP/$P ep=127.0.0.11)
---
$(m_service name=echo ip=198.19.0.11 port=tcp/TCP/7)
---
$(m_slice name=echo port=tcp/TCP/$P ep=127.0.0.12)"
start_proxy
RP=$(wait_proxy_port default/rst tcp)
EP=$(wait_proxy_port default/echo tcp)

for i in 1 2 3; do
	expect_eq "client's view of a backend reset ($i)" "$(client reset 127.0.0.1 "$RP")" reset
done

expect_eq "client reset after an echo" "$(client client-reset 127.0.0.1 "$EP")" ok
backend_saw() { grep -q '^conn ' "$T_DIR/out/echo"; }
wait_for 1 "the echo backend to see the connection end" backend_saw
expect_eq "backend's view of a client reset" "$(grep '^conn ' "$T_DIR/out/echo")" "conn reset"

drained() { [ "$(metric kube_uproxy_tcp_connections_active)" = 0 ]; }
wait_for 1 "active connections to drop to 0" drained
pass
