#!/bin/bash
# nft.sh - src/nft.c against the kernel: the elements it commits are what
# `nft -j list table` shows, updates are element adds and deletes only,
# hand edits are repaired, foreign tables and iptables-nft rules are left
# alone, cleanup (tests/tools/nft_check.sh, with the nft_check tool make
# check built).  Root only: SKIP otherwise.
exec bash "$TESTS_SRCDIR/tools/nft_check.sh" "$TESTS_BUILDDIR/tools/nft_check"
