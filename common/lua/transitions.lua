-- genq transitions: after prelude.lua and queue_keys.lua in every script
-- but complete and extend (common/scripts.c), which use none of it: each
-- function a script defines costs a closure per call. The meta record's
-- full parse and format, the inline / bulk job header, the attempt
-- history, the moves to dead and canceled, and reap and promote. In
-- claim.lua all of this is the body of a function, transitions_lazy, that
-- returns reap and promote: claim runs it only when one has work.

-- the rest of the queue's key names (prelude.lua and queue_keys.lua have
-- the others)
local K_DEAD, K_ERRORS = PREFIX .. 'dead', PREFIX .. 'errors'
local K_HISTORY = PREFIX .. 'history'

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
-- field until it is claimed: claim.lua appends the element itself to its
-- claim's held list (layout 5, prelude.lua K_HELD), from where a job that
-- leaves active other than succeeded moves it into the jobs hash under its
-- id (no copy of the text), so a jobs value may carry the "@ID|" prefix,
-- and ready_find.lua makes a queued one a plain entry (id in the list,
-- element in the jobs hash, header as its meta field) for `genq status` /
-- `cancel`. Jobs of enqueue.lua / intake.lua are stored the
-- older bulk way: jobs value = header, newline, payload, no meta field
-- until the first claim or change. Once a meta field exists it wins, and
-- the header is stale. Payloads are JSON objects, so a value starting with
-- "queued|" or "@" cannot be a bare payload (oplib.lua: job_split,
-- metas_get, payloads_get; common/meta.c meta_header_len is the C side).
-- (claim.lua reads an inline element: prelude.lua META_PAT_HEADER after
-- its prefix.)
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

-- Layout 5 (prelude.lua K_HELD): jobs leaving active other than
-- succeeded, in one script call. held_ctx() starts the call's record;
-- held_restore(ctx, id, tok) for each job (active under token tok): a
-- held claim's job gets its element moved into the jobs hash (held_move)
-- and is counted; held_done(ctx) counts them out of their claims
-- (held_left). Plain tokens: no-op.
local function held_ctx() return {n = {}, cache = {}} end

local function held_restore(ctx, id, tok)
    local seq = held_seq(tok)
    if not seq then return end
    held_move(id, seq, ctx.cache)
    ctx.n[seq] = (ctx.n[seq] or 0) + 1
end

local function held_done(ctx)
    for seq, c in pairs(ctx.n) do held_left(seq, c, nil) end
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
    local ev, hc = {}, held_ctx()
    for i, id in ipairs(ids) do
        local m = meta_unpack(metas[i])
        if m and m.state == 'active' then
            held_restore(hc, id, m.token)
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
    held_done(hc)
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
