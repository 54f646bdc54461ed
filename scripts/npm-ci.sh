#!/bin/sh
# `npm ci` in DIR (its package-lock.json pins every package), quietly, its
# output in LOG; on failure says so, naming DIR, with the log's tail, and
# exits 1 (the test scripts then fail: never a skip).
# Usage: scripts/npm-ci.sh DIR LOG
set -u
if ! (cd "$1" && timeout 300 npm ci --no-audit --no-fund --loglevel=error) >"$2" 2>&1; then
    echo "FAIL: npm ci in $1 (registry unreachable?):"
    tail -n 5 "$2"
    exit 1
fi
