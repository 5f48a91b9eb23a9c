#!/bin/bash
# tests/tools/iptc_check.sh - src/iptc.c against a real kernel (root only).
#
# In a throwaway network namespace: apply planned rule sets with the
# iptc_check tool (tests/tools/iptc_check.c) and compare what
# iptables-legacy / ip6tables-legacy then print with the tool's own
# rendering of the plan; check the jumps' positions, repair after hand
# edits, the lock-busy answer, and that cleanup leaves nothing (twice).
# Only test addresses (198.18.0.0/15) and loopback appear in the rules.
#
# Usage: iptc_check.sh [path/to/iptc_check]   (built from the sources
# with cc and pkg-config when not given).  BENCH="1000 10000" also times
# applies of that many service ports.  TAP output; exit 0 pass, 1 fail,
# 77 skip.

set -u
SRC=$(cd "$(dirname "$0")/../.." && pwd)
NS=kup-rules-$$
TMP=$(mktemp -d /tmp/iptc_check.XXXXXX)
N=0
FAILED=0

cleanup() {
	ip netns del "$NS" 2>/dev/null
	ip netns del "$NS-empty" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

skip() { echo "1..0 # SKIP $*"; exit 77; }
ok() { N=$((N + 1)); echo "ok $N - $*"; }
not_ok() { N=$((N + 1)); FAILED=1; echo "not ok $N - $*"; }
check() {	# check DESCRIPTION COMMAND...
	local d=$1; shift
	if "$@"; then ok "$d"; else not_ok "$d"; fi
}

[ "$(id -u)" = 0 ] || skip "not root: needs network namespaces and CAP_NET_ADMIN"
command -v iptables-legacy >/dev/null || skip "iptables-legacy not installed"
command -v ip6tables-legacy >/dev/null || skip "ip6tables-legacy not installed"
ip netns add "$NS" 2>/dev/null || skip "cannot create a network namespace"

TOOL=${1:-}
if [ -z "$TOOL" ]; then
	TOOL=$TMP/iptc_check
	${CC:-cc} -std=gnu11 -D_GNU_SOURCE -O2 -I"$SRC/src" -o "$TOOL" \
	    "$SRC/tests/tools/iptc_check.c" "$SRC/src/rules.c" \
	    "$SRC"/src/iptc*.c "$SRC/src/addr.c" "$SRC/src/log.c" \
	    "$SRC/src/util.c" $(pkg-config --cflags --libs libip4tc \
	    libip6tc libevent_core) || skip "cannot build the iptc_check tool"
fi

# A private xtables lock: iptables-legacy honours it too.
export XTABLES_LOCKFILE=$TMP/xtables.lock
X="ip netns exec $NS"
ipt() { $X iptables-legacy -w 5 -t nat "$@"; }
ip6t() { $X ip6tables-legacy -w 5 -t nat "$@"; }
iptf() { $X iptables-legacy -w 5 -t filter "$@"; }
ip6tf() { $X ip6tables-legacy -w 5 -t filter "$@"; }

# Our chains in the kernel (nat, then filter) == the plan, both families.
same_as_plan() {
	{ ipt -S; iptf -S; } | grep -- '^-A KUBE-' >"$TMP/got4"
	{ ip6t -S; ip6tf -S; } | grep -- '^-A KUBE-' >"$TMP/got6"
	"$TOOL" render "$1" 4 >"$TMP/want4"
	"$TOOL" render "$1" 6 >"$TMP/want6"
	cat "$TMP/want4" "$TMP/want6" | grep -q . &&
	    diff -u "$TMP/want4" "$TMP/got4" >&2 &&
	    diff -u "$TMP/want6" "$TMP/got6" >&2
}

P_PORTALS='-m comment --comment "kube-uproxy portals" -j KUBE-PORTALS'
P_NODEPORTS='-m addrtype --dst-type LOCAL -m comment --comment "kube-uproxy nodeports" -j KUBE-NODEPORT'
# jumps_ok CMD: in PREROUTING and OUTPUT, ours first and last, one each,
# the foreign rule (-d 198.18.5.5) kept in between.
jumps_ok() {
	local cmd=$1 hook suffix rules
	for hook in PREROUTING OUTPUT; do
		[ $hook = PREROUTING ] && suffix=CONTAINER || suffix=HOST
		rules=$($cmd -S $hook | grep -- '^-A')
		[ "$(echo "$rules" | head -n1)" = "-A $hook $P_PORTALS-$suffix" ] &&
		[ "$(echo "$rules" | tail -n1)" = "-A $hook $P_NODEPORTS-$suffix" ] &&
		[ "$(echo "$rules" | grep -c KUBE-)" = 2 ] &&
		[ "$(echo "$rules" | grep -c 198.18.5.5)" = 1 ] || {
			echo "$rules" >&2; return 1; }
	done
}
no_kube() {
	! ipt -S | grep -q KUBE- && ! ip6t -S | grep -q KUBE- &&
	    ipt -S OUTPUT | grep -q 198.18.5.5
}
out_packets() {	# packets through our portals jump in OUTPUT
	ipt -v -S OUTPUT | sed -n 's/.*kube-uproxy portals.* -c \([0-9]*\) .*/\1/p'
}

echo "# namespace $NS, tool $TOOL"
check "preflight passes as root" $X "$TOOL" preflight 2>"$TMP/pre"
case $(readlink -f "$(command -v iptables)" 2>/dev/null) in
*nft*)	check "preflight warns that iptables is the nf_tables variant" \
	    grep -q 'iptables-legacy -t nat -S shows them' "$TMP/pre";;
