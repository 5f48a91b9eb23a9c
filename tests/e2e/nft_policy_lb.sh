#!/bin/bash
# nft_policy_lb.sh - the policy_lb.sh scenario against the nftables backend
# (--portals nftables; tests/e2e/lib.sh reads our table with nft).
KUP_PORTALS=nftables exec bash "${TESTS_SRCDIR:-$(dirname "$0")/..}/e2e/policy_lb.sh"
