#!/bin/bash
# nodeport_range.sh - --service-node-port-range decides which nodePorts a
# manifest may ask for, as kube-apiserver's flag of the same name: 20080 is
# refused with the default range (30000-32767) and served with 20000-20999,
# where 30001 is refused in turn.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/lib.sh"
t_begin

P=$(free_ports 1)
write_manifest svc.yaml "$(m_service name=low port=http/TCP/80 type=NodePort nodeport=20080)
---
$(m_service name=high ip=198.19.0.11 port=http/TCP/80 type=NodePort nodeport=30001)
---
$(m_slice name=low port=http/TCP/$P ep=127.0.0.11)
---
$(m_slice name=high port=http/TCP/$P ep=127.0.0.11)"

refused() { log_count "^W[0-9]{4} .*nodePort: $1 is not in the node-port range $2"; }

start_proxy
wait_proxy_port default/high http >/dev/null
expect_eq "default/low with the default range" "$(proxy_port default/low http)" ""
expect_eq "warnings for nodePort 20080" "$(refused 20080 30000-32767)" 1
stop_proxy

start_proxy --service-node-port-range 20000-20999
wait_proxy_port default/low http >/dev/null
expect_eq "default/high with 20000-20999" "$(proxy_port default/high http)" ""
expect_eq "warnings for nodePort 30001" "$(refused 30001 20000-20999)" 1
pass
