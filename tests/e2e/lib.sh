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

# ===========================================================================
# --- issue 12: two nodes' worth of endpoints (tests/e2e/policy_*.sh) -------
# ===========================================================================
# kube-uproxy is node "node-a" (pol_start_proxy passes --hostname-override);
# pods 1 and 2 are on the bridge above, pods 3 and 4 are added to it by
# pol_begin.  Which pods are node-a's and which are node-b's is said by the
# EndpointSlices (nodeName), as in a cluster: a userspace proxy connects to
# a pod's address wherever the pod is, so the bridge stands for both nodes.
# With `v6`, every namespace also gets an address in 2001:2::/48 (RFC 5180):
#
#   client 2001:2::2/64 ---- node ext0 2001:2::1/64, br0 2001:2:0:1::1/64 ---- pods 2001:2:0:1::1N
#
# and the node routes the IPv6 service ranges to br0 as it does the IPv4
# ones: cluster IPs 2001:2:0:10::/64, external IPs 2001:2:0:50::/64,
# LoadBalancer IPs 2001:2:0:100::/64.  Objects are written as JSON (one
# shape for manifests and for the fake API) by the p_* generators below.

POL_NODE=node-a			# our node: --hostname-override
POL_OTHER=node-b
POL_POD_IPS=(198.18.1.11 198.18.1.12 198.18.1.13 198.18.1.14)
POL_POD6_IPS=(2001:2:0:1::11 2001:2:0:1::12 2001:2:0:1::13 2001:2:0:1::14)
POL_NODE6_BR=2001:2:0:1::1
POL_NODE6_EXT=2001:2::1
POL_CLIENT6=2001:2::2
POL_V6=0
POL_PODS=()			# namespaces of pods 1..4 (index 0..3)
POD3="" POD4=""
# Shorthands for p_slice's ep=: the pod's address and its node.
P1=${POL_POD_IPS[0]} P2=${POL_POD_IPS[1]} P3=${POL_POD_IPS[2]} P4=${POL_POD_IPS[3]}
L="node=$POL_NODE" R="node=$POL_OTHER"

