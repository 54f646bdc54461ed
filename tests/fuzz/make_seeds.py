#!/usr/bin/python3
"""Regenerate the seed corpora in tests/fuzz/corpus/<target>/ from the
llm-api.md transcripts, tests/bad-input and examples/articles.jsonl.
Run from the repository root: /usr/bin/python3 tests/fuzz/make_seeds.py
Each target's input layout (config bytes first) is described in its .c file.
Files named regress-* are inputs that once found a bug, kept so every run
replays them; this script leaves them alone."""
import glob
import hashlib
import os
import struct

ROOT = os.getcwd()
OUT = os.path.join(ROOT, "tests/fuzz/corpus")

ANTHROPIC_BASIC = (
    'event: message_start\n'
    'data: {"type":"message_start","message":{"id":"msg_4QpJur2dWWDjF6C758FbBw5vm12BaVipnK","type":"message","role":"assistant","content":[],"model":"claude-3-opus-latest","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":11,"output_tokens":1}}}\n'
    '\n'
    'event: content_block_start\n'
    'data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n'
    '\n'
    'event: ping\n'
    'data: {"type": "ping"}\n'
    '\n'
    'event: content_block_delta\n'
    'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}\n'
    '\n'
    'event: content_block_delta\n'
    'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" there"}}\n'
    '\n'
    'event: content_block_delta\n'
    'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"!"}}\n'
    '\n'
    'event: content_block_stop\n'
    'data: {"type":"content_block_stop","index":0}\n'
    '\n'
    'event: message_delta\n'
    'data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":6}}\n'
    '\n'
    'event: message_stop\n'
    'data: {"type":"message_stop"}\n'
    '\n')

ANTHROPIC_ERROR = (
    'event: error\n'
    'data: {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}\n'
    '\n')

OPENAI_CHUNKS = (
    'data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini","system_fingerprint":"fp_44709d6fcb","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}],"usage":null}\n'
    '\n'
    'data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini","system_fingerprint":"fp_44709d6fcb","choices":[{"index":0,"delta":{"content":"Hello"},"logprobs":null,"finish_reason":null}],"usage":null}\n'
    '\n'
    'data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini","system_fingerprint":"fp_44709d6fcb","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null}\n'
    '\n'
    'data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini","system_fingerprint":"fp_44709d6fcb","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}}\n'
    '\n'
    'data: [DONE]\n'
    '\n')

OPENAI_ERROR_CHUNK = (
    'data: {"error":{"message":"The server had an error","type":"server_error","param":null,"code":null}}\n'
    '\n')

ANTHROPIC_MESSAGE = (
    '{"id":"msg_013Zva2CMHLNnXjNJJKqJ2EF","type":"message","role":"assistant",'
    '"model":"claude-sonnet-4-5","content":[{"type":"text","text":"Hi! How can I help?"}],'
    '"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":12,"output_tokens":9,'
    '"cache_creation_input_tokens":0,"cache_read_input_tokens":0}}')
ANTHROPIC_ERR_BODY = (
    '{"type":"error","error":{"type":"not_found_error","message":"The requested resource could not be found."},'
    '"request_id":"req_011CSHoEeqs5C35K2UUqR7Fy"}')
ANTHROPIC_429 = (
    '{"type":"error","error":{"type":"rate_limit_error","message":"Number of requests has exceeded your rate limit"},'
    '"request_id":"req_mock0001"}')
OPENAI_COMPLETION = (
    '{"id":"chatcmpl-123","object":"chat.completion","created":1694268190,"model":"gpt-4o-mini",'
    '"system_fingerprint":"fp_44709d6fcb","choices":[{"index":0,"message":{"role":"assistant","content":"Hello!",'
    '"refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":3,'
    '"total_tokens":12,"prompt_tokens_details":{"cached_tokens":2}}}')
OPENAI_ERR_BODY = (
    '{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","param":null,'
    '"code":"invalid_api_key"}}')


def write(target, data):
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def seed8(v):
    return struct.pack(">Q", v)


def sse():
    streams = [ANTHROPIC_BASIC, ANTHROPIC_ERROR, OPENAI_CHUNKS, OPENAI_ERROR_CHUNK,
               ANTHROPIC_BASIC.replace("\n", "\r\n"),
               OPENAI_CHUNKS.replace("\n", "\r"),
               "\ufeff" + ANTHROPIC_BASIC[:400],
               ": comment\nid: 7\nretry: 100\ndata: a\ndata:b\ndata:  c\n\nevent\ndata\n\n",
               OPENAI_CHUNKS[:300],
               'event: message_start\ndata: {"type":"message_start","message":{"id":"m\\u00e9"}}\n\n'
               'data: {"type":"content_block_delta","delta":{"type":"text_delta","text":"\u00e9\u4e2d"}}\n\n'
               'data: {"type":"message_stop"}\n\n',
               # the layouts the fast path of llm_stream_fast.c matches, with escapes
               'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
               '"delta":{"type":"text_delta","text":"a\\n\\"\\\\\\/\\u00e9\\ud83d\\ude80\u00e9"}}\n\n'
               'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
               '"delta":{"type":"text_delta","text":"\\ud83d\\u0041"}}\n\n'
               'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn",'
               '"stop_sequence":"\\u00e9"},"usage":{"output_tokens":1.5e1}}\n\n'
               'event: message_stop\ndata: {"type":"message_stop"}\n\n',
               OPENAI_CHUNKS.replace('"content":"Hello"', '"content":"H\\u00e9\\t\\ud83d\\ude80"'),
               'data: {"id":"x","model":"m","choices":{"a":[{"index":0,"delta":{"content":"c"}}]},'
               '"usage":{"prompt_tokens":2,"prompt_tokens_details":{"cached_tokens":1}}}\n\n'
               'data: {"id":"x","object":"chat.completion.chunk","created":1,"model":"m",'
               '"choices":[{"index":0,"delta":{"content":"\\u0000"},"logprobs":null,'
               '"finish_reason":null}],"usage":null}\n\ndata: [DONE]\n\n']
    for i, s in enumerate(streams):
        # bit 0 = 1: no event cap; (cfg >> 12) % 6 == 0: no stop; bit 16 = 0:
        # no text cap; the rest varies the split points
        write("fuzz_sse", seed8(1 | ((96 * i) << 12)) + s.encode())
        write("fuzz_sse", seed8((64 << 1) | (2 << 12) | 0x10000 | (i << 24)) + s.encode())


