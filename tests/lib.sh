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

# ===========================================================================
# --- the Kubernetes API source: fake kube-apiserver helpers ----------------
# ===========================================================================
# Used by tests/integration/api_*.sh.  tests/fakeapi/fakeapi.py serves the
# API on 127.0.0.1 (HTTPS, throwaway CA, bearer token from a file); its
# plain-HTTP control port takes objects and faults (tests/fakeapi/README.md).
# The daemon runs exactly as with manifests (--iptables none, proxy ports
# in /debug/services), only its source is --kubeconfig / $KUBECONFIG /
# in-cluster instead of --manifests.  Nothing here changes the functions
# above.

API_DIR=""		# fakeapi --state-dir: ports.json, ca.crt, kubeconfig...
API_PORT=""		# API port (https://127.0.0.1:API_PORT)
API_URL=""
CTL_URL=""		# control: http://127.0.0.1:CONTROL
API_TOKEN=""		# the token in $API_DIR/token (when started with one)
API_KUBECONFIG=""	# $API_DIR/kubeconfig: tokenFile user, CA file
FAKEAPI_PID=""
PROXY_ENV=()		# extra VAR=value for the daemon (api_* launchers)

# The control client, written to $T_DIR once: HTTP requests to the control
# port, JSON field extraction, labelled /metrics samples.
t_apictl() {
	[ -f "$T_DIR/apictl.py" ] || cat >"$T_DIR/apictl.py" <<'PYEOF'
import json, re, sys, urllib.error, urllib.request
def req(method, url, body=None):
    data = body.encode() if body is not None else None
    r = urllib.request.Request(url, data=data, method=method,
                               headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(r, timeout=30) as f:
            return f.status, f.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
cmd = sys.argv[1]
if cmd == "req":
    body = sys.argv[4] if len(sys.argv) > 4 else None
    if body and body.startswith("@"):   # @FILE: big bodies (ARG_MAX)
        with open(body[1:]) as f:
            body = f.read()
    st, body = req(sys.argv[2], sys.argv[3], body)
    sys.stdout.write(body)
    if not 200 <= st < 300:
        sys.stderr.write("status %d: %s" % (st, body))
        sys.exit(1)
elif cmd == "jq":
    d = json.load(sys.stdin)
    v = eval(sys.argv[2], {"d": d, "len": len, "sorted": sorted,
                           "sum": sum, "max": max, "min": min})
    if isinstance(v, (list, tuple)) and sys.argv[3:] == ["lines"]:
        for x in v:
            print(x if isinstance(x, str) else json.dumps(x))
    else:
        print(v if isinstance(v, str) else json.dumps(v))
elif cmd == "requests":
    import os, urllib.parse
    for r in json.load(sys.stdin)["recent"]:
        line = urllib.parse.unquote(r["req"])
        if os.environ.get("API_SUB", "") in line:
            print("%d %d %s %s" % (r["t"] * 1000, r["status"], line, r["ua"]))
elif cmd == "metric":
    # metric URL NAME [label=value]...: sum of the matching samples;
    # "ABSENT" when no sample of NAME matches.
    st, body = req("GET", sys.argv[2])
    want = [a.split("=", 1) for a in sys.argv[4:]]
    tot, seen = 0.0, False
    for line in body.splitlines():
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)',
                     line)
        if not m or m.group(1) != sys.argv[3]:
            continue
        labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)"',
                                 m.group(3) or ""))
        if all(labels.get(k) == v for k, v in want):
            tot += float(m.group(4))
            seen = True
    print((int(tot) if tot.is_integer() else tot) if seen else "ABSENT")
PYEOF
	"$PYTHON3" "$T_DIR/apictl.py" "$@"
}

