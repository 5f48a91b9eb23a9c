#!/bin/bash
# scale.sh - cold start with many service ports, measured end to end on a
# real node: SCALE service ports (default 1000; SCALE=10000 for the
# DESIGN.md section 6 figure) in one manifest file (multi-document YAML),
# then the time from exec to /healthz 200, to every nat rule committed
# (2 per port, counted in iptables-legacy -t nat -S; with
# KUP_PORTALS=nftables one map element per port) and to every proxy port
# listening.
# The figures are reported, not judged (machines differ); what is asserted
# is correctness: the rule count, the listener count, /debug/services, and
# sample service ports answering from the external client.
# SCALE_ARGS adds daemon flags, e.g. SCALE_ARGS="--proxy-port-range 20000-40000".
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/e2e/lib.sh"
N=${SCALE:-1000}
e2e_begin
e2e_pods

# Service i (0-based) is s<i>, cluster IP 198.19.<i/250>.<i%250+1>, port 80.
svc_ip() { echo "198.19.$(($1 / 250)).$(($1 % 250 + 1))"; }
"$PYTHON3" - "$N" "$POD1_IP" "$POD2_IP" >"$T_DIR/manifests/scale.yaml" <<'PY' ||
import sys
n, eps = int(sys.argv[1]), sys.argv[2:]
out = sys.stdout
for i in range(n):
    name, ip = "s%d" % i, "198.19.%d.%d" % (i // 250, i % 250 + 1)
    out.write("""---
apiVersion: v1
kind: Service
metadata: {name: %s, namespace: scale}
spec:
  type: ClusterIP
  clusterIP: %s
  clusterIPs: [%s]
  ports:
  - {name: http, protocol: TCP, port: 80, targetPort: 80}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: %s-x
  namespace: scale
  labels: {kubernetes.io/service-name: %s}
addressType: IPv4
ports:
- {name: http, protocol: TCP, port: 80}
endpoints:
""" % (name, ip, ip, name, name))
    for e in eps:
        out.write("- addresses: [%s]\n  conditions: {ready: true}\n" % e)
PY
    hard_error "cannot write the manifest"
log "$N service ports in $(du -h "$T_DIR/manifests/scale.yaml" | cut -f1) of YAML"

# The probe runs in the node namespace from just before the exec: every
# 5 ms it asks /healthz; /proc/net/tcp (listeners) and the nat table (the
# costliest look) are read until each is complete.  It prints
# "healthz MS", "listening MS", "rules MS" as each condition first holds
# (ms since t0), or "timeout WHAT" lines at the deadline.
probe() {
	in_ns "$NODE" "$PYTHON3" - "$@" <<'PY'
import json, subprocess, sys, time, urllib.request
t0, n, deadline = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
backend = sys.argv[4] if len(sys.argv) > 4 else ""
def ms():
    return (time.time_ns() - t0) // 1000000
def healthz():
    try:
        with urllib.request.urlopen("http://127.0.0.1:10256/healthz",
                                    timeout=1) as r:
            return r.status == 200
    except Exception:
        return False
def listening():
    # A wildcard bind is one dual-stack socket per port: it is in tcp6.
    k = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            next(f)
            for line in f:
                fl = line.split()
                if fl[3] == "0A" and int(fl[1].split(":")[1], 16) not in (10249, 10256):
                    k += 1
    return k >= n
def rules():
    if backend == "nftables":
        # one map element per port serves both hooks (lib.sh nft_nat_rules)
        out = subprocess.run(["nft", "-j", "list", "table", "ip", "kube-uproxy"],
                             capture_output=True, text=True).stdout
        try:
            objs = json.loads(out)["nftables"]
        except ValueError:
            return False
        return sum(len(o["map"].get("elem", [])) for o in objs
                   if "map" in o) >= n
    out = subprocess.run(["iptables-legacy", "-w", "5", "-t", "nat", "-S"],
                         capture_output=True, text=True).stdout
    return sum(1 for l in out.splitlines() if l.startswith("-A KUBE-PORTALS-")) >= 2 * n
todo = {"healthz": healthz, "listening": listening, "rules": rules}
end = time.monotonic() + deadline
while todo and time.monotonic() < end:
    for what in list(todo):
        if todo[what]():
            print("%s %d" % (what, ms()), flush=True)
            del todo[what]
    time.sleep(0.005)
for what in todo:
    print("timeout " + what)
PY
}

ulimit -n "$(ulimit -Hn)" 2>/dev/null
deadline=$((20 + N / 500))
t0=$(date +%s%N)
# shellcheck disable=SC2086
ip netns exec "$NODE" "$KUBE_UPROXY" --manifests "$T_DIR/manifests" \
    --metrics-bind-address 127.0.0.1:10249 \
    --healthz-bind-address 127.0.0.1:10256 ${SCALE_ARGS:-} \
    ${KUP_PORTALS:+--portals "$KUP_PORTALS"} \
    2>>"$T_DIR/kube-uproxy.log" </dev/null &
T_DAEMON_PID=$!
T_PIDS="$T_PIDS $T_DAEMON_PID"
METRICS_URL=http://127.0.0.1:10249
HEALTHZ_URL=http://127.0.0.1:10256
res=$(probe "$t0" "$N" "$deadline" "$KUP_PORTALS")
daemon_alive
printf '%s\n' "$res" | sed "s/^/$T_NAME: /"
if printf '%s\n' "$res" | grep -q '^timeout'; then
	fail "not complete within ${deadline}s: $(printf '%s\n' "$res" | grep '^timeout' | tr '\n' ' ')"
fi
at() { printf '%s\n' "$res" | awk -v w="$1" '$1 == w { print $2 }'; }
log "FIGURES: $N service ports: /healthz 200 after $(at healthz) ms," \
    "all $N proxy ports listening after $(at listening) ms," \
    "all $((2 * N)) rules committed after $(at rules) ms"
log "daemon RSS: $(awk '/^VmRSS/ { print $2, $3 }' "/proc/$T_DAEMON_PID/status")"

# Correctness.
expect_eq "KUBE-PORTALS rules" "$(nat_rules | grep -c '^-A KUBE-PORTALS-')" $((2 * N))
expect_eq "KUBE-NODEPORT rules" "$(nat_rules | grep -c '^-A KUBE-NODEPORT-')" 0
expect_eq "kube_uproxy_service_ports" "$(metric kube_uproxy_service_ports)" "$N"
expect_eq "objects in /debug/services" "$(client http "$METRICS_URL/debug/services" |
    "$PYTHON3" -c 'import json,sys; print(len(json.load(sys.stdin)))')" "$N"
for i in 0 $((N / 2)) $((N - 1)); do
	ip=$(svc_ip "$i")
	expect_eq "rules of scale/s$i:http" "$(count_rules_of "scale/s$i:http")" 2
	soft expect_alternating "service s$i ($ip:80) from the client" \
	    "$(get_names "$CLIENT" "http://$ip/" 2)" pod1 pod2 1
done
pass
