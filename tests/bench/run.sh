#!/bin/bash
# tests/bench/run.sh - `make bench`: kube-uproxy side by side with a direct
# connection, kernel DNAT, HAProxy and socat, in network namespaces.
#
# Usage: run.sh [--quick] [--reps N] [--dur SECONDS] [--only GROUPS]
#               [--ctl-ports "1000 10000"]
# As root.  Every trial (one arm, one group of workloads, one repetition)
# gets fresh namespaces from contrib/lib-topology.sh (client, node, two
# pods; addresses only in 198.18.0.0/15), so the TIME_WAIT sockets and
# conntrack entries of one arm cannot touch the next.  Repetitions run the
# arms in A/B/A order (forward, backward, forward...).  The end is one
# table: medians over the repetitions, with ratios against direct and
# against the best HAProxy arm of the same row.  Not part of `make check`:
# the numbers are printed, never asserted.
#
# Arms (the client always in the client ns, the relay in the node ns):
#   direct      client -> pod address (routed by the node)
#   dnat        client -> 198.19.0.x, an iptables DNAT rule in the node ns
#   kup-copy    client -> 198.19.0.x, kube-uproxy --relay copy (REDIRECT)
#   kup-splice  same, --relay splice (TCP groups only: UDP has one path)
#   kup-base    kup-copy with the binary $KUBE_UPROXY_BASE, when set: a
#               before/after comparison of a change in one run (the ctl
#               group then runs that binary too: kup-base, kup-nft-base)
#   haproxy     client -> 198.19.0.x, HAProxy mode tcp, nbthread 1
#   haproxy-spl same with option splice-auto
#   socat       client -> 198.19.0.x, socat TCP-LISTEN,fork (UDP-LISTEN)
# Every relay is reached the same way: the cluster IP, sent to the relay
# on the node by an iptables REDIRECT rule (kube-uproxy's own rule, or one
# like it for HAProxy and socat), so the kernel's NAT and conntrack work
# is the same in each relay arm; dnat against direct shows what it costs.
# Groups: tcp (iperf3 1 stream both ways, 8 streams), lat (64 B
# request/response, pinned to CPU 0 and unpinned), http (wrk
# Connection: close with the relay's CPU time per connection, keep-alive;
# nginx pods), udp (64 B and 1400 B closed loop), dns (closed-loop A
# queries against a dnsmasq pod: answers/s, lost per 1M), idle (10,000
# idle connections), ctl (for each portal backend, kup = iptables
# legacy and kup-nft = nftables: cold start to 1,000 and 10,000 service
# ports, one service added at 10,000, 1,000 services changed at once and
# the number of rule commits that took, the cost of a resync of unchanged
# ports), scale (new connections/s to one service with 10 and with
# 10,000 services present: kup, kup-nft and plain DNAT rules).
# Environment: KUBE_UPROXY (the daemon), CC, PYTHON3; KUP_BENCH_ARMS (a
# subset of the data path arms, e.g. "direct kup-copy kup-base" for a
# before/after run with KUBE_UPROXY_BASE); KUP_BENCH_NO_INSTALL=1
# skips installing the bench packages (contrib/lib-deps.sh); KEEP_TMP=1.
# shellcheck shell=bash

set -u
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
# shellcheck source=../../contrib/lib-topology.sh
. "$SRC/contrib/lib-topology.sh"

KUBE_UPROXY=${KUBE_UPROXY:-$PWD/src/kube-uproxy}
PYTHON3=${PYTHON3:-python3}
ARGS="$*" CTL_ARG=""
REPS=3 DUR=4 QUICK=0 ONLY="tcp lat http udp dns idle ctl scale"
IDLE_N=10000 CTL_NS="1000 10000" RR_N=20000
CTL_BACKENDS=${KUP_BENCH_BACKENDS:-iptables nftables}
SCALE_ARMS="dnat kup kup-nft"
while (($#)); do
	case $1 in
	--quick) QUICK=1 ;;
	--reps) REPS=$2; shift ;;
	--dur) DUR=$2; shift ;;
	--only) ONLY=$2; shift ;;
	--ctl-ports) CTL_ARG=$2; shift ;;
	*) echo "usage: $0 [--quick] [--reps N] [--dur S] [--only 'tcp lat http udp dns idle ctl scale'] [--ctl-ports 'N ...']" >&2
	   exit 2 ;;
	esac
	shift
done
if ((QUICK)); then
	REPS=1 DUR=1 IDLE_N=500 CTL_NS=200 RR_N=2000
