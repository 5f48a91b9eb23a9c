#!/bin/bash
# contrib_yaml.sh - what contrib/ ships is well-formed and agrees with the
# program: every manifest parses with kube-uproxy's own YAML reader (the
# example Services are served, the DaemonSet's objects recognised), the
# DaemonSet has the shape contrib/README.md promises (checked with PyYAML
# when some python3 has it), the configuration in its ConfigMap and
# contrib/kube-uproxy.conf load with --config and are what
# --write-config-to writes, every JSON file parses, and systemd accepts the
# unit (`systemd-analyze verify`, when systemd is installed).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/lib.sh"
t_begin

CONTRIB=$(cd "$TESTS_SRCDIR/../contrib" && pwd) || hard_error "no contrib/"
DS=$CONTRIB/kube-uproxy-daemonset.yaml
UNIT=$CONTRIB/kube-uproxy.service
CONF=$CONTRIB/kube-uproxy.conf
for f in "$DS" "$UNIT" "$CONF" "$CONTRIB/README.md"; do
	[ -f "$f" ] || fail "missing $f"
done

# settings FILE: a configuration without its comments and blank lines.
settings() { grep -vE '^[[:space:]]*(#|$)' "$1"; }

# 1. Every YAML manifest through the daemon's own reader, in one run: the
# example Services must be served, the other objects reported as kinds
# the proxy does not use, and nothing must be warned about.
n=0
for f in $(find "$CONTRIB" -name '*.yaml' -o -name '*.yml' | sort); do
	n=$((n + 1))
	cp "$f" "$T_DIR/manifests/$n-$(basename "$f")"
