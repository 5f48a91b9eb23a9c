#!/bin/bash
# fault_rules.sh - failed rule commits and a held xtables lock are survived
# (issue 11, point 7): traffic to the Services already in the kernel keeps
# flowing, changes made meanwhile land once the fault clears, and the nat
# rules then match /debug/services exactly.
#
# kube-uproxy runs in the e2e node namespace under the fault-injection shim
# (tests/tools/faultinj.c) with its xtables lock at $T_DIR/xtables.lock
# (XTABLES_LOCKFILE), so holding it never touches the host's lock.  Cells:
#   iptc_commit-ENOMEM, iptc_commit-EAGAIN   every commit fails
#   xtables-lock-held                        someone holds the lock
#   portreuse-failed-commit                  a port freed while commits
#                                            fail is not given to another
#                                            Service (point 5)
# each for FAULT_SECONDS (LOCK_SECONDS for the lock; the issue's 60 s by
# hand: LOCK_SECONDS=60).  During the fault a Service is added and one
# removed; existing Services must answer the client.  After the clear: the
# new Service answers within RULE_LIMIT_MS (2 s: the daemon retries a
# failed commit every --iptables-min-sync-period, 1 s) of the clear, rules
# consistent, no crash, no fd growth (one listener per Service added).
# KUP_PORTALS=nftables (nft_fault_rules.sh): nftables transactions fail
# instead (the shim's nft_commit), and there is no lock to hold.  Known failures: tests/integration/fault_matrix.xfail.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/e2e/lib.sh"

SHIM=${FAULTINJ_SO:-${TESTS_BUILDDIR:-$TESTS_SRCDIR}/tools/faultinj.so}
FAULT_SECONDS=${FAULT_SECONDS:-3}
LOCK_SECONDS=${LOCK_SECONDS:-5}
XFAIL_FILE=$TESTS_SRCDIR/integration/fault_matrix.xfail

[ -z "$KUBE_UPROXY_WRAP" ] ||
    skip "the daemon runs under '$KUBE_UPROXY_WRAP': the shim must be its first preload"
[ -f "$SHIM" ] || skip "no $SHIM (make check builds it)"
if ldd "$KUBE_UPROXY" 2>/dev/null | grep -qE 'lib(a|ub|t)san'; then
	skip "sanitizer build: an LD_PRELOAD shim cannot come before the sanitizer runtime"
fi
command -v flock >/dev/null || skip "no flock (util-linux)"

e2e_begin
e2e_pods
CTL=$T_DIR/faults.ctl
LOCK=$T_DIR/xtables.lock
: >"$CTL"
: >"$LOCK"
KUBE_UPROXY_WRAP="env LD_PRELOAD=$SHIM FAULTINJ_CTL=$CTL XTABLES_LOCKFILE=$LOCK"

svc() {	# svc NAME IP: a ClusterIP Service on both nginx pods
	write_manifest "$1.yaml" "$(m_service name="$1" ip="$2" port=http/TCP/80)
---
$(nginx_slice "$1")"
}
svc keep 198.19.0.10
svc gone1 198.19.0.21
start_proxy --v 1 --iptables-sync-period 5s
wait_rules 5 default/keep:http 2
wait_rules 5 default/gone1:http 2

# consistent: our nat rules are exactly what /debug/services says (every
# service port: one PORTALS-CONTAINER and one PORTALS-HOST rule per
# cluster IP, redirected to its proxy port; nothing else in our chains).
cat >"$T_DIR/consistent.py" <<'PYEOF'
import json, re, sys
debug = json.load(open(sys.argv[1]))
want, have = set(), set()
for o in debug:
    for ip in o.get("clusterIPs") or []:
        for chain in ("KUBE-PORTALS-CONTAINER", "KUBE-PORTALS-HOST"):
            want.add((chain, ip + "/32", o["protocol"].lower(), str(o["port"]),
                      "%s:%s" % (o["service"], o.get("portName", "")),
                      str(o["proxyPort"])))
for line in open(sys.argv[2]):
    m = re.match(r'-A (KUBE-\S+) (.*)', line)
    if not m:
        continue
    r = m.group(2)
    g = lambda pat: (re.search(pat, r) or [None, None])[1]
    have.add((m.group(1), g(r'-d (\S+)'), g(r'-p (\S+)'), g(r'--dport (\d+)'),
              (g(r'--comment "?([^" ]+)"?') or ""), g(r'--to-ports (\d+)')))
