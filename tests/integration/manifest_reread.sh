#!/bin/bash
# manifest_reread.sh - a file rewritten with the same bytes (a config tool
# that rewrites every file, or SIGHUP) is not parsed again when its last
# read was clean; a file whose last read warned is parsed again (the cause
# may have passed), and a real change after identical rewrites is seen.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/lib.sh"
t_begin

P=$(free_ports 1)
backend a tcp-name 127.0.0.11:$P
backend b tcp-name 127.0.0.12:$P
svc=$(m_service name=web port=http/TCP/80)
web="$svc
---
$(m_slice name=web port=http/TCP/$P ep=127.0.0.11)"
badip="$(m_service name=badip ip=198.19.0.12 port=http/TCP/80)
---
$(m_slice name=badip port=http/TCP/$P ep=999.1.2.3)"
write_manifest web.yaml "$web"
write_manifest badip.yaml "$badip"
start_proxy
PP=$(wait_proxy_port default/web http)
expect_all "before the rewrites" "$(client names 127.0.0.1 "$PP" 2)" a

unchanged() { log_count "web\.yaml: unchanged since its last read"; }
reads() { log_count "manifests .*$1: read\$"; }
warnings() { log_count "^W[0-9]{4} .*badip\.yaml: document 2"; }
expect_eq "web.yaml reads at start" "$(reads web.yaml)" 1
expect_eq "badip.yaml warnings at start" "$(warnings)" 1

# The same bytes, renamed in (a new inode: the scan sees a change).
write_manifest web.yaml "$web"
write_manifest badip.yaml "$badip"
skipped_once() { [ "$(unchanged)" = 1 ] && [ "$(warnings)" = 2 ]; }
wait_for 2 "web.yaml found unchanged, badip.yaml parsed and warned again" skipped_once
expect_eq "web.yaml reads after the identical rewrite" "$(reads web.yaml)" 1

# SIGHUP reads every file: web.yaml is found unchanged again.
kill -HUP "$T_DAEMON_PID"
skipped_twice() { [ "$(unchanged)" = 2 ] && [ "$(warnings)" = 3 ]; }
wait_for 2 "SIGHUP: web.yaml unchanged, badip.yaml warned again" skipped_twice
expect_eq "web.yaml reads after SIGHUP" "$(reads web.yaml)" 1
expect_all "after the identical rewrites" "$(client names 127.0.0.1 "$PP" 2)" a

# A real change is read and applied.
write_manifest web.yaml "$svc
---
$(m_slice name=web port=http/TCP/$P ep=127.0.0.12)"
only_b() { [ "$(client names 127.0.0.1 "$PP" 1)" = b ]; }
wait_for 1 "connections to go to backend b" only_b
expect_eq "web.yaml reads after the change" "$(reads web.yaml)" 2
expect_all "after the change" "$(client names 127.0.0.1 "$PP" 4)" b
pass
