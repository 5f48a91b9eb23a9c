#!/bin/bash
# nft_fault_rules.sh - the fault_rules.sh cells against the nftables backend
# (failed transactions; tests/e2e/lib.sh reads our table with nft).
KUP_PORTALS=nftables exec bash "${TESTS_SRCDIR:-$(dirname "$0")/..}/e2e/fault_rules.sh"