fi
[[ -n $CTL_ARG ]] && CTL_NS=$CTL_ARG
CTL_NMAX=${CTL_NS##* }	# the largest count (the last given)

SVC_IP=198.19.0.10	# ClusterIP of the single-pod service
WEB_IP=198.19.0.11	# ClusterIP of the two-pod nginx service
POD1=${TOPO_POD_IPS[0]} POD2=${TOPO_POD_IPS[1]}
P_IPERF=5201 P_RR=7000 P_UDP=9000 P_WEB=80 P_DNS=53
DNS_NAME=svc.bench.test

say() { printf 'bench: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

why=$(topo_usable) || die "cannot run: $why"
# The bench tools are installed here, never by check.sh; without them
# their arms or workloads are left out with the reason printed.
# shellcheck source=../../contrib/lib-deps.sh
. "$SRC/contrib/lib-deps.sh"
[[ -n ${KUP_BENCH_NO_INSTALL:-} ]] || deps_install_bench ||
    say "some bench packages could not be installed: their arms are left out"
[[ -x $KUBE_UPROXY ]] || die "no daemon at $KUBE_UPROXY (set KUBE_UPROXY)"
# Each relayed connection costs the relay two descriptors: the idle test
# is bounded by the hard limit (raised when we may), as kube-uproxy's
# connection bound is: 256 kept aside, a quarter of the rest for UDP
# flows (tcp_proxy_configure).
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
NOFILE=$(ulimit -n)
MAXCONN=$(((NOFILE - 256) * 3 / 8))
((IDLE_N > MAXCONN)) && IDLE_N=$MAXCONN

T=$(mktemp -d /tmp/kup-bench.XXXXXX) || exit 1
RES=$T/results
: >"$RES"
SEQ=0
cleanup() {
	topo_kill
	topo_down
	[[ -n ${KEEP_TMP:-} ]] || rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

${CC:-cc} -O2 -o "$T/kup-bench" "$HERE/kup-bench.c" || die "cannot build kup-bench.c"
TOOL=$T/kup-bench

# Which arms exist on this machine; the others are left out with a reason.
ARMS=(direct dnat kup-copy kup-splice)
SKIPPED=()
if [[ -n ${KUBE_UPROXY_BASE:-} ]]; then
	[[ -x $KUBE_UPROXY_BASE ]] || die "KUBE_UPROXY_BASE=$KUBE_UPROXY_BASE: not executable"
	ARMS+=(kup-base)
fi
if command -v haproxy >/dev/null; then
	ARMS+=(haproxy haproxy-spl)
else
	SKIPPED+=("haproxy: not installed (apt-get install haproxy)")
fi
if command -v socat >/dev/null; then
	ARMS+=(socat)
else
	SKIPPED+=("socat: not installed")
fi
# KUP_BENCH_ARMS="direct kup-copy kup-base": only those (a shorter run).
if [[ -n ${KUP_BENCH_ARMS:-} ]]; then
	keep=()
	for a in "${ARMS[@]}"; do
		[[ " $KUP_BENCH_ARMS " == *" $a "* ]] && keep+=("$a")
	done
	ARMS=("${keep[@]}")
fi
for tool in iperf3 wrk nginx dnsmasq; do
	command -v $tool >/dev/null || SKIPPED+=("$tool not installed: its workloads are left out")
done

# result WORKLOAD ARM VALUE: one measurement.
result() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$RES"; }

in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

# bg NS CMD...: a background process in NS, tracked for topo_kill.
bg() {
	local ns=$1
	shift
	ip netns exec "$ns" "$@" </dev/null >>"$T/bg.log" 2>&1 &
	TOPO_PIDS+=("$!")
	LAST_PID=$!
}

# wait_listen NS PORT: until something listens on PORT in NS (5 s).
wait_listen() {
	local ns=$1 port=$2 i
	for ((i = 0; i < 100; i++)); do
		in_ns "$ns" ss -Hltn "sport = :$port" | grep -q . && return 0
		sleep 0.05
	done
	say "nothing listens on port $port in $ns"
	return 1
}

# fresh: new namespaces for one trial.
fresh() {
	topo_kill
	topo_down
	SEQ=$((SEQ + 1))
	topo_up "kb$$-$SEQ" >/dev/null || die "cannot build the namespaces"
	NODE=$TOPO_NODE CLIENT=$TOPO_CLIENT NS1=$TOPO_POD1 NS2=$TOPO_POD2
}

# --- backends ---------------------------------------------------------------

nginx_pod() {	# nginx_pod N: a lean nginx (no access log) in pod N, port 80
	local i=$1 d=$T/nginx-$SEQ-$1 addr=${TOPO_POD_IPS[$1 - 1]}
	mkdir -p "$d/html"
	echo "pod$i" >"$d/html/index.html"
	cat >"$d/nginx.conf" <<EOF
daemon off;
master_process off;
pid $d/nginx.pid;
error_log $d/error.log;
worker_rlimit_nofile 65536;
events { worker_connections 16384; }
http {
	access_log off;
	keepalive_requests 1000000;
	default_type text/plain;
	client_body_temp_path $d/body;
	proxy_temp_path $d/proxy;
	fastcgi_temp_path $d/fastcgi;
	uwsgi_temp_path $d/uwsgi;
	scgi_temp_path $d/scgi;
	server { listen $addr:80 backlog=4096; root $d/html; }
}
EOF
	bg "$(topo_pod_ns "$i")" nginx -e "$d/error.log" -p "$d" -c "$d/nginx.conf"
}

# backends GROUP: what the pods serve for GROUP.
backends() {
	case $1 in
	tcp) bg "$NS1" iperf3 -s -B "$POD1" -p $P_IPERF
	     wait_listen "$NS1" $P_IPERF ;;
	lat|idle) bg "$NS1" "$TOOL" echo-tcp "$POD1:$P_RR"; SERVER_PID=$LAST_PID
	     wait_listen "$NS1" $P_RR ;;
	http) nginx_pod 1; nginx_pod 2
	     wait_listen "$NS1" $P_WEB && wait_listen "$NS2" $P_WEB ;;
	udp) bg "$NS1" "$TOOL" echo-udp "$POD1:$P_UDP"; sleep 0.1 ;;
	dns) # Answers DNS_NAME itself: no upstream, no hosts file, no log.
	     bg "$NS1" dnsmasq -k -u root --no-resolv --no-hosts \
	         --bind-interfaces --listen-address="$POD1" --port=$P_DNS \
	         --address="/$DNS_NAME/198.18.1.99" --pid-file= \
	         --dns-forward-max=10000
	     sleep 0.2 ;;
	esac
}