if sys.argv[3:] == ["misroute"]:
    # Rules that send a Service's clients to a proxy port which
    # /debug/services now gives to another service port.
    owner = {str(o["proxyPort"]): "%s:%s" % (o["service"], o.get("portName", ""))
             for o in debug}
    bad = sorted(x for x in have if x[5] in owner and owner[x[5]] != x[4])
    for x in bad:
        print("misroute: %s %s -> port %s, which is %s's" % (x[4], x[1], x[5], owner[x[5]]))
    sys.exit(1 if bad else 0)
missing, extra = want - have, have - want
for x in sorted(missing):
    print("missing:", " ".join(map(str, x)))
for x in sorted(extra):
    print("extra:", " ".join(map(str, x)))
sys.exit(1 if missing or extra else 0)
PYEOF
consistent() {
	client http "$METRICS_URL/debug/services" >"$T_DIR/debug.json" 2>/dev/null || return 1
	nat_rules >"$T_DIR/nat.txt"
	"$PYTHON3" "$T_DIR/consistent.py" "$T_DIR/debug.json" "$T_DIR/nat.txt" \
	    >"$T_DIR/consistency.txt"
}
fd_count() { ls "/proc/$T_DAEMON_PID/fd" 2>/dev/null | wc -l; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$T_DAEMON_PID/status" 2>/dev/null; }
is_xfail() { grep -qE "^$1([[:space:]]|\$)" "$XFAIL_FILE" 2>/dev/null; }
answers() {	# answers IP: one request from the client gets a pod's answer
	case $(e2e_curl "$CLIENT" "http://$1/" --max-time 0.5) in
	pod[12]) return 0 ;;
	esac
	return 1
}

wait_for 5 "rules consistent at the start" consistent
RESULTS=()
NFAIL=0
record() {	# record CELL OK DETAILS
	local outcome
	if [ "$2" = 1 ]; then
		outcome=ok
		is_xfail "$1" && outcome=XPASS
	elif is_xfail "$1"; then
		outcome=XFAIL
	else
		outcome=FAIL
		NFAIL=$((NFAIL + 1))
	fi
	RESULTS+=("$(printf '%-28s %-6s %s' "$1" "$outcome" "$3")")
	log "cell $1: $outcome: $3"
}

