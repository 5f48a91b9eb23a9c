#!/bin/bash
# roundrobin.sh - two backends: six connections alternate between them,
# three each, never the same backend twice in a row.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/lib.sh"
t_begin

P=$(free_ports 1)
backend a tcp-name 127.0.0.11:$P
backend b tcp-name 127.0.0.12:$P
write_manifest web.yaml "$(m_service name=web port=http/TCP/80)
---
$(m_slice name=web port=http/TCP/$P ep=127.0.0.11 ep=127.0.0.12)"
start_proxy
PP=$(wait_proxy_port default/web http)

names=$(client names 127.0.0.1 "$PP" 6)
expect_alternating "6 connections" "$names" a b 3
pass