# --- arms -------------------------------------------------------------------

# The port and pods of a group: PORT PROTO IPS.
group_port() {
	case $1 in
	tcp) echo "$P_IPERF tcp $POD1" ;;
	lat|idle) echo "$P_RR tcp $POD1" ;;
	http) echo "$P_WEB tcp $POD1 $POD2" ;;
	udp) echo "$P_UDP udp $POD1" ;;
	dns) echo "$P_DNS udp $POD1" ;;
	esac
}

kup_manifests() {	# kup_manifests DIR SVCIP PORT PROTO IPS...
	local d=$1 ip=$2 port=$3 proto=${4^^} eps="" p
	shift 4
	for p; do eps+="  - addresses: [\"$p\"]
    conditions: {ready: true}
"; done
	mkdir -p "$d"
	cat >"$d/svc.yaml" <<EOF
apiVersion: v1
kind: Service
metadata: {name: svc, namespace: bench}
spec:
  type: ClusterIP
  clusterIP: $ip
  clusterIPs: [$ip]
  ports:
  - {name: p, protocol: $proto, port: $port, targetPort: $port}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: svc-1
  namespace: bench
  labels: {kubernetes.io/service-name: svc}
addressType: IPv4
ports:
- {name: p, protocol: $proto, port: $port}
endpoints:
$eps
EOF
}

