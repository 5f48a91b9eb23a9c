#!/bin/bash
# tcp_conn_end.sh - connections end and stalled ones cost bounded memory
# (issue 11, "Connections end"), with src/tcp_proxy.c on its own
# (tests/tools/tcp_harness), in a network namespace of our own (unshare -n:
# only its loopback, gone with the process) where the scenarios may drop
# packets and shrink TCP buffers:
# - a blackholed backend is found dead by keepalive and the client reset;
# - 200 stalled downloads keep the relay pool within --relay-memory, a new
#   connection is served fast and byte-exact, and every stalled byte
#   arrives once its client reads.
# Keepalive options on both legs, --tcp-fin-timeout and the connection
# bound are in tcp_datapath.sh (they need no namespace).
set -u
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (unshare -n, iptables)"; exit 77; }
command -v unshare >/dev/null || { echo "SKIP: no unshare"; exit 77; }
command -v iptables >/dev/null || { echo "SKIP: no iptables"; exit 77; }
export HARNESS="$TESTS_BUILDDIR/tools/tcp_harness" PRIVATE_NETNS=1
rc=0
for mode in copy splice; do
	unshare -n -- bash -c '
		ip link set lo up || exit 99
		# Small socket buffers (per namespace): see t_pool_bound.
		sysctl -qw net.ipv4.tcp_wmem="4096 16384 131072" \
		    net.ipv4.tcp_rmem="4096 65536 131072" || exit 99
		ONLY="${ONLY:-t_dead_peer t_pool_bound}" exec "$0" "$@"' \
	    "$PYTHON3" "$TESTS_SRCDIR/tools/tcp_harness_test.py" "$mode" \
	    ${KUBE_UPROXY_WRAP:-} || rc=1
done
exit $rc
