#!/bin/bash
# nft_source_ranges.sh - the source_ranges.sh scenario against the nftables backend.
KUP_PORTALS=nftables exec bash "${TESTS_SRCDIR:-$(dirname "$0")/..}/e2e/source_ranges.sh"
