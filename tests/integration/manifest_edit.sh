#!/bin/bash
# manifest_edit.sh - editing the EndpointSlice moves new connections to the
# new backend within 1 s, on the same proxy port; removing the file removes
# the service and closes its proxy port.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/lib.sh"
t_begin

P=$(free_ports 1)
backend a tcp-name 127.0.0.11:$P
backend b tcp-name 127.0.0.12:$P
backend c tcp-name 127.0.0.13:$P
svc=$(m_service name=web port=http/TCP/80)
write_manifest web.yaml "$svc
---
$(m_slice name=web port=http/TCP/$P ep=127.0.0.11 ep=127.0.0.12)"
start_proxy
PP=$(wait_proxy_port default/web http)
expect_alternating "before the edit" "$(client names 127.0.0.1 "$PP" 4)" a b 2

# Rewrite in place (not a rename) this time: both must be noticed.
t0=$(now_ms)
printf '%s\n---\n%s\n' "$svc" \
    "$(m_slice name=web port=http/TCP/$P ep=127.0.0.13)" >"$T_DIR/manifests/web.yaml"
only_c() { [ "$(client names 127.0.0.1 "$PP" 1)" = c ]; }
wait_for 1 "connections to go to backend c" only_c
log "endpoint change took effect after $(( $(now_ms) - t0 )) ms"
expect_all "6 connections after the edit" "$(client names 127.0.0.1 "$PP" 6)" c
expect_eq "proxy port after the edit" "$(proxy_port default/web http)" "$PP"
expect_eq "endpoints in /debug/services" \
    "$(service_field default/web http endpoints)" "[\"127.0.0.13:$P\"]"

# A second file adds a service; removing it removes the service again.
write_manifest other.yaml "$(m_service name=other ip=198.19.0.11 port=http/TCP/80)
---
$(m_slice name=other port=http/TCP/$P ep=127.0.0.11)"
OP=$(wait_proxy_port default/other http 1)
expect_all "the added service" "$(client names 127.0.0.1 "$OP" 2)" a
remove_manifest other.yaml
gone() { ! proxy_port default/other http >/dev/null; }
wait_for 1 "service default/other to disappear" gone
expect_match "connecting to the removed proxy port" \
    "$(client refuse 127.0.0.1 "$OP" --timeout 1)" '^refused '
expect_all "web after other was removed" "$(client names 127.0.0.1 "$PP" 2)" c
pass
