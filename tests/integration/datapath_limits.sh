#!/bin/bash
# datapath_limits.sh - the daemon's data path bounds, seen from outside:
# with RLIMIT_NOFILE 400 (hard), 256 kept aside would leave too little, so
# half is (200); a quarter of the rest is UDP flows' (50), and the other
# 150 make 75 TCP connections at once.  200 UDP clients first, each
# answered: past 50 flows each new one closes the port's oldest, so 50
# stay open (before UDP flows had a share, all 200 did, and their
# descriptors left TCP and the admin listeners none).  Then the 76th TCP client and later are reset at once
# and counted, the 75 open relays keep working, and the admin listeners
# still answer (their descriptors are in the reserve).  /metrics shows the
# relay pool's use and bound (--relay-memory 1Mi).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/lib.sh"
t_begin

P=$(free_ports 1)
backend e tcp-echo 127.0.0.11:$P
backend u udp-echo-name 127.0.0.11:$P
write_manifest web.yaml "$(m_service name=web port=http/TCP/80 port=dns/UDP/53)
---
$(m_slice name=web port=http/TCP/$P port=dns/UDP/$P ep=127.0.0.11)"
# The daemon raises its soft limit to the hard one: lower both.
ulimit -n 400 2>/dev/null || skip "cannot lower RLIMIT_NOFILE"
start_proxy --relay-memory 1Mi --udp-timeout 5m
PP=$(wait_proxy_port default/web http)
UP=$(wait_proxy_port default/web dns)
expect_eq "connection bound in /metrics" "$(metric kube_uproxy_tcp_connections_limit)" 75
expect_eq "UDP flow bound in /metrics" "$(metric kube_uproxy_udp_flows_limit)" 50
expect_eq "relay memory bound in /metrics" "$(metric kube_uproxy_relay_memory_limit_bytes)" 1048576

# 200 UDP clients, their flows kept open (--udp-timeout 5m); then
# 75 relays held open and echoing, then 10 more clients: reset.
out=$("$PYTHON3" - "$PP" "$UP" <<'PY'
import socket, sys, time
port, uport = int(sys.argv[1]), int(sys.argv[2])
flows, answered = [], 0
for i in range(200):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.settimeout(0.2)
    u.sendto(b"q%d" % i, ("127.0.0.1", uport))
    try:
        answered += u.recv(64).endswith(b":q%d" % i)
    except socket.timeout:
        pass
    flows.append(u)
print("udp", answered)
held, ok = [], 0
for i in range(75):
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
expect_eq "UDP clients answered (the oldest flows make room)" "$(echo "$out" | grep udp)" "udp 200"
expect_eq "UDP flows open, at their share of descriptors" \
    "$(metric kube_uproxy_udp_flows_open)" 50
expect_eq "75 relays up to the bound" "$(echo "$out" | grep echoed)" "echoed 75"
expect_eq "clients past the bound reset" "$(echo "$out" | grep reset)" "reset 10"
expect_eq "open relays unaffected" "$(echo "$out" | grep still)" "still 10"
expect_eq "clients past the bound counted" \
    "$(metric kube_uproxy_tcp_connections_over_limit_total)" 10
healthz_ok || fail "/healthz does not answer at the connection bound"
mem=$(metric kube_uproxy_relay_memory_bytes)
[ "$mem" -le 1048576 ] || fail "relay memory $mem above its bound"
pass
