#!/bin/bash
# soak.sh - nothing is lost (issue 11, point 8); run by `make soak`, not by
# make check.  Root only (network namespaces): SKIP otherwise.
#
# kube-uproxy runs in the e2e node namespace (tests/e2e/lib.sh) with the
# fake API server (tests/fakeapi/) as its source and nat rules
# (--iptables legacy).  The pods run nginx (HTTP), tcp-sink-sha backends
# (bulk TCP, sha256 checked) and dnsmasq (DNS over UDP).  From the client
# namespace, tests/soak/traffic.py mix sends, to the cluster IPs:
#   bulk  198.19.0.10:9000  transfers of 64 KiB..16 MiB, sha256 compared
#   big   198.19.0.11:9001  one transfer of BIG_BYTES (1 GiB) on one
#                           connection, to a backend that never dies
#   web   198.19.0.12:80    HTTP GETs
#   dns   198.19.0.13:53    DNS A queries (UDP)
# for SOAK_SECONDS (default 600) while
#   - every second a Service or EndpointSlice changes through the API
#     (churn Services created and deleted, web's endpoints edited);
#   - every 30 s the API server restarts (its listener closed, every
#     connection and watch dropped, back after 2 s with the same state);
#   - every 8 s a backend (bulk on pod2 or pod1, dnsmasq on pod2) is killed,
#     and revived 4 s later.
# Every 10 s: the daemon's fd count (the least and most of 10 counts in
# 1 s: it swings with the connections in flight) and RSS.  The report gives connections,
# bytes, verified transfers and errors by kind.  Pass: the daemon survived,
# the big transfer arrived byte-identical, no sha256 mismatch, every kind of
# traffic succeeded, and after warm-up (the first WARMUP_SECONDS, default
# a fifth of the run, at most 120 s) fds and RSS are flat: over the last
# third of the samples within 5 % (fds: or 2) of the first third.  RSS
# compares medians; fds compare the least 1-s floor of each third, what
# the daemon holds with the least traffic in flight: a leaked descriptor
# raises it for good, while the floors' median moves with the load (one
# run saw floors of 28 to 159 in both thirds, least 29 then 28).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/e2e/lib.sh"
T_NAME=soak

SOAK_SECONDS=${SOAK_SECONDS:-600}
[ -n "$SOAK_SECONDS" ] || SOAK_SECONDS=600
BIG_BYTES=${BIG_BYTES:-1073741824}
WARMUP_SECONDS=${WARMUP_SECONDS:-$(( SOAK_SECONDS / 5 > 120 ? 120 : SOAK_SECONDS / 5 ))}
TRAFFIC=$TESTS_SRCDIR/soak/traffic.py
command -v dnsmasq >/dev/null || skip "no dnsmasq (apt-get install dnsmasq-base)"

e2e_begin
e2e_pods
log "soak for ${SOAK_SECONDS}s, warm-up ${WARMUP_SECONDS}s, big transfer $BIG_BYTES bytes"

# --- backends -----------------------------------------------------------------

# start_backend NAME: (re)start one of the killable backends.
declare -A BPID
start_backend() {
	case $1 in
	bulk1) backend_in "$POD1" bulk1 tcp-sink-sha "$POD1_IP:9000" ;;
	bulk2) backend_in "$POD2" bulk2 tcp-sink-sha "$POD2_IP:9000" ;;
	big) backend_in "$POD1" big tcp-sink-sha "$POD1_IP:9001" ;;
	dns1|dns2)
		local ns=$POD1 ip=$POD1_IP
		[ "$1" = dns2 ] && ns=$POD2 ip=$POD2_IP
		ip netns exec "$ns" dnsmasq -k -C /dev/null --no-resolv --no-hosts \
		    --bind-interfaces --listen-address="$ip" --port=53 \
		    --address=/soak.test/198.18.1.99 --user=root --group=root \
		    --pid-file="$T_DIR/$1.pid" --log-facility=- \
		    >"$T_DIR/out/$1" 2>&1 &
		T_PIDS="$T_PIDS $!"
		;;
	esac
	BPID[$1]=$(echo "$T_PIDS" | awk '{ print $NF }')
}
kill_backend() {
	kill -KILL "${BPID[$1]}" 2>/dev/null
	wait "${BPID[$1]}" 2>/dev/null
}
for b in bulk1 bulk2 big dns1 dns2; do start_backend $b; done

