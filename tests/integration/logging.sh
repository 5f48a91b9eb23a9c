#!/bin/bash
# logging.sh - the log is klog's text format on stderr, at kube-proxy's
# --v levels: 0 for changes of the whole and problems, 2 per service-port
# change, 4 per connection, 9 for libevent's own debug output (routed into
# the same log).  Every line has the header
#   Lmmdd hh:mm:ss.uuuuuu PPPPPPP file:line] message
# with PPPPPPP the daemon's pid, right-aligned in 7 columns.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/lib.sh"
t_begin

KLOG='^[IWEF](0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01]) ([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]\.[0-9]{6} [ 0-9]{6}[0-9] [A-Za-z0-9_.-]+\.c:[1-9][0-9]*\] '

P=$(free_ports 1)
backend a tcp-name 127.0.0.11:$P
write_manifest web.yaml "$(m_service name=web port=http/TCP/80)
---
$(m_slice name=web port=http/TCP/$P ep=127.0.0.11)"

extra_gone() { ! proxy_port default/extra http >/dev/null; }
has_warning() { grep -q '^W' "$T_DIR/kube-uproxy.log"; }

# run_at V: one life of the daemon at --v V, with a service port added and
# removed, one connection through it and one broken manifest; its log
# ends up in $T_DIR/log.V, its pid in $T_DIR/pid.V.
run_at() {
	local v=$1 pp names
	start_proxy --v "$v"
	echo "$T_DAEMON_PID" >"$T_DIR/pid.$v"
	write_manifest extra.yaml "$(m_service name=extra ip=198.19.0.12 port=http/TCP/80)
---
$(m_slice name=extra port=http/TCP/$P ep=127.0.0.11)"
	pp=$(wait_proxy_port default/extra http 5)
	names=$(client names 127.0.0.1 "$pp" 1)
	expect_eq "the connection at --v $v" "$names" a
	write_manifest broken.yaml "kind: [unclosed"
	wait_for 5 "the broken manifest's warning at --v $v" has_warning
	remove_manifest extra.yaml
	remove_manifest broken.yaml
	wait_for 5 "default/extra to go at --v $v" extra_gone
	stop_proxy
	cp "$T_DIR/kube-uproxy.log" "$T_DIR/log.$v"
}

for v in 0 2 4 9; do
	run_at $v
done

for v in 0 2 4 9; do
	f=$T_DIR/log.$v
	[ -s "$f" ] || fail "--v $v: empty log"
	bad=$(grep -cvE "$KLOG" "$f")
	[ "$bad" = 0 ] ||
	    fail "--v $v: $bad line(s) without the klog header, first: $(grep -vE "$KLOG" "$f" | head -1)"
	# The pid column is the daemon's, padded to 7 columns.
	pidcol=$(printf '%7d' "$(cat "$T_DIR/pid.$v")")
	other=$(cut -c23-29 "$f" | grep -cvxF -- "$pidcol")
	expect_eq "--v $v: lines whose pid column is not '$pidcol'" "$other" 0
	# Level 0: problems (the broken manifest) and changes of the whole.
	grep -qE '^W.*broken\.yaml' "$f" || soft fail "--v $v: no warning about broken.yaml"
	grep -qE '^I.*initial sync done' "$f" || soft fail "--v $v: no 'initial sync done'"
	grep -qE '^I.*stopped$' "$f" || soft fail "--v $v: no 'stopped'"
done

# Level 2: each service-port change, not at 0.
svc() { grep -c 'default/extra' "$T_DIR/log.$1"; }
expect_eq "--v 0: lines about service port default/extra" "$(svc 0)" 0
for v in 2 4 9; do
	expect_gt "--v $v: lines about service port default/extra" "$(svc $v)" 1
done

# Level 4: each connection, not at 2.
conn() { grep -cE 'client 127\.0\.0\.1:[0-9]+' "$T_DIR/log.$1"; }
for v in 0 2; do
	expect_eq "--v $v: lines about the connection" "$(conn $v)" 0
done
for v in 4 9; do
	expect_gt "--v $v: lines about the connection" "$(conn $v)" 0
done

# libevent's own messages come through the same log, at trace level.
lev() { grep -c '\] libevent: ' "$T_DIR/log.$1"; }
for v in 0 2 4; do
	expect_eq "--v $v: libevent debug lines" "$(lev $v)" 0
done
expect_gt "--v 9: libevent debug lines" "$(lev 9)" 0

# A message with a newline stays one line: the unknown field's name here.
CONF=$T_DIR/kp.json
printf '{"apiVersion": "kubeproxy.config.k8s.io/v1alpha1", "kind": "KubeProxyConfiguration", "bad\\nfield": 1}\n' >"$CONF"
start_proxy --v 0 --config "$CONF"
stop_proxy
expect_eq "lines naming the unknown field" \
    "$(grep -cE "$KLOG"'.*unknown field bad\\nfield' "$T_DIR/kube-uproxy.log")" 1
bad=$(grep -cvE "$KLOG" "$T_DIR/kube-uproxy.log")
expect_eq "lines without the klog header with --config" "$bad" 0
pass
