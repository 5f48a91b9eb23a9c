#!/usr/bin/env python3
"""client.py - the clients of the integration tests (Python 3 stdlib only).

Each subcommand does one thing a scenario needs and prints its result on
stdout, one fact per line, so the shell driver can compare it:

  free-ports N                     N ports free for TCP and UDP on loopback
  names HOST PORT N                N sequential connections, the name each got
  bulk HOST PORT --bytes N --reply-bytes M
                                   send N bytes, half-close, check the sha256
                                   the backend returns and the M bytes after it
  concurrent HOST PORT N           N connections open at once, each echoed
  udp HOST PORT                    datagrams from one local port, name per reply
  udp-connect HOST PORT            the same from a socket connect()ed to HOST:PORT
                                   (any local address), so only replies whose
                                   source is HOST:PORT arrive; with --source an
                                   unconnected socket prints "NAME from IP:PORT"
  refuse HOST PORT                 how a connection ends: outcome and ms
  reset HOST PORT                  send, then report reset / eof / data
  client-reset HOST PORT           send, read the echo, then close with a reset
  http URL                         GET: body (or status with --status)
  service-field URL SVC PORT FIELD one field of /debug/services
  metric URL NAME                  a sample's value from /metrics
  debug-shape URL SVC PORT         check one /debug/services object's shape
  healthz-shape URL                check /healthz's JSON body
  tcp-leftovers ADDR:PORT...       IPv4 TCP sockets touching these addresses
                                   that are neither listening nor TIME_WAIT

Failures are printed as readable lines; exit 1 means "the check failed",
2 "could not even try".
"""

import argparse
import errno
import hashlib
import json
import os
import re
import selectors
import socket
import struct
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from backend import pattern_chunks  # noqa: E402


def out(msg):
    sys.stdout.write(msg + "\n")
    sys.stdout.flush()


def ms_since(t0):
    return int((time.monotonic() - t0) * 1000)


def cmd_free_ports(a):
    held, ports = [], []
    while len(ports) < a.n:
        t = socket.socket()
        t.bind(("0.0.0.0", 0))
        port = t.getsockname()[1]
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind(("0.0.0.0", port))
        except OSError:
            t.close()
            u.close()
            continue
        held += [t, u]
        ports.append(port)
    for s in held:
        s.close()
    for p in ports:
        out(str(p))
    return 0


def read_to_eof(s):
    buf = bytearray()
    while True:
        d = s.recv(65536)
        if not d:
            return bytes(buf)
        buf += d


def cmd_names(a):
    for _ in range(a.n):
        try:
            s = socket.create_connection((a.host, a.port), timeout=a.timeout)
            try:
                out(read_to_eof(s).decode(errors="replace").strip()
                    or "EMPTY")
            finally:
                s.close()
        except socket.timeout:
            out("ERROR:timeout")
        except OSError as e:
            out("ERROR:" + (errno.errorcode.get(e.errno, str(e))
                            if e.errno else type(e).__name__))
    return 0


def cmd_bulk(a):
    t0 = time.monotonic()
    s = socket.create_connection((a.host, a.port), timeout=a.timeout)
    sent = hashlib.sha256()
    for chunk in pattern_chunks(a.bytes):
        s.sendall(chunk)
        sent.update(chunk)
    s.shutdown(socket.SHUT_WR)
    data = read_to_eof(s)
    s.close()
    line, nl, rest = data.partition(b"\n")
    ok = True
    if not nl or line.decode(errors="replace") != sent.hexdigest():
        out("upload sha256 mismatch: backend saw %r, sent %s"
            % (line[:80], sent.hexdigest()))
        ok = False
    want = hashlib.sha256()
    for chunk in pattern_chunks(a.reply_bytes):
        want.update(chunk)
    if len(rest) != a.reply_bytes or \
            hashlib.sha256(rest).hexdigest() != want.hexdigest():
        out("download mismatch: got %d bytes, wanted %d (sha256 %s)"
            % (len(rest), a.reply_bytes,
               "differs" if len(rest) == a.reply_bytes else "n/a"))
        ok = False
    if ok:
        out("ok sent=%d received=%d ms=%d" % (a.bytes, len(rest),
                                                ms_since(t0)))
    return 0 if ok else 1


