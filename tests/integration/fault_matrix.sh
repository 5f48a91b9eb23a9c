#!/bin/bash
# fault_matrix.sh - the daemon survives failing system and library calls and
# serves again as soon as they stop failing (issue 11, point 7).
#
# kube-uproxy runs under the fault-injection shim (tests/tools/faultinj.c,
# LD_PRELOAD) with a TCP echo and a UDP echo Service on loopback, two
# backends each, and traffic flowing (tests/soak/traffic.py load).  Each
# cell of the matrix arms one fault for FAULT_SECONDS (default 3) through
# the shim's control file, then clears it, and requires:
#   - the daemon still runs (a crash is reported, and the daemon restarted
#     for the next cell);
#   - the fault was injected at least once (else the cell proves nothing);
#   - a TCP and a UDP round trip work within 1 s of the clear;
#   - once the traffic stops, open fds and RSS are back near their level
#     before the fault (fds +FD_SLACK, RSS +RSS_SLACK_KB).
# A table "cell  outcome  details" is printed at the end.  Cells listed in
# fault_matrix.xfail (a known defect whose fix is not merged yet, named
# there) are reported XFAIL and do not fail the test; a listed cell that
# passes is reported XPASS (remove it from the list).  FAULT_CELLS="a b"
# runs only those cells.  The libiptc commit and the xtables lock are
# tested in tests/e2e/fault_rules.sh (they need a network namespace).