def job():
    lines = []
    for path in sorted(glob.glob("tests/bad-input/*.jsonl")) + ["examples/articles.jsonl"]:
        with open(path, "rb") as f:
            for line in f.read().split(b"\n"):
                line = line.rstrip(b"\r")
                if line.strip() and len(line) < 4096:
                    lines.append(line)
    lines.append(b'{"id":"a","messages":[{"role":"user","content":[{"type":"text","text":"x"}]},'
                 b'{"role":"assistant","content":"y"}],"system":"s","stop_sequences":["\\n\\nEND"],'
                 b'"temperature":0.5,"run_at":"2025-01-31T09:00:00+01:00","priority":"low"}')
    for line in lines:
        write("fuzz_job", line)


def jsonl():
    files = [b'{"prompt":"a"}\n{"prompt":"b"}\n',
             b'{"prompt":"a"}\r\n\r\n  \t\r\n{"prompt":"b"}',
             b'\n\n\n', b'a\r', b'\r\n', b'x' * 100 + b'\n' + b'y' * 10,
             b'line with \x00 nul\nnext\n']
    for i, data in enumerate(files):
        for cfg in (0, 1 | (40 << 1), (1 << 8) | (i << 10), (2 << 8) | (130 << 10),
                    (3 << 8) | (5 << 10)):
            write("fuzz_jsonl", struct.pack(">I", cfg) + data)


def redisurl():
    urls = ["redis://127.0.0.1:6379/0", "redis://localhost", "redis://:s3cretpw@host:1/2",
            "redis://user:pa@ss:word@host:6380/15", "redis://user@host", "unix:///tmp/redis.sock",
            "unix:///var/run/redis/redis.sock?db=3", "rediss://host:6379", "redis://[::1]:6379/0",
            "redis://host:0", "redis://host:65536", "redis://host/db", "unix://relative?db=x",
            "redis://" + "h" * 300, "redis://host:6379/1000000",
            "sentinel://127.0.0.1:26379,h2,h3:26380/mymaster?db=2",
            "sentinel://:pw@h:1/m?sentinel_user=u&db=0", "sentinel://h/m?sentinel_password=x",
            "sentinel://h,/m", "sentinel://h:0/m", "sentinel://h/",
            "redis-cluster://127.0.0.1:7000,127.0.0.1:7001", "redis-cluster://u:p%40w@h:1,g:2",
            "redis-cluster://h:7000/1", "redis-cluster://h:7000,", "redis-cluster://h"]
    for u in urls:
        write("fuzz_redisurl", u)
        write("fuzz_redisurl", b"\x01" + u.encode())


def retry():
    vals = [(b"1500", b"2", b"true"), (b"", b"Wed, 21 Oct 2015 07:28:00 GMT", b"false"),
            (b"\xff", b"Sunday, 06-Nov-94 08:49:37 GMT", b" TRUE "),
            (b"\xff", b"Sun Nov  6 08:49:37 1994", b"\xff"), (b"0.5", b"1e3", b"yes"),
            (b"-1", b" 120 ", b""), (b"nan", b"inf", b"0x10"), (b"1.5.5", b".5", b"fals")]
    for i, (a, b, c) in enumerate(vals):
        write("fuzz_retry", seed8((i * 0x0123456789) | (1 << 40)) + a + b"\0" + b + b"\0" + c)


def find_cfg(provider, status_index, rid, textcap):
    for cfg in range(1 << 24):
        if (cfg % 3 == provider and ((cfg >> 2) & 1) == 0 and (cfg >> 3) % 21 == status_index
                and ((cfg >> 16) & 1) == rid and ((cfg >> 17) & 1) == textcap):
            return cfg
    raise SystemExit("no cfg")


def llm_body():
    statuses = [200, 201, 204, 299, 400, 401, 403, 404, 408, 409, 413, 422, 429, 500,
                502, 503, 504, 529, 302, 0, -1]
    cases = [(0, 200, ANTHROPIC_MESSAGE), (0, 404, ANTHROPIC_ERR_BODY), (0, 429, ANTHROPIC_429),
             (1, 200, OPENAI_COMPLETION), (1, 401, OPENAI_ERR_BODY), (2, 200, ""),
             (0, 502, "<html><head><title>502 Bad Gateway</title></head>\r\n<body>nginx</body></html>"),
             (1, 200, '{"error":"proxy says no"}'), (0, 200, '{"type":"message","content":"x"}'),
             (1, 500, '{"detail":"upstream \u00e9chou\u00e9"}')]
    for prov, status, body in cases:
        cfg = find_cfg(prov, statuses.index(status), 0, 0)
        write("fuzz_llm_body", struct.pack(">I", cfg)[1:] + body.encode())
    cfg = find_cfg(0, statuses.index(200), 1, 1)
    write("fuzz_llm_body", struct.pack(">I", cfg)[1:] + b"req_header_id\x1e" + ANTHROPIC_MESSAGE.encode())


sse()
job()
jsonl()
redisurl()
retry()
llm_body()
