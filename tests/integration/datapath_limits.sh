#!/bin/bash
# datapath_limits.sh - the daemon's data path bounds, seen from outside:
# with RLIMIT_NOFILE 400 (hard), 256 kept aside would leave too little, so
# half is: 100 connections at once.  The 101st client and later are reset
# at once and counted in /metrics, the 100 open relays keep working, and
# the admin listeners still answer (their descriptors are in the reserve).
# /metrics shows the relay pool's use and bound (--relay-memory 1Mi).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/lib.sh"
t_begin

P=$(free_ports 1)
backend e tcp-echo 127.0.0.11:$P
write_manifest web.yaml "$(m_service name=web port=http/TCP/80)
---
$(m_slice name=web port=http/TCP/$P ep=127.0.0.11)"
# The daemon raises its soft limit to the hard one: lower both.
ulimit -n 400 2>/dev/null || skip "cannot lower RLIMIT_NOFILE"
start_proxy --relay-memory 1Mi
PP=$(wait_proxy_port default/web http)
expect_eq "connection bound in /metrics" "$(metric kube_uproxy_tcp_connections_limit)" 100
expect_eq "relay memory bound in /metrics" "$(metric kube_uproxy_relay_memory_limit_bytes)" 1048576

# 100 relays held open and echoing, then 10 more clients: reset.
out=$("$PYTHON3" - "$PP" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
held, ok = [], 0
for i in range(100):
    c = socket.create_connection(("127.0.0.1", port), timeout=5)
    c.sendall(b"m%d" % i); ok += c.recv(16) == b"m%d" % i
    held.append(c)
print("echoed", ok)
resets = 0
for i in range(10):
    # On loopback the reset may come before connect() returns.
    try:
        c = socket.create_connection(("127.0.0.1", port), timeout=5)
        c.sendall(b"x"); c.recv(16); c.close()   # EOF or data would be wrong
    except (ConnectionResetError, BrokenPipeError):
        resets += 1
print("reset", resets)
ok = 0
for i, c in enumerate(held[:10]):
    c.sendall(b"again"); ok += c.recv(16) == b"again"
print("still", ok)
time.sleep(0.5)
PY
)
log "$(echo $out)"
expect_eq "100 relays up to the bound" "$(echo "$out" | grep echoed)" "echoed 100"
expect_eq "clients past the bound reset" "$(echo "$out" | grep reset)" "reset 10"
expect_eq "open relays unaffected" "$(echo "$out" | grep still)" "still 10"
expect_eq "clients past the bound counted" \
    "$(metric kube_uproxy_tcp_connections_over_limit_total)" 10
healthz_ok || fail "/healthz does not answer at the connection bound"
mem=$(metric kube_uproxy_relay_memory_bytes)
[ "$mem" -le 1048576 ] || fail "relay memory $mem above its bound"
pass
