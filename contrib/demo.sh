#!/bin/bash
# demo.sh - the kube-uproxy walkthrough, on one machine, with no cluster.
#
# Usage (as root, from anywhere):  contrib/demo.sh [-- KUBE-UPROXY-ARGS...]
#   e.g. contrib/demo.sh -- --v 2
#
# What it does, step by step:
#   1. installs the Debian packages it needs, and only those (the build
#      and demo lists of contrib/lib-deps.sh: no browser, no valgrind), and
#      builds kube-uproxy in ./build unless already built;
#   2. builds a throwaway cluster node out of network namespaces
#      (contrib/lib-topology.sh): a "node", two "pods" on a bridge behind it,
#      each running a real nginx (198.18.1.11 and 198.18.1.12), and an
#      external "client" that reaches the node through a veth;
#   3. starts kube-uproxy on the node with the Services of
#      contrib/examples/*.yaml; it opens one proxy port per Service port and
#      installs nat rules (iptables, legacy tables) that redirect the
#      Services' addresses to those ports, and shows the rules;
#   4. sends requests to the real addresses, the way pods and users would:
#      round robin through a ClusterIP, ClientIP session affinity, a
#      NodePort and a LoadBalancer IP from outside;
#   5. stops kube-uproxy with SIGTERM: it exits 0 and removes its rules.
# Everything happens inside the namespaces, on 198.18.0.0/15 (the range
# reserved for benchmarking, RFC 2544) and their loopbacks; the host's own
# network and iptables are never touched.  The namespaces and the
# temporary directory are removed on any exit.
#
# KUBE_UPROXY=/path/to/kube-uproxy runs that binary instead of ./build's.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
tmp=
proxy_pid=
checks_failed=0
extra_args=()

