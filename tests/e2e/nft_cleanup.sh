#!/bin/bash
# nft_cleanup.sh - the cleanup.sh scenario against the nftables backend
# (--portals nftables; its `kube-uproxy --cleanup` runs with the default
# --portals iptables and must remove our nftables tables too).
KUP_PORTALS=nftables exec bash "${TESTS_SRCDIR:-$(dirname "$0")/..}/e2e/cleanup.sh"
