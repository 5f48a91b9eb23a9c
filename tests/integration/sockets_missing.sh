#!/bin/bash
# sockets_missing.sh - a proxy socket that cannot open is counted in
# kube_uproxy_proxy_sockets_missing and retried; when room comes back it
# opens and the gauge returns to zero.  One port of --proxy-port-range
# for two services: the second waits until the first is removed.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/lib.sh"
t_begin

read -r P RANGE < <(free_ports 2 | paste -sd' ')
backend a tcp-name 127.0.0.11:$P
write_manifest first.yaml "$(m_service name=first port=http/TCP/80)
---
$(m_slice name=first port=http/TCP/$P ep=127.0.0.11)"
start_proxy --proxy-port-range "$RANGE-$RANGE"
FP=$(wait_proxy_port default/first http)
expect_eq "the first service's proxy port" "$FP" "$RANGE"
expect_eq "sockets missing with one service" "$(metric kube_uproxy_proxy_sockets_missing)" 0

write_manifest second.yaml "$(m_service name=second ip=198.19.0.11 port=http/TCP/80)
---
$(m_slice name=second port=http/TCP/$P ep=127.0.0.11)"
one_missing() { [ "$(metric kube_uproxy_proxy_sockets_missing)" = 1 ]; }
wait_for 2 "one proxy socket counted missing" one_missing
[ "$(log_count '^W[0-9]{4} .*default/second:http: no free port left')" -ge 1 ] ||
    fail "no warning naming default/second"

remove_manifest first.yaml
none_missing() { [ "$(metric kube_uproxy_proxy_sockets_missing)" = 0 ]; }
wait_for 3 "the second service's socket to open" none_missing
SP=$(wait_proxy_port default/second http)
expect_eq "the second service's proxy port" "$SP" "$RANGE"
expect_all "the second service" "$(client names 127.0.0.1 "$SP" 2)" a
pass
