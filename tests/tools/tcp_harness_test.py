#!/usr/bin/env python3
"""Scenario tests for src/tcp_proxy.c through the harness, on loopback only.

usage: test.py MODE [wrapper...]     e.g.  test.py splice valgrind --error-exitcode=1
"""
import hashlib, os, selectors, signal, socket, struct, subprocess, sys, threading, time

MODE = sys.argv[1]
WRAP = sys.argv[2:]
HARNESS = os.environ["HARNESS"]          # tests/tools/tcp_harness, built by make check
SLOW = 4.0 if WRAP else 1.0          # valgrind is slow
MB = 1 << 20
socket.setdefaulttimeout(60)
results = []


def check(name, cond, detail=""):
    results.append(cond)
    print(("ok" if cond else "not ok") + f" {len(results)} - {MODE}: {name} {detail}", flush=True)


class Harness:
    def __init__(self, eps, bind="127.0.0.1:0", extra=()):
        args = WRAP + [HARNESS, "-m", MODE, "-b", bind, "-v", os.environ.get("V", "0")] + list(extra)
        for e in eps:
            args += ["-e", e]
        self.p = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
        line = self.p.stdout.readline()
        assert line.startswith("PORT "), line
        self.port = int(line.split()[1])

    def stats(self):
        self.p.send_signal(signal.SIGUSR2)
        while True:
            line = self.p.stdout.readline()
            if line.startswith("STATS"):
                return {k: int(v) for k, v in (f.split("=") for f in line.split()[1:])}

    def close_proxy(self):
        self.p.send_signal(signal.SIGUSR1)
        assert self.p.stdout.readline().strip() == "CLOSED"

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        out = self.p.stdout.read()
        rc = self.p.wait(timeout=60)
        check("harness exit status 0 (no sanitizer/valgrind error)", rc == 0, f"rc={rc}")
        return rc, out


def data(seed, n):
    """n deterministic pseudo-random bytes."""
    out = bytearray()
    h = hashlib.sha256(seed.encode()).digest()
    while len(out) < n:
        h = hashlib.sha256(h).digest()
        out += h * 512
    return bytes(out[:n])


def listener(host="127.0.0.1", backlog=128, family=socket.AF_INET):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, 0))
    s.listen(backlog)
    return s


def serve(lsock, handler, count=None):
    def loop():
        n = 0
        while count is None or n < count:
            try:
                c, _ = lsock.accept()
            except OSError:
                return
            threading.Thread(target=handler, args=(c,), daemon=True).start()
            n += 1
    threading.Thread(target=loop, daemon=True).start()


def recv_all(s):
    h, n = hashlib.sha256(), 0
    while True:
        b = s.recv(1 << 18)
        if not b:
            return h.hexdigest(), n
        h.update(b); n += len(b)


def ep(s):
    a = s.getsockname()
    return f"[{a[0]}]:{a[1]}" if ":" in a[0] else f"{a[0]}:{a[1]}"


def connect(port, host="127.0.0.1", family=socket.AF_INET):
    c = socket.socket(family, socket.SOCK_STREAM)
    c.connect((host, port))
    return c


def t_bulk_both_ways():
    up, down = data("up", 50 * MB), data("down", 50 * MB)
    got = {}
    def backend(c):
        t = threading.Thread(target=lambda: got.__setitem__("b", recv_all(c)))
        t.start(); c.sendall(down); c.shutdown(socket.SHUT_WR); t.join(); c.close()
    ls = listener(); serve(ls, backend, 1)
    h = Harness([ep(ls)])
    c = connect(h.port)
    t = threading.Thread(target=lambda: got.__setitem__("c", recv_all(c)))
    t.start(); c.sendall(up); c.shutdown(socket.SHUT_WR); t.join(); c.close()
    time.sleep(0.2 * SLOW)
    st = h.stats()
    check("50 MB up intact", got.get("b") == (hashlib.sha256(up).hexdigest(), len(up)))
    check("50 MB down intact", got.get("c") == (hashlib.sha256(down).hexdigest(), len(down)))
    check("byte counters", st["to_backend"] == len(up) and st["to_client"] == len(down), str(st))
    check("relay closed after both EOFs", st["relays"] == 0 and st["active"] == 0)
    h.stop()
    ls.close()


