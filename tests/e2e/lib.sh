#!/bin/bash
# tests/e2e/lib.sh - the shared driver of the end-to-end scenarios.
#
# kube-uproxy runs as a real node proxy: in a "node" network namespace,
# bound to 0.0.0.0, programming nat rules with libiptc (--iptables legacy),
# in front of two "pod" namespaces running real nginx (and a UDP echo),
# with an external "client" namespace behind a router (the node).  Clients
# use the addresses Kubernetes gives them: clusterIP:port, nodeIP:nodePort,
# externalIP:port, LoadBalancer-IP:port; the kernel redirects them to the
# proxy ports.  The topology itself is contrib/lib-topology.sh (shared with
# contrib/demo.sh); everything else comes from tests/lib.sh (temp dir,
# polling, manifest generators, assertions), with the daemon, the clients
# and the HTTP probes moved into the node namespace.
#
# Exit codes follow automake: 0 pass, 1 fail, 77 skip (not root, no
# namespaces, no iptables-legacy, no nginx or curl), 99 hard error.
# Environment: KUBE_UPROXY, TESTS_SRCDIR, PYTHON3; KEEP_TMP=1 keeps the
# temp dir (the namespaces always go).

set -u

TESTS_SRCDIR=${TESTS_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=../lib.sh
. "$TESTS_SRCDIR/lib.sh"
# shellcheck source=../../contrib/lib-topology.sh
. "$TESTS_SRCDIR/../contrib/lib-topology.sh"

NODE="" POD1="" POD2="" CLIENT=""
POD1_IP=${TOPO_POD_IPS[0]}
POD2_IP=${TOPO_POD_IPS[1]}
NODE_IP=$TOPO_NODE_EXT		# the node address clients use for NodePorts
CLIENT_IP=$TOPO_CLIENT_IP
UDP_PORT=5353			# the pods' UDP echo

# Every probe (healthz, /debug/services, /metrics, free ports) runs where
# the daemon is: in the node namespace.
client() { ip netns exec "$NODE" "$PYTHON3" "$TOOLS/client.py" "$@"; }

# client_in NS ARGS...: tests/tools/client.py in namespace NS.
client_in() {
	local ns=$1
	shift
	ip netns exec "$ns" "$PYTHON3" "$TOOLS/client.py" "$@"
}

in_ns() {
	local ns=$1
	shift
	ip netns exec "$ns" "$@"
}

# KUP_PORTALS=nftables runs a scenario against the nftables backend: the
# daemon gets --portals nftables, and nat_rules shows our nftables
# elements in the iptables -S form the scenarios read (nft_nat_rules).
KUP_PORTALS=${KUP_PORTALS:-}

# e2e_begin: skip unless the machine can do it, then build the topology.
e2e_begin() {
	local why
	why=$(topo_usable) || skip "$why"
	if [ "$KUP_PORTALS" = nftables ]; then
		command -v nft >/dev/null || skip "no nft (apt-get install nftables)"
	fi
	command -v nginx >/dev/null || skip "no nginx (apt-get install nginx-light)"
	command -v curl >/dev/null || skip "no curl"
	t_begin
	trap e2e_cleanup EXIT
	topo_up "kup-$$" || hard_error "cannot build the namespaces"
	NODE=$TOPO_NODE POD1=$TOPO_POD1 POD2=$TOPO_POD2 CLIENT=$TOPO_CLIENT
	log "namespaces $NODE $POD1 $POD2 $CLIENT"
}

# Kill what runs in the namespaces, delete them, then the usual cleanup
# (daemon log on failure, temp dir) with the scenario's exit status.
e2e_cleanup() {
	local rc=$? pid
	trap - EXIT
	for pid in $T_PIDS; do
		TOPO_PIDS+=("$pid")
	done
	T_PIDS=""
	topo_kill
	topo_down
	(exit "$rc")
	t_cleanup
}

# --- pods -------------------------------------------------------------------

# e2e_pods [udp]: nginx in both pods ("pod1", "pod2" on port 80), and with
# `udp` a UDP echo on UDP_PORT answering "pod1:<payload>" / "pod2:...".
e2e_pods() {
	local i ip
	for i in 1 2; do
		topo_nginx "$i" "$T_DIR" || hard_error "nginx config for pod $i"
		T_PIDS="$T_PIDS $TOPO_LAST_PID"
		TOPO_PIDS=()
	done
	for i in 1 2; do
		ip=${TOPO_POD_IPS[i - 1]}
		nginx_up() { [ "$(e2e_curl "$NODE" "http://$1/")" = "pod$2" ]; }
		poll 5 nginx_up "$ip" "$i" ||
		    hard_error "nginx of pod $i not answering on $ip:80: $(tail -n 3 "$T_DIR/pod$i/error.log" 2>/dev/null)"
	done
	[ "${1:-}" = udp ] || return 0
	backend_in "$POD1" pod1 udp-echo-name "$POD1_IP:$UDP_PORT"
	backend_in "$POD2" pod2 udp-echo-name "$POD2_IP:$UDP_PORT"
}

# backend_in NS NAME MODE IP:PORT [options]: tests/tools/backend.py in NS,
# waited for like lib.sh's backend.
backend_in() {
	local ns=$1
	shift
	BACKEND_PREFIX="ip netns exec $ns" backend "$@"
}

# --- traffic ----------------------------------------------------------------

# e2e_curl NS URL [curl options]: the body, or "ERROR:<curl exit code>".
e2e_curl() {
	local ns=$1 url=$2 body rc
	shift 2
	body=$(ip netns exec "$ns" curl -sS --noproxy '*' --max-time 2 "$@" \
	    "$url" 2>/dev/null)
	rc=$?
	if [ $rc = 0 ]; then printf '%s\n' "$body"; else echo "ERROR:$rc"; fi
}

# get_names NS URL N: N requests, one connection each; one body per line.
get_names() {
	local i
	for i in $(seq "$3"); do
		e2e_curl "$1" "$2"
	done
}

# expect_answer WHAT NS URL: one request from NS is answered by a pod.
expect_answer() { expect_match "$1" "$(e2e_curl "$2" "$3")" '^pod[12]$'; }

# is_silent NS URL: nothing answers there (the request fails within 1 s).
is_silent() {
	case $(e2e_curl "$1" "$2" --max-time 1) in
	ERROR:*) return 0 ;;
	esac
	return 1
}

# --- the daemon and its rules ------------------------------------------------

# start_proxy [extra flags]: kube-uproxy in the node namespace with nat
# rules (the default --iptables legacy) and the default bind address
# 0.0.0.0; waits for /healthz 200.
start_proxy() {
	METRICS_URL=http://127.0.0.1:10249
	HEALTHZ_URL=http://127.0.0.1:10256
	ip netns exec "$NODE" $KUBE_UPROXY_WRAP "$KUBE_UPROXY" \
	    --manifests "$T_DIR/manifests" \
	    --metrics-bind-address 127.0.0.1:10249 \
	    --healthz-bind-address 127.0.0.1:10256 \
	    --v 4 ${KUP_PORTALS:+--portals "$KUP_PORTALS"} "$@" \
	    2>>"$T_DIR/kube-uproxy.log" </dev/null &
	T_DAEMON_PID=$!
	T_PIDS="$T_PIDS $T_DAEMON_PID"
	wait_healthy $((10 * T_SLOW))
}

# nat_rules: the node's nat table as `iptables-legacy -t nat -S` prints it
# (with KUP_PORTALS=nftables: nft_nat_rules).
nat_rules() {
	if [ "$KUP_PORTALS" = nftables ]; then
		nft_nat_rules
		return
	fi
	ip netns exec "$NODE" iptables-legacy -w 5 -t nat -S ||
	    fail "iptables-legacy -t nat -S failed in $NODE"
}

# nft_nat_rules: our table `ip kube-uproxy` read with nft -j, printed as
# the legacy backend's chains would be: each element of a map is one rule
# in the CONTAINER and one in the HOST chain (the element serves both
# hooks), and each base-chain rule that looks a map up is a jump (the
# portals ones first, the nodeports ones last).  Nothing when the table
# is missing.
nft_nat_rules() {
	ip netns exec "$NODE" nft -j list table ip kube-uproxy 2>/dev/null |
	    "$PYTHON3" -c '
import json, re, sys
try:
    objs = json.load(sys.stdin)["nftables"]
except ValueError:
    sys.exit(0)
def quote(c):
    if re.fullmatch(r"[A-Za-z0-9_-]+", c):
        return c
    return "\"%s\"" % re.sub(r"([\"\\\x27])", r"\\\1", c)
def target(d):
    if isinstance(d, dict):
        a, p = d["concat"]
        return "DNAT --to-destination %s:%d" % (a, p)
    return "REDIRECT --to-ports %d" % d
jumps, rules = {}, []
for o in objs:
    r = o.get("rule")
    if r:
        hook = "PREROUTING" if r["chain"] == "prerouting" else "OUTPUT"
        side = "CONTAINER" if hook == "PREROUTING" else "HOST"
        c = r.get("comment", "")
        if c.startswith("kube-uproxy portals"):
            jumps.setdefault(hook, [None, None])[0] = \
                "-A %s -m comment --comment \"kube-uproxy portals\" -j KUBE-PORTALS-%s" % (hook, side)
        elif c.startswith("kube-uproxy nodeports"):
            jumps.setdefault(hook, [None, None])[1] = \
                "-A %s -m addrtype --dst-type LOCAL -m comment --comment \"kube-uproxy nodeports\" -j KUBE-NODEPORT-%s" % (hook, side)
    m = o.get("map")
    if not m:
        continue
    for k, d in m.get("elem", []):
        c = ""
        if isinstance(k, dict) and "elem" in k:
            c, k = k["elem"].get("comment", ""), k["elem"]["val"]
        f = k["concat"]
        if m["name"].startswith("portals"):
            ch, dst, proto, port = "PORTALS", " -d %s/32" % f[0], f[1], f[2]
        else:
            ch, dst, proto, port = "NODEPORT", "", f[0], f[1]
        for side in ("CONTAINER", "HOST"):
            rules.append("-A KUBE-%s-%s%s -p %s -m %s --dport %d -m comment --comment %s -j %s"
                         % (ch, side, dst, proto, proto, port, quote(c), target(d)))
for ch in ("NODEPORT-CONTAINER", "NODEPORT-HOST", "PORTALS-CONTAINER", "PORTALS-HOST"):
    print("-N KUBE-" + ch)
for hook in ("PREROUTING", "OUTPUT"):
    for j in jumps.get(hook, []):
        if j:
            print(j)
for r in sorted(rules):
    print(r)
'
}

# kube_lines: our chains and rules, and the jumps to them.
kube_lines() { nat_rules | grep KUBE; }

# rules_of COMMENT [CHAIN]: the -A lines of the service port COMMENT
# ("ns/name:port"), optionally only in CHAIN.
rules_of() {
	nat_rules | grep -E -- "^-A ${2:-KUBE-[A-Z-]+} .*--comment \"?$1\"? " || true
}

# count_rules_of COMMENT [CHAIN]
count_rules_of() { rules_of "$@" | grep -c . ; }

# has_rules COMMENT N: exactly N rules of COMMENT are installed.
has_rules() { [ "$(count_rules_of "$1")" = "$2" ]; }

# wait_rules SECONDS COMMENT N
wait_rules() {
	wait_for "$1" "$3 nat rules with comment $2" has_rules "$2" "$3"
}

# --- manifests ----------------------------------------------------------------

# m_lb_status IP...: the status block of a LoadBalancer Service, to append
# after m_service's output.
m_lb_status() {
	local ip
	printf 'status:\n  loadBalancer:\n    ingress:\n'
	for ip in "$@"; do
		printf '    - ip: %s\n' "$ip"
	done
}

# nginx_slice SERVICE [IP...]: a slice of SERVICE with port "http" TCP 80
# on the given pods (default both).
nginx_slice() {
	local name=$1 ips="" ip
	shift
	[ $# -gt 0 ] || set -- "$POD1_IP" "$POD2_IP"
	for ip in "$@"; do
		ips="$ips ep=$ip"
	done
	# shellcheck disable=SC2086
	m_slice name="$name" port=http/TCP/80 $ips
}
