#!/bin/bash
# admin_bounds.sh - the admin HTTP listeners are bounded (bounds.h,
# BOUND_ADMIN_*), on both the healthz and the metrics address:
#  - a request header that never ends (slowloris) is cut off after
#    BOUND_ADMIN_HEADERS_BYTES: the daemon's RSS stays flat and /healthz
#    keeps answering other clients meanwhile;
#  - a body past BOUND_ADMIN_BODY_BYTES is refused;
#  - 200 idle connections: past BOUND_ADMIN_CONNECTIONS new ones are closed
#    at once and counted; /healthz still answers (a connection idle for a
#    second makes room); a relay through a proxy port is unaffected; the
#    idle ones are closed after BOUND_ADMIN_IDLE_S.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/lib.sh"
t_begin

P=$(free_ports 1)
backend echo tcp-echo 127.0.0.11:$P
write_manifest svc.yaml "$(m_service name=web port=http/TCP/80)
---
$(m_slice name=web port=http/TCP/$P ep=127.0.0.11)"
start_proxy
WP=$(wait_proxy_port default/web http)

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$T_DAEMON_PID/status"; }

# --- slowloris: endless headers, on both listeners --------------------------
for url in "$HEALTHZ_URL" "$METRICS_URL"; do
	port=${url##*:}
	rss0=$(rss_kb)
	"$PYTHON3" - "$port" "$HEALTHZ_PORT" <<'PY' || fail "slowloris on port $port (above)"
import socket, sys, threading, time, urllib.request
port, hport = int(sys.argv[1]), int(sys.argv[2])
LIMIT = 32 << 20            # give up (the bound did not hold) after 32 MiB
results = []

def loris():
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Endless: ")
    sent, chunk, t0 = 0, b"a" * 4096, time.time()
    try:
        while sent < LIMIT and time.time() - t0 < 8:
            sent += s.send(chunk)
    except (BrokenPipeError, ConnectionResetError, socket.timeout):
        pass
    results.append(sent)
    s.close()

threads = [threading.Thread(target=loris) for _ in range(4)]
for t in threads: t.start()
# Other clients are served while the lorises push.
ok = 0
for _ in range(5):
    with urllib.request.urlopen("http://127.0.0.1:%d/healthz" % hport, timeout=2) as r:
        ok += r.status == 200
    time.sleep(0.05)
for t in threads: t.join()
print("bytes taken per endless header:", results, "healthz 200s:", ok)
if ok != 5:
    sys.exit("/healthz did not answer while the lorises pushed")
if max(results) >= LIMIT:
    sys.exit("an endless header was read up to %d bytes, not cut off" % max(results))
PY
	rss1=$(rss_kb)
	log "port $port: RSS $rss0 kB -> $rss1 kB"
	expect_lt "RSS growth (kB) after endless headers on port $port" \
	    $((rss1 - rss0)) 8192
	healthz_ok || fail "/healthz after the slowloris on port $port"
done

# --- a body past the bound -------------------------------------------------
"$PYTHON3" - "$HEALTHZ_PORT" <<'PY' || fail "big body (above)"
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
n = 1 << 20
s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % n)
try:
    s.sendall(b"b" * n)
except (BrokenPipeError, ConnectionResetError):
    pass
data = b""
try:
    while True:
        d = s.recv(65536)
        if not d: break
        data += d
except (ConnectionResetError, socket.timeout):
    pass
line = data.split(b"\r\n", 1)[0]
print("answer to a 1 MiB body:", line)
if line.split(b" ")[1:2] == [b"200"]:
    sys.exit("a 1 MiB body was taken")
PY

# --- many idle connections -------------------------------------------------
hold_open "$WP"
"$PYTHON3" - "$HEALTHZ_PORT" "$METRICS_PORT" >"$T_DIR/idle.out" <<'PY' &
import socket, sys, time, urllib.request
hport, mport = int(sys.argv[1]), int(sys.argv[2])
socks = [socket.create_connection(("127.0.0.1", hport), timeout=30) for _ in range(200)]
time.sleep(0.5)
# Those past the bound were closed at once: they read EOF (or a reset).
early = 0
for s in socks:
    s.setblocking(False)
    try:
        if s.recv(1) == b"":
            early += 1
    except BlockingIOError:
        pass
    except ConnectionResetError:
        early += 1
print("closed-at-once", early, flush=True)
# The others are closed when idle too long; wait up to 30 s for all.
t0 = time.time()
for s in socks:
    s.setblocking(True)
    s.settimeout(max(0.1, 30 - (time.time() - t0)))
    try:
        s.recv(1)
    except (ConnectionResetError, OSError):
        pass
print("all-closed-after", round(time.time() - t0, 1), flush=True)
PY
IDLE_PID=$!
T_PIDS="$T_PIDS $IDLE_PID"
wait_for 5 "the idle connections to be open" grep -q closed-at-once "$T_DIR/idle.out"
early=$(awk '/closed-at-once/ { print $2 }' "$T_DIR/idle.out")
log "of 200 idle connections, $early were closed at once"
expect_gt "idle connections closed at once (past BOUND_ADMIN_CONNECTIONS)" "$early" 100
# Idle connections (1 s without a request) make room for a new one.
wait_for 3 "/healthz to answer with 200 idle connections" healthz_ok
expect_gt "kube_uproxy_admin_connections_evicted_total" \
    "$(metric kube_uproxy_admin_connections_evicted_total)" 0
held_echo during || fail "the relay through proxy port $WP, with 200 idle admin connections"
expect_gt "kube_uproxy_admin_connections_refused_total" \
    "$(metric kube_uproxy_admin_connections_refused_total)" 0
open=$(client http "$METRICS_URL/metrics" |
    awk '/^kube_uproxy_admin_connections\{listener="healthz"\}/ { print $2 }')
log "healthz connections open: $open"
expect_lt "healthz connections open" "${open:-0}" 65
wait "$IDLE_PID"
after=$(awk '/all-closed-after/ { print $2 }' "$T_DIR/idle.out")
log "idle connections all closed after $after s"
[ -n "$after" ] && awk -v a="$after" 'BEGIN { exit !(a < 25) }' ||
    fail "idle admin connections not closed by the server (took ${after:-?} s)"
wait_for 3 "the healthz connection count to go back down" sh -c \
    "[ \"\$(\"$PYTHON3\" \"$TOOLS/client.py\" http \"$METRICS_URL/metrics\" |
      awk '/^kube_uproxy_admin_connections\\{listener=\"healthz\"\\}/ { print \$2 }')\" = 0 ]"
healthz_ok || fail "/healthz after the idle connections went"
held_echo after || fail "the relay through proxy port $WP after the idle connections"
stop_proxy
pass
