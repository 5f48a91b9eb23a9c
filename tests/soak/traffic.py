#!/usr/bin/env python3
"""traffic.py - traffic that checks what comes back, for the fault matrix
(tests/integration/fault_matrix.sh) and the soak (tests/soak/soak.sh).

Python 3 standard library only.  Subcommands:

  load --tcp IP:PORT --udp IP:PORT [--workers N] [--payload BYTES] --out F
      Until SIGTERM: each worker thread does TCP echo round trips (connect,
      send BYTES, read them back, compare, close) or UDP round trips to a
      udp-echo-name backend ("NAME:" + payload).  On SIGTERM writes a JSON
      summary to F: {"tcp_ok", "udp_ok", "errors": {"tcp connect: ...": n}}.

  recover --ctl FILE --tcp IP:PORT --udp IP:PORT [--limit S]
      Clears the fault-injection control file (an empty file renamed over
      it), then tries TCP and UDP round trips until each has worked once;
      prints {"tcp_ms": T, "udp_ms": U} measured from the clear (-1: not
      within S seconds, default 5).

  mix --bulk IP:PORT --http IP:PORT --dns IP:PORT [--big IP:PORT --big-bytes N]
      --stats FILE [--seconds S]
      The soak's clients: bulk TCP transfers to tcp-sink-sha backends with
      their sha256 checked, HTTP GETs, DNS A queries, and (with --big) one
      transfer of N bytes on one connection, sha256 checked.  Rewrites
      FILE (JSON) every second and at the end.
"""

import argparse
import hashlib
import json
import os
import random
import signal
import socket
import struct
import sys
import threading
import time


def split_addr(s):
    host, _, port = s.rpartition(":")
    return host.strip("[]"), int(port)


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.c = {}
        self.errors = {}

    def add(self, key, n=1):
        with self.lock:
            self.c[key] = self.c.get(key, 0) + n

    def err(self, kind, e):
        msg = e if isinstance(e, str) else type(e).__name__
        if isinstance(e, OSError) and e.errno:
            msg = os.strerror(e.errno)
        with self.lock:
            k = "%s: %s" % (kind, msg)
            self.errors[k] = self.errors.get(k, 0) + 1

    def snapshot(self):
        with self.lock:
            d = dict(self.c)
            d["errors"] = dict(self.errors)
        return d


def write_json(path, d):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(d, f, sort_keys=True)
    os.rename(tmp, path)


# --- load / recover ------------------------------------------------------

def tcp_echo_once(addr, payload, timeout):
    """One TCP echo round trip; raises on any failure."""
    s = socket.create_connection(addr, timeout=timeout)
    try:
        s.settimeout(timeout)
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        got = bytearray()
        while True:
            b = s.recv(65536)
            if not b:
                break
            got += b
        if bytes(got) != payload:
            raise ValueError("echo differs (%d of %d bytes)" %
                             (len(got), len(payload)))
    finally:
        s.close()


def udp_echo_once(addr, payload, timeout):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.settimeout(timeout)
        s.sendto(payload, addr)
        data, _ = s.recvfrom(65536)
        if not data.endswith(b":" + payload):
            raise ValueError("udp answer differs")
    finally:
        s.close()


def cmd_load(a):
    stop = threading.Event()
    st = Stats()
    tcp, udp = split_addr(a.tcp), split_addr(a.udp)

    def tcp_worker(i):
        payload = os.urandom(a.payload)
        while not stop.is_set():
            try:
                tcp_echo_once(tcp, payload, 1.0)
                st.add("tcp_ok")
            except ValueError as e:
                st.err("tcp data", str(e))
            except Exception as e:
                st.err("tcp", e)
                time.sleep(0.01)

    def udp_worker(i):
        while not stop.is_set():
            try:
                udp_echo_once(udp, b"u%d-%d" % (i, random.getrandbits(32)),
                              0.5)
                st.add("udp_ok")
            except ValueError as e:
                st.err("udp data", str(e))
            except Exception as e:
                st.err("udp", e)
                time.sleep(0.01)

    signal.signal(signal.SIGTERM, lambda *x: stop.set())
    ts = [threading.Thread(target=tcp_worker, args=(i,), daemon=True)
          for i in range(a.workers)]
    ts += [threading.Thread(target=udp_worker, args=(i,), daemon=True)
           for i in range(a.workers)]
    for t in ts:
        t.start()
    print("ready", flush=True)
    while not stop.is_set():
        stop.wait(0.2)
    for t in ts:
        t.join(2)
    d = st.snapshot()
    d.setdefault("tcp_ok", 0)
    d.setdefault("udp_ok", 0)
    write_json(a.out, d)


