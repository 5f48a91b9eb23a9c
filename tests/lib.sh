#!/bin/bash
# tests/lib.sh - the shared driver of the integration scenarios.
#
# A scenario (tests/integration/*.sh) is a short description: which backends
# run where, which manifests the daemon reads, what traffic to send and what
# must come back.  This file does the rest: a private temp dir, free ports,
# backends and kube-uproxy started in the background with bounded waits,
# manifest generators, assertions that print what failed, and a trap that
# kills every process it started and removes the temp dir on any exit.
#
# The daemon runs with --iptables none on 127.0.0.1: clients find a service
# port's proxy port in /debug/services and connect to it directly.  Pods
# are servers on 127.0.0.x (all of 127/8 is on lo).
#
# Exit codes follow automake: 0 pass, 1 fail, 77 skip, 99 hard error.
# Environment (from Makefile.am AM_TESTS_ENVIRONMENT): KUBE_UPROXY,
# TESTS_SRCDIR, PYTHON3.  KEEP_TMP=1 keeps the temp dir for a post-mortem.
# KUBE_UPROXY_WRAP runs the daemon under a tool, e.g.
#   KUBE_UPROXY_WRAP="valgrind -q --leak-check=full --error-exitcode=3"
# (its waits then last 5 times longer; a report makes the exit status fail).

set -u