# pol_begin [v6] [udp]: e2e_begin, pods 3 and 4, IPv6 when asked, nginx
# answering "podN" on port 80 in all four pods (both families with v6),
# and with `udp` a UDP echo on UDP_PORT answering "podN:<payload>".
pol_begin() {
	local a udp=0 i
	for a in "$@"; do
		case $a in
		v6) POL_V6=1 ;;
		udp) udp=1 ;;
		*) hard_error "pol_begin: unknown argument $a" ;;
		esac
	done
	e2e_begin
	POL_PODS=("$POD1" "$POD2")
	for i in 3 4; do
		pol_add_pod "$i" || hard_error "cannot add pod $i"
	done
	POD3=${POL_PODS[2]} POD4=${POL_PODS[3]}
	if [ $POL_V6 = 1 ]; then
		pol_ipv6 || hard_error "cannot give the namespaces IPv6 addresses"
	fi
	for i in 1 2 3 4; do
		pol_nginx "$i"
	done
	for i in 1 2 3 4; do
		nginx_up() { [ "$(e2e_curl "$NODE" "http://$1/")" = "pod$2" ]; }
		poll 5 nginx_up "${POL_POD_IPS[i - 1]}" "$i" ||
		    hard_error "nginx of pod $i not answering: $(tail -n 3 "$T_DIR/pod$i/error.log" 2>/dev/null)"
		if [ $POL_V6 = 1 ]; then
			poll 5 nginx_up "[${POL_POD6_IPS[i - 1]}]" "$i" ||
			    hard_error "nginx of pod $i not answering on IPv6"
		fi
	done
	[ $udp = 1 ] || return 0
	for i in 1 2 3 4; do
		backend_in "${POL_PODS[i - 1]}" "pod$i" udp-echo-name \
		    "${POL_POD_IPS[i - 1]}:$UDP_PORT" --name "pod$i"
		[ $POL_V6 = 1 ] || continue
		backend_in "${POL_PODS[i - 1]}" "pod$i-6" udp-echo-name \
		    "[${POL_POD6_IPS[i - 1]}]:$UDP_PORT" --name "pod$i"
	done
}

# pol_add_pod N: namespace PREFIX-podN on the node's bridge at
# POL_POD_IPS[N-1] (the namespace goes with topo_down).
pol_add_pod() {
	local i=$1 ns=${NODE%-node}-pod$1
	ip netns add "$ns" || return 1
	TOPO_NSS+=("$ns")
	POL_PODS+=("$ns")
	ip -n "$ns" link set lo up &&
	ip -n "$NODE" link add "p$i" type veth peer name eth0 netns "$ns" &&
	ip -n "$NODE" link set "p$i" master br0 up &&
	ip -n "$ns" addr add "${POL_POD_IPS[i - 1]}/24" dev eth0 &&
	ip -n "$ns" link set eth0 up &&
	ip -n "$ns" route add default via "$TOPO_NODE_BR"
}

# pol_ipv6: the IPv6 addresses and routes drawn above (no DAD: usable at once).
pol_ipv6() {
	local i ns
	ip netns exec "$NODE" sysctl -qw net.ipv6.conf.all.forwarding=1 &&
	ip -n "$NODE" addr add "$POL_NODE6_BR/64" dev br0 nodad &&
	ip -n "$NODE" addr add "$POL_NODE6_EXT/64" dev ext0 nodad &&
	ip -n "$NODE" route add 2001:2:0:10::/64 dev br0 &&
	ip -n "$NODE" route add 2001:2:0:50::/64 dev br0 &&
	ip -n "$NODE" route add 2001:2:0:100::/64 dev br0 &&
	ip -n "$CLIENT" addr add "$POL_CLIENT6/64" dev eth0 nodad &&
	ip -n "$CLIENT" route add default via "$POL_NODE6_EXT" || return 1
	for i in 1 2 3 4; do
		ns=${POL_PODS[i - 1]}
		ip -n "$ns" addr add "${POL_POD6_IPS[i - 1]}/64" dev eth0 nodad &&
		ip -n "$ns" route add default via "$POL_NODE6_BR" || return 1
	done
}

# pol_nginx N: nginx in pod N answering "podN" on port 80 of its address
# (and of its IPv6 address when POL_V6=1), files under $T_DIR/podN.
pol_nginx() {
	local i=$1 d=$T_DIR/pod$1 listen
	listen="listen ${POL_POD_IPS[i - 1]}:80;"
	[ $POL_V6 = 1 ] && listen="$listen listen [${POL_POD6_IPS[i - 1]}]:80;"
	mkdir -p "$d/html" || hard_error "mkdir $d"
	echo "pod$i" >"$d/html/index.html"
	cat >"$d/nginx.conf" <<NGINX
daemon off;
master_process off;
pid $d/nginx.pid;
error_log $d/error.log;
events { worker_connections 256; }
http {
	access_log $d/access.log;
	default_type text/plain;
	client_body_temp_path $d/body;
	proxy_temp_path $d/proxy;
	fastcgi_temp_path $d/fastcgi;
	uwsgi_temp_path $d/uwsgi;
	scgi_temp_path $d/scgi;
	server {
		$listen
		root $d/html;
	}
}
NGINX
	ip netns exec "${POL_PODS[i - 1]}" nginx -e "$d/error.log" -p "$d" \
	    -c "$d/nginx.conf" </dev/null &
	T_PIDS="$T_PIDS $!"
}

# pol_start_proxy [flags]: start_proxy as node-a.
pol_start_proxy() { start_proxy --hostname-override "$POL_NODE" "$@"; }

# --- objects (JSON; for write_manifest NAME.json and api_apply) -----------

# p_service name=N [ns=default] [type=ClusterIP] [ip=IP[,IP]]
#   port=NAME/PROTO/PORT/TARGETPORT[/NODEPORT]... [extip=IP]...
#   [lb=IP[/VIP|/Proxy]]... [etp=Local] [itp=Local] [hcnp=PORT]
#   [ranges=CIDR[,CIDR]] [td=PreferClose|PreferSameZone|PreferSameNode]
# A Service; ipFamilies follow the cluster IPs (two: RequireDualStack).
p_service() {
	local name="" ns=default type=ClusterIP ips=198.19.0.10 ports="" extips=""
	local lbs="" etp="" itp="" hcnp="" ranges="" td="" kv p sep fam pol
	local pn pp pport ptgt pnode
	for kv in "$@"; do
		case $kv in
		name=*) name=${kv#*=} ;;
		ns=*) ns=${kv#*=} ;;
		type=*) type=${kv#*=} ;;
		ip=*) ips=${kv#*=} ;;
		port=*) ports="$ports ${kv#*=}" ;;
		extip=*) extips="$extips ${kv#*=}" ;;
		lb=*) lbs="$lbs ${kv#*=}" ;;
		etp=*) etp=${kv#*=} ;;
		itp=*) itp=${kv#*=} ;;
		hcnp=*) hcnp=${kv#*=} ;;
		ranges=*) ranges=${kv#*=} ;;
		td=*) td=${kv#*=} ;;
		*) hard_error "p_service: unknown argument $kv" ;;
		esac
	done
	fam="" sep=""
	for p in ${ips//,/ }; do
		case $p in *:*) fam="$fam$sep\"IPv6\"" ;; *) fam="$fam$sep\"IPv4\"" ;; esac
		sep=,
	done
	case $ips in *,*) pol=RequireDualStack ;; *) pol=SingleStack ;; esac
	printf '{"apiVersion":"v1","kind":"Service","metadata":{"name":"%s","namespace":"%s"},' "$name" "$ns"
	printf '"spec":{"type":"%s","clusterIP":"%s","clusterIPs":["%s"],' \
	    "$type" "${ips%%,*}" "${ips//,/\",\"}"
	printf '"ipFamilies":[%s],"ipFamilyPolicy":"%s","sessionAffinity":"None",' "$fam" "$pol"
	[ -n "$etp" ] && printf '"externalTrafficPolicy":"%s",' "$etp"
	[ -n "$itp" ] && printf '"internalTrafficPolicy":"%s",' "$itp"
	[ -n "$hcnp" ] && printf '"healthCheckNodePort":%s,' "$hcnp"
	[ -n "$td" ] && printf '"trafficDistribution":"%s",' "$td"
	if [ -n "$ranges" ]; then
		printf '"loadBalancerSourceRanges":["%s"],' "${ranges//,/\",\"}"
	fi
	if [ -n "$extips" ]; then
		sep=""
		printf '"externalIPs":['
		for p in $extips; do printf '%s"%s"' "$sep" "$p"; sep=,; done
		printf '],'
	fi
	printf '"ports":['
	sep=""
	for p in $ports; do
		IFS=/ read -r pn pp pport ptgt pnode <<<"$p"
		printf '%s{"name":"%s","protocol":"%s","port":%s,"targetPort":%s' \
		    "$sep" "$pn" "$pp" "$pport" "${ptgt:-$pport}"
		[ -n "$pnode" ] && printf ',"nodePort":%s' "$pnode"
		printf '}'
		sep=,
	done
	printf ']}'
	if [ -n "$lbs" ]; then
		sep=""
		printf ',"status":{"loadBalancer":{"ingress":['
		for p in $lbs; do
			case $p in
			*/*) printf '%s{"ip":"%s","ipMode":"%s"}' "$sep" "${p%/*}" "${p#*/}" ;;
			*) printf '%s{"ip":"%s"}' "$sep" "$p" ;;
			esac
			sep=,
		done
		printf ']}}'
	fi
	printf '}\n'
}

