#!/bin/bash
# rules_follow.sh - the nat rules follow many changes exactly.  Thirty
# rounds of random edits to 24 Services (added, removed, a new cluster IP,
# externalIPs, another port, a NodePort on or off, TCP to UDP and back,
# endpoints only): most rounds change one to three of them (the proxier
# updates the plan it keeps), every fifth round twelve (it replans all).
# After each round (a marker Service's port says it is in) our chains must
# hold exactly the rules that /debug/services implies, each once: nothing
# stale, nothing missing.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/e2e/lib.sh"
e2e_begin

SEED=$((RANDOM % 10000))
log "seed $SEED"

# write_round R: the manifests of round R (deterministic for SEED).
write_round() {
	"$PYTHON3" - "$SEED" "$1" "$T_DIR/manifests" <<'EOF'
import os, random, sys
seed, rnd, d = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
rng = random.Random(seed)
N = 24
svc = [dict(on=rng.random() < 0.7, ip=1, ext=False, port=80, np=False,
            udp=False, eps=1) for _ in range(N)]
for r in range(1, rnd + 1):
    for _ in range(12 if r % 5 == 0 else rng.randint(1, 3)):
        s = svc[rng.randrange(N)]
        k = rng.choice(["on", "ip", "ext", "port", "np", "udp", "eps"])
        if k == "port":
            s["port"] = 80 if s["port"] != 80 else 8080
        elif k == "ip":
            s["ip"] = 3 - s["ip"]
        elif k == "eps":
            s["eps"] = 3 - s["eps"]
        else:
            s[k] = not s[k]
# A marker whose port is 1000 + the round: the test knows the round is in.
out = ["""apiVersion: v1
kind: Service
metadata: {name: marker, namespace: walk}
spec: {clusterIP: 198.19.29.1, ports: [{name: p, protocol: TCP, port: %d}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: marker-1, namespace: walk, labels: {kubernetes.io/service-name: marker}}
addressType: IPv4
ports: [{name: p, protocol: TCP, port: 9}]
endpoints: [{addresses: ["198.18.1.10"], conditions: {ready: true}}]
""" % (1000 + rnd)]
for i, s in enumerate(svc):
    if not s["on"]:
        continue
    ip = "198.19.%d.%d" % (30 + i, s["ip"])
    proto = "UDP" if s["udp"] else "TCP"
    ext = '\n  externalIPs: ["198.18.%d.7"]' % (30 + i) if s["ext"] else ""
    np = ", nodePort: %d" % (30100 + i) if s["np"] else ""
    typ = "NodePort" if s["np"] else "ClusterIP"
    eps = ", ".join('{addresses: ["198.18.1.%d"], conditions: {ready: true}}'
                    % (10 + e) for e in range(s["eps"]))
    out.append(f"""apiVersion: v1
kind: Service
metadata: {{name: s{i}, namespace: walk}}
spec:
  type: {typ}
  clusterIP: {ip}
  clusterIPs: [{ip}]{ext}
  ports: [{{name: p, protocol: {proto}, port: {s["port"]}, targetPort: 9{np}}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {{name: s{i}-1, namespace: walk, labels: {{kubernetes.io/service-name: s{i}}}}}
addressType: IPv4
ports: [{{name: p, protocol: {proto}, port: 9}}]
endpoints: [{eps}]
""")
tmp = os.path.join(d, ".all.tmp")
with open(tmp, "w") as f:
    f.write("---\n".join(out))
os.rename(tmp, os.path.join(d, "all.yaml"))
EOF
}

# want_rules: the rules /debug/services implies, as iptables -S prints them.
want_rules() {
	client http "$METRICS_URL/debug/services" | "$PYTHON3" -c '
import json, sys
for s in json.load(sys.stdin):
    pp = s.get("proxyPort") or 0
    if not pp:
        continue
    p = s["protocol"].lower()
    c = "%s:%s" % (s["service"], s["portName"])
    tail = "-m comment --comment \"%s\" -j REDIRECT --to-ports %d" % (c, pp)
    ips = []
    for ip in s["clusterIPs"] + s["externalIPs"] + s["loadBalancerIPs"]:
        if ip not in ips:
            ips.append(ip)
    for ip in ips:
        for ch in ("CONTAINER", "HOST"):
            print("-A KUBE-PORTALS-%s -d %s/32 -p %s -m %s --dport %d %s"
                  % (ch, ip, p, p, s["port"], tail))
    if s.get("nodePort"):
        for ch in ("CONTAINER", "HOST"):
            print("-A KUBE-NODEPORT-%s -p %s -m %s --dport %d %s"
                  % (ch, p, p, s["nodePort"], tail))
' | sort
}
have_rules() { nat_rules | grep -E -- '^-A KUBE-(PORTALS|NODEPORT)-' | sort; }
rules_match() {	# rules_match ROUND
	want_rules >"$T_DIR/want" && have_rules >"$T_DIR/have" &&
	    grep -q -- "--dport $((1000 + $1)) -m comment --comment \"walk/marker:p\"" \
	    "$T_DIR/want" && cmp -s "$T_DIR/want" "$T_DIR/have"
}

mkdir -p "$T_DIR/manifests"
write_round 0
start_proxy --iptables-min-sync-period 0s
for round in $(seq 0 30); do
	((round == 0)) || write_round "$round"
	poll $((5 * T_SLOW)) rules_match "$round" || {
		diff "$T_DIR/want" "$T_DIR/have" | head -20 >&2
		fail "round $round (seed $SEED): the rules are not what /debug/services implies"
	}
done
log "$(wc -l <"$T_DIR/have") rules after 30 rounds"
expect_eq "rules after the last round" "$(grep -c . "$T_DIR/have")" \
    "$(grep -c . "$T_DIR/want")"
pass
