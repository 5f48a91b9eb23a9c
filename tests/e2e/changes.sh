#!/bin/bash
# changes.sh - the node follows changes: a Service removed takes its nat
# rules and its answers with it; an EndpointSlice edited down to one pod
# is used by new connections within 1 s; and rules someone else flushed
# are put back by the periodic repair (--iptables-sync-period 2s).
# KUP_PORTALS=nftables (nft_changes.sh): the same against nftables.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/e2e/lib.sh"
e2e_begin
e2e_pods

write_manifest nginx-svc.yaml "$(m_service name=nginx-svc ip=198.19.0.10 port=http/TCP/80)
---
$(nginx_slice nginx-svc)"
write_manifest other.yaml "$(m_service name=other ip=198.19.0.20 type=NodePort \
    nodeport=30020 port=http/TCP/80)
---
$(nginx_slice other)"
start_proxy --iptables-sync-period 2s
wait_rules 3 default/nginx-svc:http 2
wait_rules 3 default/other:http 4
expect_answer "other before the removal" "$CLIENT" http://198.19.0.20/
expect_answer "other's NodePort before the removal" "$CLIENT" "http://$NODE_IP:30020/"

# 1. Remove a Service: its rules go, its addresses stop answering.
remove_manifest other.yaml
wait_rules 3 default/other:http 0
wait_for 2 "198.19.0.20:80 to stop answering" is_silent "$CLIENT" http://198.19.0.20/
soft expect_eq "other's NodePort after the removal" \
    "$(is_silent "$CLIENT" "http://$NODE_IP:30020/" && echo silent)" silent
soft expect_eq "other's proxy port after the removal" \
    "$(proxy_port default/other http)" ""
expect_eq "nginx-svc rules after the removal" "$(count_rules_of default/nginx-svc:http)" 2
expect_answer "nginx-svc after the removal" "$CLIENT" http://198.19.0.10/

# 2. Endpoints down to pod2: followed within 1 s (a manifest edit is seen
# through inotify; the load balancer changes with no rule commit).
requests0=$(metric kube_uproxy_rule_sync_requests_total)
case $requests0 in
''|*[!0-9]*) fail "kube_uproxy_rule_sync_requests_total: got '$requests0'" ;;
esac
[ "$requests0" -gt 0 ] || fail "no rule sync was ever asked for"
t0=$(now_ms)
write_manifest nginx-svc.yaml "$(m_service name=nginx-svc ip=198.19.0.10 port=http/TCP/80)
---
$(nginx_slice nginx-svc "$POD2_IP")"
only_pod2() {
	[ -z "$(get_names "$NODE" http://198.19.0.10/ 2 | grep -vx pod2)" ]
}
wait_for 1 "only pod2 answering after the slice edit" only_pod2
log "endpoint change followed after $(( $(now_ms) - t0 )) ms (with the checks)"
expect_all "6 requests from the client after the edit" \
    "$(get_names "$CLIENT" http://198.19.0.10/ 6)" pod2
expect_eq "rule syncs asked for by the endpoint change" \
    "$(metric kube_uproxy_rule_sync_requests_total)" "$requests0"
write_manifest nginx-svc.yaml "$(m_service name=nginx-svc ip=198.19.0.10 port=http/TCP/80)
---
$(nginx_slice nginx-svc)"
both() { is_alternating "$(get_names "$NODE" http://198.19.0.10/ 2)" pod1 pod2 1; }
wait_for 1 "both pods again" both

# 3. Repair: flush our PREROUTING chain by hand (the client loses the
# service) until the next full sync (every 2 s) puts the rule back.  The
# nftables backend's repair (its elements and base chains) is
# nft_repair.sh's.
if [ "$KUP_PORTALS" = nftables ]; then
	log "repair by hand: left to nft_repair.sh under --portals nftables"
	pass
fi
in_ns "$NODE" iptables-legacy -w 5 -t nat -F KUBE-PORTALS-CONTAINER ||
    hard_error "cannot flush KUBE-PORTALS-CONTAINER"
expect_eq "rules of nginx-svc right after the flush" \
    "$(count_rules_of default/nginx-svc:http)" 1
t0=$(now_ms)
wait_rules 5 default/nginx-svc:http 2
log "flushed chain repaired after $(( $(now_ms) - t0 )) ms"
expect_answer "the client after the repair" "$CLIENT" http://198.19.0.10/
# The jumps too: delete PREROUTING's jump to our chain (its first rule).
expect_match "first rule of PREROUTING" \
    "$(nat_rules | grep '^-A PREROUTING' | head -n1)" '-j KUBE-PORTALS-CONTAINER$'
in_ns "$NODE" iptables-legacy -w 5 -t nat -D PREROUTING 1 ||
    hard_error "cannot delete the PREROUTING jump"
jump_back() { nat_rules | grep -q -- '^-A PREROUTING .*-j KUBE-PORTALS-CONTAINER$'; }
wait_for 5 "the PREROUTING jump to be repaired" jump_back
expect_answer "the client after the jump repair" "$CLIENT" http://198.19.0.10/
pass
