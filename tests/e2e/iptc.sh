#!/bin/bash
# iptc.sh - src/iptc.c against the kernel: the rules it commits are what
# iptables-legacy shows, repairs, lock busy, cleanup (tests/tools/iptc_check.sh,
# with the iptc_check tool make check built).  Root only: SKIP otherwise.
exec bash "$TESTS_SRCDIR/tools/iptc_check.sh" "$TESTS_BUILDDIR/tools/iptc_check"