# p_slice name=SERVICE [slice=NAME] [ns=default] [family=IPv4|IPv6]
#   port=NAME/PROTO/PORT... [ep=SPEC]...
# An EndpointSlice.  SPEC is IP[,node=N][,zone=Z][,hz=Z1+Z2][,hn=N1+N2]
# [,s=ready|term|gone|notready]: nodeName, zone, hints.forZones,
# hints.forNodes and the conditions (ready: ready and serving; term:
# serving and terminating, not ready; gone: terminating, not serving;
# notready: none).
p_slice() {
	local name="" slice="" ns=default family=IPv4 ports="" eps="" kv p sep
	local pn pp pport f addr node zone hz hn st cond h hsep
	for kv in "$@"; do
		case $kv in
		name=*) name=${kv#*=} ;;
		slice=*) slice=${kv#*=} ;;
		ns=*) ns=${kv#*=} ;;
		family=*) family=${kv#*=} ;;
		port=*) ports="$ports ${kv#*=}" ;;
		ep=*) eps="$eps ${kv#*=}" ;;
		*) hard_error "p_slice: unknown argument $kv" ;;
		esac
	done
	printf '{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"%s","namespace":"%s","labels":{"kubernetes.io/service-name":"%s"}},"addressType":"%s","ports":[' \
	    "${slice:-$name-slice}" "$ns" "$name" "$family"
	sep=""
	for p in $ports; do
		IFS=/ read -r pn pp pport <<<"$p"
		printf '%s{"name":"%s","protocol":"%s","port":%s}' "$sep" "$pn" "$pp" "$pport"
		sep=,
	done
	printf '],"endpoints":['
	sep=""
	for p in $eps; do
		addr=${p%%,*} node="" zone="" hz="" hn="" st=ready
		for f in ${p//,/ }; do
			case $f in
			node=*) node=${f#*=} ;;
			zone=*) zone=${f#*=} ;;
			hz=*) hz=${f#*=} ;;
			hn=*) hn=${f#*=} ;;
			s=*) st=${f#*=} ;;
			"$addr") ;;
			*) hard_error "p_slice: unknown endpoint field $f" ;;
			esac
		done
		case $st in
		ready) cond='"ready":true,"serving":true,"terminating":false' ;;
		term) cond='"ready":false,"serving":true,"terminating":true' ;;
		gone) cond='"ready":false,"serving":false,"terminating":true' ;;
		notready) cond='"ready":false,"serving":false,"terminating":false' ;;
		*) hard_error "p_slice: unknown state $st" ;;
		esac
		printf '%s{"addresses":["%s"],"conditions":{%s}' "$sep" "$addr" "$cond"
		[ -n "$node" ] && printf ',"nodeName":"%s"' "$node"
		[ -n "$zone" ] && printf ',"zone":"%s"' "$zone"
		if [ -n "$hz$hn" ]; then
			printf ',"hints":{'
			hsep=""
			if [ -n "$hz" ]; then
				printf '"forZones":['
				for h in ${hz//+/ }; do printf '%s{"name":"%s"}' "$hsep" "$h"; hsep=,; done
				printf ']'
			fi
			if [ -n "$hn" ]; then
				[ -n "$hz" ] && printf ','
				hsep=""
				printf '"forNodes":['
				for h in ${hn//+/ }; do printf '%s{"name":"%s"}' "$hsep" "$h"; hsep=,; done
				printf ']'
			fi
			printf '}'
		fi
		printf '}'
		sep=,
	done
	printf ']}\n'
}

# p_node [name=node-a] [zone=Z] [deleting=1] [taint=1]: a Node with the
# zone label, a deletionTimestamp, the cluster autoscaler's taint.
p_node() {
	local name=$POL_NODE zone="" deleting="" taint="" kv
	for kv in "$@"; do
		case $kv in
		name=*) name=${kv#*=} ;;
		zone=*) zone=${kv#*=} ;;
		deleting=*) deleting=${kv#*=} ;;
		taint=*) taint=${kv#*=} ;;
		*) hard_error "p_node: unknown argument $kv" ;;
		esac
	done
	printf '{"apiVersion":"v1","kind":"Node","metadata":{"name":"%s","labels":{"kubernetes.io/hostname":"%s"%s}' \
	    "$name" "$name" "${zone:+,\"topology.kubernetes.io/zone\":\"$zone\"}"
	if [ -n "$deleting" ]; then
		printf ',"deletionTimestamp":"2026-01-01T00:00:00Z","finalizers":["kube-uproxy.test/hold"]'
	fi
	printf '},"spec":{'
	if [ -n "$taint" ]; then
		printf '"taints":[{"key":"ToBeDeletedByClusterAutoscaler","value":"1700000000","effect":"NoSchedule"}]'
	fi
	printf '}}\n'
}