done
expect_gt "YAML files under contrib/" "$n" 4
start_proxy --v 1
want=$(cat "$CONTRIB"/examples/*.yaml | grep -cx 'kind: Service')
services() {
	client http "$METRICS_URL/debug/services" | "$PYTHON3" -c '
import json, sys
print(len({s["service"] for s in json.load(sys.stdin)}))'
}
has_all() { [ "$(services)" = "$want" ]; }
wait_for 5 "the $want example Services in /debug/services" has_all
expect_gt "example Services" "$want" 2
for kind in ServiceAccount ClusterRoleBinding ConfigMap DaemonSet; do
	grep -qE "daemonset\.yaml: document [0-9]+: kind $kind is not used" \
	    "$T_DIR/kube-uproxy.log" ||
	    soft fail "the daemon's reader did not see the $kind of the DaemonSet manifest"
done
warnings=$(grep -E '^[WEF]' "$T_DIR/kube-uproxy.log")
expect_eq "warnings reading contrib's manifests" "$warnings" ""
stop_proxy

# 2. The ConfigMap's configuration, cut out of its block scalar by
# indentation (PyYAML below checks the cut).
awk '/^  config\.conf: \|$/ { on = 1; next }
     on && /^    / { print substr($0, 5); next }
     on && /^ *$/ { print ""; next }
     on { exit }' "$DS" >"$T_DIR/cm-config.conf"
[ -s "$T_DIR/cm-config.conf" ] || fail "no config.conf in the ConfigMap"

# 3. PyYAML, when some python3 here has it, for the structure.
YPY=""
for py in "$PYTHON3" /usr/bin/python3 python3; do
	if command -v "$py" >/dev/null && "$py" -c 'import yaml' 2>/dev/null; then
		YPY=$py
		break
	fi
done
if [ -z "$YPY" ]; then
	log "no python3 with the yaml module (Debian: python3-yaml): the DaemonSet's structure is not checked"
else
	"$YPY" - "$DS" "$T_DIR/cm-config.conf" "$CONTRIB" <<'PY' || fail "the DaemonSet manifest (above)"
import glob, json, os, sys, yaml

ds_path, cut_path, contrib = sys.argv[1:4]
errors = []

def check(cond, what):
    if not cond:
        errors.append(what)

# Every YAML and JSON file under contrib/ parses.
for f in sorted(glob.glob(os.path.join(contrib, "**", "*.y*ml"), recursive=True)):
    with open(f) as fh:
        list(yaml.safe_load_all(fh))
for f in sorted(glob.glob(os.path.join(contrib, "**", "*.json"), recursive=True)):
    with open(f) as fh:
        json.load(fh)

with open(ds_path) as fh:
    docs = [d for d in yaml.safe_load_all(fh) if d is not None]
by_kind = {d["kind"]: d for d in docs}
check(sorted(by_kind) == ["ClusterRoleBinding", "ConfigMap", "DaemonSet",
                          "ServiceAccount"], "kinds: %s" % sorted(by_kind))

sa = by_kind["ServiceAccount"]["metadata"]
check((sa["name"], sa["namespace"]) == ("kube-uproxy", "kube-system"),
      "ServiceAccount kube-system/kube-uproxy")
crb = by_kind["ClusterRoleBinding"]
check(crb["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io",
                         "kind": "ClusterRole", "name": "system:node-proxier"},
      "roleRef system:node-proxier: %s" % crb["roleRef"])
check({"kind": "ServiceAccount", "name": "kube-uproxy",
       "namespace": "kube-system"} in crb["subjects"], "binding subject")

cm = by_kind["ConfigMap"]
check(cm["metadata"]["namespace"] == "kube-system", "ConfigMap namespace")
with open(cut_path) as fh:
    check(fh.read().rstrip("\n") == cm["data"]["config.conf"].rstrip("\n"),
          "config.conf as PyYAML reads it differs from the indentation cut")
kc = yaml.safe_load(cm["data"]["kubeconfig.conf"])
user = kc["users"][0]["user"]
check(user.get("tokenFile") ==
      "/var/run/secrets/kubernetes.io/serviceaccount/token", "kubeconfig tokenFile")
check(kc["clusters"][0]["cluster"]["server"].startswith("https://"),
      "kubeconfig server")
check(kc["current-context"] == kc["contexts"][0]["name"], "current-context")

d = by_kind["DaemonSet"]
check(d["apiVersion"] == "apps/v1", "DaemonSet apiVersion")
spec = d["spec"]["template"]["spec"]
check(d["spec"]["selector"]["matchLabels"].items() <=
      d["spec"]["template"]["metadata"]["labels"].items(), "selector matches")
check(spec["serviceAccountName"] == "kube-uproxy", "serviceAccountName")
check(spec["hostNetwork"] is True, "hostNetwork")
check(spec["priorityClassName"] == "system-node-critical", "priorityClassName")
check({"operator": "Exists"} in spec["tolerations"], "tolerate every taint")
(c,) = spec["containers"]
args = c.get("command", []) + c.get("args", [])
check("--hostname-override=$(NODE_NAME)" in args, "--hostname-override=$(NODE_NAME)")
env = {e["name"]: e for e in c["env"]}
check(env["NODE_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName",
      "NODE_NAME from the downward API")
caps = c["securityContext"]["capabilities"]
check(caps["drop"] == ["ALL"], "drop ALL")
check(sorted(caps["add"]) == ["NET_ADMIN", "NET_RAW"], "add: %s" % caps["add"])
check(not c["securityContext"].get("privileged", False), "not privileged")
healthz = next(p["containerPort"] for p in c["ports"] if p["name"] == "healthz")
check(healthz == 10256, "healthz port")
check(c["livenessProbe"]["httpGet"] == {"path": "/livez", "port": healthz},
      "liveness on /livez")
check(c["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": healthz},
      "readiness on /healthz")

vols = {v["name"]: v for v in spec["volumes"]}
mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
lock = vols[mounts["/run/xtables.lock"]["name"]]["hostPath"]
check(lock == {"path": "/run/xtables.lock", "type": "FileOrCreate"}, "xtables lock")
mods = mounts["/lib/modules"]
check(mods.get("readOnly") is True and
      vols[mods["name"]]["hostPath"]["path"] == "/lib/modules", "/lib/modules ro")
# --config names a key of the mounted ConfigMap, and so does the kubeconfig.
conf = next(a.split("=", 1)[1] for a in args if a.startswith("--config="))
cfgmount = next(m for p, m in mounts.items()
                if vols[m["name"]].get("configMap", {}).get("name") == cm["metadata"]["name"])
check(os.path.dirname(conf) == cfgmount["mountPath"] and
      os.path.basename(conf) in cm["data"], "--config=%s in the ConfigMap" % conf)
kubeconfig = yaml.safe_load(cm["data"]["config.conf"])["clientConnection"]["kubeconfig"]
check(os.path.dirname(kubeconfig) == cfgmount["mountPath"] and
      os.path.basename(kubeconfig) in cm["data"], "kubeconfig %s in the ConfigMap" % kubeconfig)

for e in errors:
    print("contrib_yaml: DaemonSet manifest: wrong " + e)
sys.exit(1 if errors else 0)
PY
fi

# 4. Both configurations load with --config, with no warning, and are
# what --write-config-to writes: the example the defaults, the
# ConfigMap's the defaults with its kubeconfig.
loads() {	# loads NAME FILE
	"$KUBE_UPROXY" --config "$2" --write-config-to - >"$T_DIR/$1.out" \
	    2>"$T_DIR/$1.err" </dev/null
	expect_eq "exit status loading $1" "$?" 0
	expect_eq "warnings loading $1" "$(cat "$T_DIR/$1.err")" ""
	[ "$(settings "$T_DIR/$1.out")" = "$(settings "$2")" ] ||
	    fail "$1 is not what --write-config-to writes for it: $(diff <(settings "$2") <(settings "$T_DIR/$1.out"))"
}
loads kube-uproxy.conf "$CONF"
"$KUBE_UPROXY" --write-config-to "$T_DIR/defaults.conf" </dev/null ||
    fail "--write-config-to failed"
[ "$(settings "$CONF")" = "$(settings "$T_DIR/defaults.conf")" ] ||
    fail "kube-uproxy.conf is not the defaults: $(diff <(settings "$CONF") <(settings "$T_DIR/defaults.conf"))"
loads "the ConfigMap's config.conf" "$T_DIR/cm-config.conf"

# 5. The systemd unit: what the README says, and systemd's own check.
unit_has() { grep -qx -- "$1" "$UNIT" || soft fail "kube-uproxy.service lacks '$1'"; }
unit_has 'Type=notify'
unit_has 'ExecReload=/bin/kill -HUP $MAINPID'
unit_has 'CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW'
unit_has 'AmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW'
unit_has 'ExecStart=/usr/sbin/kube-uproxy --config=/etc/kube-uproxy/config.conf'
if ! command -v systemd-analyze >/dev/null; then
	log "systemd-analyze not installed: the unit is not verified"
else
	# The unit as installed: this build's binary, and the man page its
	# Documentation= names.
	mkdir -p "$T_DIR/unit" "$T_DIR/man/man8"
	cp "$TESTS_SRCDIR/../man/kube-uproxy.8" "$T_DIR/man/man8/"
	sed "s#/usr/sbin/kube-uproxy#$KUBE_UPROXY#" "$UNIT" \
	    >"$T_DIR/unit/kube-uproxy.service"
	out=$(cd "$T_DIR/unit" && MANPATH=$T_DIR/man \
	    timeout 60 systemd-analyze verify ./kube-uproxy.service 2>&1)
	rc=$?
	if [ $rc != 0 ] && printf '%s' "$out" | grep -qiE 'Failed to (connect|initialize|setup|create)|not been booted|Operation not permitted'; then
		log "systemd-analyze cannot run here ($out): the unit is not verified"
	else
		expect_eq "systemd-analyze verify status ($out)" "$rc" 0
		expect_eq "systemd-analyze verify output" "$out" ""
	fi
fi
pass