# --- the API and the daemon ------------------------------------------------------

API_DIR=$T_DIR/api
mkdir -p "$API_DIR"
API_TOKEN=tok-$RANDOM$RANDOM
printf '%s\n' "$API_TOKEN" >"$API_DIR/token"
ip netns exec "$NODE" "$PYTHON3" "$TESTS_SRCDIR/fakeapi/fakeapi.py" \
    --state-dir "$API_DIR" --token-file "$API_DIR/token" \
    2>"$T_DIR/fakeapi.log" </dev/null &
T_PIDS="$T_PIDS $!"
poll 20 test -s "$API_DIR/ports.json" || hard_error "fakeapi did not start: $(tail -n 3 "$T_DIR/fakeapi.log")"
CTL_URL=http://127.0.0.1:$(t_apictl jq 'd["control"]' <"$API_DIR/ports.json")

# ctl METHOD PATH [JSON]: a control request to fakeapi (in the node ns).
ctl() {
	printf '%s' "${3:-}" | ip netns exec "$NODE" curl -sS -m 10 -X "$1" \
	    -H 'Content-Type: application/json' --data-binary @- \
	    -o /dev/null -w '%{http_code}' "$CTL_URL$2" 2>/dev/null | grep -q '^2'
}
apply() { ctl POST /objects "$1" || log "fakeapi: POST /objects failed"; }

apply "$(j_service name=bulk ip=198.19.0.10 port=bulk/TCP/9000)"
apply "$(j_slice name=bulk port=bulk/TCP/9000 ep=$POD1_IP ep=$POD2_IP)"
apply "$(j_service name=big ip=198.19.0.11 port=big/TCP/9001)"
apply "$(j_slice name=big port=big/TCP/9001 ep=$POD1_IP)"
apply "$(j_service name=web ip=198.19.0.12 port=http/TCP/80)"
apply "$(j_slice name=web port=http/TCP/80 ep=$POD1_IP ep=$POD2_IP)"
apply "$(j_service name=dns ip=198.19.0.13 port=dns/UDP/53)"
apply "$(j_slice name=dns port=dns/UDP/53 ep=$POD1_IP ep=$POD2_IP)"

METRICS_URL=http://127.0.0.1:10249
HEALTHZ_URL=http://127.0.0.1:10256
ip netns exec "$NODE" "$KUBE_UPROXY" --kubeconfig "$API_DIR/kubeconfig" \
    --metrics-bind-address 127.0.0.1:10249 \
    --healthz-bind-address 127.0.0.1:10256 \
    --v 0 2>>"$T_DIR/kube-uproxy.log" </dev/null &