def t_half_close():
    up = data("hc", 50 * MB)
    def backend(c):
        digest, n = recv_all(c)           # to EOF first, then reply
        reply = (digest + "\n").encode() + data(digest, 20 * MB)
        c.sendall(reply); c.close()
    ls = listener(); serve(ls, backend, 1)
    h = Harness([ep(ls)])
    c = connect(h.port)
    c.sendall(up); c.shutdown(socket.SHUT_WR)
    buf = bytearray()
    while True:
        b = c.recv(1 << 18)
        if not b:
            break
        buf += b
    c.close()
    digest = hashlib.sha256(up).hexdigest()
    line, _, rest = bytes(buf).partition(b"\n")
    check("half-close: backend saw all data then EOF", line.decode() == digest)
    check("half-close: reply after EOF arrives whole", rest == data(digest, 20 * MB), f"{len(rest)}")
    h.stop(); ls.close()


def t_reset_propagation():
    ev = {}
    def backend_resets(c):
        c.recv(100)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()
    ls = listener(); serve(ls, backend_resets, 1)
    h = Harness([ep(ls)])
    c = connect(h.port); c.sendall(b"hello")
    try:
        r = c.recv(100); ev["c"] = ("eof", r)
    except ConnectionResetError:
        ev["c"] = "reset"
    check("backend reset -> client reset", ev["c"] == "reset", str(ev["c"]))
    c.close(); h.stop(); ls.close()

    done = threading.Event()
    def backend_waits(c):
        try:
            ev["b"] = ("eof", c.recv(100))
        except ConnectionResetError:
            ev["b"] = "reset"
        done.set()
    ls = listener(); serve(ls, backend_waits, 1)
    h = Harness([ep(ls)])
    c = connect(h.port); time.sleep(0.1 * SLOW)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)); c.close()
    done.wait(5 * SLOW)
    check("client reset -> backend reset", ev.get("b") == "reset", str(ev.get("b")))
    h.stop(); ls.close()


def echo(c):
    try:
        while True:
            b = c.recv(65536)
            if not b:
                break
            c.sendall(b)
    except OSError:
        pass
    c.close()


def roundtrip(port, msg=b"ping", family=socket.AF_INET, host="127.0.0.1"):
    c = connect(port, host, family); c.sendall(msg); c.shutdown(socket.SHUT_WR)
    r = c.recv(100); c.close()
    return r


def full_backlog():
    """A listener that never accepts, its backlog filled: SYNs to it are dropped."""
    s = listener(backlog=0)
    fillers = []
    for _ in range(4):
        f = socket.socket(); f.setblocking(False)
        try:
            f.connect(s.getsockname())
        except BlockingIOError:
            pass
        fillers.append(f)
    time.sleep(0.1)
    return s, fillers


def t_dead_endpoint_retry():
    dead = listener(); dead_ep = ep(dead); dead.close()     # port now refuses
    ls = listener(); serve(ls, echo)
    h = Harness([dead_ep, ep(ls)])
    r = [roundtrip(h.port) for _ in range(2)]     # whatever the lb order, one hits the dead one
    st = h.stats()
    check("refused endpoint skipped via retry", r == [b"ping"] * 2, repr(r))
    check("dial_failures == dial_retries >= 1", st["dial_failures"] >= 1 and
          st["dial_failures"] == st["dial_retries"], str(st))
    h.stop(); ls.close()


