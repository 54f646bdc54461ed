-- genq operator library: prepended after prelude.lua to every script but
-- the four a worker runs per job (claim, extend, complete, fail: they pay
-- for every function defined here on every call; common/scripts.c says
-- which get it). Keys prelude.lua does not name, bulk-header aware reads,
-- idempotency keys, deletion, and the helpers of `genq dlq` / `results`.
--
-- These keys mirror keys.h (struct qkeys wake, rate, staging; QKEY_IDEM;
-- qkeys_stage()).
local K_WAKE, K_RATE, K_STAGING = PREFIX .. 'wake', PREFIX .. 'rate',
    PREFIX .. 'staging'

-- wake(n): publish n on the queue's wake channel. On Redis Cluster with
-- Redis >= 7 (REDIS_VERSION_NUM appeared in 7.0) a sharded SPUBLISH: it
-- reaches the subscribers on the queue's own shard only, where a PUBLISH
-- is broadcast over the cluster bus to every node (the worker SSUBSCRIBEs
-- there: worker/rsub.c). INFO's cluster section tells; one small call per
-- publish (not per job), and no error counted as a failed CLUSTER call
-- would be on a standalone Redis. Standalone Redis, or a cluster of
-- Redis < 7: PUBLISH, as the SUBSCRIBE of every genq worker expects.
local function wake(n)
    if redis.REDIS_VERSION_NUM and string.find(redis.call('INFO', 'cluster'),
            'cluster_enabled:1', 1, true) then
        redis.call('SPUBLISH', K_WAKE, n)
    else
        redis.call('PUBLISH', K_WAKE, n)
    end