T_NAME=$(basename "$0" .sh)
KUBE_UPROXY_WRAP=${KUBE_UPROXY_WRAP:-}
T_SLOW=1		# wait multiplier: 5 under a wrapper
[ -n "$KUBE_UPROXY_WRAP" ] && T_SLOW=5
TESTS_SRCDIR=${TESTS_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
TOOLS=$TESTS_SRCDIR/tools
PYTHON3=${PYTHON3:-python3}
T_PIDS=""		# every background process, killed by the trap
T_DAEMON_PID=""
T_DIR=""
T_FAILED=0
T_SOFT=0		# 1 while a soft check runs
T_SOFT_FAILED=0

log() { printf '%s: %s\n' "$T_NAME" "$*"; }

# --- outcomes -------------------------------------------------------------

pass() {
	[ "$T_SOFT_FAILED" = 0 ] || fail "$T_SOFT_FAILED soft check(s) failed (above)"
	t_check_daemon
	log "PASS${1:+: $*}"
	exit 0
}

# soft CHECK ARGS...: run a check (expect_*) whose failure is reported but
# does not stop the scenario, so one deviation does not hide the others;
# pass then fails.  Not for checks inside $(...).
soft() {
	T_SOFT=1
	"$@"
	T_SOFT=0
}
skip() { t_exit 77 "SKIP: $*"; }
hard_error() { t_exit 99 "ERROR: $*"; }
fail() { t_exit 1 "FAIL: $*"; }

# t_exit CODE MESSAGE: end the scenario.  From inside $(...) an exit would
# only leave the subshell, so the message goes to the main shell, which
# exits in its USR1 trap as soon as the substitution returns.
t_exit() {
	if [ "$T_SOFT" = 1 ] && [ "$1" = 1 ]; then
		log "$2 (checking on)"
		T_SOFT_FAILED=$((T_SOFT_FAILED + 1))
		return 1
	fi
	if [ "${BASHPID:-$$}" != "$$" ] && [ -n "$T_DIR" ]; then
		printf '%s %s\n' "$1" "$2" >"$T_DIR/.abort"
		kill -USR1 $$
		exit "$1"
	fi
	log "$2"
	[ "$1" = 77 ] || T_FAILED=1
	exit "$1"
}

t_abort_from_subshell() {
	local code msg
	read -r code msg <"$T_DIR/.abort"
	log "$msg"
	T_FAILED=1
	exit "$code"
}

# The daemon must have survived the scenario, exit 0 on SIGTERM within 2 s
# and log no sanitizer report (leaks are reported at exit).
t_check_daemon() {
	[ -n "$T_DAEMON_PID" ] || return 0
	t_running "$T_DAEMON_PID" || fail "kube-uproxy died during the test"
	stop_proxy
}

t_check_log() {
	! grep -qE 'ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:' \
	    "$T_DIR/kube-uproxy.log" 2>/dev/null ||
	    fail "sanitizer report in the kube-uproxy log"
}

# t_running PID: the process exists and is not a zombie waiting for us.
t_running() {
	kill -0 "$1" 2>/dev/null &&
	    [ "$(ps -o stat= -p "$1" 2>/dev/null | cut -c1)" != Z ]
}

t_cleanup() {
	local rc=$? pid i
	trap - EXIT INT TERM HUP USR1
	# Ask nicely first (the daemon exits 0 on SIGTERM), then insist.
	for pid in $T_PIDS; do
		kill -TERM "$pid" 2>/dev/null
	done
	for i in $(seq 20); do
		local alive=0
		for pid in $T_PIDS; do
			t_running "$pid" && alive=1
		done
		[ $alive = 0 ] && break
		sleep 0.1
	done
	for pid in $T_PIDS; do
		kill -KILL "$pid" 2>/dev/null
	done
	wait 2>/dev/null
	if [ "$rc" != 0 ] || [ "$T_FAILED" != 0 ]; then
		if [ -n "$T_DIR" ] && [ -s "$T_DIR/kube-uproxy.log" ]; then
			log "last lines of the kube-uproxy log:"
			tail -n 40 "$T_DIR/kube-uproxy.log" | sed 's/^/    /'
		fi
	fi
	if [ -n "$T_DIR" ]; then
		if [ -n "${KEEP_TMP:-}" ]; then
			log "kept $T_DIR"
		else
			rm -rf "$T_DIR"
		fi
	fi
	exit "$rc"
}

# Start a scenario: check the tools, make the temp dir, set the trap.
t_begin() {
	[ -n "${KUBE_UPROXY:-}" ] || hard_error "KUBE_UPROXY is not set"
	[ -x "$KUBE_UPROXY" ] || hard_error "$KUBE_UPROXY is not executable"
	command -v "$PYTHON3" >/dev/null || skip "no python3 ($PYTHON3)"
	T_DIR=$(mktemp -d "${TMPDIR:-/tmp}/kube-uproxy-$T_NAME.XXXXXX") ||
	    hard_error "mktemp failed"
	mkdir "$T_DIR/manifests" "$T_DIR/out"
	trap t_cleanup EXIT
	trap 'exit 99' INT TERM HUP
	trap t_abort_from_subshell USR1
	log "temp dir $T_DIR"
}

# --- time and waiting -----------------------------------------------------

now_ms() { date +%s%3N; }

# poll SECONDS COMMAND...: run COMMAND every 50 ms until it succeeds
# (status 0) or SECONDS (may be fractional) pass (status 1).
poll() {
	local deadline=$(( $(now_ms) + $(ms "$1") ))
	shift
	while :; do
		"$@" && return 0
		[ "$(now_ms)" -ge "$deadline" ] && return 1
		sleep 0.05
	done
}

# wait_for SECONDS DESCRIPTION COMMAND...: poll, or fail naming DESCRIPTION.
wait_for() {
	local secs=$1 what=$2
	shift 2
	poll "$secs" "$@" || fail "timed out after ${secs}s waiting for $what"
}

ms() { awk -v s="$1" 'BEGIN { printf "%d", s * 1000 }'; }

# --- tools ----------------------------------------------------------------

client() { "$PYTHON3" "$TOOLS/client.py" "$@"; }

# free_ports N: N ports free for TCP and UDP, one per line.
free_ports() { client free-ports "$1" || hard_error "cannot pick free ports"; }

# backend NAME MODE IP:PORT [backend.py options]: start a pod; its stdout
# (per-connection events) is in $T_DIR/out/NAME.  BACKEND_PREFIX, when
# set, is a command to run it under (e.g. "ip netns exec NS").
backend() {
	local name=$1 mode=$2 addr=$3
	shift 3
	${BACKEND_PREFIX:-} "$PYTHON3" "$TOOLS/backend.py" "$mode" "$addr" \
	    --name "$name" "$@" \
	    >"$T_DIR/out/$name" 2>"$T_DIR/out/$name.err" &
	local pid=$!
	T_PIDS="$T_PIDS $pid"
	local deadline=$(( $(now_ms) + 5000 ))
	until grep -q '^ready$' "$T_DIR/out/$name" 2>/dev/null; do
		kill -0 "$pid" 2>/dev/null ||
		    hard_error "backend $name ($mode on $addr) failed: $(cat "$T_DIR/out/$name.err")"
		[ "$(now_ms)" -ge "$deadline" ] &&
		    hard_error "backend $name ($mode on $addr) not ready after 5s"
		sleep 0.02
	done
}

# --- manifests ------------------------------------------------------------

# write_manifest FILE CONTENT: put CONTENT in the manifest dir atomically
# (write aside, then rename), the way editors and config tools do it.
write_manifest() {
	printf '%s\n' "$2" >"$T_DIR/.manifest.tmp" || hard_error "write $1"
	mv -f "$T_DIR/.manifest.tmp" "$T_DIR/manifests/$1" || hard_error "rename $1"
}

remove_manifest() { rm -f "$T_DIR/manifests/$1"; }

# m_service name=N [ns=default] [ip=198.19.0.10] port=NAME/PROTO/PORT...
#   [affinity=ClientIP] [timeout=SECONDS] [type=NodePort] [nodeport=N]
#   [extip=IP]...
# A Service.  Each port= gives one service port (nodePort only with
# nodeport=, applied to the first port).
m_service() {
	local name="" ns=default ip=198.19.0.10 affinity=None timeout=""
	local type=ClusterIP nodeport="" ports="" extips="" kv pn pp pport
	for kv in "$@"; do
		case $kv in
		name=*) name=${kv#*=} ;;
		ns=*) ns=${kv#*=} ;;
		ip=*) ip=${kv#*=} ;;
		port=*) ports="$ports ${kv#*=}" ;;
		affinity=*) affinity=${kv#*=} ;;
		timeout=*) timeout=${kv#*=} ;;
		type=*) type=${kv#*=} ;;
		nodeport=*) nodeport=${kv#*=} ;;
		extip=*) extips="$extips ${kv#*=}" ;;
		*) hard_error "m_service: unknown argument $kv" ;;
		esac
	done
	cat <<EOF
