#!/bin/bash
# affinity.sh - sessionAffinity ClientIP pins a client to one backend;
# switching to None brings round robin back at once (same proxy port); a
# short timeoutSeconds lets the pin expire, after which round robin moves on.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/lib.sh"
t_begin

P=$(free_ports 1)
backend a tcp-name 127.0.0.11:$P
backend b tcp-name 127.0.0.12:$P
slice=$(m_slice name=web port=http/TCP/$P ep=127.0.0.11 ep=127.0.0.12)
write_manifest web.yaml "$(m_service name=web port=http/TCP/80 affinity=ClientIP)
---
$slice"
start_proxy
PP=$(wait_proxy_port default/web http)
expect_eq "affinity in /debug/services" \
    "$(service_field default/web http sessionAffinity)" ClientIP
expect_eq "default affinity timeout" \
    "$(service_field default/web http affinityTimeoutSeconds)" 10800

names=$(client names 127.0.0.1 "$PP" 6)
first=$(echo "$names" | head -n1)
expect_match "first answer" "$first" '^(a|b)$'
expect_all "6 connections with ClientIP affinity" "$names" "$first"

# Affinity off: round robin within 1 s, on the same proxy port.
write_manifest web.yaml "$(m_service name=web port=http/TCP/80 affinity=None)
---
$slice"
alternates() { is_alternating "$(client names 127.0.0.1 "$PP" 4)" a b 2; }
wait_for 1 "round robin after sessionAffinity None" alternates
expect_eq "proxy port after the service change" "$(proxy_port default/web http)" "$PP"

# A 1 s pin: within a burst one backend, across idle gaps of 1.5 s the pin
# expires and the next pick moves on, so both backends serve over 3 bursts.
write_manifest web.yaml "$(m_service name=web port=http/TCP/80 affinity=ClientIP timeout=1)
---
$slice"
timeout_is_1() { [ "$(service_field default/web http affinityTimeoutSeconds)" = 1 ]; }
wait_for 1 "affinityTimeoutSeconds 1 in /debug/services" timeout_is_1
sleep 1.5	# let any pin made before the change expire
seen=""
for round in 1 2 3; do
	names=$(client names 127.0.0.1 "$PP" 3)
	one=$(echo "$names" | head -n1)
	expect_match "burst $round" "$one" '^(a|b)$'
	expect_all "burst $round (pinned)" "$names" "$one"
	seen="$seen$one
"
	[ $round = 3 ] || sleep 1.5
done
used=$(printf '%s' "$seen" | sort -u | wc -l)
expect_eq "backends used across expired pins ($(echo $seen))" "$used" 2
pass