# p_list OBJECT...: a v1 List of the objects (one manifest file).
p_list() {
	local sep="" o
	printf '{"apiVersion":"v1","kind":"List","items":['
	for o in "$@"; do printf '%s%s' "$sep" "$o"; sep=,; done
	printf ']}\n'
}

# --- traffic --------------------------------------------------------------

# names_seen NS URL N [curl options]: N requests (one connection each);
# the distinct answers, sorted, on one line ("pod1 pod3"; a failed
# request shows as ERROR:<curl exit code>).
names_seen() {
	local ns=$1 url=$2 n=$3
	shift 3
	local i
	for i in $(seq "$n"); do
		e2e_curl "$ns" "$url" "$@"
	done | sort -u | tr '\n' ' ' | sed 's/ $//'
}

# names_are_set NS URL N WANT [curl options]: names_seen is exactly WANT.
names_are_set() {
	local ns=$1 url=$2 n=$3 want=$4
	shift 4
	[ "$(names_seen "$ns" "$url" "$n" "$@")" = "$want" ]
}

# expect_names WHAT NS URL N WANT [curl options]: N requests from NS to
# URL are answered by exactly the pods WANT ("pod1 pod2"), nothing else.
expect_names() {
	local what=$1 ns=$2 url=$3 n=$4 want=$5 got
	shift 5
	got=$(names_seen "$ns" "$url" "$n" "$@")
	expect_eq "$what ($n requests from ${ns##*-} to $url)" "$got" "$want"
}