# fakeapi_start [--open] [fakeapi.py options]: start the fake API server
# with its state in $T_DIR/api and wait for ports.json.  Unless --open, it
# accepts the bearer token in $T_DIR/api/token (API_TOKEN; rotate with
# api_rotate_token).  Sets API_DIR API_PORT API_URL CTL_URL API_KUBECONFIG.
fakeapi_start() {
	local open=0
	[ "${1:-}" = --open ] && { open=1; shift; }
	API_DIR=$T_DIR/api
	mkdir -p "$API_DIR"
	local auth=()
	if [ $open = 0 ]; then
		API_TOKEN=tok-$RANDOM$RANDOM$RANDOM
		printf '%s\n' "$API_TOKEN" >"$API_DIR/token"
		auth=(--token-file "$API_DIR/token")
	fi
	"$PYTHON3" "$TESTS_SRCDIR/fakeapi/fakeapi.py" --state-dir "$API_DIR" \
	    ${auth[@]+"${auth[@]}"} "$@" 2>"$T_DIR/fakeapi.log" </dev/null &
	FAKEAPI_PID=$!
	T_PIDS="$T_PIDS $FAKEAPI_PID"
	local deadline=$(( $(now_ms) + 20000 ))
	until [ -s "$API_DIR/ports.json" ]; do
		t_running "$FAKEAPI_PID" ||
		    hard_error "fakeapi failed: $(tail -n 5 "$T_DIR/fakeapi.log")"
		[ "$(now_ms)" -ge "$deadline" ] &&
		    hard_error "fakeapi not listening after 20s"
		sleep 0.05
	done
	API_PORT=$(t_apictl jq 'd["api"]' <"$API_DIR/ports.json")
	CTL_URL=http://127.0.0.1:$(t_apictl jq 'd["control"]' <"$API_DIR/ports.json")
	API_URL=$(t_apictl jq 'd["scheme"]' <"$API_DIR/ports.json")://127.0.0.1:$API_PORT
	API_KUBECONFIG=$API_DIR/kubeconfig
	log "fakeapi on $API_URL, control $CTL_URL"
}

# api_ctl METHOD PATH [JSON|@FILE]: a control request; prints the JSON
# answer, fails the test unless it is 2xx.  Bodies over 100 KiB must come
# from a file (@FILE): a command-line argument is limited to 128 KiB.
api_ctl() {
	local out
	if [ -n "$T_CURL" ]; then
		# curl when there is one: 10 ms instead of 100 for Python,
		# which matters for the "within 1 s" measurements.
		local data=()
		case ${3:-} in
		"") ;;
		@*) data=(--data-binary "$3") ;;
		*) data=(--data-binary @-) ;;
		esac
		out=$(printf '%s' "${3:-}" | "$T_CURL" -sS -m 30 -X "$1" \
		    -H 'Content-Type: application/json' ${data[@]+"${data[@]}"} \
		    -w '\n%{http_code}' "$CTL_URL$2" 2>&1)
		case ${out##*$'\n'} in
		2??) out=${out%$'\n'*} ;;
		*) fail "fakeapi control $1 $2 failed: $out" ;;
		esac
	else
		out=$(t_apictl req "$1" "$CTL_URL$2" "${3:-}" 2>&1) ||
		    fail "fakeapi control $1 $2 failed: $out"
	fi
	printf '%s\n' "$out"
}
T_CURL=$(command -v curl 2>/dev/null)
api_post() {
	local body='{}'
	[ $# -ge 2 ] && body=$2
	api_ctl POST "$1" "$body" >/dev/null
}

# api_apply JSON...: upsert objects (ADDED or MODIFIED events).
api_apply() {
	local o
	for o in "$@"; do api_ctl POST /objects "$o" >/dev/null; done
}

# api_delete RESOURCE NS NAME: delete an object (a DELETED event).
api_delete() { api_ctl DELETE "/objects/$1/$2/$3" >/dev/null; }

# api_rotate_token: a new token for the server and its token file.
api_rotate_token() {
	API_TOKEN=tok-$RANDOM$RANDOM$RANDOM
	api_post /token "{\"token\":\"$API_TOKEN\"}"
}

# jget EXPR [lines]: evaluate a Python expression on the JSON document on
# stdin bound to d (strings printed raw; with "lines" a list one per line).
jget() { t_apictl jq "$@"; }

# api_counter EXPR: a value from fakeapi's GET /counters, e.g.
#   api_counter 'd["watches_by_resource"].get("services", 0)'
api_counter() { api_ctl GET /counters | jget "$1"; }

# api_watching N: at least N watches open besides the one on our own Node
# (kube-uproxy watches /api/v1/nodes too since issue 12; its backoff is
# its own, so "the Service and slice watches are open" is this, not a
# count of every watch).  For wait_for.
api_watching() {
	daemon_alive
	[ "$(api_counter 'd["active_watches"] - d["active_watches_by_resource"].get("nodes", 0)')" -ge "$1" ]
}

# api_requests [SUBSTRING]: the recent requests fakeapi saw (oldest first),
# one per line: "TIME_MS STATUS GET /path?query USER-AGENT", the query
# percent-decoded, only those whose decoded "GET /path?query" contains
# SUBSTRING.
api_requests() {
	api_ctl GET /counters | API_SUB=${1:-} t_apictl requests
}

# api_metric NAME [label=value]...: the sum of the daemon's /metrics
# samples of NAME whose labels include every label=value; 0 when none
# (a labelled counter may appear only at its first increment).
api_metric() {
	local v
	v=$(t_apictl metric "$METRICS_URL/metrics" "$@" 2>/dev/null) ||
	    { echo ERROR; return 1; }
	[ "$v" = ABSENT ] && v=0
	echo "$v"
}

# api_metric_is VALUE NAME [label=value]...: for wait_for.
api_metric_is() {
	local want=$1
	shift
	daemon_alive
	[ "$(api_metric "$@")" = "$want" ]
}

# api_metric_above LIMIT NAME [label=value]...: for wait_for (integers).
api_metric_above() {
	local limit=$1 v
	shift
	daemon_alive
	v=$(api_metric "$@")
	[ "$v" -gt "$limit" ] 2>/dev/null
}

# --- object generators (JSON, one object per call, kind included) --------

# j_labels "K=V ...": a JSON labels object body (no braces).
t_jlabels() {
	local kv sep=""
	for kv in $1; do
		printf '%s"%s":"%s"' "$sep" "${kv%%=*}" "${kv#*=}"
		sep=,
	done
}

# j_service name=N [ns=default] [ip=198.19.0.10] port=NAME/PROTO/PORT...
#   [affinity=ClientIP] [type=NodePort] [nodeport=N] [label=K=V]...
# The JSON twin of m_service.
j_service() {
	local name="" ns=default ip=198.19.0.10 affinity=None type=ClusterIP
	local nodeport="" ports="" labels="" kv pn pp pport p sep="" first=1
	for kv in "$@"; do
		case $kv in
		name=*) name=${kv#*=} ;;
		ns=*) ns=${kv#*=} ;;
		ip=*) ip=${kv#*=} ;;
		port=*) ports="$ports ${kv#*=}" ;;
		affinity=*) affinity=${kv#*=} ;;
		type=*) type=${kv#*=} ;;
		nodeport=*) nodeport=${kv#*=} ;;
		label=*) labels="$labels ${kv#*=}" ;;
		*) hard_error "j_service: unknown argument $kv" ;;
		esac
	done
	printf '{"apiVersion":"v1","kind":"Service","metadata":{"name":"%s","namespace":"%s","labels":{%s}},' \
	    "$name" "$ns" "$(t_jlabels "$labels")"
	printf '"spec":{"type":"%s","clusterIP":"%s","clusterIPs":["%s"],"sessionAffinity":"%s","ports":[' \
	    "$type" "$ip" "$ip" "$affinity"
	for p in $ports; do
		IFS=/ read -r pn pp pport <<<"$p"
		printf '%s{"name":"%s","protocol":"%s","port":%s,"targetPort":%s' \
		    "$sep" "$pn" "$pp" "$pport" "$pport"
		[ $first = 1 ] && [ -n "$nodeport" ] && printf ',"nodePort":%s' "$nodeport"
		printf '}'
		sep=, first=0
	done
	printf ']}}\n'
}

