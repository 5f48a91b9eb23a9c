# lib-topology.sh - a throwaway Kubernetes node in network namespaces.
#
# Sourced (not run) by contrib/demo.sh and tests/e2e/lib.sh, as root.
# topo_up builds, from nothing in the root namespace (every link is created
# inside the namespaces, so the host's network is never touched):
#
#   client ns                node ns                          pod ns (x2)
#   eth0 198.18.0.2/24 ---- ext0 198.18.0.1/24
#   default via .0.1         br0  198.18.1.1/24 ---- p1 ---- eth0 198.18.1.11/24
#                                               \--- p2 ---- eth0 198.18.1.12/24
#                            ip_forward=1                    default via .1.1
#
# The node routes the service ranges (198.19.0.0/16 cluster IPs,
# 198.18.50.0/24 external IPs, 198.18.100.0/24 LoadBalancer IPs) to br0:
# traffic the node itself sends to a service address needs a route before
# the OUTPUT nat chain can redirect it.  The client's default route sends
# every service address to the node, as a router in front of a cluster
# would.  Addresses are all in 198.18.0.0/15 (RFC 2544, benchmarking).
#
# topo_nginx starts a real nginx in a pod, with its config, pid file and
# logs in a private directory, answering "pod1"/"pod2" (the pod's name).
# Background processes are started with `ip netns exec NS prog &` right
# here, so $! is the program itself (ip execs it), never a subshell; their
# pids are appended to TOPO_PIDS, which the caller kills before topo_down.
# shellcheck shell=bash

TOPO_NODE_EXT=198.18.0.1	# node address the client sees (NodePorts)
TOPO_NODE_BR=198.18.1.1		# node address on the pod bridge
TOPO_CLIENT_IP=198.18.0.2
TOPO_POD_IPS=(198.18.1.11 198.18.1.12)
TOPO_NSS=()			# namespaces created, for topo_down
TOPO_PIDS=()			# background processes started here

# topo_usable: print why this machine cannot run the topology, or nothing
# (status 0) when it can: root, ip netns, veth, bridge, iptables-legacy.
topo_usable() {
	local probe=kup-probe-$$ why=
	if ((EUID != 0)); then
		echo "not root (network namespaces and iptables need root)"
		return 1
	fi
	command -v ip >/dev/null || { echo "no ip (iproute2)"; return 1; }
	command -v iptables-legacy >/dev/null ||
	    { echo "no iptables-legacy"; return 1; }
	ip netns add "$probe" 2>/dev/null ||
	    { echo "ip netns add does not work here"; return 1; }
	if ! ip -n "$probe" link add kup0 type veth peer name kup1 2>/dev/null; then
		why="cannot create a veth pair"
	elif ! ip -n "$probe" link add kupbr type bridge 2>/dev/null; then
		why="cannot create a bridge"
	elif ! ip netns exec "$probe" iptables-legacy -w 5 -t nat -S \
	    >/dev/null 2>&1; then
		why="iptables-legacy -t nat does not work in a namespace"
	fi
	ip netns del "$probe" 2>/dev/null
	[[ -z $why ]] || { echo "$why"; return 1; }
}