# wait_names SECONDS WHAT NS URL N WANT [curl options]: poll until a round
# of N requests is answered by exactly WANT (a change is followed), then
# check one more round.  Under `soft`, a failure lets the scenario go on.
wait_names() {
	local secs=$1 what=$2 ns=$3 url=$4 n=$5 want=$6
	shift 6
	poll "$secs" names_are_set "$ns" "$url" "$n" "$want" "$@" || {
		fail "$what: after ${secs}s requests from ${ns##*-} to $url got '$(names_seen "$ns" "$url" "$n" "$@")', wanted '$want'"
		return 1
	}
	expect_names "$what" "$ns" "$url" "$n" "$want" "$@"
}

# tcp_outcome NS HOST PORT: how a connection from NS ends, as client.py
# refuse says it ("reset MS", "refused MS", "eof MS", "timeout MS",
# "data:... MS"), the wait 1.5 s at most.
tcp_outcome() { client_in "$1" refuse "$2" "$3" --timeout 1.5; }

# is_refused_fast NS HOST PORT: the connection is reset or refused (not
# answered, not left hanging) within 1 s.
is_refused_fast() {
	local res
	res=$(tcp_outcome "$@")
	case $res in
	reset\ *|refused\ *|eof\ *) [ "${res#* }" -lt 1000 ] ;;
	*) return 1 ;;
	esac
}

# expect_refused WHAT NS HOST PORT
expect_refused() {
	local res
	res=$(tcp_outcome "$2" "$3" "$4")
	expect_match "$1 (from ${2##*-} to $3:$4)" "$res" '^(reset|refused|eof) [0-9]+$'
	expect_lt "$1: ms until refused ($res)" "${res#* }" 1000
}