# j_slice name=SERVICE [slice=NAME] [ns=default] port=NAME/PROTO/PORT...
#   [ep=IP]... [notready=IP]... [label=K=V]...
# The JSON twin of m_slice.
j_slice() {
	local name="" slice="" ns=default ports="" eps="" notready="" labels=""
	local kv p pn pp pport sep=""
	for kv in "$@"; do
		case $kv in
		name=*) name=${kv#*=} ;;
		slice=*) slice=${kv#*=} ;;
		ns=*) ns=${kv#*=} ;;
		port=*) ports="$ports ${kv#*=}" ;;
		ep=*) eps="$eps ${kv#*=}" ;;
		notready=*) notready="$notready ${kv#*=}" ;;
		label=*) labels="$labels ${kv#*=}" ;;
		*) hard_error "j_slice: unknown argument $kv" ;;
		esac
	done
	printf '{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"%s","namespace":"%s","labels":{%s}},"addressType":"IPv4","ports":[' \
	    "${slice:-$name-slice}" "$ns" \
	    "$(t_jlabels "kubernetes.io/service-name=$name $labels")"
	for p in $ports; do
		IFS=/ read -r pn pp pport <<<"$p"
		printf '%s{"name":"%s","protocol":"%s","port":%s}' "$sep" "$pn" "$pp" "$pport"
		sep=,
	done
	printf '],"endpoints":['
	sep=""
	for p in $eps; do
		printf '%s{"addresses":["%s"],"conditions":{"ready":true,"serving":true,"terminating":false}}' "$sep" "$p"
		sep=,
	done
	for p in $notready; do
		printf '%s{"addresses":["%s"],"conditions":{"ready":false,"serving":false,"terminating":false}}' "$sep" "$p"
		sep=,
	done
	printf ']}\n'
}