def cmd_recover(a):
    """Clear the faults, then time the first TCP and UDP round trips.

    TCP: one attempt after another, each given up to 2 s (a connection
    made while accepts are paused waits in the backlog and is served when
    they resume: that is the moment measured).  UDP: a datagram lost to
    the fault is not resent, so a new socket sends one every 20 ms and the
    first answer on any of them counts (a slow machine's late answer is
    not lost to a short per-try timeout).
    """
    import select
    tcp, udp = split_addr(a.tcp), split_addr(a.udp)
    tmp = a.ctl + ".clear"
    open(tmp, "w").close()
    os.rename(tmp, a.ctl)
    t0 = time.monotonic()
    res = {"tcp_ms": -1, "udp_ms": -1}

    def tcp_loop():
        payload = b"x" * 4096
        while time.monotonic() - t0 < a.limit:
            try:
                tcp_echo_once(tcp, payload, 2.0)
                res["tcp_ms"] = int((time.monotonic() - t0) * 1000)
                return
            except Exception:
                time.sleep(0.02)

    def udp_loop():
        socks = []
        try:
            while time.monotonic() - t0 < a.limit:
                if len(socks) < 250:
                    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                    socks.append(s)
                    try:
                        s.sendto(b"recover", udp)
                    except OSError:
                        pass
                r, _, _ = select.select(socks, [], [], 0.02)
                for s in r:
                    try:
                        data = s.recv(65536)
                    except OSError:
                        continue
                    if data.endswith(b":recover"):
                        res["udp_ms"] = int((time.monotonic() - t0) * 1000)
                        return
        finally:
            for s in socks:
                s.close()

    ts = [threading.Thread(target=tcp_loop), threading.Thread(target=udp_loop)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print(json.dumps(res))


# --- mix (the soak) ------------------------------------------------------

PATTERN = None


def pattern():
    """1 MiB of fixed pseudo-random bytes, sent in rotation."""
    global PATTERN
    if PATTERN is None:
        PATTERN = random.Random(7).randbytes(1 << 20)
    return PATTERN


def bulk_once(addr, nbytes, timeout, st, kind, progress=None):
    """Send nbytes to a tcp-sink-sha backend, compare its sha256."""
    h = hashlib.sha256()
    s = socket.create_connection(addr, timeout=timeout)
    try:
        s.settimeout(timeout)
        p = pattern()
        off = random.randrange(0, len(p))
        left = nbytes
        while left > 0:
            chunk = p[off:off + min(left, 262144)]
            if not chunk:
                off = 0
                continue
            s.sendall(chunk)
            h.update(chunk)
            left -= len(chunk)
            off += len(chunk)
            if progress:
                progress(len(chunk))
        s.shutdown(socket.SHUT_WR)
        got = b""
        while not got.endswith(b"\n"):
            b = s.recv(256)
            if not b:
                break
            got += b
        if got.strip().decode(errors="replace") != h.hexdigest():
            if not got:
                raise ConnectionError("closed before the sha256")
            st.add(kind + "_sha_mismatch")
            raise ValueError("sha256 mismatch")
    finally:
        s.close()


def http_once(addr, timeout):
    s = socket.create_connection(addr, timeout=timeout)
    try:
        s.settimeout(timeout)
        s.sendall(b"GET / HTTP/1.0\r\nHost: soak\r\n\r\n")
        got = bytearray()
        while True:
            b = s.recv(65536)
            if not b:
                break
            got += b
        head, _, body = bytes(got).partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200") or \
                body.strip() not in (b"pod1", b"pod2"):
            raise ValueError("bad HTTP answer")
        return len(got)
    finally:
        s.close()


def dns_query(name, qid):
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\0" + struct.pack(">HH", 1, 1)


def dns_once(addr, timeout):
    qid = random.getrandbits(16)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.settimeout(timeout)
        s.sendto(dns_query("soak.test", qid), addr)
        data, _ = s.recvfrom(4096)
        rid, flags, _, an = struct.unpack(">HHHH", data[:8])
        if rid != qid or flags & 0x000f != 0 or an < 1:
            raise ValueError("bad DNS answer")
        return len(data)
    finally:
        s.close()


def cmd_mix(a):
    stop = threading.Event()
    st = Stats()
    signal.signal(signal.SIGTERM, lambda *x: stop.set())
    signal.signal(signal.SIGINT, lambda *x: stop.set())

    def loop(kind, fn):
        while not stop.is_set():
            st.add(kind + "_conns")
            try:
                n = fn()
                st.add(kind + "_ok")
                st.add("bytes", n)
            except Exception as e:
                st.err(kind, e)
                stop.wait(0.05)

    def bulk():
        n = random.choice((64 << 10, 1 << 20, 4 << 20, 16 << 20))
        bulk_once(split_addr(a.bulk), n, 5, st, "bulk")
        st.add("bulk_verified")
        return n

    def big():
        st.add("big_started")
        t0 = time.monotonic()
        try:
            bulk_once(split_addr(a.big), a.big_bytes, 30, st, "big",
                      lambda n: st.add("big_bytes", n))
            st.add("big_verified")
            st.add("big_seconds", round(time.monotonic() - t0, 1))
        except Exception as e:
            st.err("big", e)
        st.add("big_done")

    ts = []
    for _ in range(a.bulk_workers):
        ts.append(threading.Thread(target=loop, args=("bulk", bulk)))
    for _ in range(a.http_workers):
        ts.append(threading.Thread(target=loop, args=(
            "http", lambda: http_once(split_addr(a.http), 2))))
    for _ in range(a.dns_workers):
        ts.append(threading.Thread(target=loop, args=(
            "dns", lambda: dns_once(split_addr(a.dns), 1))))
    if a.big:
        ts.append(threading.Thread(target=big))
    for t in ts:
        t.daemon = True
        t.start()
    print("ready", flush=True)
    end = time.monotonic() + a.seconds if a.seconds else None
    while not stop.is_set():
        write_json(a.stats, st.snapshot())
        stop.wait(1)
        if end and time.monotonic() > end:
            stop.set()
    # The loops end within a transfer; the big one runs to its end.
    for t in ts:
        t.join()
    write_json(a.stats, st.snapshot())


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    sp = sub.add_parser("load")
    sp.add_argument("--tcp", required=True)
    sp.add_argument("--udp", required=True)
    sp.add_argument("--workers", type=int, default=2)
    sp.add_argument("--payload", type=int, default=16384)
    sp.add_argument("--out", required=True)
    sp = sub.add_parser("recover")
    sp.add_argument("--ctl", required=True)
    sp.add_argument("--tcp", required=True)
    sp.add_argument("--udp", required=True)
    sp.add_argument("--limit", type=float, default=5)
    sp = sub.add_parser("mix")
    sp.add_argument("--bulk", required=True)
    sp.add_argument("--http", required=True)
    sp.add_argument("--dns", required=True)
    sp.add_argument("--big")
    sp.add_argument("--big-bytes", type=int, default=1 << 30)
    sp.add_argument("--bulk-workers", type=int, default=2)
    sp.add_argument("--http-workers", type=int, default=2)
    sp.add_argument("--dns-workers", type=int, default=1)
    sp.add_argument("--stats", required=True)
    sp.add_argument("--seconds", type=float, default=0)
    a = p.parse_args()
    {"load": cmd_load, "recover": cmd_recover, "mix": cmd_mix}[a.cmd](a)


if __name__ == "__main__":
    main()