T_DAEMON_PID=$!
T_PIDS="$T_PIDS $T_DAEMON_PID"
wait_healthy 20
wait_rules 10 default/dns:dns 2
answers_web() { case $(e2e_curl "$CLIENT" http://198.19.0.12/) in pod[12]) ;; *) false ;; esac; }
wait_for 10 "web answering" answers_web

# --- traffic, churn, kills, samples -------------------------------------------

STATS=$T_DIR/mix.json
ip netns exec "$CLIENT" "$PYTHON3" "$TRAFFIC" mix \
    --bulk 198.19.0.10:9000 --http 198.19.0.12:80 --dns 198.19.0.13:53 \
    --big 198.19.0.11:9001 --big-bytes "$BIG_BYTES" --stats "$STATS" \
    >"$T_DIR/mix.out" 2>&1 &
MIX_PID=$!
T_PIDS="$T_PIDS $MIX_PID"
poll 10 grep -q ready "$T_DIR/mix.out" || hard_error "traffic.py mix did not start"

fd_count() { ls "/proc/$T_DAEMON_PID/fd" 2>/dev/null | wc -l; }
# fd_floor: "MIN MAX" of 10 counts over 1 s.  The count swings with the
# connections and UDP flows in flight (tens to a thousand); the floor is
# what stays (listeners, pools, the API connections): a leak raises it.
fd_floor() {
	local i n min=999999 max=0
	for i in 1 2 3 4 5 6 7 8 9 10; do
		n=$(fd_count)
		[ "$n" -lt "$min" ] && min=$n
		[ "$n" -gt "$max" ] && max=$n
		sleep 0.1
	done
	echo "$min $max"
}
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$T_DAEMON_PID/status" 2>/dev/null; }
stat_of() { t_apictl jq "d.get('$1', 0)" <"$STATS" 2>/dev/null || echo 0; }

# The disturbances run as background loops, each counting in a file; the
# processes they start are listed in $T_DIR/bg.pids for the cleanup.
count() { echo x >>"$T_DIR/count.$1"; }
counted() { cat "$T_DIR/count.$1" 2>/dev/null | wc -l; }
soak_cleanup() {
	local rc=$? pid
	for pid in $LOOP_PIDS $(cat "$T_DIR/bg.pids" 2>/dev/null); do
		kill -KILL "$pid" 2>/dev/null
	done
	(exit "$rc")
	e2e_cleanup
}
trap soak_cleanup EXIT

churn_loop() {	# one API change a second
	local churn=0 a k
	while :; do
		churn=$((churn + 1))
		case $((churn % 4)) in
		0|2)
			# churn0..9 created one by one, then deleted one by one.
			a=$((churn / 2))
			k=$((a % 10))
			if [ $(( (a / 10) % 2 )) = 0 ]; then
				apply "$(j_service name=churn$k ip=198.19.1.$((k + 1)) port=p/TCP/80)"
				apply "$(j_slice name=churn$k port=p/TCP/80 ep=$POD1_IP)"
			else
				ctl DELETE "/objects/services/default/churn$k" || true
				ctl DELETE "/objects/endpointslices/default/churn$k-slice" || true
			fi ;;
		1) apply "$(j_slice name=web port=http/TCP/80 ep=$POD1_IP)" ;;
		3) apply "$(j_slice name=web port=http/TCP/80 ep=$POD1_IP ep=$POD2_IP)" ;;
		esac
		count changes
		sleep 1
	done
}

api_loop() {	# the API server restarts every 30 s (down 2 s)
	while :; do
		sleep 30
		ctl POST /listener/restart '{"down_seconds":2}' && count api_restarts
	done
}