end
-- the public inbox protocol (README "Producers and consumers in any
-- language"; keys.h QKEY_INBOX ...): the inbox list, its intake lock, the
-- rejected list (the notify hash is prelude.lua's K_NOTIFY)
local K_INBOX, K_INBOX_LOCK = PREFIX .. 'inbox', PREFIX .. 'inbox:lock'
local K_REJECTED = PREFIX .. 'rejected'
-- how long a `genq enqueue` run may send nothing while it holds staged
-- jobs before maintain.lua removes them (stage.lua)
local STAGE_GC_MS = 3600000

-- job_split(v) → header meta (or nil), payload (job_header: transitions.lua).
local function job_split(v)
    local h, nl = job_header(v)
    if h then return h, string.sub(v, nl + 1) end
    return nil, v
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
    redis.call('HINCRBY', K_RATE, math.floor(now / 1000), added)
end

-- The idempotency key of key k (keys.h QKEY_IDEM), and the stage list of
-- a staging run for priority p (keys.h qkeys_stage()).
local function idem_key(k) return PREFIX .. 'idem:' .. k end
local function stage_key(run, p) return PREFIX .. 'stage:' .. run .. ':' .. p end

-- An idempotency key must not outlive its job: a later enqueue with the
-- same key is a new job, not a "duplicate" of one that is gone. Called for
-- a job being deleted, with its payload (may be nil).
local function idem_forget(id, payload)
    if payload and string.find(payload, '"idempotency_key"', 1, true) then
        local ok, job = pcall(cjson.decode, payload)
        if ok and type(job) == 'table' and
            type(job.idempotency_key) == 'string' then
            local ik = idem_key(job.idempotency_key)
            if redis.call('GET', ik) == id then redis.call('DEL', ik) end
        end
    end
end

-- Delete the fields of ids (a non-empty list) in every per-job hash, the
-- feed's notify echo included; the callers remove them from their set
-- (done, dead) themselves.
local function jobs_delete(ids)
    redis.call('HDEL', K_JOBS, unpack(ids))
    redis.call('HDEL', K_META, unpack(ids))
    redis.call('HDEL', K_ERRORS, unpack(ids))
    redis.call('HDEL', K_HISTORY, unpack(ids))
    redis.call('HDEL', K_RESULTS, unpack(ids))
    redis.call('HDEL', K_PROGRESS, unpack(ids))
    redis.call('HDEL', K_NOTIFY, unpack(ids))
end

-- `genq dlq requeue` / `purge`: fn(i, id, m) for each job of ids whose
-- state is dead (a repeated id once). Returns per id what fn returned, dup
-- for a repeat, else the job's state ("unknown" when absent).
local function dead_each(ids, dup, fn)
    local metas = metas_get(ids)
    local out, seen = {}, {}
    for i, id in ipairs(ids) do
        local m = meta_unpack(metas[i])
        if seen[id] then
            out[i] = dup
        elseif m and m.state == 'dead' then
            seen[id] = true
            out[i] = fn(i, id, m)
        else
            out[i] = m and m.state or 'unknown'
        end
    end
    return out
end

-- Byte-wise comparison of strings a and b: -1, 0 or 1 (Lua's < on strings
-- follows the server's locale).
local function byte_cmp(a, b)
    local n = math.min(#a, #b)
    for i = 1, n do
        local x, y = string.byte(a, i), string.byte(b, i)
        if x ~= y then return x < y and -1 or 1 end
    end
    if #a == #b then return 0 end
    return #a < #b and -1 or 1
end

-- The ids of a done-set member m (a batch: prelude.lua DONE_SEP) appended
-- to ids (maintain.lua's sweep, results_page.lua).
local DONE_ID_PAT = '[^' .. DONE_SEP .. ']+'
local function done_ids(m, ids)
    for id in string.gmatch(m, DONE_ID_PAT) do ids[#ids + 1] = id end
end

-- One page (at most count) of sorted set key by score within [lo, hi]:
-- ascending, or descending when rev. The cursor is the last entry of the
-- previous page, its score cs ("" = start) and member cm: ties with cs
-- come in byte order of member (reverse when rev), so members removed
-- meanwhile never make a page skip others (the cursor's own removal
-- included: then its score's ties are read to find the place). Returns
-- ids, scores.
local function zset_page(key, cs, cm, lo, hi, count, rev)
    local ids, scores = {}, {}
    -- The cursor still in the set with its score (the usual case): the
    -- entries after it by rank, O(log n + count) however many share its
    -- score, where the scan below reads every tie of the score again each
    -- page (a `genq cancel` of 100k queued jobs makes 100k done members of
    -- one score: paging was quadratic). The far bound a number or an
    -- infinity (the callers' kinds), checked on each entry.
    local far = rev and lo or hi
    local fb = (far == '+inf' or far == '-inf') or tonumber(far)
    if cs ~= '' and fb then
        local sc = redis.call('ZSCORE', key, cm)
        if sc and tonumber(sc) == tonumber(cs) then
            local r, got = redis.call(rev and 'ZREVRANK' or 'ZRANK', key, cm)
            if rev then
                got = redis.call('ZRANGE', key, r + 1, r + count, 'REV',
                                 'WITHSCORES')
            else
                got = redis.call('ZRANGE', key, r + 1, r + count, 'WITHSCORES')
            end
            for i = 1, #got, 2 do
                local s = got[i + 1]
                if fb ~= true and
                    (rev and tonumber(s) < fb or not rev and tonumber(s) > fb) then
                    break
                end
                ids[#ids + 1] = got[i]; scores[#scores + 1] = s
            end
            return ids, scores
        end
    end
    if cs ~= '' then
        local ties, want = nil, 1
        if rev then
            ties = redis.call('ZRANGE', key, cs, cs, 'BYSCORE', 'REV')
            want = -1
            hi = '(' .. cs
        else
            ties = redis.call('ZRANGE', key, cs, cs, 'BYSCORE')
            lo = '(' .. cs
        end
        for _, id in ipairs(ties) do
            if #ids >= count then break end
            -- (the cursor itself, a tie, by a pointer compare: a done
            -- member can be ~130 kB, compared byte by byte in Lua)
            if id ~= cm and byte_cmp(id, cm) == want then
                ids[#ids + 1] = id; scores[#scores + 1] = cs
            end
        end
    end
    if #ids < count then
        local r
        if rev then
            r = redis.call('ZRANGE', key, hi, lo, 'BYSCORE', 'REV', 'LIMIT',
                           0, count - #ids, 'WITHSCORES')
        else
            r = redis.call('ZRANGE', key, lo, hi, 'BYSCORE', 'LIMIT', 0,
                           count - #ids, 'WITHSCORES')
        end
        for i = 1, #r, 2 do
            ids[#ids + 1] = r[i]; scores[#scores + 1] = r[i + 1]
        end
    end
    return ids, scores
end

-- Whole members of the done set (batches of ids, prelude.lua DONE_SEP),
-- in order, until at least count ids unless the set ends (at most count +
-- DONE_CHUNK - 1): fetch(want) returns the next want members (and their
-- scores, or nil), 16 the first time (one can be ~130 kB), then as many as
-- ids are still wanted, at most 100 (a member holds one at least). Returns
-- the ids, the members, and the last member's score (nil: none read, or
-- fetch gave no scores). maintain.lua's sweep (by offset from the oldest:
-- it removes what it read) and results_page.lua (by cursor: zset_page).
local function done_take(fetch, count)
    local ids, mems, want, last = {}, {}, 16, nil
    while #ids < count do
        local mem, scores = fetch(want)
        for i, m in ipairs(mem) do
            if #ids >= count then break end
            done_ids(m, ids)
            mems[#mems + 1] = m
            last = scores and scores[i]
        end
        if #mem < want then break end
        want = math.max(1, math.min(count - #ids, 100))
    end
    return ids, mems, last
end


-- What every enqueue path does last for added jobs: the notify echoes
-- (flat id, echo list), the ready lists (per priority), the enqueued count
-- and rate, one wake-up.
local function enqueued_tail(now, added, lists, echoes)
    if #echoes > 0 then redis.call('HSET', K_NOTIFY, unpack(echoes)) end
    local ready = 0
    for p = 1, 3 do
        if #lists[p] > 0 then
            redis.call('LPUSH', K_READY[p], unpack(lists[p]))
            ready = ready + #lists[p]
        end
    end
    redis.call('HINCRBY', K_STATS, 'enqueued', added)
    rate_add(now, added)
    if ready > 0 then wake(ready) end
end

-- Enqueue n jobs whose arguments are a[b ..]: per job id, prio, run_at_ms
-- (0 = now; absolute), delay_ms, max_attempts (0 = worker default),
-- idempotency_key ("" = none), payload. notify: job index -> its feed echo
-- (job_notify_echo(), written to the notify hash for jobs enqueued), or
-- nil. Returns per job {status, id} -- "enqueued", or "duplicate" with the
-- existing job's id (same id already known, or same idempotency key within
-- its TTL) -- and how many were enqueued. enqueue.lua and intake.lua.
local function enqueue_jobs(a, b0, n, ttl, notify)
    local now = now_ms()
    -- converted once: a number concatenated per job costs Redis a sprintf
    local now_s = tostring(now)
    local PRIO_S = {[0] = '0', [1] = '1', [2] = '2'}
    local ids = {}
    for i = 1, n do ids[i] = a[b0 + (i - 1) * 7] end
    local existing = n > 0 and metas_get(ids) or {}
    local seen = {}
    local out = {}
    local jobs, metas, delayed, echoes = {}, {}, {}, {}
    local lists = {{}, {}, {}}
    local added = 0
    for i = 1, n do
        local b = b0 + (i - 1) * 7
        local id, prio = a[b], tonumber(a[b + 1])
        local run_at, delay = tonumber(a[b + 2]), tonumber(a[b + 3])
        local maxa, idem, payload = a[b + 4], a[b + 5], a[b + 6]
        local dup = nil
        if existing[i] or seen[id] then
            dup = id
        elseif idem ~= '' then
            local ik = idem_key(idem)
            if not redis.call('SET', ik, id, 'NX', 'EX', ttl) then
                dup = redis.call('GET', ik) or id
            end
        end
        if dup then
            out[#out + 1] = {'duplicate', dup}
        else
            seen[id] = true
            added = added + 1
            local at = 0
            if run_at > 0 then at = run_at elseif delay > 0 then at = now + delay end
            local state = 'queued'
            if at > now then state = 'delayed' end
            jobs[#jobs + 1] = id
            if state == 'queued' then
                -- stored like the bulk path's jobs (transitions.lua job_header):
                -- the meta record as a header of the value, no meta field
                -- until the first claim: one hash field per job, not two
                jobs[#jobs + 1] = 'queued|0|' .. maxa .. '|' .. PRIO_S[prio] ..
                    '|||' .. now_s .. '|' .. now_s .. '|\n' .. payload
            else
                jobs[#jobs + 1] = payload
                metas[#metas + 1] = id
                metas[#metas + 1] = meta_record(state, '0', maxa, PRIO_S[prio],
                                                '', '', now_s, now_s, '')
            end
            if notify and notify[i] then
                echoes[#echoes + 1] = id; echoes[#echoes + 1] = notify[i]
            end
            if state == 'delayed' then
                delayed[#delayed + 1] = at; delayed[#delayed + 1] = id
            else
                local l = lists[prio + 1]
                l[#l + 1] = id
            end
            out[#out + 1] = {'enqueued', id}
        end
    end
    if added > 0 then
        redis.call('HSET', K_JOBS, unpack(jobs))
        if #metas > 0 then redis.call('HSET', K_META, unpack(metas)) end
        if #delayed > 0 then redis.call('ZADD', K_DELAYED, unpack(delayed)) end
        enqueued_tail(now, added, lists, echoes)
    end
    return out, added
end

-- Enqueue new jobs whose arguments are a[b0 ..]: m[1], m[2], m[3] jobs
-- of priority high, normal, low, as (id, stored value) pairs in that
-- order. Each id was generated by the caller (UUIDv7, so not known yet)
-- and the job has no idempotency key, run_at or delay; its value is what
-- the bulk path of `genq enqueue` stores (transitions.lua job_header: the meta
-- header "queued|0|MAX|PRIO|||T|T|", a newline, the job; no meta field):
-- the cheapest form, one HSET for all. notify as enqueue_jobs' (indexes in
-- pair order). Returns how many. intake.lua.
local function enqueue_new(a, b0, m, notify)
    local n = m[1] + m[2] + m[3]
    if n == 0 then return 0 end
    redis.call('HSET', K_JOBS, unpack(a, b0, b0 + 2 * n - 1))
    local lists, echoes = {{}, {}, {}}, {}
    local b = b0
    for p = 1, 3 do
        local l = lists[p]
        for i = 1, m[p] do l[i] = a[b]; b = b + 2 end
    end
    if notify then
        for i, e in pairs(notify) do
            echoes[#echoes + 1] = a[b0 + 2 * (i - 1)]; echoes[#echoes + 1] = e
        end
    end
    enqueued_tail(now_ms(), n, lists, echoes)
    return n
end

-- The lean form of enqueue.lua (enqueue-tool/enqueue_lean.c): n jobs of
-- priority p ("0" high, "1" normal, "2" low), each with its id and none of
-- idempotency key, run_at, delay, notify; a[b0 ..] holds (id, stored
-- value) pairs, the value as enqueue_new() takes it (the meta header, a
-- newline, the payload). Duplicates (an id known, or earlier in the call)
-- are left out; returns per job 1 (enqueued) or 0 (duplicate). Two
-- arguments and no concatenation per job where enqueue_jobs() has seven.
local function enqueue_lean(a, b0, n, p)
    local pn = tonumber(p)
    if not (pn and K_READY[pn + 1]) then
        return redis.error_reply('ERR enqueue: bad priority ' .. tostring(p))
    end
    local ids = {}
    for i = 1, n do ids[i] = a[b0 + 2 * i - 2] end
    if n == 0 then return {} end
    local known = metas_get(ids)
    local out, seen, dup = {}, {}, false
    for i = 1, n do
        local id = ids[i]
        if known[i] or seen[id] then
            out[i] = 0; dup = true
        else
            seen[id] = true; out[i] = 1
        end
    end
    local m = {0, 0, 0}
    if not dup then
        m[pn + 1] = n
        enqueue_new(a, b0, m)
        return out
    end
    local kept, k = {}, 0
    for i = 1, n do
        if out[i] == 1 then
            kept[k + 1] = ids[i]; kept[k + 2] = a[b0 + 2 * i - 1]; k = k + 2
        end
    end
    m[pn + 1] = k / 2
    enqueue_new(kept, 1, m)
    return out
end

-- The notify section of a script's ARGV at a[b]: a count m, then m pairs
-- (job index, echo). Returns the table enqueue_jobs() takes (nil when
-- absent or empty) and the index after the section.
local function notify_args(a, b)
    local m = tonumber(a[b] or '0') or 0
    if m == 0 then return nil, b + 1 end
    local t = {}
    for k = 0, m - 1 do t[tonumber(a[b + 1 + 2 * k])] = a[b + 2 + 2 * k] end
    return t, b + 1 + 2 * m
end
