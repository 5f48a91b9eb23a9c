#!/usr/bin/env python3
"""backend.py - the pods of the integration tests: small servers on loopback.

One program, one mode per run (Python 3 standard library only):

  tcp-name        answer each connection with NAME + "\\n", then close
  tcp-echo        echo until EOF; log "eof" or "reset" per connection
  tcp-sink-sha    read to EOF, reply sha256 hex + "\\n", then --reply-bytes
                  bytes of the shared pattern (see pattern() below), close
  tcp-reset       read one chunk, then close with SO_LINGER 0 (a reset)
  tcp-blackhole   a listener whose accept queue is full and never drained:
                  connection attempts hang (SYNs are dropped)
  udp-echo-name   reply NAME + ":" + payload to every datagram

The server prints "ready" on stdout once it listens, which the driver
(tests/lib.sh) waits for.  Per-connection events of tcp-echo are printed
to stdout too ("conn eof", "conn reset"), flushed at once, for tests to read.
"""

import argparse
import hashlib
import socket
import struct
import sys
import threading

PATTERN_BLOCK = 65536


def pattern_block():
    """64 KiB of deterministic, non-repeating-within-block bytes."""
    out = bytearray()
    seed = b"kube-uproxy"
    while len(out) < PATTERN_BLOCK:
        seed = hashlib.sha256(seed).digest()
        out += seed
    return bytes(out[:PATTERN_BLOCK])


def pattern_chunks(n):
    """Yield n bytes of the pattern in blocks."""
    block = pattern_block()
    while n > 0:
        k = min(n, len(block))
        yield block[:k]
        n -= k


def say(msg):
    sys.stdout.write(msg + "\n")
    sys.stdout.flush()


def split_addr(s):
    host, _, port = s.rpartition(":")
    return host.strip("[]"), int(port)


def handle_name(conn, args):
    try:
        conn.sendall(args.name.encode() + b"\n")
        conn.shutdown(socket.SHUT_WR)
        # Wait for the peer's EOF so that our close never turns into a
        # reset because of unread data, and a slow relay still gets it all.
        conn.settimeout(5)
        while conn.recv(4096):
            pass
    except OSError:
        pass
    finally:
        conn.close()


def handle_echo(conn, args):
    outcome = "eof"
    try:
        while True:
            data = conn.recv(65536)
            if not data:
                break
            conn.sendall(data)
        conn.shutdown(socket.SHUT_WR)
    except ConnectionResetError:
        outcome = "reset"
    except OSError as e:
        outcome = "error " + str(e)
    finally:
        conn.close()
    say("conn " + outcome)


def handle_sink_sha(conn, args):
    try:
        h = hashlib.sha256()
        total = 0
        while True:
            data = conn.recv(262144)
            if not data:
                break
            h.update(data)
            total += len(data)
        conn.sendall(h.hexdigest().encode() + b"\n")
        for chunk in pattern_chunks(args.reply_bytes):
            conn.sendall(chunk)
        conn.shutdown(socket.SHUT_WR)
        say("conn received %d" % total)
    except OSError as e:
        say("conn error " + str(e))
    finally:
        conn.close()


def handle_reset(conn, args):
    try:
        conn.settimeout(5)
        conn.recv(4096)
    except OSError:
        pass
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                    struct.pack("ii", 1, 0))
    conn.close()
    say("conn reset sent")


HANDLERS = {
    "tcp-name": handle_name,
    "tcp-echo": handle_echo,
    "tcp-sink-sha": handle_sink_sha,
    "tcp-reset": handle_reset,
}


def serve_tcp(args):
    host, port = split_addr(args.listen)
    ls = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((host, port))
    ls.listen(1024)
    say("ready")
    handler = HANDLERS[args.mode]
    while True:
        conn, _ = ls.accept()
        threading.Thread(target=handler, args=(conn, args),
                         daemon=True).start()


def serve_blackhole(args):
    host, port = split_addr(args.listen)
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((host, port))
    # Backlog 0 holds one connection; once it is queued the kernel drops
    # further SYNs (tcp_conn_request: accept queue full), so a connect()
    # towards us hangs in SYN_SENT, like a host that does not answer.
    ls.listen(0)
    fillers = []
    for _ in range(2):
        f = socket.socket()
        f.setblocking(False)
        f.connect_ex((host, port))
        fillers.append(f)
    probe = socket.socket()
    probe.settimeout(0.3)
    try:
        probe.connect((host, port))
        sys.stderr.write("blackhole: probe connect succeeded\n")
        sys.exit(2)
    except socket.timeout:
        pass
    finally:
        probe.close()
    say("ready")
    threading.Event().wait()


def serve_udp(args):
    host, port = split_addr(args.listen)
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET,
                      socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    s.bind((host, port))
    say("ready")
    prefix = args.name.encode() + b":"
    while True:
        data, peer = s.recvfrom(65536)
        try:
            s.sendto(prefix + data, peer)
        except OSError as e:
            say("send error " + str(e))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("mode", choices=sorted(HANDLERS) +
                   ["tcp-blackhole", "udp-echo-name"])
    p.add_argument("listen", help="IP:PORT")
    p.add_argument("--name", default="backend")
    p.add_argument("--reply-bytes", type=int, default=0)
    args = p.parse_args()
    if args.mode == "udp-echo-name":
        serve_udp(args)
    elif args.mode == "tcp-blackhole":
        serve_blackhole(args)
    else:
        serve_tcp(args)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