# start_arm ARM GROUP: run the relay of ARM and set TARGET (IP:PORT the
# client uses), TARGET_IP and RELAY_PID (empty without a relay process).
start_arm() {
	local arm=$1 g=$2 port proto ips svcip=$SVC_IP i n
	read -r port proto ips <<<"$(group_port "$g")"
	# shellcheck disable=SC2206
	ips=($ips)
	[[ $g == http ]] && svcip=$WEB_IP
	RELAY_PID=""
	# HAProxy and socat listen on the node's address and get the
	# cluster IP's traffic from a REDIRECT rule, as kube-uproxy does.
	if [[ $arm == haproxy* || $arm == socat ]]; then
		in_ns "$NODE" iptables-legacy -w 5 -t nat -A PREROUTING \
		    -d "$svcip" -p "$proto" --dport "$port" \
		    -j REDIRECT --to-ports "$port" || return 1
	fi
	case $arm in
	direct) TARGET_IP=${ips[0]} ;;
	dnat)
		TARGET_IP=$svcip
		n=${#ips[@]}
		for ((i = 0; i < n; i++)); do
			# Round robin over the pods, like kube-proxy's iptables mode.
			in_ns "$NODE" iptables-legacy -w 5 -t nat -A PREROUTING \
			    -d "$svcip" -p "$proto" --dport "$port" -m statistic \
			    --mode nth --every $((n - i)) --packet 0 \
			    -j DNAT --to-destination "${ips[i]}:$port"
		done ;;
	kup-copy|kup-splice|kup-base)
		TARGET_IP=$svcip
		kup_manifests "$T/m-$SEQ" "$svcip" "$port" "$proto" "${ips[@]}"
		local bin=$KUBE_UPROXY relay=${arm#kup-}
		[[ $arm == kup-base ]] && bin=$KUBE_UPROXY_BASE relay=copy
		bg "$NODE" "$bin" --manifests "$T/m-$SEQ" \
		    --relay "$relay" --iptables legacy \
		    --iptables-min-sync-period 0s \
		    --metrics-bind-address 127.0.0.1:10249 \
		    --healthz-bind-address 127.0.0.1:10256
		RELAY_PID=$LAST_PID
		for ((i = 0; i < 100; i++)); do
			in_ns "$NODE" iptables-legacy -w 5 -t nat -S 2>/dev/null |
			    grep -q -- "-d $svcip/32 .*--dport $port .*REDIRECT" && break
			sleep 0.05
		done
		((i < 100)) || { say "$arm: no rule for $svcip:$port"; return 1; } ;;
	haproxy|haproxy-spl)
		TARGET_IP=$svcip
		{
			# splice-auto needs pipes (two descriptors each):
			# bound them so the descriptor limit holds.
			if [[ $arm == haproxy-spl ]]; then
				printf 'global\n\tnbthread 1\n\tmaxconn %d\n\tmaxpipes 1024\n' \
				    $((MAXCONN - 1100))
			else
				printf 'global\n\tnbthread 1\n\tmaxconn %d\n' "$MAXCONN"
			fi
			printf 'defaults\n\tmode tcp\n\ttimeout connect 5s\n'
			printf '\ttimeout client 1h\n\ttimeout server 1h\n'
			[[ $arm == haproxy-spl ]] && printf '\toption splice-auto\n'
			printf 'listen svc\n\tbind %s:%s\n\tbalance roundrobin\n' \
			    "$TOPO_NODE_EXT" "$port"
			for ((i = 0; i < ${#ips[@]}; i++)); do
				printf '\tserver p%d %s:%s\n' "$i" "${ips[i]}" "$port"
			done
		} >"$T/haproxy-$SEQ.cfg"
		bg "$NODE" haproxy -db -f "$T/haproxy-$SEQ.cfg"
		RELAY_PID=$LAST_PID ;;
	socat)
		TARGET_IP=$svcip
		if [[ $proto == udp ]]; then
			bg "$NODE" socat "UDP-LISTEN:$port,bind=$TOPO_NODE_EXT,fork,reuseaddr" \
			    "UDP:${ips[0]}:$port"
		else
			bg "$NODE" socat "TCP-LISTEN:$port,bind=$TOPO_NODE_EXT,fork,reuseaddr,backlog=4096" \
			    "TCP:${ips[0]}:$port"
		fi
		RELAY_PID=$LAST_PID ;;
	esac
	TARGET=$TARGET_IP:$port
	if [[ -n $RELAY_PID && $proto == tcp && $arm != kup-* ]]; then
		wait_listen "$NODE" "$port" || return 1
	fi
	sleep 0.1
}

# --- workloads ----------------------------------------------------------------

iperf() {	# iperf ARGS...: iperf3 in the client ns, prints the JSON
	in_ns "$CLIENT" timeout $((DUR + 15)) iperf3 -c "$TARGET_IP" -p $P_IPERF \
	    -t "$DUR" -J "$@" 2>/dev/null
}

gbits() {	# the receiver's Gbit/s from iperf3 JSON on stdin ("-" if none)
	"$PYTHON3" -c '
import json, sys
try:
    j = json.load(sys.stdin)
    s = j["end"]["sum_received"]["bits_per_second"] / 1e9
    per = [x["receiver"]["bits_per_second"] / 1e9 for x in j["end"]["streams"]]
    print("%.2f %.2f %.2f" % (s, min(per), max(per)))
except Exception:
    print("- - -")'
}

run_tcp() {
	local arm=$1 s mn mx
	read -r s mn mx <<<"$(iperf | gbits)"
	result "TCP 1 stream c->s Gbit/s" "$arm" "$s"
	read -r s mn mx <<<"$(iperf -R | gbits)"
	result "TCP 1 stream s->c Gbit/s" "$arm" "$s"
	((QUICK)) && return
	read -r s mn mx <<<"$(iperf -P 8 | gbits)"
	result "TCP 8 streams Gbit/s" "$arm" "$s"
	result "TCP 8 streams min/max stream" "$arm" \
	    "$("$PYTHON3" -c "print('%.2f' % ($mn / $mx))" 2>/dev/null || echo -)"
}

pin() {	# pin CPUS: the relay (all its threads) and the echo server
	local p
	for p in $RELAY_PID $SERVER_PID; do
		taskset -a -p -c "$1" "$p" >/dev/null 2>&1
	done
}

run_lat() {
	local arm=$1 p50 p99 p999 out
	pin 0
	out=$(in_ns "$CLIENT" taskset -c 0 "$TOOL" rr "$TARGET" "$RR_N" 64) || out="- - -"
	read -r p50 p99 p999 <<<"$out"
	result "64B RR pinned p50 us" "$arm" "$p50"
	result "64B RR pinned p99 us" "$arm" "$p99"
	result "64B RR pinned p99.9 us" "$arm" "$p999"
	pin "0-$(($(nproc) - 1))"
	out=$(in_ns "$CLIENT" "$TOOL" rr "$TARGET" "$RR_N" 64) || out="- - -"
	read -r p50 p99 p999 <<<"$out"
	result "64B RR unpinned p50 us" "$arm" "$p50"
	result "64B RR unpinned p99 us" "$arm" "$p99"
}

# wrk_rps ARGS...: requests/s, p99 ms and requests done of wrk in the
# client ns.
wrk_rps() {
	in_ns "$CLIENT" timeout $((DUR + 15)) wrk -t1 -c32 -d"${DUR}s" \
	    --latency "$@" "http://$TARGET/" 2>/dev/null | awk '
		/ requests in / { n = $1 }
		/Requests\/sec/ { r = $2 }
		/^ +99%/ { v = $2; u = v; sub(/[a-z]+$/, "", v); sub(/^[0-9.]+/, "", u)
			   if (u == "us") v /= 1000; if (u == "s") v *= 1000; l = v }
		/Non-2xx|Socket errors/ { e = 1 }
		END { printf "%s %s %s\n", r ? int(r) : "-", l != "" ? l : "-", n ? n : 0 }'
}

# CPU time of a relay (and its reaped children: socat forks) in clock ticks.
cpu_ticks() {
	awk '{ print $14 + $15 + $16 + $17 }' "/proc/$1/stat" 2>/dev/null || echo 0
}

run_http() {
	local arm=$1 r l n c0 c1
	[[ -n $RELAY_PID ]] && c0=$(cpu_ticks "$RELAY_PID")
	read -r r l n <<<"$(wrk_rps -H 'Connection: close')"
	result "HTTP new conn/s (close)" "$arm" "$r"
	# What one connection costs the relay, kernel time in its context
	# included: less noisy than the rate on a shared machine.
	if [[ -n $RELAY_PID ]] && ((n > 0)); then
		c1=$(cpu_ticks "$RELAY_PID")
		result "HTTP close: relay CPU per conn us" "$arm" \
		    $(((c1 - c0) * 1000000 / $(getconf CLK_TCK) / n))
	fi
	read -r r l n <<<"$(wrk_rps)"
	result "HTTP keep-alive req/s" "$arm" "$r"
	result "HTTP keep-alive p99 ms" "$arm" "$l"
}

run_udp() {
	local arm=$1 size pps lost out
	for size in 64 1400; do
		out=$(in_ns "$CLIENT" timeout $((DUR + 10)) "$TOOL" udp "$TARGET" \
		    "$DUR" "$size" 32) || out="- -"
		read -r pps lost <<<"$out"
		result "UDP ${size}B datagrams/s" "$arm" "$pps"
		result "UDP ${size}B lost" "$arm" "$lost"
	done
}

# Closed-loop DNS: 32 queries in flight from 4 client sockets (4 flows).
run_dns() {
	local arm=$1 qps lost sent out
	out=$(in_ns "$CLIENT" timeout $((DUR + 10)) "$TOOL" dns "$TARGET" \
	    "$DUR" 32 "$DNS_NAME") || out="- - -"
	read -r qps lost sent <<<"$out"
	result "DNS answers/s" "$arm" "$qps"
	result "DNS lost per 1M" "$arm" \
	    "$(awk -v l="$lost" -v s="$sent" 'BEGIN { if (s > 0) printf "%.1f", l * 1e6 / s; else print "-" }')"
}

# The slab caches a TCP connection and its descriptor use, in KiB (the
# global Slab: line moves with everything else the machine does).
slab_kb() {
	awk '$1 ~ /^(TCP|request_sock_TCP|tw_sock_TCP|sock_inode_cache|filp|dentry|eventpoll_epi|eventpoll_pwq|skbuff_head_cache|skbuff_fclone_cache|nf_conntrack)$/ {
		s += $3 * $4 } END { printf "%d\n", s / 1024 }' /proc/slabinfo
}
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }

