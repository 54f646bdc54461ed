#!/usr/bin/env bash
# SDK conformance of genq-mockllm: installs the official Anthropic and OpenAI
# TypeScript SDKs into a temp dir and runs tests/conformance/sdk.mjs against
# the mock. Fails, naming what is missing, without node/npm or the registry.
# Usage: tests/conformance/run.sh [path/to/genq-mockllm]
# Env: ANTHROPIC_SDK_VERSION, OPENAI_SDK_VERSION (npm version specs,
# default latest).
set -u

here=$(cd "$(dirname "$0")" && pwd)
MOCK=${1:-${GENQ_MOCKLLM:-bin/genq-mockllm}}
if [ ! -x "$MOCK" ]; then
    echo "conformance: $MOCK is not executable (build it first)" >&2
    exit 2
fi
for tool in node npm; do
    if ! command -v "$tool" >/dev/null; then
        echo "FAIL: $tool is not installed (apt-get install nodejs npm; make test installs them)"
        exit 1
    fi
done

tmp=$(mktemp -d)
pid=
cleanup() {
    if [ -n "$pid" ]; then
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

cd "$tmp" || exit 1
printf '{"name":"genq-conformance","private":true,"type":"module"}\n' \
    >package.json
if ! timeout 300 npm install --no-audit --no-fund --loglevel=error \
    "@anthropic-ai/sdk@${ANTHROPIC_SDK_VERSION:-latest}" \
    "openai@${OPENAI_SDK_VERSION:-latest}" >npm.log 2>&1; then
    echo "FAIL: npm install of the SDKs failed (registry unreachable?):"
    tail -n 5 npm.log
    exit 1
fi
node -e '
const fs = require("fs");
for (const p of ["@anthropic-ai/sdk", "openai"])
    console.log(p, JSON.parse(fs.readFileSync(`node_modules/${p}/package.json`)).version);'
cp "$here/sdk.mjs" "$tmp/sdk.mjs"
cd - >/dev/null || exit 1

"$MOCK" --listen 127.0.0.1:0 --port-file "$tmp/port" --log "$tmp/mock.jsonl" \
    --retry-after 1 --retry-after-ms 20 >"$tmp/mock.out" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
    [ -s "$tmp/port" ] && break
    sleep 0.05
done
if [ ! -s "$tmp/port" ]; then
    echo "conformance: mock did not start:" >&2
    cat "$tmp/mock.out" >&2
    exit 1
fi

MOCK_URL="http://127.0.0.1:$(cat "$tmp/port")" MOCK_LOG="$tmp/mock.jsonl" \
    timeout 120 node "$tmp/sdk.mjs"
rc=$?
kill "$pid" 2>/dev/null
if ! wait "$pid"; then
    echo "conformance: the mock did not exit cleanly:" >&2
    cat "$tmp/mock.out" >&2
    rc=1
fi
pid=
exit "$rc"
