#!/bin/bash
# nft_repair.sh - the nftables backend next to other users of nftables:
# a foreign nat table on the same hooks and an iptables-nft rule keep
# working and are never touched; our elements deleted or our table
# deleted by hand are put back by the periodic repair
# (--iptables-sync-period 2s) and the service answers again; a change is
# an element add, not a table rebuild (the log says so); SIGTERM and
# --cleanup (whichever --portals it is given) remove our tables only.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
KUP_PORTALS=nftables
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/e2e/lib.sh"
e2e_begin
e2e_pods

X="in_ns $NODE"
# Someone else's nftables: a nat table at our hooks and priority, and an
# iptables-nft rule (when iptables-nft exists), both for 198.18.99.0/24.
$X nft -f - <<'EOF' || hard_error "cannot add the foreign table"
table ip foreign {
	chain pre {
		type nat hook prerouting priority dstnat; policy accept;
		ip daddr 198.18.99.1 tcp dport 80 counter redirect to :9
	}
	chain out {
		type nat hook output priority -100; policy accept;
		ip daddr 198.18.99.1 tcp dport 80 counter redirect to :9
	}
}
EOF
if command -v iptables-nft >/dev/null; then
	$X iptables-nft -t nat -A OUTPUT -d 198.18.99.2/32 -p tcp --dport 80 \
	    -j REDIRECT --to-ports 9 || hard_error "cannot add the iptables-nft rule"
fi
foreign() {
	$X nft list table ip foreign | sed 's/packets [0-9]* bytes [0-9]*//'
	! command -v iptables-nft >/dev/null || $X iptables-nft -t nat -S OUTPUT
}
before=$(foreign)

write_manifest nginx-svc.yaml "$(m_service name=nginx-svc ip=198.19.0.10 port=http/TCP/80)
---
$(nginx_slice nginx-svc)"
start_proxy --iptables-sync-period 2s
wait_rules 3 default/nginx-svc:http 2
expect_answer "the service next to a foreign table" "$CLIENT" http://198.19.0.10/
expect_answer "the service from the node" "$NODE" http://198.19.0.10/

# A change is element adds: the table is built once (per family).
write_manifest other.yaml "$(m_service name=other ip=198.19.0.20 type=NodePort \
    nodeport=30020 port=http/TCP/80)
---
$(nginx_slice other)"
wait_rules 3 default/other:http 4
expect_answer "the NodePort from the client" "$CLIENT" "http://$NODE_IP:30020/"
expect_answer "the NodePort from the node (127.0.0.1)" "$NODE" http://127.0.0.1:30020/
expect_eq "table builds in the log" \
    "$(grep -c 'built table ip kube-uproxy' "$T_DIR/kube-uproxy.log")" 1
expect_match "the change as element adds" \
    "$(grep 'nftables: ip: .* elements added' "$T_DIR/kube-uproxy.log" | tail -n1)" \
    'ip: 2 elements added, 0 deleted'

# Repair: an element deleted by hand comes back within the sync period.
$X nft delete element ip kube-uproxy portals '{ 198.19.0.10 . tcp . 80 }' ||
    hard_error "cannot delete our element"
expect_eq "rules of nginx-svc right after the hand edit" \
    "$(count_rules_of default/nginx-svc:http)" 0
wait_rules 5 default/nginx-svc:http 2
expect_answer "the service after the repair" "$CLIENT" http://198.19.0.10/

# Our whole table deleted: rebuilt, both services back.
$X nft delete table ip kube-uproxy || hard_error "cannot delete our table"
wait_rules 5 default/other:http 4
wait_rules 1 default/nginx-svc:http 2
expect_answer "the NodePort after the table came back" "$CLIENT" "http://$NODE_IP:30020/"
expect_eq "the foreign table and iptables-nft rule while running" \
    "$(foreign)" "$before"
expect_eq "the foreign redirect still applies (198.18.99.1:80 -> :9, closed)" \
    "$(is_silent "$NODE" http://198.18.99.1/ && echo silent)" silent

# SIGTERM: our tables go, the foreign ones stay.
stop_proxy
expect_eq "our tables after SIGTERM" \
    "$($X nft list tables | grep -c kube-uproxy)" 0
expect_eq "the foreign table after SIGTERM" "$(foreign)" "$before"

# A crash leaves the tables; --cleanup (the default --portals iptables)
# removes them as well.
start_proxy
wait_rules 3 default/nginx-svc:http 2
kill -KILL "$T_DAEMON_PID"
wait "$T_DAEMON_PID" 2>/dev/null
T_DAEMON_PID=""
expect_eq "our tables after SIGKILL" "$($X nft list tables | grep -c kube-uproxy)" 2
rc=0
$X "$KUBE_UPROXY" --cleanup 2>>"$T_DIR/cleanup.log" || rc=$?
expect_eq "kube-uproxy --cleanup exit status" "$rc" 0
expect_eq "our tables after --cleanup" "$($X nft list tables | grep -c kube-uproxy)" 0
expect_eq "the foreign table after --cleanup" "$(foreign)" "$before"
pass