run_idle() {
	local arm=$1 rss0=0 rss1=0 slab0 slab1 fifo=$T/idle-$SEQ line
	# Let the relay settle (first allocations, pools) before the baseline.
	in_ns "$CLIENT" "$TOOL" rr "$TARGET" 100 64 >/dev/null
	[[ -n $RELAY_PID ]] && rss0=$(rss_kb "$RELAY_PID")
	slab0=$(slab_kb)
	mkfifo "$fifo"
	# The tool holds its connections until its stdin (the fifo) closes.
	in_ns "$CLIENT" "$TOOL" idle "$TARGET" "$IDLE_N" <"$fifo" >"$fifo.out" &
	local tpid=$!
	exec 9>"$fifo"
	for ((line = 0; line < 600; line++)); do
		grep -q ready "$fifo.out" 2>/dev/null && break
		topo_alive "$tpid" || break
		sleep 0.1
	done
	if grep -q ready "$fifo.out"; then
		sleep 0.5
		slab1=$(slab_kb)
		[[ -n $RELAY_PID ]] && rss1=$(rss_kb "$RELAY_PID")
		if [[ -n $RELAY_PID ]]; then
			result "idle conn: relay RSS B/conn" "$arm" \
			    $(((rss1 - rss0) * 1024 / IDLE_N))
		fi
		result "idle conn: socket slab B/conn" "$arm" \
		    $(((slab1 - slab0) * 1024 / IDLE_N))
	else
		say "$arm: $IDLE_N idle connections not established"
	fi
	exec 9>&-
	wait "$tpid" 2>/dev/null
}

# --- control plane --------------------------------------------------------------

# ctl_manifests DIR N [M]: N services of one TCP port each, all on
# pod1:7000; the first M of them on port 81 instead of 80.  Services
# 0..999 are in a.yaml, the others in b.yaml, so that changing those
# 1,000 rewrites one file of 1,000 (the daemon reads again only the files
# that changed).  Each file is written aside and renamed, so the daemon
# never reads half a file; b.yaml only when its content changes.
ctl_manifests() {
	"$PYTHON3" - "$1" "$2" "$POD1" $P_RR "${3:-0}" <<'EOF'
import os, sys
d, n, pod, port = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
m = int(sys.argv[5])
os.makedirs(d, exist_ok=True)
files = {"a.yaml": [], "b.yaml": []}
for i in range(n):
    ip = "198.19.%d.%d" % (1 + i // 250, 1 + i % 250)
    sport = 81 if i < m else 80
    files["a.yaml" if i < 1000 else "b.yaml"].append(f"""apiVersion: v1
kind: Service
metadata: {{name: s{i}, namespace: bench}}
spec: {{type: ClusterIP, clusterIP: {ip}, clusterIPs: [{ip}],
  ports: [{{name: p, protocol: TCP, port: {sport}, targetPort: {port}}}]}}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {{name: s{i}-1, namespace: bench, labels: {{kubernetes.io/service-name: s{i}}}}}
addressType: IPv4
ports: [{{name: p, protocol: TCP, port: {port}}}]
endpoints: [{{addresses: ["{pod}"], conditions: {{ready: true}}}}]
""")
for name, docs in files.items():
    path = os.path.join(d, name)
    text = "---\n".join(docs)
    if not docs or (os.path.exists(path) and open(path).read() == text):
        continue
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.rename(path + ".tmp", path)
EOF
}

now_ms() { date +%s%3N; }

# ctl_ready N LOG [BACKEND]: all N service ports have a proxy port and
# the rules of the last one are committed (rules go in one commit).  The
# daemon's log is watched first: iptables-legacy takes the xtables lock,
# and polling with it would hold up the very commit being timed.
ctl_ready() {
	local n=$1 be=${3:-iptables}
	awk -v n=$((2 * n)) -v be="$be" '$0 ~ be ": synced [0-9]+ rules" {
		for (i = 1; i <= NF; i++) if ($i == "synced") r = $(i + 1)
		if (r + 0 >= n) f = 1 } END { exit !f }' "$2" || return 1
	ctl_count_rules "$be" 80 | { read -r c; ((c >= n)); } || return 1
	in_ns "$NODE" "$PYTHON3" -c '
import json, sys, urllib.request
j = json.load(urllib.request.urlopen("http://127.0.0.1:10249/debug/services", timeout=2))
def ports(o):
    if isinstance(o, dict):
        if o.get("proxyPort"):
            yield o["proxyPort"]
        for v in o.values():
            yield from ports(v)
    elif isinstance(o, list):
        for v in o:
            yield from ports(v)
sys.exit(0 if len(set(ports(j))) >= int(sys.argv[1]) else 1)' "$n" 2>/dev/null
}