def cmd_concurrent(a):
    socks = []
    failures = []
    for i in range(a.n):
        try:
            s = socket.create_connection((a.host, a.port), timeout=a.timeout)
            socks.append((i, s))
        except OSError as e:
            failures.append("connect %d: %s" % (i, e))
    sel = selectors.DefaultSelector()
    want, got = {}, {}
    for i, s in socks:
        msg = ("hello %d from a concurrent client\n" % i).encode()
        try:
            s.sendall(msg)
        except OSError as e:
            failures.append("send %d: %s" % (i, e))
            continue
        s.setblocking(False)
        want[i], got[i] = msg, b""
        sel.register(s, selectors.EVENT_READ, i)
    deadline = time.monotonic() + a.timeout
    pending = set(want)
    while pending and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.2):
            i = key.data
            try:
                d = key.fileobj.recv(65536)
            except BlockingIOError:
                continue
            except OSError as e:
                failures.append("recv %d: %s" % (i, e))
                d = b""
            got[i] += d
            if not d or len(got[i]) >= len(want[i]):
                sel.unregister(key.fileobj)
                pending.discard(i)
    for i in sorted(want):
        if got[i] != want[i]:
            failures.append("conn %d: got %r" % (i, got[i][:60]))
    if a.metrics:
        # All connections are still open here: the gauge must count them.
        out("gauge %s" % metric_value(a.metrics, a.gauge))
    for _, s in socks:
        s.close()
    for f in failures[:10]:
        out(f)
    if failures:
        out("failed %d of %d" % (len(failures), a.n))
        return 1
    out("ok %d" % a.n)
    return 0


def cmd_udp(a):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    s.bind(("127.0.0.1", a.local_port))
    s.settimeout(a.timeout)
    for i in range(a.count):
        if a.size:
            payload = b"".join(pattern_chunks(a.size))
        else:
            payload = ("%s-%d" % (a.payload, i)).encode()
        s.sendto(payload, (a.host, a.port))
        try:
            while True:
                data, peer = s.recvfrom(131072)
                if peer == (a.host, a.port):
                    break
                out("STRAY reply from %s:%d" % peer)
        except socket.timeout:
            out("TIMEOUT")
            continue
        name, sep, echoed = data.partition(b":")
        if not sep or echoed != payload:
            out("MISMATCH got %d bytes, sent %d" % (len(data), len(payload)))
            continue
        out(name.decode(errors="replace"))
        if a.gap:
            time.sleep(a.gap)
    return 0


def cmd_udp_connect(a):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", a.local_port))
    s.settimeout(a.timeout)
    if not a.source:
        s.connect((a.host, a.port))
    for i in range(a.count):
        payload = ("%s-%d" % (a.payload, i)).encode()
        try:
            if a.source:
                s.sendto(payload, (a.host, a.port))
                data, peer = s.recvfrom(65536)
            else:
                s.send(payload)
                data, peer = s.recv(65536), None
        except socket.timeout:
            out("TIMEOUT")
            continue
        except OSError as e:
            out("ERROR:" + (errno.errorcode.get(e.errno, str(e))
                            if e.errno else type(e).__name__))
            continue
        name, sep, echoed = data.partition(b":")
        if not sep or echoed != payload:
            out("MISMATCH %r" % data[:80])
            continue
        name = name.decode(errors="replace")
        out(name if peer is None else "%s from %s:%d" % (name, peer[0], peer[1]))
    return 0


def outcome_of(s):
    """Read from s and name how the stream ends."""
    try:
        d = s.recv(4096)
        return "data:" + d.decode(errors="replace").strip() if d else "eof"
    except ConnectionResetError:
        return "reset"
    except socket.timeout:
        return "timeout"
    except OSError as e:
        return "error:" + errno.errorcode.get(e.errno, str(e))


def cmd_refuse(a):
    t0 = time.monotonic()
    try:
        s = socket.create_connection((a.host, a.port), timeout=a.timeout)
    except ConnectionRefusedError:
        out("refused %d" % ms_since(t0))
        return 0
    except ConnectionResetError:
        # The reset came before connect() could report success (loopback).
        out("reset %d" % ms_since(t0))
        return 0
    except socket.timeout:
        out("timeout %d" % ms_since(t0))
        return 0
    res = outcome_of(s)
    out("%s %d" % (res, ms_since(t0)))
    s.close()
    return 0


