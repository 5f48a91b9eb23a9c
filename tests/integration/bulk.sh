#!/bin/bash
# bulk.sh - 50 MB each way through the proxy with a half-close in between,
# checked with sha256, in both relay modes (copy and splice); afterwards no
# socket of the proxy (client side or backend side) is left half-open.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/lib.sh"
t_begin

SIZE=$((50 * 1000 * 1000))
P=$(free_ports 1)
backend sink tcp-sink-sha 127.0.0.11:$P --reply-bytes $SIZE
write_manifest bulk.yaml "$(m_service name=bulk port=data/TCP/9000)
---
$(m_slice name=bulk port=data/TCP/$P ep=127.0.0.11)"

# Sockets of the proxy port and the backend other than listeners and
# TIME_WAIT (how a cleanly closed connection ends): CLOSE_WAIT, FIN_WAIT2
# or ESTABLISHED left over mean a side that was never closed.
leftovers() { client tcp-leftovers "127.0.0.1:$1" "127.0.0.11:$P"; }
no_leftovers() { [ -z "$(leftovers "$1")" ]; }

for relay in copy splice; do
	start_proxy --relay "$relay"
	PP=$(wait_proxy_port default/bulk data)
	res=$(client bulk 127.0.0.1 "$PP" --bytes $SIZE --reply-bytes $SIZE --timeout 20)
	expect_match "50 MB each way, relay $relay" "$res" '^ok '
	log "relay $relay: $res"
	poll 2 no_leftovers "$PP" ||
	    fail "relay $relay: sockets left 2 s after the client closed: $(leftovers "$PP" | tr '\n' ';')"
	expect_eq "active connections after the transfer, relay $relay" \
	    "$(metric kube_uproxy_tcp_connections_active)" 0
	expect_eq "bytes to the endpoint, relay $relay" \
	    "$(metric kube_uproxy_bytes_to_endpoints_total)" $SIZE
	expect_eq "bytes to the client, relay $relay" \
	    "$(metric kube_uproxy_bytes_to_clients_total)" $((SIZE + 65))
	stop_proxy
done
pass
