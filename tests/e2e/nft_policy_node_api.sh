#!/bin/bash
# nft_policy_node_api.sh - the policy_node_api.sh scenario against the nftables backend
# (--portals nftables; tests/e2e/lib.sh reads our table with nft).
# Under the sanitizers the iptables run of the same scenario covers the
# daemon's code; only the kernel's side differs (nft_*.sh scenarios).
if ldd "${KUBE_UPROXY:-}" 2>/dev/null | grep -qE 'lib(a|ub|t)san'; then
	echo "SKIP: sanitizer build: this scenario's daemon code runs under the sanitizers in its iptables twin" >&2
	exit 77
fi
KUP_PORTALS=nftables exec bash "${TESTS_SRCDIR:-$(dirname "$0")/..}/e2e/policy_node_api.sh"