# cell NAME N: arm (shim rules in $RULES, or the lock with HOLD=1), add
# Service newN and remove goneN during the fault, clear, check.
cell() {
	local name=$1 n=$2 why="" fd0 rss0 fd1 rss1 t0 back=-1 during secs
	local new=198.19.0.$((30 + n)) gone=gone$n lockpid=""
	secs=$FAULT_SECONDS
	fd0=$(fd_count) rss0=$(rss_kb)
	if [ "${HOLD:-0}" = 1 ]; then
		secs=$LOCK_SECONDS
		# One process holds it: killing it releases the lock (a child
		# of flock(1) would keep it).
		"$PYTHON3" -c 'import fcntl, sys, time
f = open(sys.argv[1], "w")
fcntl.flock(f, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(3600)' "$LOCK" >"$T_DIR/lock.out" &
		lockpid=$!
		T_PIDS="$T_PIDS $lockpid"
		poll 5 grep -q held "$T_DIR/lock.out" || hard_error "could not take $LOCK"
	else
		printf 'armed\n%s\n' "$RULES" >"$CTL.tmp" && mv -f "$CTL.tmp" "$CTL"
		sleep 0.3
	fi
	svc "new$n" "$new"
	remove_manifest "$gone.yaml"
	svc "gone$((n + 1))" "198.19.0.$((21 + n))"
	# Existing Services keep answering while the fault lasts.
	during=0
	local end=$(( $(now_ms) + secs * 1000 ))
	while [ "$(now_ms)" -lt "$end" ]; do
		answers 198.19.0.10 || during=$((during + 1))
		sleep 0.2
	done
	t0=$(now_ms)
	if [ -n "$lockpid" ]; then
		kill "$lockpid" 2>/dev/null
		wait "$lockpid" 2>/dev/null
	else
		: >"$CTL.tmp" && mv -f "$CTL.tmp" "$CTL"
	fi
	if poll 10 answers "$new"; then back=$(( $(now_ms) - t0 )); fi
	t_running "$T_DAEMON_PID" || { record "$name" 0 "CRASH"; return 1; }
	poll 5 consistent || why="$why; rules inconsistent 5 s after the clear: $(head -n 3 "$T_DIR/consistency.txt" | tr '\n' ' ')"
	fd1=$(fd_count) rss1=$(rss_kb)
	local inj=""
	[ -n "$lockpid" ] || inj="injected $(awk '{ s += $3 } END { print s + 0 }' "$CTL.stats" 2>/dev/null); "
	[ "$during" = 0 ] || why="$why; existing Service failed $during probes during the fault"
	[ "$back" -ge 0 ] && [ "$back" -le "${LIMIT_MS:-1000}" ] ||
	    why="$why; new Service not served within ${LIMIT_MS:-1000} ms of the clear"
	[ "$fd1" -le $((fd0 + 4)) ] || why="$why; fd growth"
	[ "$rss1" -le $((rss0 + 4096)) ] || why="$why; RSS growth"
	[ -n "$lockpid" ] || [ "${inj#injected 0;}" = "$inj" ] || why="$why; nothing injected"
	local details="${inj}new Service served ${back}ms after the clear; fds $fd0->$fd1; RSS $rss0->${rss1}kB"
	if [ -z "$why" ]; then record "$name" 1 "$details"
	else record "$name" 0 "${why#; }: $details"; fi
}

# A failed commit is retried every --iptables-min-sync-period (1 s): a
# change made during the fault lands within that period plus 1 s of the
# clear (RULE_LIMIT_MS); the measured time is reported.
RULE_LIMIT_MS=${RULE_LIMIT_MS:-2000}
if [ "$KUP_PORTALS" = nftables ]; then
	# Every nftables transaction refused (the kernel's answer to a batch
	# it cannot run; a batch is atomic: nothing of it lands).  No lock.
	COMMIT=nft_commit
	RULES="nft_commit errno=ENOMEM" LIMIT_MS=$RULE_LIMIT_MS cell nft_commit-ENOMEM 1
	RULES="nft_commit errno=ENOBUFS" LIMIT_MS=$RULE_LIMIT_MS cell nft_commit-ENOBUFS 2
else
	COMMIT=iptc_commit
	RULES="iptc_commit errno=ENOMEM" LIMIT_MS=$RULE_LIMIT_MS cell iptc_commit-ENOMEM 1
	RULES="iptc_commit errno=EAGAIN" LIMIT_MS=$RULE_LIMIT_MS cell iptc_commit-EAGAIN 2
	HOLD=1 LIMIT_MS=$RULE_LIMIT_MS cell xtables-lock-held 3
fi

# A proxy port freed while commits fail must not be handed to another
# Service while the kernel still redirects the first one's clients to it
# (issue 11, point 5).  Two ports in the range, both taken: "victim" is
# removed and "intruder" added during the fault, so the only port the
# intruder can get is the victim's.
portreuse() {
	local name=portreuse-failed-commit why="" details
	stop_proxy
	rm -f "$T_DIR"/manifests/*.yaml
	svc keep 198.19.0.10
	svc victim 198.19.0.21
	start_proxy --v 1 --iptables-sync-period 5s --proxy-port-range 40000-40001
	wait_for 5 "rules consistent before the port reuse cell" consistent
	printf 'armed\n%s errno=ENOMEM\n' "$COMMIT" >"$CTL.tmp" && mv -f "$CTL.tmp" "$CTL"
	sleep 0.3
	remove_manifest victim.yaml
	svc intruder 198.19.0.40
	poll 3 port_gone default/victim http
	sleep 1.5	# a failed commit or two, and the retries
	client http "$METRICS_URL/debug/services" >"$T_DIR/debug.json" 2>/dev/null
	nat_rules >"$T_DIR/nat.txt"
	if ! "$PYTHON3" "$T_DIR/consistent.py" "$T_DIR/debug.json" "$T_DIR/nat.txt" \
	    misroute >"$T_DIR/misroute.txt"; then
		why="$(head -n 2 "$T_DIR/misroute.txt" | tr '\n' ' ')during the fault"
	fi
	: >"$CTL.tmp" && mv -f "$CTL.tmp" "$CTL"
	poll 5 consistent || why="$why; rules inconsistent 5 s after the clear"
	t_running "$T_DAEMON_PID" || why="$why; CRASH"
	details="intruder's port $(proxy_port default/intruder http || echo none)"
	if [ -z "$why" ]; then record "$name" 1 "$details"
	else record "$name" 0 "${why#; }: $details"; fi
}
portreuse

echo
printf '%-28s %-6s %s\n' "fault" "result" "details"
printf '%s\n' "${RESULTS[@]}"
echo
[ "$NFAIL" = 0 ] || fail "$NFAIL fault cell(s) failed (table above)"
pass "${#RESULTS[@]} cells"
