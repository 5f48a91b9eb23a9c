#!/bin/bash
# tests/tools/nft_check.sh - src/nft.c against a real kernel (root only).
#
# In a throwaway network namespace: apply planned rule sets with the
# nft_check tool (tests/tools/nft_check.c), one long-lived handle fed
# through a coprocess, and compare what `nft -j list table` then shows
# with the tool's own rendering of the plan; check that updates are
# element adds and deletes only (no rebuild, exactly the changed
# elements), repairs after hand edits, coexistence with a foreign table
# and iptables-nft rules on the same hooks, and cleanup.  Only test
# addresses (198.18.0.0/15, 2001:2::/48) appear.
#
# Usage: nft_check.sh [path/to/nft_check]   (built from the sources with
# cc and pkg-config when not given).  BENCH="1000 10000" also times
# builds and updates at that many service ports.  TAP output; exit 0
# pass, 1 fail, 77 skip.

set -u
SRC=$(cd "$(dirname "$0")/../.." && pwd)
NS=kup-nft-$$
TMP=$(mktemp -d /tmp/nft_check.XXXXXX)
N=0
FAILED=0
PYTHON3=${PYTHON3:-python3}

cleanup() {
	[ -n "${TOOL_PID:-}" ] && kill "$TOOL_PID" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
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
command -v nft >/dev/null || skip "nft not installed (apt-get install nftables)"
ip netns add "$NS" 2>/dev/null || skip "cannot create a network namespace"
X="ip netns exec $NS"
$X nft list tables >/dev/null 2>&1 || skip "no nf_tables in this kernel"

TOOL=${1:-}
if [ -z "$TOOL" ]; then
	TOOL=$TMP/nft_check
	${CC:-cc} -std=gnu11 -D_GNU_SOURCE -O2 -I"$SRC/src" -o "$TOOL" \
	    "$SRC/tests/tools/nft_check.c" "$SRC/src/rules.c" \
	    "$SRC/src/nft.c" "$SRC/src/nft_msg.c" "$SRC/src/nft_layout.c" "$SRC/src/addr.c" \
	    "$SRC/src/log.c" "$SRC/src/util.c" $(pkg-config --cflags --libs \
	    libnftnl libmnl libevent_core) || skip "cannot build the nft_check tool"
fi

# Our elements as nft shows them, one per line, in nft_check render's form.
got() {	# got ip|ip6
	$X nft -j list table "$1" kube-uproxy 2>/dev/null | "$PYTHON3" -c '
import json, sys
def val(v):
    if isinstance(v, dict) and "concat" in v:
        return " . ".join(val(x) for x in v["concat"])
    if isinstance(v, dict) and "prefix" in v:
        return "%s/%d" % (v["prefix"]["addr"], v["prefix"]["len"])
    return str(v)
for o in json.load(sys.stdin)["nftables"]:
    m = o.get("map")
    if not m and o.get("set"):
        # our sets: firewall, firewall-allow; their "data" is "-"
        m = o["set"]
        m["elem"] = [[k, "-"] for k in m.get("elem", [])]
    if not m:
        continue
    for k, d in m.get("elem", []):
        c = ""
        if isinstance(k, dict) and "elem" in k:
            c = k["elem"].get("comment", "")
            k = k["elem"]["val"]
        print("%s %s : %s \"%s\"" % (m["name"], val(k), val(d), c))
' | sort
}

# Our tables == the plan, for both families.
same_as_plan() {
	got ip >"$TMP/got4"
	got ip6 >"$TMP/got6"
	"$TOOL" render "$1" 4 | sort >"$TMP/want4"
	"$TOOL" render "$1" 6 | sort >"$TMP/want6"
	cat "$TMP/want4" "$TMP/want6" | grep -q . || [ "$1" = empty ] &&
	    diff -u "$TMP/want4" "$TMP/got4" >&2 &&
	    diff -u "$TMP/want6" "$TMP/got6" >&2
}

# The fixed rules: four per chain, in order, in both tables.
layout_ok() {
	local fam out
	for fam in ip ip6; do
		out=$($X nft list table $fam kube-uproxy) || return 1
		[ "$(echo "$out" | grep -c 'type nat hook \(prerouting\|output\) priority \(dstnat\|-100\); policy accept;')" = 2 ] &&
		[ "$(echo "$out" | grep -c 'redirect to :'"$fam"' daddr . meta l4proto . th dport map @portals comment "kube-uproxy portals"$')" = 2 ] &&
		[ "$(echo "$out" | grep -c 'dnat '"$fam"' to '"$fam"' daddr . meta l4proto . th dport map @portals-dnat')" = 2 ] &&
		[ "$(echo "$out" | grep -c 'fib daddr type local redirect to :meta l4proto . th dport map @nodeports comment')" = 2 ] &&
		[ "$(echo "$out" | grep -c 'fib daddr type local dnat '"$fam"' to meta l4proto . th dport map @nodeports-dnat')" = 2 ] || {
			echo "$out" >&2; return 1; }
	done
}

# The tool as a coprocess: one handle for the whole test.
coproc TOOLP { $X "$TOOL" run 2>"$TMP/tool.log"; }
TOOL_PID=$TOOLP_PID
ask() {	# ask COMMAND: one answer line in $REPLY
	echo "$1" >&"${TOOLP[1]}" && read -r -t 30 REPLY <&"${TOOLP[0]}"
}
apply() { ask "apply $1" && [ "$REPLY" = ok ] || { echo "# $REPLY" >&2; return 1; }; }
stat() {	# stat NAME: a counter of the tool's handle
	ask stats && echo "$REPLY" | awk -v k="$1" \
	    '{ for (i = 1; i < NF; i += 2) if ($i == k) print $(i + 1) }'
}

echo "# namespace $NS, tool $TOOL"
check "preflight passes as root" $X "$TOOL" preflight
if command -v setpriv >/dev/null; then
	chmod 755 "$TMP"
	$X setpriv --reuid=65534 --regid=65534 --clear-groups "$TOOL" \
	    preflight 2>"$TMP/unpriv"
	check "preflight without privilege: one clear line" \
	    grep -q 'need CAP_NET_ADMIN' "$TMP/unpriv"
fi

# A foreign table on the same hook and priority, and iptables-nft rules:
# ours must leave them alone and work next to them.
$X nft -f - <<'EOF'
table ip foreign {
	chain pre { type nat hook prerouting priority dstnat; policy accept;
		ip daddr 198.18.5.5 tcp dport 80 redirect to :9999
	}
	chain out { type nat hook output priority -100; policy accept;
		ip daddr 198.18.5.5 tcp dport 80 redirect to :9999
	}
}
EOF
HAVE_IPT_NFT=0
if command -v iptables-nft >/dev/null &&
    $X iptables-nft -t nat -A OUTPUT -d 198.18.5.6/32 -p tcp --dport 80 -j REDIRECT --to-ports 9998 2>/dev/null; then
	HAVE_IPT_NFT=1
fi
foreign() { $X nft list table ip foreign; [ $HAVE_IPT_NFT = 0 ] || $X iptables-nft -t nat -S OUTPUT; }
foreign >"$TMP/foreign.before"
foreign_kept() { foreign | diff -u "$TMP/foreign.before" - >&2; }

check "apply full" apply full
check "nft shows the full plan (IPv4 and IPv6)" same_as_plan full
check "four rules per chain, two base chains at dstnat, both families" layout_ok
check "one build per family" test "$(stat builds)" = 2
check "foreign table and iptables-nft rules untouched" foreign_kept

commits=$(stat commits)
check "apply full again" apply full
check "...commits nothing" test "$(stat commits)" = "$commits"

added=$(stat added) deleted=$(stat deleted)
check "apply less (shop/front removed)" apply less
check "nft shows the smaller plan" same_as_plan less
check "...by deleting exactly its 3 elements, no rebuild" \
    test "$(stat deleted)" = $((deleted + 3)) -a "$(stat added)" = "$added" \
    -a "$(stat builds)" = 2

# Someone else commits (iptables-nft, another table): a check, no rebuild.
$X nft add table ip foreign2
checks=$(stat checks)
check "apply full after a foreign commit" apply full
echo "# checks $checks -> $(stat checks), builds $(stat builds)"
check "...one check of our tables, no rebuild" \
    test "$(stat checks)" -gt "$checks" -a "$(stat builds)" = 2
check "nft shows the full plan" same_as_plan full
$X nft delete table ip foreign2

# Hand damage: each must be found by the next apply (the repair) and
# mended by a rebuild of that table.
damage() {	# damage DESCRIPTION NFT-ARGS...
	local d=$1 b; shift
	b=$(stat builds)
	$X nft "$@" || { not_ok "$d: nft $*"; return; }
	check "$d: repaired" apply full
	check "$d: nft shows the full plan again" same_as_plan full
	check "$d: by one rebuild" test "$(stat builds)" = $((b + 1))
	check "$d: layout restored" layout_ok
}
damage "an element deleted" delete element ip kube-uproxy portals '{ 198.19.0.10 . tcp . 80 }'
damage "an element's port edited" -f - <<'EOF'
delete element ip kube-uproxy portals { 198.19.0.53 . udp . 53 }
add element ip kube-uproxy portals { 198.19.0.53 . udp . 53 : 999 }
EOF
damage "an element added" add element ip6 kube-uproxy portals '{ 2001:2::99 . tcp . 80 : 1 }'
damage "a chain flushed" flush chain ip kube-uproxy output
damage "a rule added" insert rule ip6 kube-uproxy prerouting drop
damage "the table dormant" add table ip kube-uproxy '{ flags dormant; }'
damage "a table deleted" delete table ip6 kube-uproxy
check "foreign table and iptables-nft rules still untouched" foreign_kept

# loadBalancerSourceRanges: the firewall and firewall-allow sets.
check "apply ranges (LB IPs with source ranges, both families)" apply ranges
check "nft shows the ranges plan (firewall, firewall-allow)" same_as_plan ranges
check "...a nested range is left out" bash -c "! grep -q 198.18.0.128/25 $TMP/got4"
check "...the other family's ranges are left out" bash -c "! grep -q 'firewall-allow .* 2001:2' $TMP/got4"
damage_ranges() {	# damage_ranges DESCRIPTION NFT-ARGS...
	local d=$1 b; shift
	b=$(stat builds)
	$X nft "$@" || { not_ok "$d: nft $*"; return; }
	check "$d: repaired" apply ranges
	check "$d: nft shows the ranges plan again" same_as_plan ranges
	check "$d: by one rebuild" test "$(stat builds)" = $((b + 1))
}
damage_ranges "an allowed range deleted" delete element ip kube-uproxy \
    firewall-allow '{ 198.18.100.1 . tcp . 8090 . 203.0.113.0/24 }'
damage_ranges "a firewall element deleted" delete element ip6 kube-uproxy \
    firewall '{ 2001:2::100:1 . udp . 53 }'
damage_ranges "the firewall chain flushed" flush chain ip kube-uproxy firewall-prerouting
check "apply clashfw (two services, one LB IP:port, nested ranges)" apply clashfw
check "...no refused transaction: the first one's ranges only" same_as_plan clashfw
check "...not the second's" bash -c "! grep -q 'firewall-allow .*b/second' $TMP/got4"
check "apply full (ranges gone)" apply full
check "nft shows no firewall element" same_as_plan full

# --nodeport-addresses: the nodeports rules once per range of the family.
nodeports_layout() {	# nodeports_layout FAMILY RANGE COUNT
	[ "$($X nft list chain "$1" kube-uproxy prerouting |
	    grep -c "fib daddr type local $1 daddr $2 .*@nodeports")" = "$3" ]
}
ask "nodeport 198.18.0.0/24,198.19.0.0/16,2001:2::/48"
b=$(stat builds)
check "apply full with --nodeport-addresses" apply full
check "...rebuilt with the new layout" test "$(stat builds)" = $((b + 2))
check "...ip: nodeports rules for 198.18.0.0/24" nodeports_layout ip 198.18.0.0/24 2
check "...ip: and for 198.19.0.0/16" nodeports_layout ip 198.19.0.0/16 2
check "...ip6: for 2001:2::/48" nodeports_layout ip6 2001:2::/48 2
check "...the elements are the plan's" same_as_plan full
b=$(stat builds)
check "apply full again: no rebuild" apply full
check "...none" test "$(stat builds)" = "$b"
damage_np() {
	b=$(stat builds)
	$X nft delete rule ip kube-uproxy prerouting handle "$($X nft -a list chain \
	    ip kube-uproxy prerouting | sed -n 's/.*198.19.0.0\/16 .*@nodeports .*# handle //p' | head -n1)"
	check "a nodeports range rule deleted: repaired" apply full
	check "...by one rebuild" test "$(stat builds)" = $((b + 1))
	check "...layout back" nodeports_layout ip 198.19.0.0/16 2
}
damage_np
ask "nodeport 2001:2::/48"
check "apply full with only an IPv6 range" apply full
check "...ip: no nodeports rule at all" \
    bash -c "! $X nft list chain ip kube-uproxy prerouting | grep -q @nodeports"
ask "nodeport none"
check "apply full with no ranges" apply full
check "...the layout of before" layout_ok

check "apply dnat (bound to 198.18.0.1)" apply dnat
check "nft shows the DNAT plan" same_as_plan dnat
check "apply dnat6 (bound to 2001:2::1)" apply dnat6
check "nft shows the IPv6 DNAT plan" same_as_plan dnat6
check "apply clash (two services, one externalIP:port)" apply clash
check "nft shows the first one's element" same_as_plan clash
check "...the first in the plan's order" \
    grep -q '198.18.3.3 . tcp . 80 : 41000 "a/first:p"' "$TMP/got4"

# A random walk: after every step the tables are the plan, reached by
# exactly the element adds and deletes between the two renders (a
# changed element is one delete and one add), never a rebuild.
SEED=$((RANDOM % 1000))
walk_ok=1
apply "walk:$SEED:0" && same_as_plan "walk:$SEED:0" || walk_ok=0
builds=$(stat builds)
for step in $(seq 1 40); do
	((walk_ok)) || break
	prev=$(cat "$TMP/want4" "$TMP/want6")
	a=$(stat added) d=$(stat deleted)
	apply "walk:$SEED:$step" && same_as_plan "walk:$SEED:$step" ||
	    { walk_ok=0; echo "# step $step" >&2; break; }
	now=$(cat "$TMP/want4" "$TMP/want6")
	want_add=$(comm -13 <(echo "$prev" | sort) <(echo "$now" | sort) | grep -c .)
	want_del=$(comm -23 <(echo "$prev" | sort) <(echo "$now" | sort) | grep -c .)
	if [ "$(stat added)" != $((a + want_add)) ] ||
	    [ "$(stat deleted)" != $((d + want_del)) ]; then
		echo "# step $step: added $(($(stat added) - a)) (want $want_add)," \
		    "deleted $(($(stat deleted) - d)) (want $want_del)" >&2
		walk_ok=0
	fi
done
check "random walk (seed $SEED): 41 steps, each exactly its plan by exactly its changes" \
    test $walk_ok = 1
check "...with no rebuild" test "$(stat builds)" = "$builds"
check "no transaction failed" test "$(stat failures)" = 0

check "apply empty" apply empty
check "nft shows no element" same_as_plan empty

ask cleanup
check "cleanup" test "$REPLY" = ok
check "cleanup leaves no kube-uproxy table" \
    bash -c "! $X nft list tables | grep -q kube-uproxy"
check "...and keeps the foreign table and iptables-nft rules" foreign_kept
check "cleanup twice is fine" $X "$TOOL" cleanup
exec {TOOLP[1]}>&-
wait "$TOOL_PID" 2>/dev/null
TOOL_PID=

for n in ${BENCH:-}; do
	echo "# bench: $($X "$TOOL" bench "$n" 2>&1)"
done

echo "1..$N"
exit $FAILED