TESTS_SRCDIR=${TESTS_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
. "$TESTS_SRCDIR/lib.sh"

SHIM=${FAULTINJ_SO:-${TESTS_BUILDDIR:-$TESTS_SRCDIR}/tools/faultinj.so}
FAULT_SECONDS=${FAULT_SECONDS:-2}
FD_SLACK=${FD_SLACK:-4}
FRESH_FD_SLACK=${FRESH_FD_SLACK:-16}
LOG_LIMIT=${LOG_LIMIT:-1000}
# A daemon retrying a failing call at once spins a CPU: a million calls in
# the fault's 2 s (recvmmsg ENOMEM did).  Far above what traffic causes.
CALL_LIMIT=${CALL_LIMIT:-200000}
RSS_SLACK_KB=${RSS_SLACK_KB:-4096}
XFAIL_FILE=$TESTS_SRCDIR/integration/fault_matrix.xfail
TRAFFIC=$TESTS_SRCDIR/soak/traffic.py

[ -z "$KUBE_UPROXY_WRAP" ] ||
    skip "the daemon runs under '$KUBE_UPROXY_WRAP': the shim must be its first preload"
[ -f "$SHIM" ] || skip "no $SHIM (make check builds it)"
if ldd "$KUBE_UPROXY" 2>/dev/null | grep -qE 'lib(a|ub|t)san'; then
	skip "sanitizer build: an LD_PRELOAD shim cannot come before the sanitizer runtime"
fi

# The matrix: NAME|RULES|OPTIONS.  RULES are the control file's rule lines,
# ';' between them (the "armed" line is added); rates use a fixed seed, so
# the same calls fail each run.  OPTIONS: "splice" runs the daemon with
# --relay splice (pipes, splice(2)) instead of the default copy relay;
# "fresh" starts a new daemon for the cell (empty pipe pool: pipe2 is only
# called when the pool is empty), with FRESH_FD_SLACK more fds allowed for
# the pool it fills after the clear; "noadmin" skips the /livez probe
# during the fault (every accept fails, or every allocation: an HTTP
# request cannot even be read then);
# "adminwait" keeps a client waiting on the healthz port during the fault
# (a kubelet probe).  Every cell also counts the log lines written during
# the fault: more than LOG_LIMIT (1000) is a log flood; more than
# CALL_LIMIT failed calls is a retry spin.
CELLS=(
	"socket-EMFILE|socket errno=EMFILE|"
	"accept4-EMFILE|accept4 errno=EMFILE|noadmin"
	"accept4-EMFILE-admin|accept4 errno=EMFILE|noadmin adminwait"
	"connect-ECONNREFUSED|connect errno=ECONNREFUSED|"
	"connect-EADDRNOTAVAIL-1in2|connect errno=EADDRNOTAVAIL rate=2 seed=4|"
	"sendmmsg-ENOBUFS|sendmmsg errno=ENOBUFS|"
	"sendmmsg-EAGAIN-1in2|sendmmsg errno=EAGAIN rate=2 seed=7|"
	"recvmmsg-ENOMEM|recvmmsg errno=ENOMEM|"
	"recvmmsg-EAGAIN-1in2|recvmmsg errno=EAGAIN rate=2 seed=8|"
	"fd-exhaustion|socket errno=EMFILE;accept4 errno=EMFILE;pipe2 errno=EMFILE|noadmin"
	"malloc-1in200|malloc rate=200 seed=9|"
	"malloc-every|malloc|noadmin"
	"pipe2-EMFILE|pipe2 errno=EMFILE|splice fresh"
	"splice-ENOMEM|splice errno=ENOMEM|splice"
	"splice-EAGAIN-1in3|splice errno=EAGAIN rate=3 seed=5|splice"
	"fd-exhaustion-splice|socket errno=EMFILE;accept4 errno=EMFILE;pipe2 errno=EMFILE|splice noadmin"
)

t_begin
CTL=$T_DIR/faults.ctl
KUBE_UPROXY_WRAP="env LD_PRELOAD=$SHIM FAULTINJ_CTL=$CTL"

ports=$(free_ports 2)
TPORT=$(echo "$ports" | sed -n 1p)
UPORT=$(echo "$ports" | sed -n 2p)
backend e1 tcp-echo "127.0.0.2:$TPORT"
backend e2 tcp-echo "127.0.0.3:$TPORT"
backend u1 udp-echo-name "127.0.0.2:$UPORT"
backend u2 udp-echo-name "127.0.0.3:$UPORT"
write_manifest echo.yaml "$(m_service name=echo port=tcp/TCP/$TPORT port=udp/UDP/$UPORT)
---
$(m_slice name=echo port=tcp/TCP/$TPORT port=udp/UDP/$UPORT ep=127.0.0.2 ep=127.0.0.3)"

# launch [copy|splice]: a new daemon (the old one stopped if running).
MODE=""
launch() {
	MODE=${1:-copy}
	if [ -n "$T_DAEMON_PID" ] && t_running "$T_DAEMON_PID"; then
		kill -TERM "$T_DAEMON_PID"
		wait "$T_DAEMON_PID" 2>/dev/null
	fi
	: >"$CTL"
	rm -f "$CTL.stats"
	start_proxy --v 1 --relay "$MODE"
	TCP_PP=$(wait_proxy_port default/echo tcp)
	UDP_PP=$(wait_proxy_port default/echo udp)
}

fd_count() { ls "/proc/$T_DAEMON_PID/fd" 2>/dev/null | wc -l; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$T_DAEMON_PID/status" 2>/dev/null; }

# load_start / load_stop: background traffic; load_stop leaves its summary
# in $T_DIR/load.json.
load_start() {
	"$PYTHON3" "$TRAFFIC" load --tcp "127.0.0.1:$TCP_PP" \
	    --udp "127.0.0.1:$UDP_PP" --workers 2 --out "$T_DIR/load.json" \
	    >"$T_DIR/load.out" 2>&1 &
	LOAD_PID=$!
	T_PIDS="$T_PIDS $LOAD_PID"
	poll 5 grep -q ready "$T_DIR/load.out" || hard_error "traffic.py load did not start"
}
load_stop() {
	kill -TERM "$LOAD_PID" 2>/dev/null
	wait "$LOAD_PID" 2>/dev/null
}

# settle: traffic stopped, wait until the fd count stops moving (UDP flows
# expire after --udp-timeout, closed relays return their pipes), 3 s at most.
settle() {
	local prev=-1 n i
	for i in $(seq 30); do
		sleep 0.2
		n=$(fd_count)
		[ "$n" = "$prev" ] && [ "$i" -ge 3 ] && break
		prev=$n
	done
}

# livez: the status of GET /livez as the kubelet's liveness probe sees
# it: 200 if one of 3 tries (3 s each) answers 200 (failureThreshold 3:
# the kubelet restarts a container only after 3 failures in a row), else
# the last answer or an error.  With one allocation in 200 failing, one
# request in 30 or so is refused (each takes a few allocations).
livez() {
	local code i
	for i in 1 2 3; do
		if [ -n "$T_CURL" ]; then
			code=$("$T_CURL" -s -m 3 -o /dev/null -w '%{http_code}' \
			    "$HEALTHZ_URL/livez" 2>/dev/null)
		else
			code=$(client http --status "$HEALTHZ_URL/livez" 2>/dev/null)
		fi
		[ "$code" = 200 ] && break
	done
	echo "${code:-000}"
}

injected() {	# the shim's count of injected failures, all functions
	awk '{ s += $3 } END { print s + 0 }' "$CTL.stats" 2>/dev/null || echo 0
}

is_xfail() { grep -qE "^$1([[:space:]]|\$)" "$XFAIL_FILE" 2>/dev/null; }

RESULTS=()
NFAIL=0
record() {	# record CELL OK(0/1) DETAILS
	local cell=$1 ok=$2 details=$3 outcome
	if [ "$ok" = 1 ]; then
		outcome=ok
		is_xfail "$cell" && outcome=XPASS
	elif is_xfail "$cell"; then
		outcome=XFAIL
	else
		outcome=FAIL
		NFAIL=$((NFAIL + 1))
	fi
	RESULTS+=("$(printf '%-28s %-6s %s' "$cell" "$outcome" "$details")")
	log "cell $cell: $outcome: $details"
}

launch
# Warm up (pipe pool, UDP flows, allocator arenas) so the baselines are
# the steady state, not the first use.
load_start
sleep 2
load_stop
# Both kinds of traffic must work before any fault, or no cell means anything.
read -r wtcp wudp < <(jget '"%d %d" % (d["tcp_ok"], d["udp_ok"])' <"$T_DIR/load.json")
[ "${wtcp:-0}" -gt 0 ] && [ "${wudp:-0}" -gt 0 ] ||
    hard_error "no fault armed, yet traffic fails: tcp ok ${wtcp:-?}, udp ok ${wudp:-?} ($(cat "$T_DIR/load.json"))"
settle
FD0=$(fd_count) RSS0=$(rss_kb)
log "after warm-up: $FD0 fds, RSS $RSS0 kB"

for cell in "${CELLS[@]}"; do
	IFS='|' read -r name rules opts <<<"$cell"
	if [ -n "${FAULT_CELLS:-}" ] && ! [[ " $FAULT_CELLS " == *" $name "* ]]; then
		continue
	fi
	want=copy
	[[ " $opts " == *" splice "* ]] && want=splice
	if [[ " $opts " == *" fresh "* ]] || [ "$want" != "$MODE" ] ||
	    ! t_running "$T_DAEMON_PID"; then
		launch "$want"
		if ! [[ " $opts " == *" fresh "* ]]; then
			load_start; sleep 1; load_stop
		fi
	fi
	settle
	rm -f "$CTL.stats"
	fd_before=$(fd_count) rss_before=$(rss_kb)
	# Fresh cells arm first: the load's first connections must meet the
	# fault (they fill the pipe pool otherwise).
	[[ " $opts " == *" fresh "* ]] || { load_start; sleep 0.5; }
	lines0=$(wc -l <"$T_DIR/kube-uproxy.log")
	cpu0=$(awk '{ print $14 + $15 }' "/proc/$T_DAEMON_PID/stat")
	printf 'armed\n%s\n' "$(printf '%s' "$rules" | tr ';' '\n')" >"$CTL.tmp"
	mv -f "$CTL.tmp" "$CTL"
	[[ " $opts " == *" fresh "* ]] && load_start
	AFD=""
	if [[ " $opts " == *" adminwait "* ]]; then
		sleep 0.2
		exec {AFD}<>"/dev/tcp/127.0.0.1/$HEALTHZ_PORT"
	fi
	sleep "$FAULT_SECONDS"
	loglines=$(( $(wc -l <"$T_DIR/kube-uproxy.log") - lines0 ))
	cpu=$(( $(awk '{ print $14 + $15 }' "/proc/$T_DAEMON_PID/stat" 2>/dev/null || echo "$cpu0") - cpu0 ))
	[ -z "$AFD" ] || exec {AFD}>&-
	# Did the admin side stay responsive while the fault lasted?
	live=200
	[[ " $opts " == *" noadmin "* ]] || live=$(livez)
	rec=$("$PYTHON3" "$TRAFFIC" recover --ctl "$CTL" \
	    --tcp "127.0.0.1:$TCP_PP" --udp "127.0.0.1:$UDP_PP" --limit 5)
	sleep 0.5
	load_stop
	if ! t_running "$T_DAEMON_PID"; then
		wait "$T_DAEMON_PID" 2>/dev/null
		st=$?
		sig=""
		[ "$st" -gt 128 ] && sig=" (signal $((st - 128)))"
		record "$name" 0 "CRASH: exit status $st$sig, $(injected) injected"
		cp "$T_DIR/kube-uproxy.log" "$T_DIR/out/crash-$name.log"
		log "last lines of the log:"
		tail -n 5 "$T_DIR/kube-uproxy.log" | sed 's/^/    /'
		T_DAEMON_PID=""
		continue
	fi
	settle
	fd_after=$(fd_count) rss_after=$(rss_kb)
	n=$(injected)
	read -r tcp_ms udp_ms < <(printf '%s' "$rec" | jget '"%d %d" % (d["tcp_ms"], d["udp_ms"])')
	read -r oks errs < <(jget '"%d %d" % (d["tcp_ok"] + d["udp_ok"], sum(d["errors"].values()))' \
	    <"$T_DIR/load.json" 2>/dev/null)
	: "${tcp_ms:=-1}" "${udp_ms:=-1}"
	details="[$MODE] injected $n; log +$loglines lines, cpu ${cpu}0ms; back tcp ${tcp_ms}ms udp ${udp_ms}ms; fds $fd_before->$fd_after; RSS ${rss_before}->${rss_after}kB; load ok $oks err $errs"
	why=""
	[ "$n" -gt 0 ] || why="$why; nothing injected"
	{ [ "$tcp_ms" -ge 0 ] && [ "$tcp_ms" -le 1000 ]; } ||
	    why="$why; TCP not served within 1 s"
	{ [ "$udp_ms" -ge 0 ] && [ "$udp_ms" -le 1000 ]; } ||
	    why="$why; UDP not served within 1 s"
	slack=$FD_SLACK
	# Splice relays keep up to two pipes per connection in flight.
	[ "$MODE" = splice ] && slack=$((FD_SLACK * 2))
	[[ " $opts " == *" fresh "* ]] && slack=$((slack + FRESH_FD_SLACK))
	[ "$fd_after" -le $((fd_before + slack)) ] || why="$why; fd growth"
	[ "$rss_after" -le $((rss_before + RSS_SLACK_KB)) ] || why="$why; RSS growth"
	[ "$loglines" -le "$LOG_LIMIT" ] || why="$why; log flood ($loglines lines)"
	[ "$n" -le "$CALL_LIMIT" ] || why="$why; retry spin ($n failed calls)"
	[ "$live" = 200 ] || why="$why; /livez answered '$live' during the fault"
	if [ -z "$why" ]; then
		record "$name" 1 "$details"
	else
		record "$name" 0 "${why#; }: $details"
	fi
done

if t_running "$T_DAEMON_PID"; then
	settle
	log "at the end: $(fd_count) fds (warm-up $FD0), RSS $(rss_kb) kB (warm-up $RSS0)"
fi
echo
printf '%-28s %-6s %s\n' "fault" "result" "details"
printf '%s\n' "${RESULTS[@]}"
echo
[ "$NFAIL" = 0 ] || fail "$NFAIL fault cell(s) failed (table above; known ones are in fault_matrix.xfail)"
# pass stops the daemon: it must still exit 0 on SIGTERM.
[ -n "$T_DAEMON_PID" ] || launch
pass "${#RESULTS[@]} cells"