# ctl_count_rules BACKEND DPORT: the container-side portals of services
# on DPORT in the kernel (iptables: REDIRECT rules; nftables: elements of
# the cluster-address map, one per address, port and protocol).
ctl_count_rules() {
	if [[ $1 == nftables ]]; then
		in_ns "$NODE" nft list table ip kube-uproxy 2>/dev/null |
		    grep -o -- "\. tcp \. $2 [^,}]*" | wc -l
	else
		in_ns "$NODE" iptables-legacy -w 5 -t nat -S KUBE-PORTALS-CONTAINER 2>/dev/null |
		    grep -c -- "--dport $2 .*REDIRECT"
	fi
}

# add_and_poll TMP FILE IP:PORT: nothing answers at IP:PORT, rename TMP
# to FILE (a new manifest), then print the ms until a TCP connection from
# the client is established (a new try every 1 ms, see kup-bench.c).
add_and_poll() {
	in_ns "$CLIENT" "$TOOL" addpoll "$3" "$1" "$2" || echo -
}

# sod_ms: milliseconds since midnight now; log_sod_ms: of a klog line's
# time (I1124 19:58:28.796792 ...), for the daemon's own clock.
sod_ms() { date +%H:%M:%S.%N | awk -F: '{ printf "%.1f\n", ($1 * 3600 + $2 * 60 + $3) * 1000 }'; }

# ctl_change_many D N LOG [BACKEND]: rewrite the manifest so that the
# first 1,000 services (all, when fewer) move to port 81; print the ms
# until the daemon's last commit that brought them in (its log's clock),
# the number of commits since the change, and the ms from the daemon's
# "read" of the file (parsed, objects in the store) to that commit: the
# proxier and the rules alone.
ctl_change_many() {
	local d=$1 n=$2 log=$3 be=${4:-iptables} m=1000 t0 i
	((m > n)) && m=$n
	t0=$(sod_ms)
	ctl_manifests "$d" "$n" "$m"
	# A commit after the change in the log first (see ctl_ready), then
	# the rules themselves, checked every half second.
	for ((i = 0; i < 600; i++)); do
		awk -v t0="$t0" -v be="$be" '$0 ~ be ": synced [0-9]+ rules" {
			split($2, hms, ":")
			if ((hms[1] * 3600 + hms[2] * 60 + hms[3]) * 1000 >= t0) f = 1 }
			END { exit !f }' "$log" && break
		sleep 0.02
	done
	for ((i = 0; i < 60; i++)); do
		sleep 0.5
		ctl_count_rules "$be" 81 | { read -r c; ((c >= m)); } && break
	done
	((i < 60)) || { echo "- - -"; return; }
	awk -v t0="$t0" -v be="$be" '
		{ split($2, hms, ":"); t = (hms[1] * 3600 + hms[2] * 60 + hms[3]) * 1000 }
		t >= t0 && /manifests .*a\.yaml: read/ && !read { read = t }
		t >= t0 && $0 ~ be ": synced [0-9]+ rules" { n++; last = t }
		END { if (n) printf "%.0f %d %.0f\n", last - t0, n, read ? last - read : -1
		      else print "- 0 -" }' "$log"
}

