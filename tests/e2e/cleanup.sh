#!/bin/bash
# cleanup.sh - kube-uproxy leaves no trace in the nat table: after SIGTERM
# (exit 0), after `kube-uproxy --cleanup` following a crash (SIGKILL leaves
# the rules behind), and --cleanup with nothing installed still exits 0.
# Rules the daemon does not own (another chain, a rule of the admin's in
# PREROUTING) survive all of it.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/e2e/lib.sh"
e2e_begin
e2e_pods

# Someone else's rules on the node, which must survive.
in_ns "$NODE" iptables-legacy -w 5 -t nat -N ADMIN-CHAIN &&
    in_ns "$NODE" iptables-legacy -w 5 -t nat -A PREROUTING -p tcp --dport 9999 -j ADMIN-CHAIN &&
    in_ns "$NODE" iptables-legacy -w 5 -t nat -A OUTPUT -d 198.18.99.1/32 -j RETURN ||
    hard_error "cannot add the admin's rules"
admin() { nat_rules | grep -vE '^-P ' | grep -v KUBE; }
before=$(admin)

write_manifest nginx-app.yaml "$(m_service name=nginx-app ip=198.19.0.11 \
    type=NodePort nodeport=30001 extip=198.18.50.1 port=http/TCP/8060)
---
$(nginx_slice nginx-app)"
write_manifest dns.yaml "$(m_service name=dns ip=198.19.0.53 port=dns/UDP/53)
---
$(m_slice name=dns port=dns/UDP/5353 ep=$POD1_IP)"
none_left() { [ -z "$(kube_lines)" ]; }
installed() {
	has_rules default/nginx-app:http 6 && has_rules default/dns:dns 2 &&
	    [ "$(kube_lines | grep -c '^-N KUBE-')" = 4 ]
}

# 1. SIGTERM: exit 0 (stop_proxy checks it), nothing of ours left.
start_proxy
wait_for 3 "4 chains and 8 rules" installed
expect_answer "the NodePort while running" "$CLIENT" "http://$NODE_IP:30001/"
stop_proxy
expect_eq "KUBE lines after SIGTERM" "$(kube_lines)" ""
expect_eq "the admin's rules after SIGTERM" "$(admin)" "$before"
expect_eq "the NodePort after SIGTERM" \
    "$(is_silent "$CLIENT" "http://$NODE_IP:30001/" && echo silent)" silent

# 2. A crash leaves the rules; --cleanup removes them and exits 0.
start_proxy
wait_for 3 "4 chains and 8 rules after the restart" installed
kill -KILL "$T_DAEMON_PID"
wait "$T_DAEMON_PID" 2>/dev/null
T_DAEMON_PID=""
expect_gt "KUBE lines after SIGKILL" "$(kube_lines | grep -c .)" 8
rc=0
in_ns "$NODE" "$KUBE_UPROXY" --cleanup 2>>"$T_DIR/cleanup.log" || rc=$?
expect_eq "kube-uproxy --cleanup exit status" "$rc" 0
expect_eq "KUBE lines after --cleanup" "$(kube_lines)" ""
expect_eq "the admin's rules after --cleanup" "$(admin)" "$before"

# 3. Nothing to clean: still 0, still nothing.
rc=0
in_ns "$NODE" "$KUBE_UPROXY" --cleanup 2>>"$T_DIR/cleanup.log" || rc=$?
expect_eq "second kube-uproxy --cleanup exit status" "$rc" 0
expect_eq "KUBE lines after the second --cleanup" "$(kube_lines)" ""
expect_eq "the admin's rules at the end" "$(admin)" "$before"
! grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$T_DIR/cleanup.log" ||
    fail "sanitizer report from --cleanup: $(head -n 5 "$T_DIR/cleanup.log")"
pass