# j_endpoints name=SERVICE [ns=default] port=NAME/PROTO/PORT... [ep=IP]...
#   [notready=IP]...
# A v1 Endpoints object (one subset) for servers without EndpointSlices.
j_endpoints() {
	local name="" ns=default ports="" eps="" notready="" kv p pn pp pport sep=""
	for kv in "$@"; do
		case $kv in
		name=*) name=${kv#*=} ;;
		ns=*) ns=${kv#*=} ;;
		port=*) ports="$ports ${kv#*=}" ;;
		ep=*) eps="$eps ${kv#*=}" ;;
		notready=*) notready="$notready ${kv#*=}" ;;
		*) hard_error "j_endpoints: unknown argument $kv" ;;
		esac
	done
	printf '{"apiVersion":"v1","kind":"Endpoints","metadata":{"name":"%s","namespace":"%s"},"subsets":[{"addresses":[' \
	    "$name" "$ns"
	for p in $eps; do printf '%s{"ip":"%s"}' "$sep" "$p"; sep=,; done
	printf '],"notReadyAddresses":['
	sep=""
	for p in $notready; do printf '%s{"ip":"%s"}' "$sep" "$p"; sep=,; done
	printf '],"ports":['
	sep=""
	for p in $ports; do
		IFS=/ read -r pn pp pport <<<"$p"
		printf '%s{"name":"%s","protocol":"%s","port":%s}' "$sep" "$pn" "$pp" "$pport"
		sep=,
	done
	printf ']}]}\n'
}

# --- the daemon on the API --------------------------------------------------

# start_proxy_nowait [flags]: run kube-uproxy with no --manifests (the source
# comes from the flags, $KUBECONFIG or the in-cluster environment) and do
# not wait.  The caller's KUBECONFIG, KUBERNETES_SERVICE_HOST/_PORT and
# KUBE_UPROXY_SERVICEACCOUNT_DIR are removed; PROXY_ENV=(VAR=value...) adds
# variables.  Sets METRICS_URL, HEALTHZ_URL, T_DAEMON_PID.
start_proxy_nowait() {
	local ports
	ports=$(free_ports 2)
	METRICS_PORT=$(echo "$ports" | sed -n 1p)
	HEALTHZ_PORT=$(echo "$ports" | sed -n 2p)
	METRICS_URL=http://127.0.0.1:$METRICS_PORT
	HEALTHZ_URL=http://127.0.0.1:$HEALTHZ_PORT
	env -u KUBECONFIG -u KUBERNETES_SERVICE_HOST -u KUBERNETES_SERVICE_PORT \
	    -u KUBE_UPROXY_SERVICEACCOUNT_DIR ${PROXY_ENV[@]+"${PROXY_ENV[@]}"} \
	    $KUBE_UPROXY_WRAP "$KUBE_UPROXY" --iptables none \
	    --bind-address 127.0.0.1 \
	    --metrics-bind-address "127.0.0.1:$METRICS_PORT" \
	    --healthz-bind-address "127.0.0.1:$HEALTHZ_PORT" \
	    --v 4 "$@" 2>>"$T_DIR/kube-uproxy.log" </dev/null &
	T_DAEMON_PID=$!
	T_PIDS="$T_PIDS $T_DAEMON_PID"
}

# start_proxy_api KUBECONFIG [flags]: the daemon on the API through that
# kubeconfig; waits (15 s) for /healthz 200, i.e. both initial lists done.
start_proxy_api() {
	local kc=$1
	shift
	start_proxy_nowait --kubeconfig "$kc" "$@"
	wait_healthy $((15 * T_SLOW))
}

# run_proxy_exit [flags]: run the daemon in the foreground (PROXY_ENV as
# above, 10 s at most); sets RUN_RC and RUN_ERR (its stderr).
run_proxy_exit() {
	local ports
	ports=$(free_ports 2)
	RUN_ERR=$(env -u KUBECONFIG -u KUBERNETES_SERVICE_HOST \
	    -u KUBERNETES_SERVICE_PORT -u KUBE_UPROXY_SERVICEACCOUNT_DIR \
	    ${PROXY_ENV[@]+"${PROXY_ENV[@]}"} \
	    timeout -s KILL $((10 * T_SLOW)) $KUBE_UPROXY_WRAP "$KUBE_UPROXY" \
	    --iptables none --bind-address 127.0.0.1 \
	    --metrics-bind-address "127.0.0.1:$(echo "$ports" | sed -n 1p)" \
	    --healthz-bind-address "127.0.0.1:$(echo "$ports" | sed -n 2p)" \
	    "$@" 2>&1 >/dev/null </dev/null)
	RUN_RC=$?
	printf '%s\n' "$RUN_ERR" >>"$T_DIR/kube-uproxy.log"
}

