#!/usr/bin/env bash
# Smoke test of genq-mockllm: starts it on a free port and checks the wire
# formats, errors, markers and control endpoints with curl + python3.
# Usage: tests/mock-llm/smoke.sh [path/to/genq-mockllm]   (default bin/...)
set -u

MOCK=${1:-${GENQ_MOCKLLM:-bin/genq-mockllm}}
NAME=smoke TOOLS="curl python3"
# shellcheck source=tests/mock-llm/start.sh
. "$(dirname "$0")/start.sh"
mock_start --log "$tmp/log.jsonl" --retry-after 2
BASE=$MOCK_URL

pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
ko() { fail=$((fail + 1)); echo "FAIL $1"; [ -n "${2:-}" ] && echo "     $2"; }

# req NAME curl-args...: body -> $tmp/NAME.body, headers -> $tmp/NAME.head,
# prints the status code.
req() {
    local name=$1
    shift
    curl -sS --max-time 10 -o "$tmp/$name.body" -D "$tmp/$name.head" \
        -w '%{http_code}' "$@"
}
# py NAME CODE: runs python with b = body text, h = headers (lowercase dict),
# j = parsed JSON body (or None); CODE must raise/assert on failure.
py() {
    local name=$1 code=$2
    python3 - "$tmp/$name.body" "$tmp/$name.head" <<EOF 2>"$tmp/py.err"
import json, sys
b = open(sys.argv[1], encoding="utf-8", newline="").read()
h = {}
for line in open(sys.argv[2], encoding="latin-1", newline="").read().split("\r\n"):
    if ":" in line and not line.startswith("HTTP/"):
        k, v = line.split(":", 1)
        h[k.strip().lower()] = v.strip()
try:
    j = json.loads(b)
except Exception:
    j = None
def sse(text):
    """Parses SSE into a list of (event, data) pairs."""
    out = []
    for block in text.split("\n\n"):
        ev, data = None, []
        for line in block.split("\n"):
            if line.startswith("event:"):
                ev = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].lstrip(" "))
        if ev is not None or data:
            out.append((ev, "\n".join(data)))
    return out
$code
EOF
}
# check NAME WANT_STATUS GOT_STATUS PYCODE
check() {
    local name=$1 want=$2 got=$3 code=${4:-pass}
    if [ "$got" != "$want" ]; then
        ko "$name" "status $got, want $want: $(head -c 300 "$tmp/$name.body" 2>/dev/null)"
    elif py "$name" "$code"; then
        ok "$name"
    else
        ko "$name" "$(tail -n 3 "$tmp/py.err")"
    fi
}

AH=(-H 'x-api-key: sk-test' -H 'anthropic-version: 2023-06-01'
    -H 'content-type: application/json')
OH=(-H 'authorization: Bearer sk-test' -H 'content-type: application/json')
MSG='{"model":"claude-sonnet-4-5","max_tokens":12,"messages":[{"role":"user","content":"Write about queues"}]}'

s=$(req health "$BASE/healthz")
check health 200 "$s" 'assert b == "ok"'

s=$(req a_plain "${AH[@]}" -d "$MSG" "$BASE/v1/messages")
check a_plain 200 "$s" '
assert h["content-type"].startswith("application/json")
assert h["request-id"].startswith("req_mock")
for k in ("requests", "tokens", "input-tokens", "output-tokens"):
    for s in ("limit", "remaining", "reset"):
        assert "anthropic-ratelimit-%s-%s" % (k, s) in h, (k, s)
assert list(j) == ["id","type","role","model","content","stop_reason","stop_sequence","usage"], list(j)
assert j["id"].startswith("msg_mock") and j["type"] == "message"
assert j["role"] == "assistant" and j["model"] == "claude-sonnet-4-5"
assert j["content"][0]["type"] == "text" and len(j["content"]) == 1
assert j["stop_reason"] == "max_tokens" and j["stop_sequence"] is None
assert j["usage"]["input_tokens"] == 3 and j["usage"]["output_tokens"] == 12
assert len(j["content"][0]["text"].split()) == 12
'
plain_text=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["content"][0]["text"])' "$tmp/a_plain.body" 2>/dev/null)
s=$(req a_deterministic "${AH[@]}" -d "$MSG" "$BASE/v1/messages")
check a_deterministic 200 "$s" "
assert j['content'][0]['text'] == json.load(open('$tmp/a_plain.body'))['content'][0]['text']
assert j['id'] != json.load(open('$tmp/a_plain.body'))['id']"