def t_timeout():
    full, fillers = full_backlog()
    ls = listener(); serve(ls, echo)
    h = Harness([ep(full), ep(ls)])
    res = {}
    def slow_client():
        t0 = time.time(); res["a"] = (roundtrip(h.port, b"A"), time.time() - t0)
    ta = threading.Thread(target=slow_client); ta.start()
    time.sleep(0.05)
    t0 = time.time(); rb = roundtrip(h.port, b"B"); tb = time.time() - t0
    ta.join()
    # Round robin starts at a random endpoint: either client may meet the
    # blackhole first; one must wait for the 250 ms timeout, the other not.
    slow, fast = sorted([res["a"][1], tb], reverse=True)
    check("blackholed endpoint: connect timed out, retried",
          res["a"][0] == b"A" and rb == b"B" and slow >= 0.25, f"{slow:.3f}s")
    check("other connection not stalled meanwhile", fast < 0.1 * SLOW, f"{fast:.3f}s")
    h.stop()

    h = Harness([ep(full)])
    t0 = time.time(); c = connect(h.port)
    try:
        r = c.recv(10); out = ("eof", r)
    except ConnectionResetError:
        out = "reset"
    dt = time.time() - t0
    st = h.stats()
    check("all 4 attempts time out -> reset after 3.75 s", out == "reset" and 3.7 <= dt < 4.5 * SLOW,
          f"{out} {dt:.2f}s")
    check("dial_failures=4 dial_retries=3", st["dial_failures"] == 4 and st["dial_retries"] == 3, str(st))
    c.close()

    # Closing the proxy resets clients still connecting.
    c = connect(h.port); time.sleep(0.1 * SLOW)
    t0 = time.time(); h.close_proxy()
    try:
        r = c.recv(10); out = ("eof", r)
    except ConnectionResetError:
        out = "reset"
    check("tcp_proxy_close resets connecting client", out == "reset" and time.time() - t0 < 0.2 * SLOW, str(out))
    c.close(); h.stop()
    full.close(); [f.close() for f in fillers]; ls.close()


def t_no_endpoint():
    h = Harness([])
    t0 = time.time(); c = connect(h.port)
    try:
        r = c.recv(10); out = ("eof", r)
    except ConnectionResetError:
        out = "reset"
    dt = time.time() - t0
    st = h.stats()
    check("no endpoint -> reset at once", out == "reset" and dt < 0.1 * SLOW, f"{out} {dt:.3f}s")
    check("tcp_refused counted", st["refused"] == 1 and st["accepted"] == 1 and st["active"] == 0, str(st))
    c.close(); h.stop()


def ss_states(ports):
    out = subprocess.run(["ss", "-tanH"], capture_output=True, text=True).stdout
    bad = []
    for line in out.splitlines():
        f = line.split()
        if f[0] in ("CLOSE-WAIT", "FIN-WAIT-2", "FIN-WAIT-1", "LAST-ACK") and \
                any(x.rsplit(":", 1)[-1] in ports for x in f[3:5]):
            bad.append(f[0])
    return bad


def t_many_concurrent():
    ls = listener(backlog=1024); serve(ls, echo)
    h = Harness([ep(ls)])
    conns = [connect(h.port) for _ in range(500)]
    for i, c in enumerate(conns):
        c.sendall(b"msg%d" % i)
    ok = sum(c.recv(100) == b"msg%d" % i for i, c in enumerate(conns))
    st = h.stats()
    check("500 concurrent: all echoed", ok == 500, f"{ok}")
    check("500 concurrent: 500 relays open", st["relays"] == 500 and st["active"] == 500, str(st))
    for c in conns[:250]:
        c.shutdown(socket.SHUT_WR)              # half-close, read the EOF back
        assert c.recv(10) == b""
        c.close()
    for c in conns[250:]:
        c.close()                               # full close from the client
    time.sleep(1.0 * SLOW)
    st = h.stats()
    check("500 concurrent: all relays closed", st["relays"] == 0 and st["active"] == 0, str(st))
    bad = ss_states({str(h.port), str(ls.getsockname()[1])})
    check("ss: no CLOSE-WAIT/FIN-WAIT/LAST-ACK left", not bad, str(bad[:5]))
    h.stop(); ls.close()


def t_close_keeps_relays():
    ls = listener(); serve(ls, echo)
    h = Harness([ep(ls)])
    c = connect(h.port); c.sendall(b"one"); r1 = c.recv(10)
    h.close_proxy()
    try:
        connect(h.port); refused = False
    except ConnectionRefusedError:
        refused = True
    c.sendall(b"two"); r2 = c.recv(10)
    st = h.stats()
    check("after close: listener gone", refused)
    check("after close: established relay goes on", r1 == b"one" and r2 == b"two")
    check("after close: stats moved to retired", st["active"] == 0 and st["retired_active"] == 1
          and st["retired_to_backend"] == 3 and st["relays"] == 1, str(st))
    c.close(); time.sleep(0.2 * SLOW)
    st = h.stats()
    check("after close: relay ends", st["relays"] == 0 and st["retired_active"] == 0, str(st))
    h.stop(); ls.close()


