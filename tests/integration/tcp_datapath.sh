#!/bin/bash
# tcp_datapath.sh - src/tcp_proxy.c on its own (tests/tools/tcp_harness),
# in both relay modes: 50 MB each way and after a half-close, resets both
# ways, connect retries and timeouts (250 ms ... 2 s), no endpoint, 500
# concurrent relays with no CLOSE_WAIT/FIN_WAIT left, closing a proxy under
# live relays, IPv6, and accept pausing (not spinning) on EMFILE; and the
# ends of issue 11: keepalive options on both legs (read back from the
# harness's sockets), --tcp-fin-timeout on half-closed relays, and the
# connection bound below RLIMIT_NOFILE.  tcp_conn_end.sh has the scenarios
# that need a network namespace (dead peer, stalled downloads).
set -u
export HARNESS="$TESTS_BUILDDIR/tools/tcp_harness"
rc=0
for mode in copy splice; do
	"$PYTHON3" "$TESTS_SRCDIR/tools/tcp_harness_test.py" "$mode" ${KUBE_UPROXY_WRAP:-} || rc=1
done
exit $rc
