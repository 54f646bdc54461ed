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
NAME=conformance TOOLS="node npm"
# shellcheck source=tests/mock-llm/start.sh
. "$here/../mock-llm/start.sh"

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

mock_start --log "$tmp/mock.jsonl" --retry-after 1 --retry-after-ms 20

MOCK_URL=$MOCK_URL MOCK_LOG="$tmp/mock.jsonl" timeout 120 node "$tmp/sdk.mjs"
rc=$?
kill "$pid" 2>/dev/null
if ! wait "$pid"; then
    echo "conformance: the mock did not exit cleanly:" >&2
    cat "$tmp/mock.out" >&2
    rc=1
fi
pid=
exit "$rc"
