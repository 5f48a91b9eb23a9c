#!/bin/bash
# broken_manifest.sh - a malformed file (YAML or JSON) or an object with an
# invalid IP gives one warning naming the file and is skipped; the good
# service keeps working; fixing the file brings its service in; breaking a
# file that was good keeps its last good content.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/lib.sh"
t_begin

P=$(free_ports 1)
backend a tcp-name 127.0.0.11:$P
backend b tcp-name 127.0.0.12:$P
good="$(m_service name=good port=http/TCP/80)
---
$(m_slice name=good port=http/TCP/$P ep=127.0.0.11)"
write_manifest good.yaml "$good"
write_manifest bad.yaml 'apiVersion: v1
kind: Service
metadata: {name: broken, namespace: default
spec: [ports:
  - port: 80'
write_manifest bad.json '{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "brokenjson",'
write_manifest badip.yaml "$(m_service name=badip ip=198.19.0.12 port=http/TCP/80)
---
$(m_slice name=badip port=http/TCP/$P ep=999.1.2.3)"
start_proxy
GP=$(wait_proxy_port default/good http)
expect_all "the good service" "$(client names 127.0.0.1 "$GP" 3)" a

# klog lines: W for warnings.
warnings() { log_count "^W[0-9]{4} .*$1"; }
for f in bad.yaml bad.json badip.yaml; do
	expect_eq "warnings naming $f" "$(warnings "$f")" 1
done
debug=$(client http "$METRICS_URL/debug/services")
case $debug in *999.1.2.3*) fail "the invalid IP made it into /debug/services: $debug" ;; esac
case $debug in *default/broken\"*) fail "the malformed file produced a service: $debug" ;; esac

# Fixing the files brings their services in.
write_manifest bad.yaml "$(m_service name=broken ip=198.19.0.13 port=http/TCP/80)
---
$(m_slice name=broken port=http/TCP/$P ep=127.0.0.12)"
BP=$(wait_proxy_port default/broken http 1)
expect_all "the fixed service" "$(client names 127.0.0.1 "$BP" 2)" b
write_manifest badip.yaml "$(m_service name=badip ip=198.19.0.12 port=http/TCP/80)
---
$(m_slice name=badip port=http/TCP/$P ep=127.0.0.12)"
badip_fixed() { [ "$(service_field default/badip http endpoints)" = "[\"127.0.0.12:$P\"]" ]; }
wait_for 1 "the fixed endpoint of default/badip" badip_fixed
expect_all "the fixed endpoint" "$(client names 127.0.0.1 "$(proxy_port default/badip http)" 2)" b
expect_eq "warnings naming bad.yaml after the fix" "$(warnings bad.yaml)" 1

# A good file turned bad keeps its last good content.
write_manifest good.yaml 'kind: Service
metadata: {name: good
  oops'
warned() { [ "$(warnings good.yaml)" = 1 ]; }
wait_for 1 "a warning naming good.yaml" warned
expect_eq "proxy port of default/good after its file broke" "$(proxy_port default/good http)" "$GP"
expect_all "default/good after its file broke" "$(client names 127.0.0.1 "$GP" 3)" a
pass