def t_close_all():
    ls = listener(); serve(ls, echo)
    h = Harness([ep(ls)])
    c = connect(h.port); c.sendall(b"one"); r1 = c.recv(10)
    h.close_proxy()
    h.p.send_signal(signal.SIGHUP)
    assert h.p.stdout.readline().strip() == "CLOSED_ALL"
    try:
        out = ("eof", c.recv(10))
    except ConnectionResetError:
        out = "reset"
    st = h.stats()
    check("tcp_relays_close_all resets orphaned relays", r1 == b"one" and out == "reset"
          and st["relays"] == 0 and st["retired_active"] == 0, f"{out} {st}")
    c.close(); h.stop(); ls.close()


def t_ipv6():
    ls = listener("::1", family=socket.AF_INET6); serve(ls, echo)
    h = Harness([ep(ls)], bind="[::1]:0")
    r = roundtrip(h.port, b"six", socket.AF_INET6, "::1")
    check("IPv6 bind and endpoint", r == b"six", repr(r))
    h.stop(); ls.close()


def t_nodelay():
    """Nagle off towards both peers (TCP_NODELAY): two small writes 2 ms apart,
    to a peer that delays its ACKs (TCP_QUICKACK 0), arrive together in
    about 4 ms.  With Nagle on, the second waits for the delayed ACK (40 ms)."""
    ls = listener()
    h = Harness([ep(ls)])

    def two_writes(s, a, b):
        s.sendall(a); time.sleep(0.002); s.sendall(b)

    def read_delaying_acks(s, n):
        got = b""
        while len(got) < n:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 0)
            b = s.recv(100)
            if not b:
                break
            got += b
        return got

    def backend(c):
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(5):
            read_delaying_acks(c, 20)
            two_writes(c, b"x" * 10, b"y" * 10)
        c.close()
    serve(ls, backend, 1)
    c = connect(h.port)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    times = []
    for _ in range(5):
        t0 = time.monotonic()
        two_writes(c, b"a" * 10, b"b" * 10)
        ok = read_delaying_acks(c, 20) == b"x" * 10 + b"y" * 10
        times.append((time.monotonic() - t0) * 1000)
    times.sort()
    check("TCP_NODELAY both ways: small writes not held for an ACK", ok and times[2] < (30 if WRAP else 20),
          "median %.1f ms (Nagle: ~44 ms)" % times[2])
    c.close(); h.stop(); ls.close()


def cpu_ticks(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])


def t_emfile():
    ls = listener(backlog=1024); serve(ls, echo)
    h = Harness([ep(ls)], extra=["-n", "64"])
    conns = []
    for i in range(60):                     # ~120 fds wanted, 64 allowed
        conns.append(connect(h.port))
    time.sleep(0.3)
    t0 = cpu_ticks(h.p.pid); time.sleep(1.0); used = cpu_ticks(h.p.pid) - t0
    check("EMFILE: accept paused, no spin", used < 20, f"{used} ticks/s")
    for c in conns[:40]:
        c.close()
    time.sleep(0.5 * SLOW)
    ok = 0
    for i, c in enumerate(conns[40:]):
        try:
            c.sendall(b"x%d" % i); ok += c.recv(10) == b"x%d" % i
        except OSError:
            pass
    check("EMFILE: backlog served after fds freed", ok == 20, f"{ok}/20")
    for c in conns[40:]:
        c.close()
    time.sleep(0.3)
    r = roundtrip(h.port)
    check("EMFILE: new connections work again", r == b"ping")
    h.stop(); ls.close()


tests = [t_bulk_both_ways, t_half_close, t_reset_propagation, t_dead_endpoint_retry, t_timeout,
         t_no_endpoint, t_many_concurrent, t_close_keeps_relays, t_close_all, t_ipv6, t_emfile, t_nodelay]
only = os.environ.get("ONLY")
for t in tests:
    if only and only not in t.__name__:
        continue
    try:
        t()
    except Exception as e:  # a crash in a scenario is a failure, keep going
        check(t.__name__ + " raised", False, repr(e))
print(f"# {MODE}: {sum(results)}/{len(results)} passed")
sys.exit(0 if all(results) else 1)
