#!/bin/bash
# manifest_hostile.sh - issue 11: manifests a hostile or careless author can
# write.  Each gives one warning naming its file and the reason (or bound),
# is not served, and leaves every other Service served:
#  - a namespace of 520 characters (it was served, and deleting its file
#    crashed the daemon with SIGSEGV);
#  - nodePort 22 and externalIPs [127.0.0.1] (they would capture the node's
#    own traffic);
#  - a 1 MiB anchored string aliased 1,500 times (the daemon exited: out
#    of memory);
#  - a file over BOUND_MANIFEST_BYTES, one over BOUND_OBJECTS_PER_FILE
#    (these keep their last good content);
#  - the same Service in two files (it was dropped when either went): the
#    second copy waits and takes over when the first file goes.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "${TESTS_SRCDIR:-$(dirname "$0")/..}/lib.sh"
t_begin

P=$(free_ports 1)
backend a tcp-name 127.0.0.11:$P
backend b tcp-name 127.0.0.12:$P
write_manifest good.yaml "$(m_service name=good ip=198.19.0.10 port=http/TCP/80)
---
$(m_slice name=good port=http/TCP/$P ep=127.0.0.11)"
LONG=$(printf 'n%.0s' $(seq 520))
write_manifest longns.yaml "$(m_service name=long ns="$LONG" ip=198.19.0.11 port=http/TCP/80)
---
$(m_slice name=long ns="$LONG" port=http/TCP/$P ep=127.0.0.11)"
write_manifest nodeport.yaml "$(m_service name=ssh ip=198.19.0.12 type=NodePort nodeport=22 port=http/TCP/80)"
write_manifest extip.yaml "$(m_service name=hijack ip=198.19.0.13 extip=127.0.0.1 port=http/TCP/80)"
# The same Service in two files: dup-a.yaml is first in name order.
write_manifest dup-a.yaml "$(m_service name=dup ip=198.19.0.14 port=http/TCP/80)
---
$(m_slice name=dup port=http/TCP/$P ep=127.0.0.11)"
write_manifest dup-b.yaml "$(m_service name=dup ip=198.19.0.14 port=http/TCP/80)
---
$(m_slice name=dup port=http/TCP/$P ep=127.0.0.12)"
# Good content first: these files turn hostile later and keep it.
write_manifest big.yaml "$(m_service name=big ip=198.19.0.15 port=http/TCP/80)
---
$(m_slice name=big port=http/TCP/$P ep=127.0.0.11)"
write_manifest many.yaml "$(m_service name=many ip=198.19.0.16 port=http/TCP/80)
---
$(m_slice name=many port=http/TCP/$P ep=127.0.0.11)"
start_proxy
GP=$(wait_proxy_port default/good http)
wait_proxy_port default/big http >/dev/null
wait_proxy_port default/many http >/dev/null

warnings() { log_count "^W[0-9]{4} .*$1"; }
debug() { client http "$METRICS_URL/debug/services"; }
soft expect_eq "warnings naming longns.yaml" "$(warnings "longns.yaml.*metadata.namespace.*520 characters")" 2
soft expect_eq "warnings naming nodeport.yaml" "$(warnings "nodeport.yaml.*nodePort: 22 is not in the node-port range 30000-32767")" 1
soft expect_eq "warnings naming extip.yaml" "$(warnings "extip.yaml.*127.0.0.1.* is a loopback address")" 1
soft expect_eq "warnings about the second copy of default/dup" \
    "$(warnings "dup-b.yaml: document 1: Service default/dup is also defined in .*dup-a.yaml")" 1
soft expect_eq "warnings about dup-a.yaml" "$(warnings "manifests [^ ]*dup-a.yaml:")" 0
d=$(debug)
served() { case $d in *"$1"*) return 0 ;; esac; return 1; }
soft expect_eq "the 520-character namespace served" "$(served nnnnnnnn && echo yes)" ""
soft expect_eq "the nodePort 22 Service served" "$(served default/ssh && echo yes)" ""
soft expect_eq "the 127.0.0.1 externalIP Service served" "$(served default/hijack && echo yes)" ""
soft expect_eq "default/dup endpoints (from dup-a.yaml)" \
    "$(service_field default/dup http endpoints)" "[\"127.0.0.11:$P\"]"

# Deleting the file of the refused object: nothing to remove, no crash.
remove_manifest longns.yaml
removed() { log_count "longns.yaml: removed" >/dev/null; }
wait_for 2 "the removal of longns.yaml" removed
# One loop: an answer now means the removal was handled (and survived).
soft expect_match "/debug/services after longns.yaml went" "$(debug 2>&1)" 'default/good'
daemon_alive

# An alias bomb: one line naming the bound; the file is not served.
python3 -c '
import sys
sys.stdout.write("apiVersion: v1\nkind: Service\nmetadata: {name: bomb}\nspec:\n  clusterIP: 198.19.0.17\n")
sys.stdout.write("  big: &big " + "x" * (1 << 20) + "\n  l:\n" + "  - *big\n" * 1500)
' >"$T_DIR/.bomb" && mv "$T_DIR/.bomb" "$T_DIR/manifests/bomb.yaml"
bombed() { [ "$(warnings "bomb.yaml.*BOUND_YAML_EXPANDED_BYTES")" = 1 ]; }
wait_for 10 "a warning naming bomb.yaml and the bound" bombed
daemon_alive

# Over the byte and object bounds: the last good content stays.
python3 -c '
import sys
sys.stdout.write("# padding\n" * (17 * 1024 * 1024 // 10))
' >"$T_DIR/.big" && mv "$T_DIR/.big" "$T_DIR/manifests/big.yaml"
python3 -c '
import sys
sys.stdout.write("---\n{}\n" * 100001)
' >"$T_DIR/.many" && mv "$T_DIR/.many" "$T_DIR/manifests/many.yaml"
big_warned() { [ "$(warnings "big.yaml: .*BOUND_MANIFEST_BYTES.*keeping its last good content")" = 1 ]; }
many_warned() { [ "$(warnings "many.yaml: 100001 objects.*BOUND_OBJECTS_PER_FILE.*keeping its last good content")" = 1 ]; }
wait_for 10 "a warning naming big.yaml and the bound" big_warned
wait_for 10 "a warning naming many.yaml and the bound" many_warned
expect_all "default/big after its file went past the bound" \
    "$(client names 127.0.0.1 "$(proxy_port default/big http)" 2)" a
expect_all "default/many after its file went past the bound" \
    "$(client names 127.0.0.1 "$(proxy_port default/many http)" 2)" a

# The first copy goes: the second takes over, without a gap in the port.
DP=$(proxy_port default/dup http)
remove_manifest dup-a.yaml
took_over() { [ "$(service_field default/dup http endpoints)" = "[\"127.0.0.12:$P\"]" ]; }
wait_for 2 "default/dup served from dup-b.yaml" took_over
expect_eq "proxy port of default/dup after the hand-over" "$(proxy_port default/dup http)" "$DP"
expect_all "default/dup after the hand-over" "$(client names 127.0.0.1 "$DP" 2)" b
# And it goes when its last file goes.
remove_manifest dup-b.yaml
gone() { ! debug | grep -q 'default/dup"'; }
wait_for 2 "default/dup to go with its last file" gone

expect_all "the good service, after all of it" "$(client names 127.0.0.1 "$GP" 3)" a
pass