apiVersion: v1
kind: Service
metadata:
  name: $name
  namespace: $ns
spec:
  type: $type
  clusterIP: $ip
  clusterIPs: [$ip]
  sessionAffinity: $affinity
EOF
	if [ -n "$timeout" ]; then
		printf '  sessionAffinityConfig:\n    clientIP:\n      timeoutSeconds: %s\n' "$timeout"
	fi
	if [ -n "$extips" ]; then
		echo "  externalIPs:"
		for kv in $extips; do echo "  - $kv"; done
	fi
	echo "  ports:"
	local p first=1
	for p in $ports; do
		IFS=/ read -r pn pp pport <<<"$p"
		printf '  - name: %s\n    protocol: %s\n    port: %s\n    targetPort: %s\n' \
		    "$pn" "$pp" "$pport" "$pport"
		if [ $first = 1 ] && [ -n "$nodeport" ]; then
			printf '    nodePort: %s\n' "$nodeport"
		fi
		first=0
	done
}

# m_slice name=SERVICE [slice=NAME] [ns=default] port=NAME/PROTO/PORT...
#   [ep=IP]... [notready=IP]...
# An EndpointSlice of SERVICE; no ep= gives an empty slice.
m_slice() {
	local name="" slice="" ns=default ports="" eps="" notready="" kv p pn pp pport
	for kv in "$@"; do
		case $kv in
		name=*) name=${kv#*=} ;;
		slice=*) slice=${kv#*=} ;;
		ns=*) ns=${kv#*=} ;;
		port=*) ports="$ports ${kv#*=}" ;;
		ep=*) eps="$eps ${kv#*=}" ;;
		notready=*) notready="$notready ${kv#*=}" ;;
		*) hard_error "m_slice: unknown argument $kv" ;;
		esac
	done
	cat <<EOF
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: ${slice:-$name-slice}
  namespace: $ns
  labels:
    kubernetes.io/service-name: $name
addressType: IPv4
ports:
EOF
	for p in $ports; do
		IFS=/ read -r pn pp pport <<<"$p"
		printf -- '- name: %s\n  protocol: %s\n  port: %s\n' "$pn" "$pp" "$pport"
	done
	if [ -z "$eps$notready" ]; then
		echo "endpoints: []"
		return
	fi
	echo "endpoints:"
	for p in $eps; do
		printf -- '- addresses: ["%s"]\n  conditions: {ready: true, serving: true, terminating: false}\n' "$p"
	done
	for p in $notready; do
		printf -- '- addresses: ["%s"]\n  conditions: {ready: false, serving: false, terminating: false}\n' "$p"
	done
}

# --- the daemon -----------------------------------------------------------

# start_proxy [extra flags]: run kube-uproxy on the manifest dir and wait
# until /healthz says 200.  Sets METRICS_URL, HEALTHZ_URL.
start_proxy() {
	local ports
	ports=$(free_ports 2)
	METRICS_PORT=$(echo "$ports" | sed -n 1p)
	HEALTHZ_PORT=$(echo "$ports" | sed -n 2p)
	METRICS_URL=http://127.0.0.1:$METRICS_PORT
	HEALTHZ_URL=http://127.0.0.1:$HEALTHZ_PORT
	$KUBE_UPROXY_WRAP "$KUBE_UPROXY" --iptables none \
	    --manifests "$T_DIR/manifests" \
	    --bind-address 127.0.0.1 \
	    --metrics-bind-address "127.0.0.1:$METRICS_PORT" \
	    --healthz-bind-address "127.0.0.1:$HEALTHZ_PORT" \
	    --v 4 "$@" 2>"$T_DIR/kube-uproxy.log" </dev/null &
	T_DAEMON_PID=$!
	T_PIDS="$T_PIDS $T_DAEMON_PID"
	wait_healthy $((5 * T_SLOW))
}

