#!/bin/bash
# dead_endpoint.sh - endpoints that refuse or never answer are skipped: every
# connection is still served by the live endpoint (connect retried on the
# next endpoint: at once after a refusal, after the 250 ms timeout when the
# SYN goes unanswered).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/lib.sh"
t_begin

P=$(free_ports 1)
backend live tcp-name 127.0.0.11:$P
# 127.0.0.12:$P: nothing listens there (connection refused).
backend hole tcp-blackhole 127.0.0.13:$P
write_manifest svc.yaml "$(m_service name=refusing port=http/TCP/80)
---
$(m_slice name=refusing port=http/TCP/$P ep=127.0.0.12 ep=127.0.0.11)
---
$(m_service name=silent ip=198.19.0.11 port=http/TCP/80)
---
$(m_slice name=silent port=http/TCP/$P ep=127.0.0.13 ep=127.0.0.11)"
start_proxy
RP=$(wait_proxy_port default/refusing http)
SP=$(wait_proxy_port default/silent http)

t0=$(now_ms)
expect_all "10 connections, one endpoint refusing" \
    "$(client names 127.0.0.1 "$RP" 10 --timeout 3)" live
took=$(( $(now_ms) - t0 ))
# Ten Python connects take ~0.5 s; a refusal must not add a timeout.
expect_lt "ms for 10 connections past a refusing endpoint" "$took" 2000

t0=$(now_ms)
expect_all "6 connections, one endpoint silent" \
    "$(client names 127.0.0.1 "$SP" 6 --timeout 5)" live
took=$(( $(now_ms) - t0 ))
# At most 3 of 6 picks hit the silent endpoint: about 3 x 250 ms.
expect_lt "ms for 6 connections past a silent endpoint" "$took" 4000
# The dead endpoints were really tried (or the test proved nothing).
expect_gt "kube_uproxy_endpoint_dial_failures_total" \
    "$(metric kube_uproxy_endpoint_dial_failures_total)" 1
expect_gt "kube_uproxy_endpoint_dial_retries_total" \
    "$(metric kube_uproxy_endpoint_dial_retries_total)" 1
pass