esac
if command -v setpriv >/dev/null; then
	chmod 755 "$TMP"
	$X setpriv --reuid=65534 --regid=65534 --clear-groups "$TOOL" \
	    preflight 2>"$TMP/unpriv"
	check "preflight without privilege: one clear line" \
	    grep -q 'need CAP_NET_ADMIN and CAP_NET_RAW (run as root)' "$TMP/unpriv"
fi

# Foreign rules: ours must go around them, and cleanup must keep them.
ipt -A PREROUTING -d 198.18.5.5/32 -j RETURN
ipt -A OUTPUT -d 198.18.5.5/32 -j RETURN
ip6t -A PREROUTING -d ::ffff:198.18.5.5/128 -j RETURN
ip6t -A OUTPUT -d ::ffff:198.18.5.5/128 -j RETURN

check "apply full" $X "$TOOL" apply full
check "kernel holds the full plan (IPv4 and IPv6)" same_as_plan full
check "jumps first and last (IPv4)" jumps_ok ipt
check "jumps first and last (IPv6)" jumps_ok ip6t

# A local connection attempt counts one packet in nat OUTPUT.
$X ip link set lo up
$X bash -c 'exec 3<>/dev/tcp/127.0.0.1/9' 2>/dev/null
before=$(out_packets)
check "apply full again" $X "$TOOL" apply full
check "re-apply keeps the jumps and their counters ($before packets)" \
    test -n "$before" -a "$before" -ge 1 -a "$(out_packets)" = "$before"
check "kernel still holds the full plan" same_as_plan full

check "apply less (shop/front removed)" $X "$TOOL" apply less
check "kernel holds the smaller plan" same_as_plan less
check "no rule of the removed service left" \
    bash -c "! $X iptables-legacy -t nat -S | grep -q shop/front"

# Hand damage: a flushed chain, a deleted jump, a stale Go-style jump.
ipt -F KUBE-PORTALS-HOST
ipt -D PREROUTING 1
ip6t -F KUBE-NODEPORT-CONTAINER
ipt -A OUTPUT -m comment --comment "handle ClusterIPs; NOTE: this must be before the NodePort rules" -j KUBE-PORTALS-HOST
check "apply less after hand edits" $X "$TOOL" apply less
check "flushed chains restored" same_as_plan less
check "jumps repaired (IPv4)" jumps_ok ipt
check "jumps repaired (IPv6)" jumps_ok ip6t

