#!/bin/bash
# admin_http.sh - the admin listeners speak HTTP/1.1 as clients expect
# (httpd.c): keep-alive and pipelined requests answered in order, HEAD
# without a body, a small body skipped, HTTP/1.0 and "Connection: close"
# answered once then closed, a half-closed client still answered; and
# refused, each with its status then a close: a method other than GET and
# HEAD (405, with Allow), a malformed head (400), a chunked body (411), a
# long body (413), headers past the bound (431), a version not 1.x (505).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/lib.sh"
t_begin
write_manifest empty.yaml ""
start_proxy

"$PYTHON3" - "$HEALTHZ_PORT" "$METRICS_PORT" <<'PY' || fail "HTTP behaviour (above)"
import socket, sys

hport, mport = int(sys.argv[1]), int(sys.argv[2])
failed = []

def exchange(port, data, shut=False):
    """Send data, read until the server closes (or 2 s of silence)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=2)
    s.sendall(data)
    if shut:
        s.shutdown(socket.SHUT_WR)
    out, closed = b"", False
    try:
        while True:
            d = s.recv(65536)
            if not d:
                closed = True
                break
            out += d
    except socket.timeout:
        pass
    except ConnectionResetError:
        closed = True
    s.close()
    return out, closed

def answers(raw):
    """Split a byte stream into (status, headers, body) by Content-Length."""
    res = []
    while raw:
        head, sep, rest = raw.partition(b"\r\n\r\n")
        if not sep:
            break
        lines = head.decode("latin-1").split("\r\n")
        hdrs = {k.strip().lower(): v.strip() for k, _, v in
                (l.partition(":") for l in lines[1:])}
        n = int(hdrs.get("content-length", "0"))
        res.append((int(lines[0].split()[1]), hdrs, rest[:n]))
        raw = rest[n:]
    return res

def check(what, cond, detail=""):
    print(("ok   " if cond else "FAIL ") + what + ("" if cond else ": %r" % (detail,)))
    if not cond:
        failed.append(what)

# Pipelined keep-alive requests, answered in order; the connection stays.
raw, closed = exchange(hport, b"GET /livez HTTP/1.1\r\nHost: x\r\n\r\n"
                       b"GET /nope HTTP/1.1\r\n\r\nGET /healthz HTTP/1.1\r\n\r\n")
a = answers(raw)
check("3 pipelined requests, 3 answers in order",
      [x[0] for x in a] == [200, 404, 200], a)
check("keep-alive: not closed after them", not closed)
check("/livez body", a and a[0][2] == b"ok\n", a)

# HEAD: the length of the body, no body.
raw, closed = exchange(hport, b"HEAD /livez HTTP/1.1\r\n\r\nGET /livez HTTP/1.1\r\n\r\n")
parts = raw.split(b"\r\n\r\n")	# HEAD's answer has a length, no body
check("HEAD then GET", len(parts) == 3 and parts[0].startswith(b"HTTP/1.1 200")
      and b"Content-Length: 3" in parts[0] and parts[1].startswith(b"HTTP/1.1 200")
      and parts[2] == b"ok\n", raw)

# A small body is skipped: the request after it is answered.
raw, closed = exchange(hport, b"GET /livez HTTP/1.1\r\nContent-Length: 11\r\n\r\n"
                       b"hello world" b"GET /livez HTTP/1.1\r\n\r\n")
check("a body skipped", [x[0] for x in answers(raw)] == [200, 200], raw)

# HTTP/1.0, Connection: close: one answer, then closed.
for req in (b"GET /livez HTTP/1.0\r\n\r\n",
            b"GET /livez HTTP/1.1\r\nConnection: close\r\n\r\nGET /livez HTTP/1.1\r\n\r\n"):
    raw, closed = exchange(hport, req)
    a = answers(raw)
    check("one answer then closed: %r" % req[:40], len(a) == 1 and a[0][0] == 200
          and closed and a[0][1].get("connection") == "close", raw)

# A client that half-closes after its request still gets the answer.
raw, closed = exchange(mport, b"GET /metrics HTTP/1.1\r\n\r\n", shut=True)
a = answers(raw)
check("half-closed client answered", len(a) == 1 and a[0][0] == 200 and
      b"kube_uproxy_service_ports" in a[0][2], raw[:200])

# Refusals: the status, then closed.
for req, code in ((b"POST /livez HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 405),
                  (b"GET /livez HTTP/1.1\r\nHost : x\r\n\r\n", 400),
                  (b"GET livez HTTP/1.1\r\n\r\n", 400),
                  (b"GET /livez HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 411),
                  (b"GET /livez HTTP/1.1\r\nContent-Length: 100000\r\n\r\n", 413),
                  (b"GET /livez HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n", 431),
                  (b"GET /livez HTTP/2.0\r\n\r\n", 505)):
    raw, closed = exchange(hport, req)
    a = answers(raw)
    check("refused %d then closed" % code, len(a) == 1 and a[0][0] == code
          and closed, raw[:200])
    if code == 405:
        check("405 says Allow", a and a[0][1].get("allow") == "GET, HEAD", a)

sys.exit(1 if failed else 0)
PY
healthz_ok || fail "/healthz after the exchanges"
stop_proxy
pass