# udp_ask NS HOST PORT [N [flows]]: N (default 1) datagrams from NS to
# HOST:PORT (either family), from one socket (not connect()ed), or with
# `flows` each from a new socket (a new flow): one line per answer "NAME
# from ADDR" (the reply's source address), or TIMEOUT (1.5 s).
udp_ask() {
	ip netns exec "$1" "$PYTHON3" -c '
import socket, sys
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
flows = sys.argv[4] == "flows"
fam = socket.AF_INET6 if ":" in host else socket.AF_INET
s = None
for i in range(n):
    if s is None or flows:
        if s is not None:
            s.close()
        s = socket.socket(fam, socket.SOCK_DGRAM)
        s.settimeout(1.5)
    payload = ("ping-%d" % i).encode()
    s.sendto(payload, (host, port))
    try:
        data, peer = s.recvfrom(65536)
    except socket.timeout:
        print("TIMEOUT")
        continue
    name, _, echoed = data.partition(b":")
    if echoed != payload:
        print("MISMATCH")
        continue
    print("%s from %s" % (name.decode(), peer[0]))
' "$2" "$3" "${4:-1}" "${5:-one}"
}

# udp_names NS HOST PORT N: the distinct "podN from ADDR" answers of N
# datagrams, each from a new socket (a new flow), sorted on one line.
udp_names() {
	udp_ask "$1" "$2" "$3" "$4" flows | sort -u | tr '\n' ' ' | sed 's/ $//'
}

# hc_get NS URL: GET URL from NS; prints three lines: the status,
# "content-type=...;nosniff=...", and the body as canonical JSON (keys
# sorted, no spaces), or "ERROR:<curl exit code>".
hc_get() {
	local code rc
	rm -f "$T_DIR/hc.h" "$T_DIR/hc.b"
	code=$(ip netns exec "$1" curl -sS --noproxy '*' --max-time 2 -g \
	    -D "$T_DIR/hc.h" -o "$T_DIR/hc.b" -w '%{http_code}' "$2" 2>/dev/null)
	rc=$?
	[ $rc = 0 ] || { echo "ERROR:$rc"; return 0; }
	echo "$code"
	printf 'content-type=%s;nosniff=%s\n' \
	    "$(grep -i '^content-type:' "$T_DIR/hc.h" | cut -d: -f2- | tr -d '\r' | sed 's/^ *//')" \
	    "$(grep -i '^x-content-type-options:' "$T_DIR/hc.h" | cut -d: -f2- | tr -d '\r' | sed 's/^ *//')"
	"$PYTHON3" -c '
import json, sys
try:
    print(json.dumps(json.load(open(sys.argv[1])), sort_keys=True, separators=(",", ":")))
except ValueError:
    print("NOT-JSON:" + open(sys.argv[1], errors="replace").read()[:200])
' "$T_DIR/hc.b"
}

# hc_body NAMESPACE NAME N HEALTHY: the body a health-check node port
# answers, canonical as hc_get prints it.
hc_body() {
	printf '{"localEndpoints":%s,"service":{"name":"%s","namespace":"%s"},"serviceProxyHealthy":%s}\n' \
	    "$3" "$2" "$1" "$4"
}

# hc_status_is NS URL CODE: for polls.
hc_status_is() { [ "$(hc_get "$1" "$2" | head -n1)" = "$3" ]; }

# hc_closed NS URL: nothing answers HTTP there (refused, reset or silent).
hc_closed() {
	case $(hc_get "$1" "$2" | head -n1) in ERROR:*) return 0 ;; esac
	return 1
}

# --- rules of every table, for "no rule for that address" ------------------

# all_rules: everything in the node's iptables-legacy (both families, all
# tables) and nftables rule sets, one rule per line.
all_rules() {
	in_ns "$NODE" iptables-legacy-save 2>/dev/null
	in_ns "$NODE" ip6tables-legacy-save 2>/dev/null
	command -v nft >/dev/null && in_ns "$NODE" nft list ruleset 2>/dev/null
}

# --- the fake API server in the node's namespace ---------------------------