healthz_status() {
	client http --status "$HEALTHZ_URL/healthz" 2>/dev/null
}
healthz_is() { daemon_alive; [ "$(healthz_status)" = "$1" ]; }

# The checks below run in bash (/dev/tcp, curl) rather than in Python so
# that polling them every 50 ms measures the daemon, not the interpreter.

# t_outcome PORT: connect to 127.0.0.1:PORT and read a line (1 s): prints
# the line, "eof", "refused" or "timeout".
t_outcome() {
	local fd line="" rc
	# (a redirection of exec itself would stay for the whole shell)
	{ exec {fd}<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || { echo refused; return; }
	read -r -t 1 -u "$fd" line 2>/dev/null
	rc=$?
	exec {fd}>&-
	if [ -n "$line" ]; then echo "$line"
	elif [ $rc -gt 128 ]; then echo timeout
	else echo eof
	fi
}

# names_are PROXYPORT N WANT: N connections all answered by backend WANT.
names_are() {
	local i
	for i in $(seq "$2"); do
		[ "$(t_outcome "$1")" = "$3" ] || return 1
	done
}

# refused PROXYPORT: a connection is refused, or closed (reset) at once.
refused() {
	case $(t_outcome "$1") in refused|eof) return 0 ;; esac
	return 1
}

# fast_proxy_port SERVICE PORTNAME: proxy_port through curl and a regex on
# the compact /debug/services (Python's proxy_port without curl, or when
# the regex does not fit the output).
fast_proxy_port() {
	local body pp
	[ -n "$T_CURL" ] || { proxy_port "$1" "$2"; return; }
	body=$("$T_CURL" -sS -m 5 "$METRICS_URL/debug/services" 2>/dev/null) || return 1
	pp=$(printf '%s' "$body" | grep -oE "\"service\": *\"$1\", *\"portName\": *\"$2\"[^{}]*\"proxyPort\": *[0-9]+" |
	    grep -oE '[0-9]+$')
	if [ -z "$pp" ] && printf '%s' "$body" | grep -q "\"$1\""; then
		proxy_port "$1" "$2"
		return
	fi
	[ -n "$pp" ] && echo "$pp"
}

# port_gone SERVICE PORTNAME: the service port left /debug/services.
port_gone() {
	local body
	daemon_alive
	if [ -n "$T_CURL" ]; then
		body=$("$T_CURL" -sS -m 5 "$METRICS_URL/debug/services" 2>/dev/null) || return 1
		printf '%s' "$body" | grep -qF "\"$1\"" || return 0
	fi
	! proxy_port "$1" "$2" >/dev/null
}

# hold_open PROXYPORT: open a connection (to a tcp-echo backend) through
# the proxy and keep it; sets HELD_FD.  held_echo checks it still relays.
hold_open() {
	exec {HELD_FD}<>"/dev/tcp/127.0.0.1/$1" ||
	    fail "cannot connect to proxy port $1"
	held_echo first || fail "the held connection does not echo"
}
held_echo() {
	local line=""
	printf '%s\n' "${1:-ping}" >&"$HELD_FD" 2>/dev/null || return 1
	read -r -t 3 -u "$HELD_FD" line || return 1
	[ "$line" = "${1:-ping}" ]
}

# debug_ports: "service port proxyPort" lines from /debug/services, sorted,
# to compare before and after a relist.
debug_ports() {
	client http "$METRICS_URL/debug/services" |
	    jget "sorted('%s %s %s' % (o['service'], o.get('portName', ''), o['proxyPort']) for o in d)" lines
}

# write_lb_local PORT HC NODEPORT: lb.yaml, a LoadBalancer Service
# default/lb (cluster IP 198.19.0.10, externalTrafficPolicy Local, health
# check node port HC, port web 80 -> PORT, nodePort NODEPORT) with one
# endpoint, 127.0.0.11 on node-a (start the daemon with
# --hostname-override node-a for it to be local).
write_lb_local() {
	write_manifest lb.yaml "apiVersion: v1
kind: Service
metadata: {name: lb, namespace: default}
spec:
  type: LoadBalancer
  clusterIP: 198.19.0.10
  externalTrafficPolicy: Local
  healthCheckNodePort: $2
  ports: [{name: web, protocol: TCP, port: 80, targetPort: $1, nodePort: $3}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: lb-1, namespace: default, labels: {kubernetes.io/service-name: lb}}
addressType: IPv4
ports: [{name: web, protocol: TCP, port: $1}]
endpoints: [{addresses: [127.0.0.11], nodeName: node-a}]"
}