# stop_proxy: SIGTERM; the daemon must exit 0 within 2 s.
stop_proxy() {
	local pid=$T_DAEMON_PID rc deadline=$(( $(now_ms) + 2000 * T_SLOW ))
	daemon_alive
	kill -TERM "$pid"
	while t_running "$pid"; do
		[ "$(now_ms)" -ge "$deadline" ] && fail "kube-uproxy still running 2 s after SIGTERM"
		sleep 0.05
	done
	wait "$pid"
	rc=$?
	T_DAEMON_PID=""
	t_check_log
	expect_eq "kube-uproxy exit status after SIGTERM" "$rc" 0
}

daemon_alive() {
	t_running "$T_DAEMON_PID" ||
	    fail "kube-uproxy exited early (status $(wait "$T_DAEMON_PID"; echo $?))"
}

healthz_ok() {
	daemon_alive
	[ "$(client http --status "$HEALTHZ_URL/healthz" 2>/dev/null)" = 200 ]
}

wait_healthy() { wait_for "${1:-5}" "/healthz to answer 200" healthz_ok; }

# proxy_port SERVICE PORTNAME: the proxy port from /debug/services, or
# nothing (status 1) when the service port is not there.
proxy_port() {
	client service-field "$METRICS_URL/debug/services" "$1" "$2" proxyPort 2>/dev/null
}

# service_field SERVICE PORTNAME FIELD: any field of the /debug/services object.
service_field() {
	client service-field "$METRICS_URL/debug/services" "$1" "$2" "$3" 2>/dev/null
}

# wait_proxy_port SERVICE PORTNAME [SECONDS]: poll until the service port
# has a proxy port; print it.
wait_proxy_port() {
	local deadline=$(( $(now_ms) + $(ms "${3:-3}") )) pp
	while :; do
		daemon_alive
		pp=$(proxy_port "$1" "$2") && [ -n "$pp" ] && [ "$pp" != null ] &&
		    { echo "$pp"; return 0; }
		[ "$(now_ms)" -ge "$deadline" ] &&
		    fail "service $1 port $2 not in /debug/services after ${3:-3}s"
		sleep 0.05
	done
}

# metric NAME: the value of a /metrics sample (summed over labels).
metric() { client metric "$METRICS_URL/metrics" "$1"; }

# --- assertions -----------------------------------------------------------

expect_eq() {	# expect_eq WHAT GOT WANT
	[ "$2" = "$3" ] || fail "$1: got '$2', wanted '$3'"
}

expect_ne() {	# expect_ne WHAT GOT UNWANTED
	[ "$2" != "$3" ] || fail "$1: got '$2', which it must not be"
}

expect_match() {	# expect_match WHAT GOT EXTENDED-REGEX
	printf '%s\n' "$2" | grep -Eq -- "$3" || fail "$1: '$2' does not match /$3/"
}

expect_lt() {	# expect_lt WHAT GOT LIMIT (integers)
	[ "$2" -lt "$3" ] 2>/dev/null || fail "$1: got $2, wanted less than $3"
}

expect_gt() {	# expect_gt WHAT GOT LIMIT (integers)
	[ "$2" -gt "$3" ] 2>/dev/null || fail "$1: got $2, wanted more than $3"
}

# expect_all WHAT LINES NAME: every line is NAME.
expect_all() {
	local bad
	bad=$(printf '%s\n' "$2" | grep -vxF -- "$3")
	[ -z "$bad" ] && [ -n "$2" ] ||
	    fail "$1: wanted every answer to be '$3', got: $(echo $2)"
}

# is_alternating LINES A B [EACH]: LINES use only A and B, never the same
# twice in a row, and (with EACH) each exactly EACH times.
is_alternating() {
	local lines=$1 a=$2 b=$3 each=${4:-}
	[ -z "$(printf '%s\n' "$lines" | grep -vxF -e "$a" -e "$b")" ] || return 1
	[ -z "$(printf '%s\n' "$lines" | uniq -d)" ] || return 1
	if [ -n "$each" ]; then
		[ "$(printf '%s\n' "$lines" | grep -cxF -- "$a")" = "$each" ] || return 1
		[ "$(printf '%s\n' "$lines" | grep -cxF -- "$b")" = "$each" ] || return 1
	fi
	return 0
}

expect_alternating() {	# expect_alternating WHAT LINES A B [EACH]
	is_alternating "$2" "$3" "$4" "${5:-}" ||
	    fail "$1: wanted $3 and $4 alternating${5:+ ($5 each)}, got: $(echo $2)"
}

# log_count REGEX: matching lines in the daemon log.
log_count() { grep -cE -- "$1" "$T_DIR/kube-uproxy.log"; }
