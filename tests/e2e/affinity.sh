#!/bin/bash
# affinity.sh - sessionAffinity ClientIP seen through the kernel: the
# external client keeps its pod across connections to the ClusterIP (the
# REDIRECT keeps its real source address, which the proxy keys on), a
# second client IP gets the next pod and keeps it, and a service without
# affinity alternates for the same client meanwhile.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/e2e/lib.sh"
e2e_begin
e2e_pods

write_manifest sticky.yaml "$(m_service name=nginx-sticky ip=198.19.0.13 \
    affinity=ClientIP timeout=30 port=http/TCP/80)
---
$(nginx_slice nginx-sticky)"
write_manifest plain.yaml "$(m_service name=nginx-svc ip=198.19.0.10 port=http/TCP/80)
---
$(nginx_slice nginx-svc)"
start_proxy
wait_rules 3 default/nginx-sticky:http 2
wait_rules 3 default/nginx-svc:http 2
expect_eq "affinity timeout" \
    "$(service_field default/nginx-sticky http affinityTimeoutSeconds)" 30

names=$(get_names "$CLIENT" http://198.19.0.13/ 6)
mine=$(echo "$names" | head -n1)
expect_match "first answer to the client" "$mine" '^pod[12]$'
expect_all "6 requests from the client ($CLIENT_IP)" "$names" "$mine"

# A second client IP (pod1's) is new: round robin gives it the other pod.
names=$(get_names "$POD1" http://198.19.0.13/ 4)
theirs=$(echo "$names" | head -n1)
expect_match "first answer to pod1" "$theirs" '^pod[12]$'
expect_all "4 requests from pod1 ($POD1_IP)" "$names" "$theirs"
expect_ne "pod of the second client IP" "$theirs" "$mine"

# Without affinity the same client alternates; with it, it still sticks.
soft expect_alternating "4 requests from the client without affinity" \
    "$(get_names "$CLIENT" http://198.19.0.10/ 4)" pod1 pod2 2
expect_all "the client again, after other traffic" \
    "$(get_names "$CLIENT" http://198.19.0.13/ 3)" "$mine"
pass
