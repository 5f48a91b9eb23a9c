#!/bin/bash
# write_config.sh - one option table, seen from outside: --write-config-to
# writes a KubeProxyConfiguration that --config reads back to the same
# configuration (/configz equal, written again byte for byte); bad values
# in a file name their field and exit 1; and the man page documents every
# flag of --help and every field of the file, and renders without a
# warning.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/lib.sh"
t_begin

MAN=$TESTS_SRCDIR/../man/kube-uproxy.8

# configz URL: /configz without "config" (the path of the file itself,
# which only the daemon started with --config has), keys sorted.
configz() {
	client http "$1/configz" | "$PYTHON3" -c '
import json, sys
v = json.load(sys.stdin)
v.pop("config", None)
print(json.dumps(v, sort_keys=True, indent=1))'
}

# 1. The defaults: exit 0, nothing on stderr, and a fixpoint.
"$KUBE_UPROXY" --write-config-to "$T_DIR/defaults.yaml" 2>"$T_DIR/err" </dev/null
expect_eq "exit status of --write-config-to" "$?" 0
expect_eq "stderr of --write-config-to" "$(cat "$T_DIR/err")" ""
grep -qx 'kind: KubeProxyConfiguration' "$T_DIR/defaults.yaml" ||
    fail "no kind in the written file: $(head -5 "$T_DIR/defaults.yaml")"
"$KUBE_UPROXY" --config "$T_DIR/defaults.yaml" --write-config-to - \
    >"$T_DIR/again.yaml" 2>"$T_DIR/err" </dev/null
expect_eq "exit status of --config then --write-config-to -" "$?" 0
expect_eq "warnings reading the written file" "$(cat "$T_DIR/err")" ""
cmp -s "$T_DIR/defaults.yaml" "$T_DIR/again.yaml" ||
    fail "written, read and written again differs: $(diff "$T_DIR/defaults.yaml" "$T_DIR/again.yaml")"

# 2. Effective flags: a daemon started with them, and one started with
# nothing but the file they wrote, show the same /configz.
P=$(free_ports 1)
backend a tcp-name 127.0.0.11:$P
write_manifest web.yaml "$(m_service name=web port=http/TCP/80)
---
$(m_slice name=web port=http/TCP/$P ep=127.0.0.11)"
start_proxy --udp-timeout 1m30s --iptables-sync-period 45s \
    --iptables-min-sync-period 250ms --hostname-override Node-7 \
    --relay splice --v 3
with_flags=$(configz "$METRICS_URL")
flags=(--iptables none --manifests "$T_DIR/manifests" --bind-address 127.0.0.1
    --metrics-bind-address "127.0.0.1:$METRICS_PORT"
    --healthz-bind-address "127.0.0.1:$HEALTHZ_PORT"
    --udp-timeout 1m30s --iptables-sync-period 45s
    --iptables-min-sync-period 250ms --hostname-override Node-7
    --relay splice --v 3)
stop_proxy

"$KUBE_UPROXY" "${flags[@]}" --write-config-to "$T_DIR/node.yaml" \
    2>"$T_DIR/err" </dev/null
expect_eq "exit status of --write-config-to with flags" "$?" 0
grep -q '^hostnameOverride: "Node-7"$' "$T_DIR/node.yaml" ||
    fail "hostnameOverride not written as given: $(grep hostname "$T_DIR/node.yaml")"

$KUBE_UPROXY_WRAP "$KUBE_UPROXY" --config "$T_DIR/node.yaml" \
    2>"$T_DIR/kube-uproxy.log" </dev/null &
T_DAEMON_PID=$!
T_PIDS="$T_PIDS $T_DAEMON_PID"
wait_healthy $((5 * T_SLOW))
from_file=$(configz "$METRICS_URL")
[ "$from_file" = "$with_flags" ] ||
    fail "/configz differs: $(diff <(echo "$with_flags") <(echo "$from_file"))"
expect_eq "a service of the daemon run from the file" \
    "$(client service-field "$METRICS_URL/debug/services" default/web http service)" \
    default/web
expect_eq "the connection through the daemon run from the file" \
    "$(client names 127.0.0.1 "$(wait_proxy_port default/web http)" 1)" a
stop_proxy

# 3. Errors name the field and exit 1 with one line; unknown fields warn.
bad() {	# bad WANT YAML-LINE
	printf 'apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n%s\n' \
	    "$2" >"$T_DIR/bad.yaml"
	timeout 5 "$KUBE_UPROXY" --config "$T_DIR/bad.yaml" --write-config-to - \
	    >/dev/null 2>"$T_DIR/err" </dev/null
	soft expect_eq "exit status for '$2'" "$?" 1
	soft expect_eq "stderr for '$2'" "$(cat "$T_DIR/err")" \
	    "kube-uproxy: $T_DIR/bad.yaml: $1"
}
bad 'udpIdleTimeout: "soon" is not a duration' 'udpIdleTimeout: soon'
bad 'iptables.minSyncPeriod: "-1s" is not a duration' 'iptables: {minSyncPeriod: -1s}'
bad 'portRange: "70000" is not a port range (A-B, A or A+N, at most 65535)' 'portRange: "70000"'
bad 'clientConnection: not an object' 'clientConnection: /etc/kubeconfig'
printf 'apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nudpIdelTimeout: 1s\n' \
    >"$T_DIR/typo.yaml"
"$KUBE_UPROXY" --config "$T_DIR/typo.yaml" --write-config-to - >/dev/null \
    2>"$T_DIR/err" </dev/null
expect_eq "exit status with an unknown field" "$?" 0
grep -q 'unknown field udpIdelTimeout' "$T_DIR/err" ||
    fail "the unknown field is not named: $(cat "$T_DIR/err")"
"$KUBE_UPROXY" --write-config-to "$T_DIR/no/such/dir.yaml" >/dev/null \
    2>"$T_DIR/err" </dev/null
expect_eq "exit status writing into a missing directory" "$?" 1
grep -q -- "--write-config-to $T_DIR/no/such/dir.yaml: No such file" "$T_DIR/err" ||
    fail "unhelpful error: $(cat "$T_DIR/err")"

# 4. The man page: every flag of --help, every field of the file.
[ -f "$MAN" ] || fail "no man page at $MAN"
"$KUBE_UPROXY" --help >"$T_DIR/help" || fail "--help failed"
# In man(7) source a flag's dashes are written \- : undo that first.
sed 's/\\-/-/g; s/\\f[BIRP]//g' "$MAN" >"$T_DIR/man.txt"
n=0
for flag in $(grep -oE -- '--[a-z][a-z-]*' "$T_DIR/help" | sort -u); do
	n=$((n + 1))
	grep -qE -- "(^|[^a-z-])$flag([^a-z-]|\$)" "$T_DIR/man.txt" ||
	    soft fail "$flag is in --help but not in the man page"
done
expect_gt "flags found in --help" "$n" 15
for field in $(grep -oE '^ *[a-zA-Z]+:' "$T_DIR/defaults.yaml" | tr -d ' :' | sort -u); do
	grep -qw -- "$field" "$T_DIR/man.txt" ||
	    soft fail "configuration field $field is not in the man page"
done
if command -v groff >/dev/null; then
	warnings=$(groff -ww -man -Tutf8 "$MAN" 2>&1 >/dev/null)
	expect_eq "groff -ww warnings" "$warnings" ""
else
	log "groff not installed: man page rendering not checked"
fi
pass
