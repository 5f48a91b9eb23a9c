#!/bin/bash
# udp.sh - UDP flows: each client address is a flow pinned to one backend,
# new flows round-robin, an idle flow expires after --udp-timeout (the same
# client port then starts a new flow on the next backend), replies come
# from the proxy port, and a 60 KiB datagram passes whole both ways.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/lib.sh"
t_begin

P=$(free_ports 1)
backend a udp-echo-name 127.0.0.11:$P
backend b udp-echo-name 127.0.0.12:$P
write_manifest dns.yaml "$(m_service name=dns port=dns/UDP/53)
---
$(m_slice name=dns port=dns/UDP/$P ep=127.0.0.11 ep=127.0.0.12)"
start_proxy --udp-timeout 300ms
PP=$(wait_proxy_port default/dns dns)
expect_eq "protocol" "$(service_field default/dns dns protocol)" UDP

# Four flows from four ephemeral client ports.
names=$(for i in 1 2 3 4; do client udp 127.0.0.1 "$PP"; done)
expect_alternating "4 new flows" "$names" a b 2
created=$(metric kube_uproxy_udp_flows_created_total)
expect_eq "flows created" "$created" 4

# One client port: a burst stays on one backend (one flow) ...
X=$(free_ports 1)
names=$(client udp 127.0.0.1 "$PP" --local-port "$X" --count 3)
one=$(echo "$names" | head -n1)
expect_match "burst from port $X" "$one" '^(a|b)$'
expect_all "burst from port $X (one flow)" "$names" "$one"
expect_eq "flows created after the burst" \
    "$(metric kube_uproxy_udp_flows_created_total)" $((created + 1))

# ... which expires when idle for the timeout; the next datagram from the
# same port is a new flow, which round robin sends to the other backend.
idle() { [ "$(metric kube_uproxy_udp_flows_active)" = 0 ]; }
wait_for 1.5 "all flows to expire (--udp-timeout 300ms)" idle
again=$(client udp 127.0.0.1 "$PP" --local-port "$X")
expect_match "after expiry" "$again" '^(a|b)$'
expect_ne "backend of the new flow from port $X" "$again" "$one"
expect_eq "flows created after expiry" \
    "$(metric kube_uproxy_udp_flows_created_total)" $((created + 2))

# Keep-alive: traffic every 100 ms keeps a flow alive past the timeout.
names=$(client udp 127.0.0.1 "$PP" --local-port "$X" --count 5 --gap 0.1)
expect_all "a flow kept alive by traffic" "$names" "$(echo "$names" | head -n1)"

# 60 KiB both ways, whole.
for i in 1 2; do
	res=$(client udp 127.0.0.1 "$PP" --size 61440)
	expect_match "a 60 KiB datagram" "$res" '^(a|b)$'
done
expect_eq "datagrams dropped" "$(metric kube_uproxy_udp_datagrams_dropped_total)" 0
pass