# topo_up PREFIX: create PREFIX-node, PREFIX-pod1, PREFIX-pod2 and
# PREFIX-client and wire them as above.  Sets TOPO_NODE, TOPO_POD1,
# TOPO_POD2, TOPO_CLIENT.  Returns 1 with a message on the first failure
# (what was made so far is in TOPO_NSS for topo_down).
topo_up() {
	local p=$1 i pod
	TOPO_NODE=$p-node TOPO_POD1=$p-pod1 TOPO_POD2=$p-pod2
	TOPO_CLIENT=$p-client
	for i in "$TOPO_NODE" "$TOPO_POD1" "$TOPO_POD2" "$TOPO_CLIENT"; do
		ip netns add "$i" || { echo "topo: ip netns add $i failed" >&2; return 1; }
		TOPO_NSS+=("$i")
		ip -n "$i" link set lo up || return 1
	done
	{
		local n=$TOPO_NODE
		ip -n "$n" link add br0 type bridge &&
		ip -n "$n" addr add "$TOPO_NODE_BR/24" dev br0 &&
		ip -n "$n" link set br0 up &&
		ip -n "$n" link add ext0 type veth peer name eth0 netns "$TOPO_CLIENT" &&
		ip -n "$n" addr add "$TOPO_NODE_EXT/24" dev ext0 &&
		ip -n "$n" link set ext0 up &&
		ip -n "$TOPO_CLIENT" addr add "$TOPO_CLIENT_IP/24" dev eth0 &&
		ip -n "$TOPO_CLIENT" link set eth0 up &&
		ip -n "$TOPO_CLIENT" route add default via "$TOPO_NODE_EXT" &&
		ip netns exec "$n" sysctl -qw net.ipv4.ip_forward=1 &&
		ip -n "$n" route add 198.19.0.0/16 dev br0 &&
		ip -n "$n" route add 198.18.50.0/24 dev br0 &&
		ip -n "$n" route add 198.18.100.0/24 dev br0
	} || { echo "topo: cannot wire the node namespace" >&2; return 1; }
	for i in 1 2; do
		pod=$p-pod$i
		{
			ip -n "$TOPO_NODE" link add "p$i" type veth peer name eth0 netns "$pod" &&
			ip -n "$TOPO_NODE" link set "p$i" master br0 up &&
			ip -n "$pod" addr add "${TOPO_POD_IPS[i - 1]}/24" dev eth0 &&
			ip -n "$pod" link set eth0 up &&
			ip -n "$pod" route add default via "$TOPO_NODE_BR"
		} || { echo "topo: cannot wire pod $i" >&2; return 1; }
	done
}

# topo_nginx POD-NUMBER DIR: nginx in pod N on its address, port 80,
# answering "podN\n"; files under DIR/podN.  Its pid is appended to
# TOPO_PIDS and left in TOPO_LAST_PID.  Does not wait for it to listen.
topo_nginx() {
	local i=$1 d=$2/pod$1 addr=${TOPO_POD_IPS[$1 - 1]}
	mkdir -p "$d/html" || return 1
	echo "pod$i" >"$d/html/index.html"
	cat >"$d/nginx.conf" <<EOF
# pod $i: a minimal nginx, one process in the foreground, files in $d
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
		listen $addr:80;
		root $d/html;
	}
}
EOF
	ip netns exec "$(topo_pod_ns "$i")" nginx -e "$d/error.log" -p "$d" \
	    -c "$d/nginx.conf" </dev/null &
	TOPO_LAST_PID=$!
	TOPO_PIDS+=("$TOPO_LAST_PID")
}

# topo_pod_ns N: the namespace of pod N.
topo_pod_ns() {
	if [[ $1 == 1 ]]; then echo "$TOPO_POD1"; else echo "$TOPO_POD2"; fi
}

# topo_alive PID: the process exists and is not a zombie waiting for us.
topo_alive() {
	local st
	st=$(ps -o stat= -p "$1" 2>/dev/null) && [[ -n $st && $st != Z* ]]
}

# topo_kill: SIGTERM every process in TOPO_PIDS, SIGKILL after 2 s, reap.
topo_kill() {
	local pid i alive
	for pid in "${TOPO_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	for ((i = 0; i < 20; i++)); do
		alive=0
		for pid in "${TOPO_PIDS[@]}"; do
			topo_alive "$pid" && alive=1
		done
		((alive)) || break
		sleep 0.1
	done
	for pid in "${TOPO_PIDS[@]}"; do
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	TOPO_PIDS=()
}

# topo_down: delete the namespaces (their links, bridge and rules go with
# them).  Kill the processes in them first: a namespace with processes
# left lives on after `ip netns del`, unnamed.
topo_down() {
	local n
	for n in "${TOPO_NSS[@]}"; do
		ip netns del "$n" 2>/dev/null
	done
	TOPO_NSS=()
}