SMSG='{"model":"claude-sonnet-4-5","max_tokens":12,"stream":true,"messages":[{"role":"user","content":"Write about queues"}]}'
s=$(req a_stream -N "${AH[@]}" -d "$SMSG" "$BASE/v1/messages")
check a_stream 200 "$s" "
assert h['content-type'] == 'text/event-stream; charset=utf-8', h['content-type']
assert h['cache-control'] == 'no-cache' and h['transfer-encoding'] == 'chunked'
ev = sse(b)
names = [e for e, _ in ev]
assert names[:3] == ['message_start', 'content_block_start', 'ping'], names
assert names[-3:] == ['content_block_stop', 'message_delta', 'message_stop'], names
assert set(names[3:-3]) == {'content_block_delta'} and len(names) == 18, names
for e, d in ev:
    assert json.loads(d)['type'] == e
ms = json.loads(ev[0][1])['message']
assert ms['usage']['output_tokens'] == 1 and ms['stop_reason'] is None and ms['content'] == []
md = json.loads(ev[-2][1])
assert md['usage']['output_tokens'] == 12 and md['delta']['stop_reason'] == 'max_tokens'
text = ''.join(json.loads(d)['delta']['text'] for e, d in ev if e == 'content_block_delta')
assert text == json.load(open('$tmp/a_plain.body'))['content'][0]['text']
"