kill_loop() {	# a backend dies every 8 s and comes back 4 s later
	local killable=(bulk2 dns2 bulk1) i=0 b
	while :; do
		sleep 4
		b=${killable[i % ${#killable[@]}]}
		i=$((i + 1))
		kill_backend "$b"
		count kills
		sleep 4
		start_backend "$b"
		echo "${BPID[$b]}" >>"$T_DIR/bg.pids"
	done
}

churn_loop >>"$T_DIR/loops.log" 2>&1 &
LOOP_PIDS=$!
api_loop >>"$T_DIR/loops.log" 2>&1 &
LOOP_PIDS="$LOOP_PIDS $!"
kill_loop >>"$T_DIR/loops.log" 2>&1 &
LOOP_PIDS="$LOOP_PIDS $!"

: >"$T_DIR/samples"
START=$(date +%s)
printf '%6s %9s %8s %8s %8s %8s %8s %6s\n' t fds_min/max rss_kB bulk_ok http_ok dns_ok errors big_MB
next=0
while :; do
	t=$(( $(date +%s) - START ))
	[ "$t" -ge "$SOAK_SECONDS" ] && break
	t_running "$T_DAEMON_PID" || fail "kube-uproxy died at t=${t}s"
	if [ "$t" -ge "$next" ]; then
		next=$((next + 10))
		read -r fds fdmax < <(fd_floor)
		rss=$(rss_kb)
		echo "$t $fds $rss $fdmax" >>"$T_DIR/samples"
		printf '%6s %9s %8s %8s %8s %8s %8s %6s\n' "$t" "$fds/$fdmax" "$rss" \
		    $(t_apictl jq '"%d %d %d %d %d" % (d.get("bulk_ok", 0), d.get("http_ok", 0), d.get("dns_ok", 0), sum(d["errors"].values()), d.get("big_bytes", 0) >> 20)' <"$STATS" 2>/dev/null || echo "? ? ? ? ?")
	fi
	sleep 0.5
done
kill $LOOP_PIDS 2>/dev/null
wait $LOOP_PIDS 2>/dev/null
LOOP_PIDS=""
# The big transfer may still be running: give it up to 10 minutes more.
log "traffic stopping; waiting for the big transfer"
kill -TERM "$MIX_PID" 2>/dev/null
for i in $(seq 600); do t_running "$MIX_PID" || break; sleep 1; done
wait "$MIX_PID" 2>/dev/null
t_running "$T_DAEMON_PID" || fail "kube-uproxy died at the end"

# --- report ----------------------------------------------------------------------

echo
log "report after ${SOAK_SECONDS}s: $(counted changes) API changes, $(counted api_restarts) API restarts, $(counted kills) backend kills"
t_apictl jq '"\n".join("  %-24s %s" % (k, v) for k, v in sorted(d.items()) if k != "errors")' <"$STATS"
echo "  errors by kind:"
t_apictl jq '"\n".join("    %-40s %s" % (k, v) for k, v in sorted(d["errors"].items())) or "    none"' <"$STATS"
echo "  samples (t fds_min rss_kB fds_max):"
sed 's/^/    /' "$T_DIR/samples"

verdict=$(awk -v warm="$WARMUP_SECONDS" '
	BEGIN { n = 0 }
	$1 >= warm { t[n] = $1; f[n] = $2; r[n] = $3; n++ }
	function least(a, lo, hi,   i, x) {
		x = a[lo]
		for (i = lo + 1; i < hi; i++) if (a[i] < x) x = a[i]
		return x
	}
	function med(a, lo, hi,   m, i, j, x, b) {
		m = 0
		for (i = lo; i < hi; i++) b[m++] = a[i]
		for (i = 1; i < m; i++) { x = b[i]; for (j = i - 1; j >= 0 && b[j] > x; j--) b[j + 1] = b[j]; b[j + 1] = x }
		return b[int((m - 1) / 2)]
	}
	END {
		if (n < 3) { print "too-few " n; exit }
		k = int(n / 3)
		f0 = least(f, 0, k); f1 = least(f, n - k, n)
		r0 = med(r, 0, k); r1 = med(r, n - k, n)
		ok = (f1 <= f0 * 1.05 || f1 <= f0 + 2) && r1 <= r0 * 1.05
		printf "%s fds (least floor) %d->%d (median floor %d->%d) RSS %d->%d kB (%d samples after warm-up)\n", ok ? "flat" : "GROWING", f0, f1, med(f, 0, k), med(f, n - k, n), r0, r1, n
	}' "$T_DIR/samples")
log "fds and RSS after warm-up: $verdict"

why=""
[ "$(stat_of big_verified)" = 1 ] || why="$why; the big transfer was not verified ($(stat_of big_bytes) bytes sent)"
[ "$(stat_of bulk_sha_mismatch)$(stat_of big_sha_mismatch)" = 00 ] || why="$why; sha256 mismatch"
[ "$(stat_of bulk_verified)" -gt 0 ] || why="$why; no bulk transfer verified"
[ "$(stat_of http_ok)" -gt 0 ] || why="$why; no HTTP answer"
[ "$(stat_of dns_ok)" -gt 0 ] || why="$why; no DNS answer"
case $verdict in
flat*) ;;
too-few*) log "too few samples after warm-up to judge fds and RSS (run longer)" ;;
*) why="$why; fds or RSS grew after warm-up" ;;
esac
[ -z "$why" ] || fail "${why#; }"
pass "soak ${SOAK_SECONDS}s"