# In-place edits: a random walk of small and large changes, each step
# checked against its plan.  Rules a step leaves alone keep their packet
# counters (set by hand to 7 packets, 700 bytes); changed ones start at 0.
counters_set() {
	$X iptables-legacy-save -c -t nat |
	    sed '/^\[[0-9]*:[0-9]*\] -A KUBE-/s/^\[[0-9]*:[0-9]*\]/[7:700]/' |
	    $X iptables-legacy-restore -c
}
with_counters() {	# our rules with counters, as "[P:B] -A ..." lines
	$X iptables-legacy-save -c -t nat | grep -- '-A KUBE-' | sort
}
kept_counters() {	# kept_counters BEFORE AFTER: common rules kept [7:700]
	local common bad
	common=$(comm -12 <(sed 's/^\[[^]]*\] //' "$1" | sort) \
	    <(sed 's/^\[[^]]*\] //' "$2" | sort))
	[ -n "$common" ] || return 0
	bad=$(grep -F -x -v -f <(echo "$common" | sed 's/^/[7:700] /') "$2" |
	    sed 's/^\[[^]]*\] //' | grep -F -x -f <(echo "$common"))
	[ -z "$bad" ] || { echo "counters lost: $bad" >&2; return 1; }
}
SEED=${KUP_WALK_SEED:-$((RANDOM % 1000))}	# a failing seed can be replayed
walk_ok=1
for step in $(seq 0 22); do
	counters_set
	with_counters >"$TMP/before"
	$X "$TOOL" apply "walk:$SEED:$step" || { walk_ok=0; break; }
	same_as_plan "walk:$SEED:$step" || { walk_ok=0; echo "# step $step" >&2; break; }
	with_counters >"$TMP/after"
	((step == 0)) || kept_counters "$TMP/before" "$TMP/after" ||
	    { walk_ok=0; echo "# step $step" >&2; break; }
done
check "random walk (seed $SEED): 23 steps, each exactly its plan, unchanged rules keep counters" \
    test $walk_ok = 1

# loadBalancerSourceRanges: -s per range in nat, DROP in filter.
fw_jumps() {	# fw_jumps CMD N: N jumps to our firewall in each of the hooks
	local hook
	for hook in INPUT FORWARD OUTPUT; do
		[ "$($1 -S $hook | grep -c -- '-j KUBE-UPROXY-FIREWALL$')" = "$2" ] || return 1
		[ "$2" = 0 ] || $1 -S $hook | grep -- '^-A' | head -n1 |
		    grep -q -- '-m comment --comment "kube-uproxy firewall" -j KUBE-UPROXY-FIREWALL$' ||
		    return 1
	done
}
iptf -A INPUT -d 198.18.5.5/32 -j RETURN
check "apply ranges" $X "$TOOL" apply ranges
check "kernel holds the ranges plan (nat -s rules, filter DROPs)" same_as_plan ranges
check "...jumps to KUBE-UPROXY-FIREWALL first (IPv4)" fw_jumps iptf 1
check "...and (IPv6)" fw_jumps ip6tf 1
check "...a nested range is left out" bash -c "! grep -q 198.18.0.128/25 $TMP/got4"
$X iptables-legacy-save -c -t filter |
    sed '/-A KUBE-UPROXY/s/^\[[0-9]*:[0-9]*\]/[7:700]/' | $X iptables-legacy-restore -c
check "apply ranges again" $X "$TOOL" apply ranges
check "...the DROP rules are kept as installed (their counters too)" \
    bash -c "! $X iptables-legacy-save -c -t filter | grep -- '-A KUBE-UPROXY-FIREWALL' | grep -qv '^\[7:700\]'"
