#!/bin/bash
# nft_nodeport_addresses.sh - the nodeport_addresses.sh scenario against the nftables backend.
KUP_PORTALS=nftables exec bash "${TESTS_SRCDIR:-$(dirname "$0")/..}/e2e/nodeport_addresses.sh"
