#!/bin/bash
# The 60-second chaos soak for `make test` (run by tests/run.sh): 1,500 jobs,
# workers SIGKILLed and restarted, Redis SIGKILLed and restarted from its AOF
# twice. tests/chaos/run.sh starts its own redis-server and genq-mockllm on
# free loopback ports (it kills Redis, so never the shared test servers).
set -euo pipefail
: "${GENQ_BIN:?run through make test}"
cd "$(dirname "$0")/../.."
jobs=1500
# sanitizer builds run slower: fewer jobs so the run still finishes in time
case "$GENQ_BIN" in */san/*) jobs=1200 ;; esac
exec bash tests/chaos/run.sh --seconds 60 --jobs "$jobs"
