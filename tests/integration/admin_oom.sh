#!/bin/bash
# admin_oom.sh - an admin request whose allocations fail is refused, never
# a crash: each allocation of a request is made to fail in turn.
#
# kube-uproxy runs under the fault-injection shim (tests/tools/faultinj.c)
# with nothing else to do (no traffic).  For N = 1, 2, ... the shim fails
# the N-th malloc (or calloc, realloc) after a request's connection is
# accepted ("malloc nth=N", armed before the connect: the shim reads its
# rules on the accept4 call); the request may be answered or refused, as
# long as the daemon lives and, the fault cleared, answers the same
# request again.  The sweep of a path ends at the first N no allocation
# of its request reached (nothing injected), so every allocation a
# request makes has failed once.  The fault matrix's malloc-1in200 cell
# found the first crash this catches (libevent 2.1's evhttp freed a
# half-made connection when a strdup failed); the sweep found a second in
# libevent (bufferevent_setwatermark).  Swept: the health checkers' paths
# (/livez, /healthz) and the scrapers' (/metrics).  The debugging pages
# (/debug/services, the status page) build their answers with util.h's
# x-allocations: out of memory there ends the daemon with one line, by
# that file's convention.
TESTS_SRCDIR=${TESTS_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
. "$TESTS_SRCDIR/lib.sh"

SHIM=${FAULTINJ_SO:-${TESTS_BUILDDIR:-$TESTS_SRCDIR}/tools/faultinj.so}
MAX_N=${MAX_N:-400}	# past this many allocations a request is a bug

[ -f "$SHIM" ] || skip "no $SHIM (make check builds it)"
if ldd "$KUBE_UPROXY" 2>/dev/null | grep -qE 'lib(a|ub|t)san'; then
	skip "sanitizer build: an LD_PRELOAD shim cannot come before the sanitizer runtime"
fi
[ -z "$KUBE_UPROXY_WRAP" ] ||
    skip "the daemon runs under '$KUBE_UPROXY_WRAP': the shim must be its first preload"

t_begin
CTL=$T_DIR/faults.ctl
: >"$CTL"
KUBE_UPROXY_WRAP="env LD_PRELOAD=$SHIM FAULTINJ_CTL=$CTL"

P=$(free_ports 1)
backend echo tcp-echo "127.0.0.11:$P"
write_manifest svc.yaml "$(m_service name=web port=http/TCP/80)
---
$(m_slice name=web port=http/TCP/$P ep=127.0.0.11)"
start_proxy
wait_proxy_port default/web http >/dev/null

# set_rules TEXT: the shim's rules (';' between lines), read on its next
# wrapped call at least 100 ms after the last one.
set_rules() {
	printf '%s\n' "$1" | tr ';' '\n' >"$CTL.tmp"
	mv -f "$CTL.tmp" "$CTL"
	sleep 0.15
}
injected() { awk '$1 == "malloc" { print $3 }' "$CTL.stats" 2>/dev/null; }
status() {	# status URL: the HTTP status, or 000 when refused
	"$PYTHON3" - "$1" <<'PY'
import sys, urllib.request, urllib.error
try:
    with urllib.request.urlopen(sys.argv[1], timeout=3) as r:
        print(r.status)
except urllib.error.HTTPError as e:
    print(e.code)
except Exception:
    print("000")
PY
}

# sweep URL: fail each allocation of GET URL in turn.
sweep() {
	local url=$1 n=0 got refused=0 code
	while [ $n -lt "$MAX_N" ]; do
		n=$((n + 1))
		rm -f "$CTL.stats"
		set_rules "armed;malloc nth=$n"
		code=$(status "$url")
		got=$(injected)
		set_rules ""
		t_running "$T_DAEMON_PID" ||
		    fail "GET $url with allocation $n failing: the daemon died (log above)"
		[ "${got:-0}" -gt 0 ] || break
		[ "$code" = 200 ] || refused=$((refused + 1))
		code=$(status "$url")
		[ "$code" = 200 ] ||
		    fail "GET $url: answered $code after allocation $n failed and the fault was cleared"
	done
	[ $n -lt "$MAX_N" ] || fail "GET $url: still allocating after $MAX_N allocations"
	log "GET $url: $((n - 1)) allocations failed in turn, $refused requests refused, daemon alive"
	expect_gt "allocations of GET $url swept" $((n - 1)) 0
}

sweep "$HEALTHZ_URL/livez"
sweep "$HEALTHZ_URL/healthz"
sweep "$METRICS_URL/metrics"
stop_proxy
pass
