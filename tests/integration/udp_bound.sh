#!/bin/bash
# udp_bound.sh - UDP flows are bounded: datagrams from more client
# addresses than the bound leave exactly that many flows open, the oldest
# ones evicted and counted, and every datagram still answered.  The bound
# is the smaller of the port's table (UDP_FLOWS_MAX, 16384), the total
# (BOUND_UDP_FLOWS_TOTAL) and UDP's quarter of the descriptors past the
# reserve: with the 20,000 descriptors a CI machine allows, the last one
# (kube_uproxy_udp_flows_limit: 4936).  test_udp_flows evicts from a small
# port table.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# It takes ~33,000 UDP ports on loopback: as root, in a network namespace
# of its own (ports are per namespace), so that other suites running at
# the same time neither starve it nor are starved by it.
if [ -z "${UDP_BOUND_NETNS:-}" ] && [ "$(id -u)" = 0 ] &&
    command -v unshare >/dev/null; then
	export UDP_BOUND_NETNS=1
	exec unshare -n -- bash -c 'ip link set lo up && exec bash "$0" "$@"' "$0" "$@"
fi
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/lib.sh"
t_begin

# The daemon raises its soft limit to the hard one; the client needs a
# descriptor per source port, a few hundred more than the bound.
hard=$(ulimit -Hn)
[ "$hard" = unlimited ] && hard=1048576
ulimit -n "$hard" 2>/dev/null || skip "cannot raise RLIMIT_NOFILE to $hard"

P=$(free_ports 1)
backend a udp-echo-name 127.0.0.11:$P
write_manifest dns.yaml "$(m_service name=dns port=dns/UDP/53)
---
$(m_slice name=dns port=dns/UDP/$P ep=127.0.0.11)"
start_proxy --udp-timeout 60s
PP=$(wait_proxy_port default/dns dns)
MAX=$(metric kube_uproxy_udp_flows_limit)
[ "$MAX" -gt 16384 ] && MAX=16384	# the port's own table
CLIENTS=$((MAX + 200))
[ $((CLIENTS + 100)) -le "$hard" ] ||
    skip "the client needs $CLIENTS descriptors, RLIMIT_NOFILE is $hard"
log "bound: $MAX flows, from $CLIENTS clients"

# One datagram from each of CLIENTS client addresses (all kept open, so no
# address is reused), 500 in flight at a time; prints how many were answered.
# Each batch waits 5 s at most for all its answers together, so a starved
# machine (ephemeral ports gone) fails the count in minutes, never hangs.
answered=$("$PYTHON3" - "$PP" "$CLIENTS" <<'PY'
import selectors, socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
answered, kept = 0, []
for start in range(0, n, 500):
    sel, waiting = selectors.DefaultSelector(), 0
    for i in range(start, min(start + 500, n)):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        # Spread over 127.0.1.x: the proxy's own flow sockets use
        # ephemeral ports of 127.0.0.1 too, and there are only ~28,000.
        s.bind((f"127.0.1.{i % 250 + 1}", 0))
        s.setblocking(False)
        s.sendto(b"x", ("127.0.0.1", port))
        sel.register(s, selectors.EVENT_READ)
        kept.append(s)
        waiting += 1
    deadline = time.monotonic() + 5.0
    while waiting and time.monotonic() < deadline:
        for key, _ in sel.select(deadline - time.monotonic()):
            try:
                answered += key.fileobj.recv(100).endswith(b"x")
            except OSError:
                pass
            sel.unregister(key.fileobj)
            waiting -= 1
    sel.close()
print(answered)
PY
)
expect_eq "datagrams answered" "$answered" "$CLIENTS"
expect_eq "flows open" "$(metric kube_uproxy_udp_flows_active)" "$MAX"
expect_eq "flows created" "$(metric kube_uproxy_udp_flows_created_total)" "$CLIENTS"
expect_eq "flows evicted" "$(metric kube_uproxy_udp_flows_evicted_total)" $((CLIENTS - MAX))
pass