# pol_fakeapi_start [fakeapi.py options]: tests/lib.sh's fakeapi_start with
# the server (and the control requests) in the node's namespace, where
# the daemon runs.
pol_fakeapi_start() {
	local py=$PYTHON3
	printf '#!/bin/sh\nexec ip netns exec %s %s "$@"\n' "$NODE" "$py" >"$T_DIR/ns-python3"
	printf '#!/bin/sh\nexec ip netns exec %s curl "$@"\n' "$NODE" >"$T_DIR/ns-curl"
	chmod +x "$T_DIR/ns-python3" "$T_DIR/ns-curl"
	command -v curl >/dev/null || skip "no curl"
	T_CURL=$T_DIR/ns-curl
	PYTHON3=$T_DIR/ns-python3
	fakeapi_start "$@"
	PYTHON3=$py
}

# pol_start_proxy_api [flags]: start_proxy (node-a) on the fake API
# instead of the manifests; waits 15 s for /healthz 200.
pol_start_proxy_api() {
	METRICS_URL=http://127.0.0.1:10249
	HEALTHZ_URL=http://127.0.0.1:10256
	ip netns exec "$NODE" env -u KUBECONFIG -u KUBERNETES_SERVICE_HOST \
	    -u KUBERNETES_SERVICE_PORT -u KUBE_UPROXY_SERVICEACCOUNT_DIR \
	    $KUBE_UPROXY_WRAP "$KUBE_UPROXY" \
	    --kubeconfig "$API_KUBECONFIG" --hostname-override "$POL_NODE" \
	    --metrics-bind-address 127.0.0.1:10249 \
	    --healthz-bind-address 127.0.0.1:10256 \
	    --v 4 ${KUP_PORTALS:+--portals "$KUP_PORTALS"} "$@" \
	    2>>"$T_DIR/kube-uproxy.log" </dev/null &
	T_DAEMON_PID=$!
	T_PIDS="$T_PIDS $T_DAEMON_PID"
	wait_healthy $((15 * T_SLOW))
}

# livez_status: /livez's status code.
livez_status() { client http --status "$HEALTHZ_URL/livez" 2>/dev/null; }

# --- clients that keep going while the cluster changes ----------------------

# loop_start NAME NS URL: from NS, GET URL on a new connection every 20 ms
# until loop_stop (60 s at most); each answer ("podN") or failure
# ("FAIL <reason>") is a line of $T_DIR/loop-NAME.
loop_start() {
	rm -f "$T_DIR/loop.stop"
	ip netns exec "$2" "$PYTHON3" -c '
import os, sys, time, urllib.request
url, out, stop = sys.argv[1], sys.argv[2], sys.argv[3]
h = urllib.request.build_opener(urllib.request.ProxyHandler({}))
end = time.monotonic() + 60
with open(out, "w") as f:
    while not os.path.exists(stop) and time.monotonic() < end:
        try:
            with h.open(url, timeout=2) as r:
                f.write(r.read().decode().strip() + "\n")
        except Exception as e:
            f.write("FAIL %s\n" % e)
        f.flush()
        time.sleep(0.02)
' "$3" "$T_DIR/loop-$1" "$T_DIR/loop.stop" 2>"$T_DIR/loop-$1.err" </dev/null &
	T_PIDS="$T_PIDS $!"
	LOOP_PIDS="${LOOP_PIDS:-} $!"
}

# loop_stop: end every loop and wait for them (5 s at most).
loop_stop() {
	local pid deadline=$(( $(now_ms) + 5000 ))
	touch "$T_DIR/loop.stop"
	for pid in ${LOOP_PIDS:-}; do
		while t_running "$pid" && [ "$(now_ms)" -lt "$deadline" ]; do
			sleep 0.05
		done
	done
	LOOP_PIDS=""
}

# loop_lines NAME: the answers the loop NAME has logged so far.
loop_lines() { cat "$T_DIR/loop-$1" 2>/dev/null | wc -l; }

# loop_since NAME MARK: the distinct answers after the first MARK ones
# (a loop_lines count), sorted, on one line; failures show as FAIL.
loop_since() {
	tail -n +"$(( $2 + 1 ))" "$T_DIR/loop-$1" | sed 's/^FAIL .*/FAIL/' |
	    sort -u | tr '\n' ' ' | sed 's/ $//'
}

