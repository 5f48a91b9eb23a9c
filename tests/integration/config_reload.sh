#!/bin/bash
# config_reload.sh - SIGHUP re-reads --config: a live field
# (iptables.minSyncPeriod) changes at once, a field that needs a restart
# (udpIdleTimeout) is reported and left alone, a broken file changes
# nothing; /configz shows the effective configuration throughout.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/lib.sh"
t_begin

CONF=$T_DIR/kube-proxy.yaml
conf() {	# conf MINSYNC UDPTIMEOUT
	printf '%s\n' "apiVersion: kubeproxy.config.k8s.io/v1alpha1" \
	    "kind: KubeProxyConfiguration" "iptables:" "  minSyncPeriod: $1" \
	    "udpIdleTimeout: $2" >"$CONF.tmp" && mv -f "$CONF.tmp" "$CONF"
}
configz() {	# configz FIELD (a dotted path)
	client http "$METRICS_URL/configz" | "$PYTHON3" -c '
import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v = v[k]
print(v)' "$1"
}

write_manifest empty.yaml "$(m_service name=web port=http/TCP/80)"
conf 1s 300ms
start_proxy --config "$CONF"
expect_eq "minSyncPeriod at start" "$(configz iptables.minSyncPeriod)" 1s
expect_eq "udpIdleTimeout at start" "$(configz udpIdleTimeout)" 300ms

conf 3s 300ms
kill -HUP "$T_DAEMON_PID"
is_3s() { [ "$(configz iptables.minSyncPeriod)" = 3s ]; }
wait_for 2 "minSyncPeriod 3s after SIGHUP" is_3s
expect_eq "udpIdleTimeout after the first reload" "$(configz udpIdleTimeout)" 300ms

conf 3s 2s
kill -HUP "$T_DAEMON_PID"
restart_noted() { grep -q 'take effect at the next start' "$T_DIR/kube-uproxy.log"; }
wait_for 2 "the restart-needed warning" restart_noted
expect_eq "udpIdleTimeout kept until a restart" "$(configz udpIdleTimeout)" 300ms

printf 'iptables: [unclosed\n' >"$CONF"
kill -HUP "$T_DAEMON_PID"
kept() { grep -q 'keeping the running configuration' "$T_DIR/kube-uproxy.log"; }
wait_for 2 "the broken file warning" kept
expect_eq "minSyncPeriod after a broken file" "$(configz iptables.minSyncPeriod)" 3s
pass
