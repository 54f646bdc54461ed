-- genq prelude: prepended to every script (common/scripts.c). Key names,
-- the packed per-job meta record, history and event helpers.
--
-- KEYS (same order for every script; common/keys.c builds them):
--  1 ready:high  2 ready  3 ready:low  4 jobs  5 meta  6 leases  7 delayed
--  8 results  9 done  10 dead  11 errors  12 history  13 progress
--  14 events  15 stats  16 paused  17 seq
-- ARGV[1] is always the key prefix "genq:{Q}:" (idempotency keys, wake channel).
--
-- meta (hash field per job id) is one string:
--   state|attempts|max_attempts|prio|token|worker|enqueued_ms|updated_ms|flags
-- state: queued delayed active succeeded dead canceled; prio: 0 high 1 normal
-- 2 low; max_attempts 0 = not yet resolved (claim sets the worker default);
-- token: the lease token of the current claim (fencing), "" when not active.
-- flags: "" or "cancel:TTL_MS" — an operator canceled the job while it was
-- active (cancel.lua); when its attempt fails in any way or its lease
-- expires it becomes canceled (kept TTL_MS in the done set); when it
-- succeeds the result is kept and it is succeeded.
local K_READY = {KEYS[1], KEYS[2], KEYS[3]}
local K_JOBS, K_META, K_LEASES, K_DELAYED = KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local K_RESULTS, K_DONE, K_DEAD, K_ERRORS = KEYS[8], KEYS[9], KEYS[10], KEYS[11]
local K_HISTORY, K_PROGRESS, K_EVENTS = KEYS[12], KEYS[13], KEYS[14]
local K_STATS, K_PAUSED, K_SEQ = KEYS[15], KEYS[16], KEYS[17]
local PREFIX = ARGV[1]
local EVENTS_MAXLEN = 100000
-- how long a `genq enqueue` run may send nothing while it holds staged
-- jobs before maintain.lua removes them (stage.lua)
local STAGE_GC_MS = 3600000
-- A member the leases sorted set always holds (score +inf: never reaped,
-- never a job). Longer than zset-max-listpack-value (64), it keeps the set
-- a skiplist: as a listpack of ~100 members (a worker at concurrency 100)
-- every ZADD and ZREM scanned and moved the whole set, a quarter of Redis's
-- work per job. So ZCARD counts one more than the leases (max(n - 1, 0)).
local LEASE_PIN = '~genq: this member keeps the leases sorted set a skiplist, ' ..
    'it is not a job~'

local function now_ms()
    local t = redis.call('TIME')
    return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function meta_unpack(s)
    if not s then return nil end
    local st, at, mx, pr, tok, wk, enq, upd, fl = string.match(s,
        '^([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)$')
    if not st then return nil end
    return {state = st, attempts = tonumber(at), max = tonumber(mx),
            prio = tonumber(pr), token = tok, worker = wk,
            enq = enq, upd = upd, flags = fl}
end

-- A bulk-enqueued job (the bulk path of `genq enqueue`, append_bulk in
-- enqueue-tool/cmd_enqueue.c) has no meta field until it is
-- first claimed or changed: its stored value (jobs hash) is the meta record
-- it was enqueued with, a newline, then its payload. Once a meta field
-- exists it wins, and the header is stale. Payloads are JSON objects, so a
-- value starting with "queued|" cannot be a bare payload.
-- job_split(v) → header meta (or nil), payload.
local function job_split(v)
    if v and string.sub(v, 1, 7) == 'queued|' then
        local nl = string.find(v, '\n', 8, true)
        if nl then return string.sub(v, 1, nl - 1), string.sub(v, nl + 1) end
    end
    return nil, v
end

-- The header alone (nil when none): no copy of the payload.
local function job_header(v)
    if v and string.sub(v, 1, 7) == 'queued|' then
        local nl = string.find(v, '\n', 8, true)
        if nl then return string.sub(v, 1, nl - 1) end
    end
    return nil
end

