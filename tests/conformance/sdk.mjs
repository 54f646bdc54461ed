// Conformance of genq-mockllm against the official Anthropic and OpenAI
// TypeScript SDKs: if the SDKs accept the mock's wire format, tests that
// use the mock exercise the real formats. Run by tests/conformance/run.sh
// with MOCK_URL and MOCK_LOG set and the SDKs installed next to this file.
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { readFileSync } from 'node:fs';

const base = process.env.MOCK_URL;
const logPath = process.env.MOCK_LOG;
let passed = 0;
let failed = 0;

function assert(cond, msg) {
    if (!cond)
        throw new Error(msg);
}

// The error fn (async) throws; throws itself when fn succeeds.
async function rejection(fn) {
    try {
        await fn();
    } catch (e) {
        return e;
    }
    throw new Error('no error thrown');
}

async function test(name, fn) {
    try {
        await fn();
        passed++;
        console.log(`ok   ${name}`);
    } catch (e) {
        failed++;
        console.log(`FAIL ${name}: ${e && e.stack ? e.stack : e}`);
    }
}

const anthropic = new Anthropic({ apiKey: 'sk-ant-test', baseURL: base });
const anthropicNoRetry = new Anthropic({
    apiKey: 'sk-ant-test', baseURL: base, maxRetries: 0 });
const openai = new OpenAI({ apiKey: 'sk-test', baseURL: `${base}/v1` });
const openaiNoRetry = new OpenAI({
    apiKey: 'sk-test', baseURL: `${base}/v1`, maxRetries: 0 });

const prompt = 'Write a technical article about job queues';
const params = {
    model: 'claude-mock-1',
    max_tokens: 40,
    messages: [{ role: 'user', content: prompt }],
};
let plainText = null;

await test('anthropic messages.create', async () => {
    const m = await anthropic.messages.create(params);
    assert(m.type === 'message' && m.role === 'assistant', 'type/role');
    assert(m.id.startsWith('msg_mock'), `id ${m.id}`);
    assert(m.model === params.model, 'model echoed');
    assert(m.content.length === 1 && m.content[0].type === 'text', 'content');
    assert(m.stop_reason === 'max_tokens' && m.stop_sequence === null,
           `stop_reason ${m.stop_reason}`);
    assert(m.usage.output_tokens === 40 && m.usage.input_tokens === 7,
           `usage ${JSON.stringify(m.usage)}`);
    plainText = m.content[0].text;
    assert(plainText.split(' ').length === 40, 'forty tokens');
});

await test('anthropic messages.create withResponse request-id', async () => {
    const { data, response } =
        await anthropic.messages.create(params).withResponse();
    assert(response.headers.get('request-id').startsWith('req_mock'),
           'request-id header');
    assert(data.content[0].text === plainText, 'deterministic');
});

await test('anthropic messages.stream finalMessage', async () => {
    const stream = anthropic.messages.stream(params);
    const events = [];
    let deltas = '';
    stream.on('streamEvent', (e) => events.push(e.type));
    stream.on('text', (t) => { deltas += t; });
    const m = await stream.finalMessage();
    assert(m.content[0].text === plainText,
           `stream text differs: ${m.content[0].text}`);
    assert(deltas === plainText, 'text events');
    assert(m.usage.output_tokens === 40, `usage ${JSON.stringify(m.usage)}`);
    assert(m.stop_reason === 'max_tokens', `stop_reason ${m.stop_reason}`);
    assert(events[0] === 'message_start' &&
           events[events.length - 1] === 'message_stop', events.join(','));
});

await test('anthropic prefill continuation', async () => {
    const first = plainText.split(' ').slice(0, 10).join(' ');
    const m = await anthropic.messages.create({
        ...params,
        max_tokens: 30,
        messages: [{ role: 'user', content: prompt },
                   { role: 'assistant', content: first }],
    });
    assert(first + m.content[0].text === plainText, 'prefill + continuation');
});

await test('anthropic stop_sequences', async () => {
    const stop = ' ' + plainText.split(' ')[5];
    const m = await anthropic.messages.create({ ...params,
                                                stop_sequences: [stop] });
    assert(m.stop_reason === 'stop_sequence' && m.stop_sequence === stop,
           `${m.stop_reason} ${m.stop_sequence}`);
    assert(plainText.startsWith(m.content[0].text), 'cut text is a prefix');
});

await test('anthropic 429 -> RateLimitError (maxRetries 0)', async () => {
    const e = await rejection(async () => {
        await anthropicNoRetry.messages.create({ ...params,
            messages: [{ role: 'user', content: 'rl [mock:fail=429]' }] });
    });
    assert(e instanceof Anthropic.RateLimitError, `got ${e}`);
    assert(e.status === 429 && e.headers.get('retry-after') === '1',
           'status/retry-after');
    assert(e.error?.error?.type === 'rate_limit_error', 'error type');
    assert(e.requestID?.startsWith('req_mock'), 'request id');
});

