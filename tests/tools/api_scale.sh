#!/bin/bash
# api_scale.sh - how long kube-uproxy takes, and how much memory at its
# peak, to sync SCALE Services and SCALE EndpointSlices (default 10,000
# each, two endpoints per slice) from the fake kube-apiserver; then how
# long one more service takes to get its proxy port.  Not part of make
# check.  Prints one line of figures:
#   api_scale: N=10000 healthz=MS ports=MS add_one=MS (one /debug/services
#   poll: MS) VmHWM=KB VmRSS=KB list_requests=N
# Run from a build directory:
#   KUBE_UPROXY=src/kube-uproxy SCALE=10000 $srcdir/tests/tools/api_scale.sh
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
T_NAME=api_scale
. "${TESTS_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}/lib.sh"
t_begin

N=${SCALE:-10000}
[ "$N" -ge 1 ] 2>/dev/null || hard_error "SCALE must be a positive integer"
[ "$(ulimit -Hn)" = unlimited ] || [ "$(ulimit -Hn)" -gt $((N + 200)) ] ||
    skip "hard limit of open files $(ulimit -Hn) is below $((N + 200))"
"$PYTHON3" - "$N" "$T_DIR" <<'EOF'
import ipaddress, json, sys
n, d = int(sys.argv[1]), sys.argv[2]
base = ipaddress.ip_address("198.18.0.1")
svcs, slices = [], []
for i in range(n):
    name, ns = "svc-%05d" % i, "ns-%02d" % (i % 50)
    ip = str(base + i)
    svcs.append({"metadata": {"name": name, "namespace": ns,
                              "labels": {"app": name}},
                 "spec": {"type": "ClusterIP", "clusterIP": ip,
                          "clusterIPs": [ip], "sessionAffinity": "None",
                          "ports": [{"name": "http", "protocol": "TCP",
                                     "port": 80, "targetPort": 8080}]}})
    slices.append({"metadata": {"name": name + "-abcde", "namespace": ns,
                                "labels": {"kubernetes.io/service-name": name}},
                   "addressType": "IPv4",
                   "ports": [{"name": "http", "protocol": "TCP", "port": 8080}],
                   "endpoints": [{"addresses": ["127.0.%d.%d" % (1 + i % 200, 1 + k)],
                                  "conditions": {"ready": True}} for k in (0, 1)]})
json.dump({"kind": "ServiceList", "apiVersion": "v1", "items": svcs},
          open(d + "/services.json", "w"))
json.dump({"kind": "EndpointSliceList", "apiVersion": "discovery.k8s.io/v1",
           "items": slices}, open(d + "/slices.json", "w"))
EOF
[ -s "$T_DIR/slices.json" ] || hard_error "could not generate the objects"
fakeapi_start --history 100 --load "$T_DIR/services.json" --load "$T_DIR/slices.json"

t0=$(now_ms)
start_proxy_nowait --kubeconfig "$API_KUBECONFIG" --v 0
poll 600 healthz_ok || fail "/healthz not 200 after 600 s"
t_health=$(( $(now_ms) - t0 ))
nports() {
	client http "$METRICS_URL/debug/services" --timeout 30 2>/dev/null |
	    jget 'len([o for o in d if o.get("proxyPort")])' 2>/dev/null
}
all_ports() { daemon_alive; [ "$(nports)" = "$N" ] && return 0; sleep 0.3; return 1; }
poll 600 all_ports || fail "not $N proxy ports after 600 s (have $(nports))"
t_ports=$(( $(now_ms) - t0 ))

t1=$(now_ms)
api_apply "$(j_service name=one-more ns=extra ip=198.19.255.1 port=http/TCP/80)"
one_more() { fast_proxy_port extra/one-more http >/dev/null; }
wait_for 60 "one more service" one_more
t_add=$(( $(now_ms) - t1 ))

# What one poll of /debug/services costs (part of add_one's figure).
t2=$(now_ms)
fast_proxy_port extra/one-more http >/dev/null
t_poll=$(( $(now_ms) - t2 ))

status=/proc/$T_DAEMON_PID/status
hwm=$(awk '/^VmHWM:/ { print $2 }' "$status")
rss=$(awk '/^VmRSS:/ { print $2 }' "$status")
lists=$(api_counter 'd["lists"]')
printf 'api_scale: N=%d healthz=%dms ports=%dms add_one=%dms (one /debug/services poll: %dms) VmHWM=%dkB VmRSS=%dkB list_requests=%s\n' \
    "$N" "$t_health" "$t_ports" "$t_add" "$t_poll" "$hwm" "$rss" "$lists"
pass
