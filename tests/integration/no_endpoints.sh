#!/bin/bash
# no_endpoints.sh - a service without ready endpoints refuses at once: the
# client's connection is reset (or closed) in well under 100 ms, no hang.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/lib.sh"
t_begin

P=$(free_ports 1)
write_manifest svc.yaml "$(m_service name=empty port=http/TCP/80)
---
$(m_slice name=empty port=http/TCP/$P)
---
$(m_service name=unready ip=198.19.0.11 port=http/TCP/80)
---
$(m_slice name=unready port=http/TCP/$P notready=127.0.0.11)"
start_proxy
EP=$(wait_proxy_port default/empty http)
UP=$(wait_proxy_port default/unready http)
expect_eq "endpoints of default/empty" "$(service_field default/empty http endpoints)" "[]"
expect_eq "endpoints of default/unready" "$(service_field default/unready http endpoints)" "[]"

for port in "$EP" "$UP" "$EP"; do
	res=$(client refuse 127.0.0.1 "$port" --timeout 2)
	expect_match "connection to a service without endpoints" "$res" '^(reset|eof|refused) '
	expect_lt "ms until the connection ended ($res)" "${res#* }" 100
done
expect_eq "kube_uproxy_tcp_connections_refused_total" "$(metric kube_uproxy_tcp_connections_refused_total)" 3
pass