run_ctl() {
	local n t0 t1 d pr sfx be arm bin bins=("$KUBE_UPROXY")
	# With $KUBE_UPROXY_BASE, the same with that binary too, in arms
	# kup-base and kup-nft-base (with the port range only): a before
	# and after of the control plane in one run.
	[[ -n ${KUBE_UPROXY_BASE:-} ]] && bins+=("$KUBE_UPROXY_BASE")
	# For each portal backend (arm kup: iptables legacy; kup-nft:
	# nftables), twice: with the default (kernel-chosen proxy ports:
	# every bind(0) scans the ports in use, so it grows with the square of
	# the count) and with --proxy-port-range (our allocator picks, bind is
	# O(1)); nftables with the port range only.
	for n in $CTL_NS; do
	for be in $CTL_BACKENDS; do
	for pr in "" 20000-39999; do
	for bin in "${bins[@]}"; do
		arm=kup
		[[ $be == nftables ]] && arm=kup-nft
		[[ $be == nftables && -z $pr ]] && continue
		if [[ $bin != "$KUBE_UPROXY" ]]; then
			[[ -z $pr ]] && continue
			arm+=-base
		fi
		sfx=""
		[[ -n $pr ]] && sfx=", port range"
		fresh
		backends idle
		d=$T/ctl-$SEQ
		ctl_manifests "$d" "$n"
		# The cold start REPS times (one sample is at the mercy of the
		# machine): each daemon but the last stops (its rules go with
		# it) and the next starts as the first did.
		local rep
		for ((rep = 0; rep < REPS; rep++)); do
		if ((rep > 0)); then
			kill -TERM "$RELAY_PID"
			wait "$RELAY_PID" 2>/dev/null
		fi
		t0=$(date +%s.%N)
		ip netns exec "$NODE" "$bin" --manifests "$d" \
		    --portals "$be" --iptables-min-sync-period 0s --v 2 \
		    --iptables-sync-period 10s \
		    ${pr:+--proxy-port-range "$pr"} \
		    --metrics-bind-address 127.0.0.1:10249 \
		    --healthz-bind-address 127.0.0.1:10256 \
		    </dev/null 2>"$d.log" &
		RELAY_PID=$!
		TOPO_PIDS+=("$RELAY_PID")
		until ctl_ready "$n" "$d.log" "$be"; do
			(($(date +%s) - ${t0%.*} > 60)) && break
			sleep 0.02
		done
		t1=$(date +%s.%N)
		# The daemon's own clock: its log line of the first commit that
		# holds at least n rules (ports are opened before their rules).
		result "ctl: cold start, $n ports$sfx ms" $arm "$(awk -v t0="$t0" -v n="$n" -v be="$be" '
			$0 ~ be ": synced [0-9]+ rules" {
				for (i = 1; i <= NF; i++) if ($i == "synced") r = $(i + 1)
				if (r + 0 < n) next
				split($2, hms, ":")
				cmd = "date -d \"" strftime("%Y-%m-%d", int(t0)) " " $2 "\" +%s.%N"
				cmd | getline t; close(cmd)
				printf "%.0f\n", (t - t0) * 1000; exit }' "$d.log")"
		result "ctl: cold start, $n ports$sfx, observed ms" $arm \
		    "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", (b - a) * 1000 }')"
		done
		result "ctl: RSS at $n ports$sfx MiB" $arm "$(($(rss_kb "$RELAY_PID") / 1024))"
		# One more service at n existing: written, then polled from the
		# client until its cluster IP answers through rule and port.
		# Five of them, a second apart (the table shows the median).
		ctl_manifests "$d/one" 1
		local k
		for k in 1 2 3 4 5; do
			sleep 1
			sed -e "s/198\.19\.1\.1\b/198.19.200.$k/g; s/name: s0/name: extra$k/g" \
			    -e "s/s0-1/extra$k-1/; s/service-name: s0/service-name: extra$k/" \
			    "$d/one/a.yaml" >"$d/.extra.tmp"
			result "ctl: one added at $n$sfx, ms to answer" $arm \
			    "$(add_and_poll "$d/.extra.tmp" "$d/extra$k.yaml" \
			    "198.19.200.$k:80")"
		done
		rm -rf "$d/one"
		# 1,000 of them changed in one write (a new port: every one
		# of their rules changes); how long, in how many commits.
		sleep 1
		local ms commits daemon_ms m=1000
		((m > n)) && m=$n
		read -r ms commits daemon_ms <<<"$(ctl_change_many "$d" "$n" "$d.log" "$be")"
		result "ctl: $m changed at $n$sfx, ms to rules" $arm "$ms"
		result "ctl: $m changed at $n$sfx, ms from read to rules" $arm "$daemon_ms"
		result "ctl: $m changed at $n$sfx, commits" $arm "$commits"
		ctl_resync "$d.log" "$n" "$sfx" "$arm" "$be"
	done
	done
	done
	done
}