# loop_last_is NAME REGEX: the last answer of the loop matches (polls).
loop_last_is() { tail -n 1 "$T_DIR/loop-$1" 2>/dev/null | grep -Eqx -- "$2"; }

# loop_tail_is NAME N WANT: the last N answers are the pods WANT ("pod1
# pod2", distinct, sorted), for polls.
loop_tail_is() {
	[ "$(loop_lines "$1")" -ge "$2" ] &&
	    [ "$(tail -n "$2" "$T_DIR/loop-$1" | sort -u | tr '\n' ' ' | sed 's/ $//')" = "$3" ]
}

# loop_wait NAME N: wait (5 s) until the loop has N more answers than now.
loop_wait() {
	local want=$(( $(loop_lines "$1") + $2 ))
	wait_for 5 "$2 more answers of loop $1" eval "[ \$(loop_lines $1) -ge $want ]"
}

# held_start NS URL: one HTTP/1.1 keep-alive connection from NS to URL,
# asked once now and again at each held_ask; the answers ("podN port P":
# the pod and the client's local port, which must not change) are lines
# of $T_DIR/held.out ("FAIL <reason>" when it broke).  Not in $(...).
held_start() {
	rm -f "$T_DIR"/held.*
	ip netns exec "$1" "$PYTHON3" -c '
import http.client, os, sys, time, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1])
d = sys.argv[2]
c = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=3)
def ask():
    try:
        c.request("GET", u.path or "/")
        r = c.getresponse()
        body = r.read().decode().strip()
        return "%s port %d" % (body, c.sock.getsockname()[1])
    except Exception as e:
        return "FAIL %r" % e
with open(os.path.join(d, "held.out"), "w") as f:
    i, end = 0, time.monotonic() + 60
    while time.monotonic() < end:
        if i == 0 or os.path.exists(os.path.join(d, "held.go%d" % i)):
            f.write(ask() + "\n")
            f.flush()
            i += 1
            if os.path.exists(os.path.join(d, "held.end")):
                break
        time.sleep(0.02)
' "$2" "$T_DIR" 2>"$T_DIR/held.err" </dev/null &
	T_PIDS="$T_PIDS $!"
	wait_for 5 "the held connection's first answer" held_has 1
}

held_has() { [ "$(cat "$T_DIR/held.out" 2>/dev/null | wc -l)" -ge "$1" ]; }

# held_ask N [last]: ask a N-th time on the held connection (N from 1), and
# wait for the answer.  Not in $(...).
held_ask() {
	[ "${2:-}" = last ] && touch "$T_DIR/held.end"
	touch "$T_DIR/held.go$1"
	wait_for 5 "answer $1 on the held connection" held_has $(($1 + 1))
}

# held_answer N: the answer to ask N (0: the first one, when it opened).
held_answer() { sed -n "$(($1 + 1))p" "$T_DIR/held.out"; }

# pol_api_apply OBJECT...: upsert objects in the fake API, failing with
# fakeapi's answer (tests/lib.sh's api_apply sends that to /dev/null).
pol_api_apply() {
	local o out
	for o in "$@"; do
		out=$(printf '%s' "$o" | "$T_CURL" -sS -m 10 -X POST \
		    -H 'Content-Type: application/json' --data-binary @- \
		    -w '\n%{http_code}' "$CTL_URL/objects" 2>&1)
		case ${out##*$'\n'} in
		2??) ;;
		*) fail "fakeapi: POST /objects of ${o:0:80}... failed: $(echo $out)" ;;
		esac
	done
}

# metric_sample 'NAME{LABELS}': the value of that exact /metrics sample
# (labels as the daemon prints them), or ABSENT.
metric_sample() {
	local v
	v=$(client http "$METRICS_URL/metrics" 2>/dev/null |
	    awk -v s="$1" '$1 == s { print $2; exit }')
	echo "${v:-ABSENT}"
}