def cmd_reset(a):
    s = socket.create_connection((a.host, a.port), timeout=a.timeout)
    s.sendall(b"ping\n")
    out(outcome_of(s))
    s.close()
    return 0


def cmd_client_reset(a):
    s = socket.create_connection((a.host, a.port), timeout=a.timeout)
    s.sendall(b"ping\n")
    echo = b""
    while len(echo) < 5:
        d = s.recv(64)
        if not d:
            break
        echo += d
    if echo != b"ping\n":
        out("no echo: %r" % echo)
        return 1
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    out("ok")
    return 0


def http_get(url, timeout=2.0):
    """Return (status, body) or raise OSError when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode(errors="replace"), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace"), e.headers


def cmd_http(a):
    try:
        status, body, headers = http_get(a.url, a.timeout)
    except (OSError, urllib.error.URLError) as e:
        out("ERROR %s" % e)
        return 2
    if a.status:
        out(str(status))
    elif a.header:
        out(headers.get(a.header, ""))
    else:
        sys.stdout.write(body)
    return 0


def find_service(url, svc, port):
    status, body, _ = http_get(url)
    if status != 200:
        raise ValueError("status %d" % status)
    for o in json.loads(body):
        if o.get("service") == svc and o.get("portName", "") == port:
            return o
    return None


def cmd_service_field(a):
    try:
        o = find_service(a.url, a.svc, a.port)
    except (OSError, ValueError, urllib.error.URLError) as e:
        out("ERROR %s" % e)
        return 2
    if o is None:
        return 3
    v = o.get(a.field)
    out(v if isinstance(v, str) else json.dumps(v))
    return 0


SAMPLE_RE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")


def metric_value(url, name):
    """Sum of the samples of `name` (any labels); None if absent."""
    status, body, _ = http_get(url)
    total, seen = 0.0, False
    for line in body.splitlines():
        m = SAMPLE_RE.match(line)
        if m and m.group(1) == name:
            total += float(m.group(3))
            seen = True
    if not seen:
        return None
    return int(total) if total.is_integer() else total


def cmd_metric(a):
    try:
        v = metric_value(a.url, a.name)
    except (OSError, urllib.error.URLError) as e:
        out("ERROR %s" % e)
        return 2
    if v is None:
        out("ABSENT")
        return 3
    out(str(v))
    return 0


def cmd_debug_shape(a):
    """The object shape of DESIGN.md section 2, key by key."""
    o = find_service(a.url, a.svc, a.port)
    if o is None:
        out("no object for %s port %s" % (a.svc, a.port))
        return 1
    types = {
        "service": str, "portName": str, "protocol": str, "clusterIPs": list,
        "port": int, "nodePort": int, "externalIPs": list,
        "loadBalancerIPs": list, "proxyPort": int, "sessionAffinity": str,
        "affinityTimeoutSeconds": int, "endpoints": list,
    }
    bad = 0
    for k, t in types.items():
        if k not in o:
            out("missing key %s" % k)
            bad += 1
        elif not isinstance(o[k], t) or isinstance(o[k], bool):
            out("key %s: %r is not %s" % (k, o[k], t.__name__))
            bad += 1
    for k in ("clusterIPs", "externalIPs", "loadBalancerIPs", "endpoints"):
        if isinstance(o.get(k), list) and \
                not all(isinstance(x, str) for x in o[k]):
            out("key %s: not a list of strings: %r" % (k, o[k]))
            bad += 1
    for k, v in sorted(o.items()):
        out("%s=%s" % (k, v if isinstance(v, str) else json.dumps(v)))
    return 1 if bad else 0


RFC3339 = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def cmd_healthz_shape(a):
    status, body, _ = http_get(a.url)
    bad = 0
    if status != 200:
        out("status %d" % status)
        bad += 1
    try:
        o = json.loads(body)
    except ValueError:
        out("not JSON: %r" % body[:200])
        return 1
    for k in ("lastUpdated", "currentTime"):
        v = o.get(k) if isinstance(o, dict) else None
        if not isinstance(v, str) or not RFC3339.match(v):
            out("%s: %r is not RFC 3339" % (k, v))
            bad += 1
    if not bad:
        out("ok %s" % body.strip())
    return 1 if bad else 0


TCP_STATES = {
    "01": "ESTABLISHED", "02": "SYN_SENT", "03": "SYN_RECV",
    "04": "FIN_WAIT1", "05": "FIN_WAIT2", "06": "TIME_WAIT", "07": "CLOSE",
    "08": "CLOSE_WAIT", "09": "LAST_ACK", "0A": "LISTEN", "0B": "CLOSING",
}


def proc_addr(hexaddr):
    ip, port = hexaddr.split(":")
    return "%s:%d" % (socket.inet_ntoa(struct.pack("<I", int(ip, 16))),
                      int(port, 16))


def proc_addr6(hexaddr):
    """An address of /proc/net/tcp6; IPv4-mapped ones as IPv4 (a
    dual-stack proxy socket's connections from IPv4 clients)."""
    ip, port = hexaddr.split(":")
    raw = b"".join(struct.pack("<I", int(ip[i:i + 8], 16))
                   for i in range(0, 32, 8))
    if raw[:12] == b"\0" * 10 + b"\xff\xff":
        return "%s:%d" % (socket.inet_ntoa(raw[12:]), int(port, 16))
    return "[%s]:%d" % (socket.inet_ntop(socket.AF_INET6, raw), int(port, 16))


def cmd_tcp_leftovers(a):
    """/proc/net/tcp and tcp6 (this network namespace, every process), so
    no ss."""
    wanted = set(a.addrs)
    for table, conv in (("/proc/net/tcp", proc_addr),
                        ("/proc/net/tcp6", proc_addr6)):
        try:
            f = open(table)
        except OSError:
            continue
        with f:
            next(f)
            for line in f:
                fields = line.split()
                local, remote = conv(fields[1]), conv(fields[2])
                state = TCP_STATES.get(fields[3], fields[3])
                if state in ("LISTEN", "TIME_WAIT"):
                    continue
                if local in wanted or remote in wanted:
                    out("%s %s %s" % (state, local, remote))
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)

    def add(name, fn, *pos, target=True):
        sp = sub.add_parser(name)
        if target:
            sp.add_argument("host")
            sp.add_argument("port", type=int)
        for x in pos:
            sp.add_argument(x)
        sp.add_argument("--timeout", type=float, default=3.0)
        sp.set_defaults(fn=fn)
        return sp

    sp = add("free-ports", cmd_free_ports, target=False)
    sp.add_argument("n", type=int)
    sp = add("names", cmd_names)
    sp.add_argument("n", type=int)
    sp = add("bulk", cmd_bulk)
    sp.add_argument("--bytes", type=int, required=True)
    sp.add_argument("--reply-bytes", type=int, default=0)
    sp = add("concurrent", cmd_concurrent)
    sp.add_argument("n", type=int)
    sp.add_argument("--metrics")
    sp.add_argument("--gauge", default="kube_uproxy_tcp_active")
    sp = add("udp", cmd_udp)
    sp.add_argument("--local-port", type=int, default=0)
    sp.add_argument("--count", type=int, default=1)
    sp.add_argument("--size", type=int, default=0)
    sp.add_argument("--payload", default="ping")
    sp.add_argument("--gap", type=float, default=0.0)
    sp = add("udp-connect", cmd_udp_connect)
    sp.add_argument("--local-port", type=int, default=0)
    sp.add_argument("--count", type=int, default=1)
    sp.add_argument("--payload", default="ping")
    sp.add_argument("--source", action="store_true")
    add("refuse", cmd_refuse)
    add("reset", cmd_reset)
    add("client-reset", cmd_client_reset)
    sp = add("http", cmd_http, "url", target=False)
    sp.add_argument("--status", action="store_true")
    sp.add_argument("--header")
    add("service-field", cmd_service_field, "url", "svc", "port", "field",
        target=False)
    add("metric", cmd_metric, "url", "name", target=False)
    add("debug-shape", cmd_debug_shape, "url", "svc", "port", target=False)
    add("healthz-shape", cmd_healthz_shape, "url", target=False)
    sp = add("tcp-leftovers", cmd_tcp_leftovers, target=False)
    sp.add_argument("addrs", nargs="+")
    a = p.parse_args()
    return a.fn(a)


if __name__ == "__main__":
    sys.exit(main())
