#!/bin/bash
# hc_bounds.sh - a health check node port is open to whatever reaches the
# node, so it has the admin listeners' bounds (bounds.h): an endless
# request header is cut off, 200 idle connections leave at most
# BOUND_ADMIN_CONNECTIONS open and a load balancer's probe still gets its
# answer (idle ones make room), and the rest of the daemon goes on.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/lib.sh"
t_begin

read -r P HC NP <<<"$(free_ports 3 | tr '\n' ' ')"
backend a tcp-name 127.0.0.11:$P
write_lb_local "$P" "$HC" "$NP"
start_proxy --hostname-override node-a --service-node-port-range 1024-65535
IN=$(wait_proxy_port default/lb web)
probe() { client http --status "http://127.0.0.1:$HC/" 2>/dev/null; }
probe_ok() { [ "$(probe)" = 200 ]; }
wait_for 3 "health check 200" probe_ok

"$PYTHON3" - "$HC" <<'PY' || fail "bounds of the health check port (above)"
import socket, sys, time, urllib.request
port = int(sys.argv[1])
LIMIT = 32 << 20
# An endless header is cut off.
s = socket.create_connection(("127.0.0.1", port), timeout=5)
s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Endless: ")
sent, t0 = 0, time.time()
try:
    while sent < LIMIT and time.time() - t0 < 8:
        sent += s.send(b"a" * 4096)
except (BrokenPipeError, ConnectionResetError, socket.timeout):
    pass
s.close()
print("bytes taken by an endless header:", sent)
if sent >= LIMIT:
    sys.exit("the header bound did not hold")
# 200 idle connections: the listener keeps at most 64 of them ...
idle = []
for _ in range(200):
    try:
        idle.append(socket.create_connection(("127.0.0.1", port), timeout=2))
    except OSError:
        break
time.sleep(0.3)
closed = 0
for c in idle:
    c.setblocking(False)
    try:
        if c.recv(1) == b"":
            closed += 1
    except BlockingIOError:
        pass
    except OSError:
        closed += 1
print("idle connections opened:", len(idle), "closed by the server:", closed)
if len(idle) - closed > 64:
    sys.exit("more than BOUND_ADMIN_CONNECTIONS idle connections kept")
# ... and a probe a second later is answered: an idle one makes room.
time.sleep(1.1)
with urllib.request.urlopen("http://127.0.0.1:%d/" % port, timeout=3) as r:
    print("probe:", r.status)
    if r.status != 200:
        sys.exit("probe not answered 200")
for c in idle:
    c.close()
PY
expect_eq "the daemon's own /healthz" "$(client http --status "$HEALTHZ_URL/healthz")" 200
expect_eq "traffic still relayed" "$(t_outcome "$IN")" a
open=$(client metric "$METRICS_URL/metrics" kube_uproxy_health_check_connections)
expect_lt "health check connections open" "${open%.*}" 65
stop_proxy
pass