await test('anthropic retries 429, 529 then succeeds', async () => {
    const content = 'retry [mock:fail=429*1][mock:fail=529*1]';
    const m = await anthropic.messages.create({ ...params,
        messages: [{ role: 'user', content }] });
    assert(m.content[0].text.length > 0, 'text');
    const lines = readFileSync(logPath, 'utf8').trim().split('\n')
        .map((l) => JSON.parse(l))
        .filter((l) => l.body?.messages?.[0]?.content === content);
    const counts = lines.map((l) => l.headers['x-stainless-retry-count']);
    const statuses = lines.map((l) => l.status);
    assert(JSON.stringify(counts) === '["0","1","2"]', `counts ${counts}`);
    assert(JSON.stringify(statuses) === '[429,529,200]', `status ${statuses}`);
});

await test('anthropic mid-stream overloaded_error -> APIError', async () => {
    const stream = anthropicNoRetry.messages.stream({ ...params,
        messages: [{ role: 'user', content: 'se [mock:fail=stream-error]' }] });
    let text = '';
    stream.on('text', (t) => { text += t; });
    const e = await rejection(async () => {
        await stream.finalMessage();
    });
    assert(e instanceof Anthropic.APIError, `got ${e}`);
    const type = e.type ?? e.error?.error?.type;
    assert(type === 'overloaded_error', `type ${type}`);
    assert(text.length > 0, 'some text arrived before the error');
});

await test('anthropic 401 -> AuthenticationError', async () => {
    const e = await rejection(async () => {
        await anthropicNoRetry.messages.create({ ...params,
            messages: [{ role: 'user', content: 'auth [mock:fail=401]' }] });
    });
    assert(e instanceof Anthropic.AuthenticationError, `got ${e}`);
});

const oparams = {
    model: 'gpt-4o-mini',
    max_completion_tokens: 40,
    messages: [{ role: 'system', content: 'Be terse.' },
               { role: 'user', content: prompt }],
};

await test('openai chat.completions.create', async () => {
    const c = await openai.chat.completions.create(oparams);
    assert(c.object === 'chat.completion', 'object');
    assert(c.choices[0].message.role === 'assistant', 'role');
    assert(c.choices[0].message.content === plainText,
           'same article as the Anthropic endpoint');
    assert(c.choices[0].finish_reason === 'length', 'finish_reason');
    assert(c.usage.completion_tokens === 40 && c.usage.prompt_tokens === 9 &&
           c.usage.total_tokens === 49, `usage ${JSON.stringify(c.usage)}`);
});

await test('openai streaming with include_usage', async () => {
    const stream = await openai.chat.completions.create({
        ...oparams, stream: true, stream_options: { include_usage: true } });
    let text = '';
    let usage = null;
    let finish = null;
    let first = true;
    for await (const chunk of stream) {
        if (first) {
            assert(chunk.choices[0].delta.role === 'assistant', 'first role');
            first = false;
        }
        if (chunk.choices.length > 0) {
            text += chunk.choices[0].delta.content ?? '';
            finish = chunk.choices[0].finish_reason ?? finish;
        }
        if (chunk.usage)
            usage = chunk.usage;
    }
    assert(text === plainText, 'stream text');
    assert(finish === 'length', `finish ${finish}`);
    assert(usage && usage.completion_tokens === 40, 'usage chunk');
});

await test('openai stream helper finalChatCompletion', async () => {
    const runner = openai.chat.completions.stream({ ...oparams });
    const c = await runner.finalChatCompletion();
    assert(c.choices[0].message.content === plainText, 'final content');
});

await test('openai 429 -> RateLimitError (maxRetries 0)', async () => {
    const e = await rejection(async () => {
        await openaiNoRetry.chat.completions.create({ ...oparams,
            messages: [{ role: 'user', content: 'rl [mock:fail=429]' }] });
    });
    assert(e instanceof OpenAI.RateLimitError, `got ${e}`);
    assert(e.code === 'rate_limit_exceeded', `code ${e.code}`);
    assert(e.requestID?.startsWith('req_mock'), 'x-request-id');
});

await test('openai mid-stream error -> APIError', async () => {
    const stream = await openaiNoRetry.chat.completions.create({ ...oparams,
        stream: true,
        messages: [{ role: 'user', content: 'se [mock:fail=stream-error]' }] });
    const e = await rejection(async () => {
        for await (const chunk of stream)
            void chunk;
    });
    assert(e instanceof OpenAI.APIError, `got ${e}`);
});

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