iptf -F KUBE-UPROXY-FIREWALL
iptf -D FORWARD 1
check "apply ranges after hand edits of the filter table" $X "$TOOL" apply ranges
check "...repaired" same_as_plan ranges
check "...jumps repaired" fw_jumps iptf 1
check "apply full (no ranges)" $X "$TOOL" apply full
check "...no firewall chain or jump left, foreign filter rule kept" \
    bash -c "! $X iptables-legacy -t filter -S | grep -q KUBE- &&
    ! $X ip6tables-legacy -t filter -S | grep -q KUBE- &&
    $X iptables-legacy -t filter -S INPUT | grep -q 198.18.5.5"

# --nodeport-addresses: one nodeports jump per range of the family.
np_jumps() {	# np_jumps CMD HOOK WANT...: the nodeports jumps, in order
	local cmd=$1 hook=$2 got
	shift 2
	got=$($cmd -S "$hook" | grep -- '-j KUBE-NODEPORT' |
	    sed -n 's/^-A [A-Z]* \(-d [^ ]*\)\{0,1\} *-m addrtype.*/\1/p' | tr '\n' ' ')
	[ "$got" = "$* " ] || { echo "# $hook: got '$got' want '$* '" >&2; return 1; }
}
check "apply full with --nodeport-addresses" \
    env IPTC_NODEPORT=198.18.0.0/24,198.19.0.0/16,2001:2::/48 $X "$TOOL" apply full
check "...IPv4 PREROUTING: one jump per range, in order" \
    np_jumps ipt PREROUTING "-d 198.18.0.0/24" "-d 198.19.0.0/16"
check "...IPv4 OUTPUT too" np_jumps ipt OUTPUT "-d 198.18.0.0/24" "-d 198.19.0.0/16"
check "...IPv6 PREROUTING: its range" np_jumps ip6t PREROUTING "-d 2001:2::/48"
check "...the chains hold the plan" same_as_plan full
check "apply full with an IPv6 range only" \
    env IPTC_NODEPORT=2001:2::/48 $X "$TOOL" apply full
check "...IPv4: no nodeports jump" \
    bash -c "! $X iptables-legacy -t nat -S | grep -q -- '-j KUBE-NODEPORT'"
check "apply full without ranges" $X "$TOOL" apply full
check "...the jumps of before" jumps_ok ipt

check "apply dnat (bound to 198.18.0.1)" $X "$TOOL" apply dnat
check "kernel holds the DNAT plan" same_as_plan dnat
check "apply dnat6 (bound to ::1)" $X "$TOOL" apply dnat6
check "kernel holds the IPv6 DNAT plan" same_as_plan dnat6

# Someone else holds the xtables lock: a distinct answer, no waiting.
flock "$XTABLES_LOCKFILE" sleep 2 &
sleep 0.3
$X "$TOOL" apply full 2>"$TMP/busy"
rc=$?
wait
check "lock held elsewhere: exit 2, \"lock busy\"" \
    test $rc = 2 -a -n "$(grep 'lock busy' "$TMP/busy")"
check "nothing changed while busy" same_as_plan dnat6

check "apply ranges before cleanup" $X "$TOOL" apply ranges
check "cleanup" $X "$TOOL" cleanup
check "cleanup leaves no KUBE- chain or rule, keeps others" no_kube
check "...in the filter table either" \
    bash -c "! $X iptables-legacy -t filter -S | grep -q KUBE-"
check "cleanup twice is fine" $X "$TOOL" cleanup
check "still nothing" no_kube

# A namespace that never had a legacy nat table: cleanup must not make one.
ip netns add "$NS-empty"
check "cleanup with no nat table" ip netns exec "$NS-empty" "$TOOL" cleanup
check "...creates none" bash -c "! ip netns exec $NS-empty grep -qx nat /proc/net/ip_tables_names"

for n in ${BENCH:-}; do
	echo "# bench: $($X "$TOOL" bench "$n")"
done

echo "1..$N"
exit $FAILED