if (($#)); then
	[[ $1 == -- ]] || { echo "usage: $0 [-- kube-uproxy-args...]" >&2; exit 2; }
	shift
	extra_args=("$@")
fi

# shellcheck source=lib-topology.sh source-path=SCRIPTDIR
. "$top/contrib/lib-topology.sh"

# Output for a learner: numbered steps, commands shown as they are run.
step_no=0
step() {
	step_no=$((step_no + 1))
	printf '\n\033[1m== %d. %s\033[0m\n' "$step_no" "$*"
}
say() { printf '   %s\n' "$*"; }
ok() { printf '   \033[32mOK\033[0m  %s\n' "$*"; }
bad() {
	printf '   \033[31mUNEXPECTED\033[0m  %s\n' "$*"
	checks_failed=$((checks_failed + 1))
}
die() {
	echo "demo: $*" >&2
	exit 1
}

cleanup() {
	set +e
	if [[ -n $proxy_pid ]] && kill -0 "$proxy_pid" 2>/dev/null; then
		kill -TERM "$proxy_pid"
		wait "$proxy_pid"
	fi
	topo_kill
	topo_down
	[[ -n $tmp ]] && rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# wait_for SECONDS COMMAND...: poll every 0.1 s until COMMAND succeeds;
# returns 1 after SECONDS, or at once when kube-uproxy (if started) is gone.
wait_for() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		((SECONDS < deadline)) || return 1
		[[ -z $proxy_pid ]] || kill -0 "$proxy_pid" 2>/dev/null ||
		    return 1
		sleep 0.1
	done
}

# get NS URL: GET from namespace NS with curl; prints the body.
get() { ip netns exec "$1" curl -sS --noproxy '*' --max-time 3 "$2"; }

# ask NS NAME URL N: N requests from NS, shown as `NAME $ curl URL`;
# the bodies are left in the array `answers`.
answers=()
ask() {
	local i body
	answers=()
	for ((i = 1; i <= $4; i++)); do
		body=$(get "$1" "$3" 2>&1) || body="(no answer: $body)"
		answers+=("$body")
		say "$2 \$ curl $3   -> $body"
	done
}

# check_answered WHAT: every answer of the last `ask` came from a pod.
check_answered() {
	local a
	for a in "${answers[@]}"; do
		[[ $a == pod[12] ]] || { bad "$1 did not answer"; return; }
	done
	ok "$1 answers"
}

# nat: our part of the node's nat table.
nat() { ip netns exec "$TOPO_NODE" iptables-legacy -w 5 -t nat -S; }

((EUID == 0)) || die "run as root (it creates network namespaces)"

step "Packages and build"
# shellcheck source=lib-deps.sh source-path=SCRIPTDIR
. "$top/contrib/lib-deps.sh"
deps_install_demo || die "cannot install the packages this demo needs"
bin=${KUBE_UPROXY:-$top/build/src/kube-uproxy}
if [[ -z ${KUBE_UPROXY:-} ]]; then
	if [[ ! -f $top/build/Makefile ]]; then
		say "building in $top/build (once)"
		(cd "$top" && { [[ -x configure ]] || autoreconf -fi; } &&
		    mkdir -p build && cd build && "$top/configure" -q) ||
		    die "configure failed"
	fi
	make -s -C "$top/build" -j"$(nproc)" >/dev/null || die "build failed"
fi
[[ -x $bin ]] || die "no kube-uproxy binary at $bin"
say "kube-uproxy: $bin"
why=$(topo_usable) || die "this machine cannot run the demo: $why"

step "A node, two pods and a client, as network namespaces"
tmp=$(mktemp -d /tmp/kup-demo.XXXXXX)
topo_up "kup-demo-$$" || die "cannot build the namespaces"
cat <<EOF
   client $TOPO_CLIENT_IP ---- $TOPO_NODE_EXT node $TOPO_NODE_BR (bridge) ---- pod1 ${TOPO_POD_IPS[0]}
                                                           \\--- pod2 ${TOPO_POD_IPS[1]}
   namespaces: $TOPO_CLIENT, $TOPO_NODE, $TOPO_POD1, $TOPO_POD2
   The client's default route goes through the node, like a router in
   front of a cluster; the node routes the service ranges to the bridge.
EOF
for i in 1 2; do
	topo_nginx "$i" "$tmp"
	addr=${TOPO_POD_IPS[i - 1]}
	wait_for 5 get "$TOPO_NODE" "http://$addr/" ||
	    die "nginx for pod $i did not answer; see $tmp/pod$i/error.log"
	say "pod$i runs nginx on $addr:80 and answers: $(get "$TOPO_NODE" "http://$addr/")"
done

step "kube-uproxy on the node, with the example manifests"
for f in "$top"/contrib/examples/*.yaml; do
	say "manifest ${f#"$top"/}"
done
args=(--manifests "$top/contrib/examples"
    --metrics-bind-address 127.0.0.1:10249
    --healthz-bind-address 127.0.0.1:10256 "${extra_args[@]}")
say "node \$ kube-uproxy ${args[*]}"
ip netns exec "$TOPO_NODE" "$bin" "${args[@]}" >"$tmp/kube-uproxy.log" 2>&1 &
proxy_pid=$!
if ! wait_for 10 get "$TOPO_NODE" http://127.0.0.1:10256/healthz; then
	tail -n 20 "$tmp/kube-uproxy.log" >&2
	kill -0 "$proxy_pid" 2>/dev/null || die "kube-uproxy exited early"
	die "kube-uproxy not healthy after 10 s"
fi
say "GET /healthz: $(get "$TOPO_NODE" http://127.0.0.1:10256/healthz)"
rules_in() { [[ $(nat) == *'--comment "default/nginx-sticky:http"'* ]]; }
wait_for 5 rules_in || die "no nat rules after 5 s; see $tmp/kube-uproxy.log"

step "Which proxy port serves which Service (GET /debug/services)"
get "$TOPO_NODE" http://127.0.0.1:10249/debug/services >"$tmp/services.json"
python3 - "$tmp/services.json" <<'EOF'
import json, sys
rows = json.load(open(sys.argv[1]))
fmt = "   {:<27} {:<11} {:<5} {:<5} {:<13} {:<9} {:<9} {}"
print(fmt.format("SERVICE", "CLUSTER-IP", "PORT", "NODE", "LB-IP",
    "AFFINITY", "PROXYPORT", "ENDPOINTS"))
for r in sorted(rows, key=lambda r: r["service"]):
    print(fmt.format(r["service"] + ":" + r.get("portName", ""),
        ",".join(r.get("clusterIPs", [])), r.get("port", ""),
        r.get("nodePort") or "-", ",".join(r.get("loadBalancerIPs", [])) or "-",
        r.get("sessionAffinity", "None"), r.get("proxyPort", ""),
        ",".join(r.get("endpoints", []))))
EOF

step "The nat rules that send Service addresses to the proxy ports"
say "node \$ iptables-legacy -t nat -S | grep KUBE"
nat | grep KUBE | sed 's/^/   /'
cat <<'EOF'

   PREROUTING (packets arriving from pods and clients) jumps first to
   KUBE-PORTALS-CONTAINER, OUTPUT (packets the node sends) to
   KUBE-PORTALS-HOST: one rule per Service address and port, REDIRECT to
   the proxy port, commented "namespace/name:port".  The NodePort chains
   come last and match any local address (--dst-type LOCAL).
EOF

step "Round robin: default/nginx-svc, ClusterIP 198.19.0.10:80"
ask "$TOPO_CLIENT" client http://198.19.0.10/ 4
if [[ ${answers[0]} != "${answers[1]}" && ${answers[0]} == "${answers[2]}" &&
    ${answers[1]} == "${answers[3]}" && ${answers[0]} == pod[12] &&
    ${answers[1]} == pod[12] ]]; then
	ok "each new connection goes to the next pod"
else
	bad "expected the two pods to alternate"
fi
ask "$TOPO_POD1" pod1 http://198.19.0.10/ 1
ask "$TOPO_NODE" node http://198.19.0.10/ 1
check_answered "the ClusterIP, from a pod and from the node itself,"

step "Session affinity: default/nginx-sticky, 198.19.0.13:80 (ClientIP, 30 s)"
ask "$TOPO_CLIENT" client http://198.19.0.13/ 4
if [[ ${answers[0]} == pod[12] && ${answers[0]} == "${answers[1]}" &&
    ${answers[0]} == "${answers[2]}" && ${answers[0]} == "${answers[3]}" ]]; then
	ok "the client IP keeps its pod while it returns within 30 s"
else
	bad "expected one pod for all four requests"
fi

step "NodePort: default/nginx-app, port 30001 on the node's addresses"
ask "$TOPO_CLIENT" client "http://$TOPO_NODE_EXT:30001/" 2
check_answered "the NodePort, from outside,"

step "LoadBalancer: default/nginx-metallb, ingress IP 198.18.100.1:8090"
say "(a load balancer such as MetalLB would announce 198.18.100.1 to the"
say " network; here the client's route to the node plays that part)"
ask "$TOPO_CLIENT" client http://198.18.100.1:8090/ 2
check_answered "the LoadBalancer IP, from outside,"

step "A glance at /metrics"
get "$TOPO_NODE" http://127.0.0.1:10249/metrics |
    grep -E '^(kube_uproxy_|kubeproxy_)' | head -n 8 | sed 's/^/   /' || true

step "Stop kube-uproxy with SIGTERM"
kill -TERM "$proxy_pid"
status=0
wait "$proxy_pid" || status=$?
proxy_pid=
if ((status == 0)); then
	ok "kube-uproxy exited 0"
else
	bad "kube-uproxy exited $status"
	tail -n 20 "$tmp/kube-uproxy.log" >&2
fi
if [[ -z $(nat | grep KUBE) ]]; then
	ok "its chains and rules are gone (iptables-legacy -t nat -S | grep KUBE: nothing)"
else
	bad "rules left behind:"
	nat | grep KUBE | sed 's/^/   /'
fi

echo
if ((checks_failed)); then
	echo "demo: $checks_failed step(s) did not behave as expected" >&2
	exit 1
fi
echo "demo: done; the namespaces kup-demo-$$-* and $tmp are removed now."
