-- genq prelude: prepended to every script (common/scripts.c; then
-- oplib.lua to all but the per-job ones). Key names, the packed per-job
-- meta record, history and event helpers, reap and promote.
--
-- KEYS (same order for every script; common/keys.c builds them, and this
-- file mirrors its table: KEYS order = qkey_suffix[], and the keys outside
-- it, wake rate staging stage:RUN:P idem:K in oplib.lua, keys.h's names):
--  1 ready:high  2 ready  3 ready:low  4 jobs  5 meta  6 leases  7 delayed
--  8 results  9 done  10 dead  11 errors  12 history  13 progress
--  14 events  15 stats  16 paused  17 seq
-- ARGV[1] is always the key prefix "genq:{Q}:" (idempotency keys, wake channel).
--
-- meta (hash field per job id) is one string, version 1 (common/meta.h is
-- the C side of the same format and says how a later version is tagged):
--   state|attempts|max_attempts|prio|token|worker|enqueued_ms|updated_ms|flags
-- state: queued delayed active succeeded dead canceled; prio: 0 high 1 normal
-- 2 low; max_attempts 0 = not yet resolved (claim sets the worker default);
-- token: the lease token of the current claim (fencing), "" when not active.
-- flags: "" or "cancel:TTL_MS" — an operator canceled the job while it was
-- active (cancel.lua); when its attempt fails in any way or its lease
-- expires it becomes canceled (kept TTL_MS in the done set); when it
-- succeeds the result is kept and it is succeeded. Version 1 begins with
-- the state, a lowercase word; a later version N begins "N|", which none
-- of the patterns below match (and the layout version in genq:layout,
-- common/layout.h, changes with it).
-- The one formatter is meta_record (meta_pack for a table); the parsers
-- are the META_PAT patterns: the full one (meta_unpack) and the two the
-- hot scripts use, which capture only what they keep (every capture is a
-- new Lua string: claim.lua, complete.lua run them once per job).
local K_READY = {KEYS[1], KEYS[2], KEYS[3]}
local K_JOBS, K_META, K_LEASES, K_DELAYED = KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local K_RESULTS, K_DONE, K_DEAD, K_ERRORS = KEYS[8], KEYS[9], KEYS[10], KEYS[11]
-- KEYS[14] (genq:{Q}:events) is no longer written: the feed (K_FEED) has
-- the same transitions, one entry per job; the key stays in the table
local K_HISTORY, K_PROGRESS = KEYS[12], KEYS[13]
local K_STATS, K_PAUSED, K_SEQ = KEYS[15], KEYS[16], KEYS[17]
local PREFIX = ARGV[1]
-- The public keys of protocol version 1 (README "Producers and consumers in
-- any language"; keys.h QKEY_FEED, QKEY_NOTIFY): the completion feed, and
-- the echo of each job that has a notify list, id -> the JSON object text
-- of the metadata fields it names (written at enqueue).
local K_FEED, K_NOTIFY = PREFIX .. 'feed', PREFIX .. 'notify'
-- the feed's bound when the caller passes none (worker --feed-maxlen)
local FEED_MAXLEN_DEFAULT = 100000
-- What `genq stats` reads instead of scanning events (keys.h QKEY_TALLY,
-- QKEY_LAT): per-second tallies of terminal transitions, hash fields
-- "s:SEC", "d:SEC", "c:SEC" (succeeded, dead, canceled in unix second SEC;
-- one HINCRBY per state and batch, maintain.lua prunes them to ~70 s); and
-- the latency_ms of the newest LAT_SAMPLES succeeded jobs, newest first
-- (a list: one LPUSH and one LTRIM per batch of completions).
local K_TALLY, K_LAT = PREFIX .. 'tally', PREFIX .. 'lat'
local LAT_SAMPLES = 200
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

local META_PAT =
    '^([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)$'
-- claim.lua: queued records only → attempts, max, prio, enqueued, flags
local META_PAT_QUEUED =
    '^queued|([^|]*)|([^|]*)|([^|]*)|[^|]*|[^|]*|([^|]*)|[^|]*|([^|]*)$'
-- claim.lua: the header of a bulk-stored value (job_header), matched on
-- the value itself → attempts, max, prio, enqueued, flags
local META_PAT_HEADER =
    '^queued|([^|]*)|([^|]*)|([^|]*)|[^|]*|[^|]*|([^|]*)|[^|]*|([^|\n]*)\n'
-- complete.lua: active records only, fields it copies side by side as one
-- capture → "attempts|max|prio", token, "worker|enqueued", flags
local META_PAT_ACTIVE =
    '^active|([^|]*|[^|]*|[^|]*)|([^|]*)|([^|]*|[^|]*)|[^|]*|([^|]*)$'
-- extend.lua: active records only → token (the rest is not read)
local META_PAT_TOKEN = '^active|[^|]*|[^|]*|[^|]*|([^|]*)|'

local function meta_unpack(s)
    if not s then return nil end
    local st, at, mx, pr, tok, wk, enq, upd, fl = string.match(s, META_PAT)
    if not st then return nil end
    return {state = st, attempts = tonumber(at), max = tonumber(mx),
            prio = tonumber(pr), token = tok, worker = wk,
            enq = enq, upd = upd, flags = fl}
end

-- The record of the nine fields, in order (strings or numbers).
local function meta_record(st, at, mx, pr, tok, wk, enq, upd, fl)
    return st .. '|' .. at .. '|' .. mx .. '|' .. pr .. '|' .. tok .. '|' ..
        wk .. '|' .. enq .. '|' .. upd .. '|' .. fl
end

local function meta_pack(m)
    return meta_record(m.state, m.attempts, m.max, m.prio, m.token, m.worker,
                       m.enq, m.upd, m.flags)
end

-- A bulk-enqueued job (the bulk path of `genq enqueue`, bulk_append in
-- enqueue-tool/enqueue_bulk.c, and its staging) is stored INLINE (layout
-- 3): its ready list element is the whole job, "@ID|", then the meta
-- record it was enqueued with, a newline, then its payload (an id never
-- starts with '@': ids are A-Z a-z 0-9 . _ : -). It has no jobs or meta
-- field until it is claimed: claim.lua writes the element itself into the
-- jobs hash under its id (no copy), so a jobs value may carry the "@ID|"
-- prefix, and ready_find.lua makes a queued one a plain entry (id in the
-- list, element in the jobs hash, header as its meta field) for `genq
-- status` / `cancel`. Jobs of enqueue.lua / intake.lua are stored the
-- older bulk way: jobs value = header, newline, payload, no meta field
-- until the first claim or change. Once a meta field exists it wins, and
-- the header is stale. Payloads are JSON objects, so a value starting with
-- "queued|" or "@" cannot be a bare payload (oplib.lua: job_split,
-- metas_get, payloads_get; common/meta.c meta_header_len is the C side).
-- claim.lua: an inline element → id, attempts, max, prio, enqueued, flags
local META_PAT_INLINE =
    '^@([^|]*)|queued|([^|]*)|([^|]*)|([^|]*)|[^|]*|[^|]*|([^|]*)|[^|]*|([^|\n]*)\n'
-- The header alone (nil when none), and the index of the newline that
-- ends it: no copy of the payload.
local function job_header(v)
    if not v then return nil end
    local s = 1
    if string.byte(v, 1) == 64 then -- '@': the inline prefix "@ID|"
        local bar = string.find(v, '|', 2, true)
        if not bar then return nil end
        s = bar + 1
    end
    if string.sub(v, s, s + 6) == 'queued|' then
        local nl = string.find(v, '\n', s + 7, true)
        if nl then return string.sub(v, s, nl - 1), nl end
    end
    return nil
end

-- History h (a JSON array string, or nil) with entry e (JSON) appended.
local function history_append(h, e)
    if h then return string.sub(h, 1, -2) .. ',' .. e .. ']' end
    return '[' .. e .. ']'
end

-- Append one entry to the job's attempt history (a JSON array string).
local function history_add(id, at, worker, outcome, err_json)
    local e = '{"at":' .. at .. ',"worker":' .. cjson.encode(worker) ..
        ',"outcome":' .. cjson.encode(outcome) .. ',"error":' ..
        (err_json or 'null') .. '}'
    redis.call('HSET', K_HISTORY, id,
               history_append(redis.call('HGET', K_HISTORY, id), e))
end

-- The public completion feed (schemas/feed-entry.schema.json): one entry
-- per job of the flat {id1, state1, ...}, fields v id state queue, and
-- metadata (the job's notify field, as is) when it has one; then one
-- XTRIM MAXLEN ~ maxlen (nil: FEED_MAXLEN_DEFAULT; 0: the feed is off) for
-- the batch, cheaper than a MAXLEN on every XADD. The notify hash is read
-- only while it exists: no HMGET for queues that never echo.
local function feed_add(pairs_list, maxlen)
    local n = #pairs_list
    maxlen = maxlen or FEED_MAXLEN_DEFAULT
    if n == 0 or maxlen <= 0 then return end
    local echo
    if redis.call('EXISTS', K_NOTIFY) == 1 then
        local ids = {}
        for i = 1, n, 2 do ids[(i + 1) / 2] = pairs_list[i] end
        echo = redis.call('HMGET', K_NOTIFY, unpack(ids))
    end
    local q = string.sub(PREFIX, 7, -3) -- "genq:{Q}:" -> Q
    for i = 1, n, 2 do
        local e = echo and echo[(i + 1) / 2]
        if e then
            redis.call('XADD', K_FEED, '*', 'v', '1', 'id', pairs_list[i],
                       'state', pairs_list[i + 1], 'queue', q, 'metadata', e)
        else
            redis.call('XADD', K_FEED, '*', 'v', '1', 'id', pairs_list[i],
                       'state', pairs_list[i + 1], 'queue', q)
        end
    end
    redis.call('XTRIM', K_FEED, 'MAXLEN', '~', maxlen)
end

-- Flat {id1, state1, id2, state2, ...} of transitions at now (ms) → the
-- per-second tallies of `genq stats` (K_TALLY) and one feed entry per job
-- (feed_add, bound feed_max: `genq results` tails the feed). nsucc: how
-- many of the pairs are succeeded when the caller knows (complete.lua: all
-- of them), else nil (counted here). (Until issue 15 this also wrote one
-- entry per batch to the events stream, KEYS[14]: nothing reads it now.)
local function events_add(pairs_list, feed_max, now, nsucc)
    local n = #pairs_list
    if n == 0 then return end
    local sec = ':' .. math.floor(now / 1000)
    if nsucc then
        redis.call('HINCRBY', K_TALLY, 's' .. sec, nsucc)
    else
        local c = {succeeded = 0, dead = 0, canceled = 0}
        for i = 2, n, 2 do
            local st = pairs_list[i]
            if c[st] then c[st] = c[st] + 1 end
        end
        for st, v in pairs(c) do
            if v > 0 then
                redis.call('HINCRBY', K_TALLY, string.sub(st, 1, 1) .. sec, v)
            end
        end
    end
    feed_add(pairs_list, feed_max)
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
-- operator asked for it meanwhile; feed_max bounds the feed (events_add).
-- Returns how many.
local function reap(now, limit, grace_ms, feed_max)
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
    events_add(ev, feed_max, now)
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