-- HMGET of the meta records of ids; a bulk-enqueued job that has no meta
-- field yet gets the header of its stored value instead.
local function metas_get(ids)
    local metas = redis.call('HMGET', K_META, unpack(ids))
    local miss, mids = {}, {}
    for i = 1, #ids do
        if not metas[i] then miss[#miss + 1] = i; mids[#mids + 1] = ids[i] end
    end
    if #miss > 0 then
        local vals = redis.call('HMGET', K_JOBS, unpack(mids))
        for k, i in ipairs(miss) do
            local h = job_header(vals[k])
            if h then metas[i] = h end
        end
    end
    return metas
end

-- HMGET of the payloads of ids, bulk-enqueue headers cut off.
local function payloads_get(ids)
    local v = redis.call('HMGET', K_JOBS, unpack(ids))
    for i = 1, #ids do
        if v[i] then
            local _, p = job_split(v[i])
            v[i] = p
        end
    end
    return v
end

-- Enqueue rate for `genq stats`: one HINCRBY per batch into a hash of
-- per-second buckets (the bulk path of `genq enqueue` does the same
-- outside Lua); maintain.lua prunes it to the last ~70 s.
local function rate_add(now, added)
    redis.call('HINCRBY', PREFIX .. 'rate', math.floor(now / 1000), added)
end

-- An idempotency key must not outlive its job: a later enqueue with the
-- same key is a new job, not a "duplicate" of one that is gone. Called for
-- a job being deleted, with its payload (may be nil).
local function idem_forget(id, payload)
    if payload and string.find(payload, '"idempotency_key"', 1, true) then
        local ok, job = pcall(cjson.decode, payload)
        if ok and type(job) == 'table' and
            type(job.idempotency_key) == 'string' then
            local ik = PREFIX .. 'idem:' .. job.idempotency_key
            if redis.call('GET', ik) == id then redis.call('DEL', ik) end
        end
    end
end

local function meta_pack(m)
    return m.state .. '|' .. m.attempts .. '|' .. m.max .. '|' .. m.prio ..
        '|' .. m.token .. '|' .. m.worker .. '|' .. m.enq .. '|' .. m.upd ..
        '|' .. m.flags
end

-- Append one entry to the job's attempt history (a JSON array string).
local function history_add(id, at, worker, outcome, err_json)
    local e = '{"at":' .. at .. ',"worker":' .. cjson.encode(worker) ..
        ',"outcome":' .. cjson.encode(outcome) .. ',"error":' ..
        (err_json or 'null') .. '}'
    local h = redis.call('HGET', K_HISTORY, id)
    if h then
        h = string.sub(h, 1, -2) .. ',' .. e .. ']'
    else
        h = '[' .. e .. ']'
    end
    redis.call('HSET', K_HISTORY, id, h)
end

-- Flat {id1, state1, id2, state2, ...} → one stream entry per batch.
local function events_add(pairs_list)
    if #pairs_list > 0 then
        redis.call('XADD', K_EVENTS, 'MAXLEN', '~', EVENTS_MAXLEN, '*',
                   unpack(pairs_list))
    end
end

-- Move a job to dead: error JSON must carry its class already.
local function to_dead(id, m, now, err_json, ev)
    m.state = 'dead'; m.token = ''; m.upd = now
    redis.call('HSET', K_META, id, meta_pack(m))
    redis.call('HSET', K_ERRORS, id, err_json)
    redis.call('ZADD', K_DEAD, now, id)
    redis.call('HDEL', K_PROGRESS, id)
    redis.call('HINCRBY', K_STATS, 'dead', 1)
    ev[#ev + 1] = id; ev[#ev + 1] = 'dead'
end

-- The retention (ms) of a cancel-flagged job, or nil when not flagged.
local function cancel_ttl(m)
    if m.flags == '' then return nil end
    local t = string.match(m.flags, 'cancel:(%d+)')
    return t and tonumber(t) or nil
end

-- The error object of a canceled job.
local function cancel_err(msg)
    return cjson.encode({class = 'canceled', http_status = cjson.null,
        type = cjson.null, message = msg, request_id = cjson.null})
end

-- Move a job to canceled: kept ttl ms in the done set (like results).
local function to_canceled(id, m, now, ttl, err_json, ev)
    m.state = 'canceled'; m.token = ''; m.upd = now; m.flags = ''
    redis.call('HSET', K_META, id, meta_pack(m))
    redis.call('HSET', K_ERRORS, id, err_json)
    redis.call('ZADD', K_DONE, now + ttl, id)
    redis.call('HDEL', K_PROGRESS, id)
    redis.call('HINCRBY', K_STATS, 'canceled', 1)
    ev[#ev + 1] = id; ev[#ev + 1] = 'canceled'
end

-- Expired leases: back to ready with the attempt counted, or dead
-- (class lease_expired) once max_attempts are spent, or canceled when an
-- operator asked for it meanwhile. Returns how many.
local function reap(now, limit, grace_ms)
    local ids = redis.call('ZRANGEBYSCORE', K_LEASES, '-inf', now,
                           'LIMIT', 0, limit)
    if #ids == 0 then return 0 end
    -- Server time runs on while Redis is down: after a restart every lease
    -- of a live worker may look expired. Reap nothing until Redis has been
    -- up for one visibility timeout, so the live workers can extend first.
    if grace_ms and grace_ms > 0 then
        local up = tonumber(string.match(redis.call('INFO', 'server'),
                                         'uptime_in_seconds:(%d+)'))
        if up and up * 1000 < grace_ms then return 0 end
    end
    redis.call('ZREM', K_LEASES, unpack(ids))
    local metas = redis.call('HMGET', K_META, unpack(ids))
    local ev = {}
    for i, id in ipairs(ids) do
        local m = meta_unpack(metas[i])
        if m and m.state == 'active' then
            local msg = 'lease expired: worker ' .. m.worker ..
                ' stopped heartbeating (attempt ' .. m.attempts .. ' of ' ..
                m.max .. ')'
            local err = cjson.encode({class = 'lease_expired',
                http_status = cjson.null, type = cjson.null, message = msg,
                request_id = cjson.null})
            history_add(id, now, m.worker, 'lease_expired', err)
            redis.call('HINCRBY', K_STATS, 'lease_expired', 1)
            local cttl = cancel_ttl(m)
            if cttl then
                to_canceled(id, m, now, cttl, cancel_err(
                    'canceled by an operator; then its lease expired'), ev)
            elseif m.attempts >= m.max then
                to_dead(id, m, now, err, ev)
            else
                m.state = 'queued'; m.token = ''; m.upd = now
                redis.call('HSET', K_META, id, meta_pack(m))
                redis.call('HSET', K_ERRORS, id, err)
                redis.call('RPUSH', K_READY[m.prio + 1], id)
            end
        end
    end
    events_add(ev)
    return #ids
end

-- Delayed jobs whose run-at has come: onto their ready list.
local function promote(now, limit)
    local ids = redis.call('ZRANGEBYSCORE', K_DELAYED, '-inf', now,
                           'LIMIT', 0, limit)
    if #ids == 0 then return 0 end
    redis.call('ZREM', K_DELAYED, unpack(ids))
    local metas = redis.call('HMGET', K_META, unpack(ids))
    local lists = {{}, {}, {}}
    local upd = {}
    for i, id in ipairs(ids) do
        local m = meta_unpack(metas[i])
        if m and m.state == 'delayed' then
            m.state = 'queued'; m.upd = now
            upd[#upd + 1] = id; upd[#upd + 1] = meta_pack(m)
            local l = lists[m.prio + 1]
            l[#l + 1] = id
        end
    end
    if #upd > 0 then redis.call('HSET', K_META, unpack(upd)) end
    for p = 1, 3 do
        if #lists[p] > 0 then redis.call('LPUSH', K_READY[p], unpack(lists[p])) end
    end
    return #ids
end