# ctl_resync LOG N SFX ARM BACKEND: what a resync of N unchanged ports
# costs the daemon.  The rule repair (every --iptables-sync-period, 10 s
# here, with nothing changed): the daemon's own figure for the pass, plan
# and apply (one thread that waits on nothing but the kernel, so its
# wall time is its CPU time).  SIGHUP: every manifest object read again,
# decoded and found unchanged: the daemon's CPU time (schedstat) over the
# second after, less a quiet second before.
ctl_resync() {
	local log=$1 n=$2 sfx=$3 arm=$4 be=$5 lines i ms c0 c1 c2 f
	lines=$(grep -c "$be: synced" "$log")
	for ((i = 0; i < 150; i++)); do
		(($(grep -c "$be: synced" "$log") > lines)) && break
		sleep 0.1
	done
	ms=$(grep "$be: synced" "$log" | tail -n 1 | sed -n 's/.* in \([0-9.]*\) ms.*/\1/p')
	((i < 150)) || ms=-
	result "ctl: repair of $n unchanged$sfx, ms" $arm "${ms:--}"
	c0=$(cpu_ns "$RELAY_PID")
	sleep 1
	c1=$(cpu_ns "$RELAY_PID")
	for f in "$d"/*.yaml; do
		cp "$f" "$f.tmp" && mv "$f.tmp" "$f"
	done
	kill -HUP "$RELAY_PID" 2>/dev/null
	sleep 1
	c2=$(cpu_ns "$RELAY_PID")
	result "ctl: manifests re-read, $n unchanged$sfx, CPU ms" $arm \
	    "$(awk -v a="$c0" -v b="$c1" -v c="$c2" 'BEGIN { printf "%.1f", ((c - b) - (b - a)) / 1e6 }')"
}

# cpu_ns PID: the CPU time of a process so far, in ns.
cpu_ns() { awk '{ print $1 }' "/proc/$1/schedstat" 2>/dev/null || echo 0; }

# --- connection setup against the number of services ------------------------

# run_scale: new TCP connections/s to one service (the first and the
# last of the table) with 10 and with CTL_NMAX services present, for
# kube-uproxy with each portal backend and for plain kernel DNAT rules
# (one per service, as the legacy backend's chains hold them): the first
# packet of each connection walks the nat rules (x_tables) or looks up a
# map (nftables).  The closed loop is kup-bench connrate, 32 in flight.
run_scale() {
	local arms=($SCALE_ARMS) order arm n r i
	for ((r = 0; r < REPS; r++)); do
		order=("${arms[@]}")
		if ((r % 2)); then	# A/B/A, as the data path groups
			order=()
			for ((i = ${#arms[@]} - 1; i >= 0; i--)); do
				order+=("${arms[i]}")
			done
		fi
		for arm in "${order[@]}"; do
			for n in 10 $CTL_NMAX; do
				say "group scale rep $((r + 1))/$REPS arm $arm, $n services"
				scale_trial "$arm" "$n"
			done
		done
	done
}

# scale_trial ARM N: fresh namespaces, N services, the two measurements.
scale_trial() {
	local arm=$1 n=$2 which ip rate be t0
	fresh
	backends idle
	d=$T/scale-$SEQ
	ctl_manifests "$d" "$n"
	if [[ $arm == dnat ]]; then
		scale_dnat_rules "$n" || return
	else
		be=iptables
		[[ $arm == kup-nft ]] && be=nftables
		ip netns exec "$NODE" "$KUBE_UPROXY" --manifests "$d" \
		    --portals "$be" --proxy-port-range 20000-39999 \
		    --metrics-bind-address 127.0.0.1:10249 \
		    --healthz-bind-address 127.0.0.1:10256 --v 2 \
		    </dev/null 2>"$d.log" &
		RELAY_PID=$!
		TOPO_PIDS+=("$RELAY_PID")
		t0=$SECONDS
		until ctl_ready "$n" "$d.log" "$be"; do
			((SECONDS - t0 > 90)) && break
			sleep 0.1
		done
	fi
	for which in first last; do
		ip=198.19.1.1
		[[ $which == last ]] && ip=$(scale_ip $((n - 1)))
		read -r rate _ <<<"$(in_ns "$CLIENT" "$TOOL" connrate \
		    "$ip:80" "$DUR" 32 || echo "- -")"
		result "scale: new conn/s, $which of $n services" "$arm" "$rate"
	done
}

scale_ip() { echo "198.19.$((1 + $1 / 250)).$((1 + $1 % 250))"; }

# scale_dnat_rules N: N DNAT rules in the node's nat PREROUTING, one per
# service cluster IP (port 80) to pod1, loaded in one iptables-restore.
scale_dnat_rules() {
	awk -v n="$1" -v to="$POD1:$P_RR" 'BEGIN {
		print "*nat"
		print ":KUBE-BENCH - [0:0]"
		print "-A PREROUTING -j KUBE-BENCH"
		for (i = 0; i < n; i++)
			printf "-A KUBE-BENCH -d 198.19.%d.%d/32 -p tcp --dport 80 -j DNAT --to-destination %s\n",
			    1 + int(i / 250), 1 + i % 250, to
		print "COMMIT" }' | in_ns "$NODE" iptables-legacy-restore -w 5 --noflush
}


# --- the driver -------------------------------------------------------------------

group_arms() {
	case $1 in
	tcp|lat) printf '%s\n' "${ARMS[@]}" ;;
	http) printf '%s\n' "${ARMS[@]}" ;;
	udp|dns) printf '%s\n' "${ARMS[@]}" | grep -v -e haproxy -e kup-splice ;;
	idle) printf '%s\n' "${ARMS[@]}" | grep -v -e socat -e haproxy-spl ;;
	esac
}

group_ok() {
	case $1 in
	tcp) command -v iperf3 >/dev/null ;;
	http) command -v wrk >/dev/null && command -v nginx >/dev/null ;;
	dns) command -v dnsmasq >/dev/null ;;
	*) true ;;
	esac
}

START=$(now_ms)
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
say "nproc $(nproc), reps $REPS, ${DUR}s per measurement, groups: $ONLY"
for g in $ONLY; do
	if [[ $g == ctl || $g == scale ]]; then
		say "group $g"
		"run_$g"
		continue
	fi
	group_ok "$g" || { say "group $g left out (tool missing)"; continue; }
	mapfile -t arms < <(group_arms "$g")
	reps=$REPS
	[[ $g == idle ]] && reps=1
	for ((r = 0; r < reps; r++)); do
		order=("${arms[@]}")
		if ((r % 2)); then	# A/B/A: every other repetition backwards
			order=()
			for ((i = ${#arms[@]} - 1; i >= 0; i--)); do
				order+=("${arms[i]}")
			done
		fi
		for arm in "${order[@]}"; do
			say "group $g rep $((r + 1))/$reps arm $arm"
			fresh
			SERVER_PID=""
			backends "$g" || continue
			start_arm "$arm" "$g" || continue
			"run_$g" "$arm"
		done
	done
done
topo_kill
topo_down
say "done in $((($(now_ms) - START) / 1000)) s"

# --- the table ------------------------------------------------------------------
echo
echo "kube-uproxy bench: nproc $(nproc), $(uname -r), reps $REPS," \
    "${DUR}s per measurement, $IDLE_N idle connections, load average at" \
    "start $LOAD0, at end $(cut -d' ' -f1-3 /proc/loadavg); $0 $ARGS"
for s in "${SKIPPED[@]}"; do echo "left out: $s"; done
"$PYTHON3" "$HERE/table.py" "$RES"
