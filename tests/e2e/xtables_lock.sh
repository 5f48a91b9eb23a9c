#!/bin/bash
# xtables_lock.sh - the xtables lock held by another program (issue 11,
# points 5 and 7).  While it is held no commit can happen, and:
#  - traffic to existing Services keeps flowing, /livez answers at once
#    (the loop never waits for the lock);
#  - a Service removed keeps its rules in the kernel, so its proxy port is
#    quarantined: a Service added meanwhile must not get it (with
#    --proxy-port-range of two ports it gets no port at all), and the
#    removed Service's clusterIP never reaches the new Service's pods.
# Once the lock is free the changes land within seconds: the old rules go,
# the new Service gets a port and its rules and answers.
#
# The daemon is given a private lock file through XTABLES_LOCKFILE (which
# iptc.c honours as iptables does), so that holding it does not stall
# other tests on the machine that use /run/xtables.lock; the code path is
# the same.  It is held XTABLES_HOLD_S seconds (default 10): the loop
# never blocks, so 60 s is the same as 10.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/e2e/lib.sh"
command -v flock >/dev/null || skip "no flock (util-linux)"
e2e_begin
e2e_pods

LOCK=$T_DIR/xtables.lock
: >"$LOCK"
KUBE_UPROXY_WRAP="env XTABLES_LOCKFILE=$LOCK ${KUBE_UPROXY_WRAP:-}"
HOLD_S=${XTABLES_HOLD_S:-10}

write_manifest a.yaml "$(m_service name=a ip=198.19.0.10 port=http/TCP/80)
---
$(nginx_slice a "$POD1_IP")"
write_manifest c.yaml "$(m_service name=c ip=198.19.0.20 port=http/TCP/80)
---
$(nginx_slice c)"
start_proxy --proxy-port-range 40000-40001
wait_rules 5 default/a:http 2
wait_rules 5 default/c:http 2
A_PORT=$(wait_proxy_port default/a http)
expect_eq "a before the lock" "$(e2e_curl "$CLIENT" http://198.19.0.10/)" pod1

# Someone else takes the lock.
flock "$LOCK" sleep "$HOLD_S" &
HOLDER=$!
T_PIDS="$T_PIDS $HOLDER"
lock_held() { ! flock -n "$LOCK" true; }
wait_for 2 "the lock to be held" lock_held
t_lock=$(now_ms)

# a goes, b (pod2 only) comes, in the same moment.
remove_manifest a.yaml
write_manifest b.yaml "$(m_service name=b ip=198.19.0.30 port=http/TCP/80)
---
$(nginx_slice b "$POD2_IP")"
b_known() { [ -n "$(service_field default/b http service)" ]; }
wait_for 3 "b in /debug/services" b_known

rounds=0 c_ok=0 c_bad=0 livez_slow=0
while [ $(( $(now_ms) - t_lock )) -lt $(( (HOLD_S - 2) * 1000 )) ]; do
	rounds=$((rounds + 1))
	lock_held || hard_error "the lock was let go early"
	soft expect_eq "a's rules while the lock is held" \
	    "$(count_rules_of default/a:http)" 2
	bp=$(proxy_port default/b http)
	soft expect_ne "b's proxy port while a's rule redirects to $A_PORT" \
	    "$bp" "$A_PORT"
	ans=$(e2e_curl "$CLIENT" http://198.19.0.10/ --max-time 1)
	soft expect_ne "a's clusterIP while the lock is held" "$ans" pod2
	case $(e2e_curl "$CLIENT" http://198.19.0.20/) in
	pod1|pod2) c_ok=$((c_ok + 1)) ;;
	*) c_bad=$((c_bad + 1)) ;;
	esac
	# curl's own timing: the answer, not the start of a process.
	read -r code secs < <(in_ns "$NODE" curl -s -o /dev/null --max-time 2 \
	    -w '%{http_code} %{time_total}\n' "$METRICS_URL/livez")
	[ "$code" = 200 ] && awk -v s="$secs" 'BEGIN { exit !(s < 0.5) }' ||
	    { livez_slow=$((livez_slow + 1)); log "/livez: $code in $secs s"; }
	sleep 0.2
done
log "$rounds rounds under the lock: c answered $c_ok times, failed $c_bad; /livez slow or failed $livez_slow times"
expect_gt "rounds under the lock" "$rounds" 0
expect_eq "c's failures while the lock is held" "$c_bad" 0
expect_eq "/livez slow or failed while the lock is held" "$livez_slow" 0

# The lock is let go: the changes land.
wait "$HOLDER"
t_free=$(now_ms)
wait_rules 5 default/a:http 0
b_open() { BP=$(proxy_port default/b http) && [ -n "$BP" ] && [ "$BP" != 0 ]; }
wait_for 5 "b to get a proxy port (0 while none is free)" b_open
wait_rules 5 default/b:http 2
log "changes landed $(( $(now_ms) - t_free )) ms after the lock was let go; b on $BP (a had $A_PORT)"
expect_eq "b after the lock" "$(e2e_curl "$CLIENT" http://198.19.0.30/)" pod2
is_silent "$CLIENT" http://198.19.0.10/ || fail "a's clusterIP still answers after its removal"
expect_answer "c after the lock" "$CLIENT" http://198.19.0.20/
stop_proxy
pass