# Prefill: continuing after the first 5 tokens gives the rest of the 12.
PREFILL=$(python3 -c '
import json, sys
t = json.load(open(sys.argv[1]))["content"][0]["text"]
first5 = " ".join(t.split(" ")[:5])
print(json.dumps({"model": "m", "max_tokens": 7, "messages": [
    {"role": "user", "content": "Write about queues"},
    {"role": "assistant", "content": first5}]}))' "$tmp/a_plain.body")
s=$(req a_prefill "${AH[@]}" -d "$PREFILL" "$BASE/v1/messages")
check a_prefill 200 "$s" "
full = json.load(open('$tmp/a_plain.body'))['content'][0]['text']
first5 = ' '.join(full.split(' ')[:5])
assert first5 + j['content'][0]['text'] == full, (first5, j['content'][0]['text'])
assert j['usage']['output_tokens'] == 7"
s=$(req a_badprefill "${AH[@]}" -d '{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"Write about queues"},{"role":"assistant","content":"not the article"}]}' "$BASE/v1/messages")
check a_badprefill 400 "$s" 'assert j["error"]["message"] == "mock: assistant prefill is not a prefix of the article"'

# Stop sequence: the third word of the article.
STOPREQ=$(python3 -c '
import json, sys
t = json.load(open(sys.argv[1]))["content"][0]["text"]
print(json.dumps({"model": "m", "max_tokens": 12, "stop_sequences": [" " + t.split(" ")[2]],
    "messages": [{"role": "user", "content": "Write about queues"}]}))' "$tmp/a_plain.body")
s=$(req a_stop "${AH[@]}" -d "$STOPREQ" "$BASE/v1/messages")
check a_stop 200 "$s" "
full = json.load(open('$tmp/a_plain.body'))['content'][0]['text']
w = full.split(' ')
assert j['stop_reason'] == 'stop_sequence' and j['stop_sequence'] == ' ' + w[2]
assert full.startswith(j['content'][0]['text']) and ' ' + w[2] not in j['content'][0]['text']"

s=$(req a_nokey -H 'anthropic-version: 2023-06-01' -d "$MSG" "$BASE/v1/messages")
check a_nokey 401 "$s" '
assert list(j) == ["type", "error", "request_id"] and j["type"] == "error"
assert j["error"] == {"type": "authentication_error", "message": j["error"]["message"]}
assert j["request_id"] == h["request-id"] and j["request_id"].startswith("req_mock")'

s=$(req a_noversion -H 'x-api-key: k' -d "$MSG" "$BASE/v1/messages")
check a_noversion 400 "$s" '
assert j["error"]["type"] == "invalid_request_error" and "anthropic-version" in j["error"]["message"]'

s=$(req a_version_2026 -H 'x-api-key: k' -H 'anthropic-version: 2026-10-21' -d "$MSG" "$BASE/v1/messages")
check a_version_2026 200 "$s"

s=$(req a_no_max_tokens "${AH[@]}" -d '{"model":"m","messages":[{"role":"user","content":"x"}]}' "$BASE/v1/messages")
check a_no_max_tokens 400 "$s" 'assert "max_tokens" in j["error"]["message"]'
s=$(req a_empty_messages "${AH[@]}" -d '{"model":"m","max_tokens":3,"messages":[]}' "$BASE/v1/messages")
check a_empty_messages 400 "$s" 'assert "messages" in j["error"]["message"]'
s=$(req a_not_json "${AH[@]}" -d '{"model":' "$BASE/v1/messages")
check a_not_json 400 "$s" 'assert j["error"]["type"] == "invalid_request_error"'
s=$(req a_temperature_top_p "${AH[@]}" -d '{"model":"m","max_tokens":3,"temperature":0.5,"top_p":0.9,"messages":[{"role":"user","content":"x"}]}' "$BASE/v1/messages")
check a_temperature_top_p 400 "$s" 'assert j["error"]["message"] == "`temperature` and `top_p` cannot both be specified for this model. Please use only one."'

# Fault marker: the first request fails with 429 + retry-after, then 200.
FMSG='{"model":"m","max_tokens":3,"messages":[{"role":"user","content":"smoke 429 [mock:fail=429*1]"}]}'
s=$(req a_429_first "${AH[@]}" -d "$FMSG" "$BASE/v1/messages")
check a_429_first 429 "$s" '
assert h["retry-after"] == "2" and j["error"]["type"] == "rate_limit_error"
assert h["anthropic-ratelimit-requests-remaining"] == "0"'
s=$(req a_429_then_ok "${AH[@]}" -d "$FMSG" "$BASE/v1/messages")
check a_429_then_ok 200 "$s"

s=$(req a_stream_error -N "${AH[@]}" -d '{"model":"m","max_tokens":8,"stream":true,"messages":[{"role":"user","content":"se [mock:fail=stream-error]"}]}' "$BASE/v1/messages")
check a_stream_error 200 "$s" '
ev = sse(b)
names = [e for e, _ in ev]
assert names[-1] == "error" and "message_stop" not in names, names
assert json.loads(ev[-1][1]) == {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}
assert names.count("content_block_delta") == 4, names'

# OpenAI-compatible endpoint.
OMSG='{"model":"gpt-4o-mini","max_completion_tokens":12,"messages":[{"role":"system","content":"Be terse."},{"role":"user","content":"Write about queues"}]}'
s=$(req o_plain "${OH[@]}" -d "$OMSG" "$BASE/v1/chat/completions")
check o_plain 200 "$s" "
assert h['x-request-id'].startswith('req_mock')
for k in ('limit-requests','limit-tokens','remaining-requests','remaining-tokens','reset-requests','reset-tokens'):
    assert 'x-ratelimit-' + k in h, k
assert j['object'] == 'chat.completion' and j['id'].startswith('chatcmpl-')
c = j['choices'][0]
assert c['message']['role'] == 'assistant' and c['finish_reason'] == 'length'
assert c['message']['content'] == json.load(open('$tmp/a_plain.body'))['content'][0]['text']
assert j['usage'] == {'prompt_tokens': 5, 'completion_tokens': 12, 'total_tokens': 17}"

OSMSG='{"model":"gpt-4o-mini","max_tokens":12,"stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Write about queues"}]}'
s=$(req o_stream -N "${OH[@]}" -d "$OSMSG" "$BASE/v1/chat/completions")
check o_stream 200 "$s" "
ev = sse(b)
assert all(e is None for e, _ in ev)
assert ev[-1][1] == '[DONE]'
chunks = [json.loads(d) for _, d in ev[:-1]]
assert chunks[0]['choices'][0]['delta']['role'] == 'assistant'
content = [c for c in chunks if c['choices'] and c['choices'][0]['delta'].get('content')]
assert content[-1]['choices'][0]['finish_reason'] == 'length'
assert all(c['choices'][0]['finish_reason'] is None for c in content[:-1])
assert chunks[-1]['choices'] == [] and chunks[-1]['usage']['completion_tokens'] == 12
assert ''.join(c['choices'][0]['delta']['content'] for c in content) == json.load(open('$tmp/a_plain.body'))['content'][0]['text']
assert len({c['id'] for c in chunks}) == 1"

s=$(req o_nokey -d "$OMSG" "$BASE/v1/chat/completions")
check o_nokey 401 "$s" '
assert list(j) == ["error"] and set(j["error"]) == {"message","type","param","code"}'
s=$(req o_429 "${OH[@]}" -d '{"model":"g","messages":[{"role":"user","content":"o [mock:fail=429*1]"}]}' "$BASE/v1/chat/completions")
check o_429 429 "$s" 'assert j["error"]["code"] == "rate_limit_exceeded" and h["retry-after"] == "2" and h["x-ratelimit-remaining-requests"] == "0"'

# Request bodies: chunked, and Expect: 100-continue answered at once.
printf '%s' "$MSG" >"$tmp/msg.json"
s=$(req a_chunked_body "${AH[@]}" -H 'Transfer-Encoding: chunked' --data-binary @"$tmp/msg.json" "$BASE/v1/messages")
check a_chunked_body 200 "$s" "assert j['content'][0]['text'] == json.load(open('$tmp/a_plain.body'))['content'][0]['text']"
start=$(date +%s%N)
s=$(req a_expect_100 "${AH[@]}" -H 'Expect: 100-continue' --data-binary @"$tmp/msg.json" "$BASE/v1/messages")
ms=$((($(date +%s%N) - start) / 1000000))
check a_expect_100 200 "$s" "assert $ms < 900, '$ms ms'"
python3 -c 'import sys; sys.stdout.write("x" * (32 * 1024 * 1024 + 1))' >"$tmp/big"
s=$(req a_413 "${AH[@]}" --data-binary @"$tmp/big" "$BASE/v1/messages")
check a_413 413 "$s" 'assert j["error"]["type"] == "request_too_large"'

# Control: reject_auth storm, then back.
s=$(req control_on -d '{"reject_auth":true}' "$BASE/mock/control")
check control_on 200 "$s" 'assert j["reject_auth"] is True and "fault_rate" in j and "latency_ms" in j and "tokens_per_s" in j'
s=$(req reject_auth_401 "${AH[@]}" -d "$MSG" "$BASE/v1/messages")
check reject_auth_401 401 "$s" 'assert j["error"]["type"] == "authentication_error"'
s=$(req control_off -d '{"reject_auth":false}' "$BASE/mock/control")
check control_off 200 "$s" 'assert j["reject_auth"] is False'
s=$(req reject_auth_off_200 "${AH[@]}" -d "$MSG" "$BASE/v1/messages")
check reject_auth_off_200 200 "$s"
s=$(req control_rejects_bad -d '{"fault_rate":2}' "$BASE/mock/control")
check control_rejects_bad 400 "$s"

# JWT claims and the stainless retry header land in the log.
JWT="eyJhbGciOiJIUzI1NiJ9.$(printf '{"sub":"smoke","tenant":"t1"}' | base64 | tr '+/' '-_' | tr -d '=\n').sig"
s=$(req a_jwt_bearer -H "authorization: Bearer $JWT" -H 'anthropic-version: 2023-06-01' -H 'x-stainless-retry-count: 1' -d "$MSG" "$BASE/v1/messages")
check a_jwt_bearer 200 "$s"
cp "$tmp/log.jsonl" "$tmp/log_file.body"
: >"$tmp/log_file.head"
check log_file 200 200 '
lines = [json.loads(l) for l in b.splitlines()]
last = [l for l in lines if l["headers"].get("x-stainless-retry-count") == "1"][-1]
assert last["jwt_claims"] == {"sub": "smoke", "tenant": "t1"}, last["jwt_claims"]
assert last["status"] == 200 and last["path"] == "/v1/messages" and last["stream"] is False
assert last["body"]["model"] == "claude-sonnet-4-5" and len(last["key_hash"]) == 16
f = [l for l in lines if l["fault"] == "429"]
assert len(f) == 2 and all(l["status"] == 429 for l in f)
assert all(set(l) >= {"ts","method","path","headers","body","jwt_claims","status","fault","request_id","stream","key_hash"} for l in lines)'

s=$(req stats "$BASE/mock/stats")
check stats 200 "$s" '
assert j["requests_by_endpoint"]["/v1/messages"] >= 20
assert j["requests_by_endpoint"]["/v1/chat/completions"] == 4
assert j["faults_by_kind"]["429"] == 2 and j["faults_by_kind"]["stream-error"] == 1
assert j["responses_by_status"]["429"] == 2 and j["responses_by_status"]["413"] == 1
assert j["max_concurrent_streams"] >= 1 and j["active_streams"] == 0
assert j["active_connections"] >= 1'
s=$(req reset -X POST "$BASE/mock/reset")
check reset 200 "$s"
s=$(req reset_clears_fail_counters "${AH[@]}" -d "$FMSG" "$BASE/v1/messages")
check reset_clears_fail_counters 429 "$s"
s=$(req stats_after_reset "$BASE/mock/stats")
check stats_after_reset 200 "$s" 'assert j["requests_total"] == 2 and j["faults_by_kind"]["429"] == 1'

kill -TERM "$pid"
if wait "$pid"; then ok sigterm_exit_0; else ko sigterm_exit_0 "exit $?"; fi
pid=

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
