#!/bin/bash
# bind_families.sh - a wildcard --bind-address serves both families: with
# `--bind-address ::` IPv4 clients reach the UDP and TCP proxy ports (on
# main, UDP sockets were IPV6_V6ONLY, so IPv4 UDP was silently dropped),
# and UDP replies leave from the exact address the client sent to (here
# 127.0.0.2 and ::1; after a REDIRECT that is what conntrack maps back to
# the clusterIP).  With 0.0.0.0, IPv6 clients are served as well.  Each
# family's clients go to endpoints of their family (issue 12): the Service
# has an IPv4 slice and an IPv6 one, and the replies name which answered.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/lib.sh"
t_begin
"$PYTHON3" -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' \
    2>/dev/null || skip "no IPv6 loopback"

P=$(free_ports 1)
backend u udp-echo-name 127.0.0.11:$P
backend t tcp-echo 127.0.0.11:$P
backend u6 udp-echo-name "[::1]:$P"
backend t6 tcp-name "[::1]:$P"
write_manifest svc.yaml "$(m_service name=svc port=dns/UDP/53 port=web/TCP/80)
---
$(m_slice name=svc port=dns/UDP/$P port=web/TCP/$P ep=127.0.0.11)
---
$(m_slice name=svc slice=svc-v6 port=dns/UDP/$P port=web/TCP/$P ep=::1 |
    sed 's/^addressType: IPv4/addressType: IPv6/')"

# Prints one line per probe: "udp DEST FROM-ADDR REPLY" and "tcp DEST REPLY".
probe() {
	"$PYTHON3" - "$1" "$2" <<'PY'
import socket, sys
up, tp = int(sys.argv[1]), int(sys.argv[2])
for dest, fam in (("127.0.0.2", socket.AF_INET), ("::1", socket.AF_INET6)):
    s = socket.socket(fam, socket.SOCK_DGRAM); s.settimeout(2)
    s.sendto(b"hi", (dest, up))
    try:
        data, frm = s.recvfrom(100)
        print("udp", dest, frm[0], data.decode())
    except OSError as e:
        print("udp", dest, "-", type(e).__name__)
    c = socket.socket(fam, socket.SOCK_STREAM); c.settimeout(2)
    try:
        c.connect((dest, tp)); c.sendall(b"hi"); c.shutdown(socket.SHUT_WR)
        print("tcp", dest, c.recv(100).decode() or "eof")
    except OSError as e:
        print("tcp", dest, type(e).__name__)
PY
}

for bind in :: 0.0.0.0; do
	start_proxy --bind-address "$bind"
	UP=$(wait_proxy_port default/svc dns)
	TP=$(wait_proxy_port default/svc web)
	out=$(probe "$UP" "$TP")
	log "--bind-address $bind:"; echo "$out" | sed 's/^/    /'
	soft expect_eq "$bind: IPv4 UDP, reply from 127.0.0.2" \
	    "$(echo "$out" | grep '^udp 127.0.0.2 ')" "udp 127.0.0.2 127.0.0.2 u:hi"
	soft expect_eq "$bind: IPv6 UDP, reply from ::1, by the IPv6 endpoint" \
	    "$(echo "$out" | grep '^udp ::1 ')" "udp ::1 ::1 u6:hi"
	soft expect_eq "$bind: IPv4 TCP" "$(echo "$out" | grep '^tcp 127.0.0.2 ')" "tcp 127.0.0.2 hi"
	soft expect_eq "$bind: IPv6 TCP, to the IPv6 endpoint" \
	    "$(echo "$out" | grep '^tcp ::1 ')" "tcp ::1 t6"
	stop_proxy
done
pass
