#!/bin/bash
# selftest.sh - the fake kube-apiserver's own tests (test_fakeapi.py), so a
# broken fake cannot make the API source tests pass or fail for nothing.
command -v openssl >/dev/null || { echo "SKIP: openssl not installed"; exit 77; }
exec "${PYTHON3:-python3}" "$TESTS_SRCDIR/fakeapi/test_fakeapi.py"
