-- complete: store results of succeeded jobs. ARGV: prefix, result_ttl_ms,
-- then per job id, token, result_json, then optionally the feed's bound
-- (worker --feed-maxlen; absent: FEED_MAXLEN_DEFAULT) and after it
-- optionally the latency_ms of every job's document, in order, joined by
-- ',' (worker/flush.c: then the latency sample, K_LAT, takes them as one
-- element when every job succeeded, instead of reading each document;
-- absent, or when some job did not succeed, each document's is read as
-- before). Only the current
-- lease holder may complete (fencing). Returns per job 1 (stored) or 0
-- (stale: not written). A result the worker's content review flagged
-- (its document opens {"id":"ID","state":"review": worker/flush.c
-- result_doc) goes to state review instead: kept in the results hash with
-- its reasons, in the review set (PREFIX .. 'review', keys.h QKEY_REVIEW)
-- until `genq review approve|reject`; no expiry, no feed entry (not
-- terminal). The succeeded jobs of a call are one member of the done set
-- (DONE_CHUNK ids a member at most: prelude.lua says the format), not one
-- each.
local ttl = tonumber(ARGV[2])
local na, feed_max, lats = #ARGV, nil, nil
if na % 3 == 0 then
    feed_max = tonumber(ARGV[na]); na = na - 1
elseif na % 3 == 1 then
    feed_max, lats = tonumber(ARGV[na - 1]), ARGV[na]; na = na - 2
end
local now = now_ms()
local now_s = tostring(now)       -- converted once, not per job
local expire_s = tostring(now + ttl)
-- Counters instead of #t: this runs once per completed job, and every #t
-- is a search of the table.
-- the string functions as locals: a global and a field lookup fewer per call
local smatch, sbyte, sfind, ssub = string.match, string.byte, string.find,
    string.sub
local ids, n = table_sized((na - 2) / 3), 0
for i = 3, na, 3 do n = n + 1; ids[n] = ARGV[i] end
if n == 0 then return {} end
local metas = redis.call('HMGET', K_META, unpack(ids))
-- filled in order: presized (table_sized), not grown one rehash at a time
local out, rset, mset = table_sized(n), table_sized(2 * n), table_sized(2 * n)
local done, sids = table_sized(n), table_sized(n)
local k, d = 0, 0 -- pairs in rset/mset; jobs done
local ns, rv = 0, {} -- ids in sids (the succeeded); the review set's pairs
local lat, nl = table_sized(n), 0 -- the succeeded jobs' indexes, then
-- their latency samples (K_LAT; nil: none)
-- token -> the pattern of an active record (prelude.lua META_PAT says the
-- format) holding it, capturing "attempts|max|prio", "worker|enqueued" and
-- the flags' position; false: not a token claim.lua makes (a number, ':',
-- a number, then ":h" for a held claim), so never this job's. One per
-- claim call the jobs come from; the token is matched in place, not
-- captured and compared.
local tpat = {}
-- held claim token -> {seq, n: its jobs done here, ok: one succeeded}
-- (layout 5: prelude.lua held_left); the ids done here (a repeated id is
-- stale: its first entry took the job out of active, which the records
-- read above do not show yet)
local hc, seen = {}, {}
-- The latency_ms of a succeeded job's document (id of length l): its
-- digits right after the prefix (the worker's order), else (another
-- writer's order: batch results) after a plain find of the name; nil when
-- it has none.
local function doc_latency(doc, l)
    if sfind(doc, SUCC_LAT, l + 10, true) == l + 10 then
        return smatch(doc, '^%d+', l + 43)
    end
    local lp = sfind(doc, '"latency_ms":', 1, true)
    return lp and smatch(doc, '^%d+', lp + 13)
end
-- Whether a stored job's document (id of length l) whose state was not
-- found at once (the usual succeeded: no call) is the worker's review
-- result: it opens {"id":ID,"state":"review
local function is_review(doc, l)
    return sbyte(doc, l + 19) == 114 and -- 'r': then the prefix
        ssub(doc, l + 10, l + 24) == '"state":"review'
end
for i = 1, n do
    local id, b, m = ids[i], 3 * i, metas[i]
    local amp, we, fp
    local tok = ARGV[b + 1]
    if m then
        local pat = tpat[tok]
        if pat == nil then
            pat = (sfind(tok, '^%d+:%d+$') or sfind(tok, '^%d+:%d+:h$')) and
                '^active|([^|]*|[^|]*|[^|]*)|' .. tok .. '|([^|]*|[^|]*)|[^|]*|()'
            tpat[tok] = pat
            local seq = pat and held_seq(tok)
            if seq then hc[tok] = {seq = seq, n = 0, ok = false} end
        end
        if pat and not seen[id] then amp, we, fp = smatch(m, pat) end
    end
    if amp then
        seen[id] = true
        out[i] = 1
        k = k + 2; d = d + 1
        rset[k - 1] = id; rset[k] = ARGV[b + 2]
        mset[k - 1] = id
        done[d] = id
        -- meta_record with fields 2-4 and 6-7 as the one piece each they
        -- were captured as (tpat), the token emptied; the flags
        -- from their position fp ("" the usual: no new string)
        local fl = fp <= #m and ssub(m, fp) or ''
        local doc, l = ARGV[b + 2], #id
        -- the worker's document opens {"id":ID,"state":"succeeded",
        -- "latency_ms":N (worker/flush.c result_doc): its state by one
        -- plain find there
        local succ = sfind(doc, SUCC_LAT, l + 10, true) == l + 10
        -- a held claim's job ("SEQ:MS:h"): counted; succeeded, its record
        -- keeps the token (inspect.lua finds the element by it)
        local h = hc[tok]
        if h then h.n = h.n + 1 end
        if not succ and is_review(doc, l) then
            mset[k] = 'review|' .. amp .. '||' .. we .. '|' .. now_s .. '|' .. fl
            rv[#rv + 1] = now_s; rv[#rv + 1] = id
            -- waits for a reviewer: its request where a queued job's is
            if h then held_move(id, h.seq) end
        else
            if h then h.ok = true end
            mset[k] = 'succeeded|' .. amp .. '|' .. (h and tok or '') .. '|' ..
                we .. '|' .. now_s .. '|' .. fl
            ns = ns + 1; sids[ns] = id
            nl = nl + 1; lat[nl] = i
        end
    else
        out[i] = 0
    end
end
if d > 0 then
    redis.call('HSET', K_RESULTS, unpack(rset, 1, k))
    redis.call('HSET', K_META, unpack(mset, 1, k))
    redis.call('ZREM', K_LEASES, unpack(done, 1, d))
    -- the progress hash (some job reported progress: extend.lua) and the
    -- notify hash (some job echoes metadata: feed_add) only while they
    -- exist: a queue whose jobs do neither has neither, and one EXISTS of
    -- both says so; the ids of a batch are not worth converting into
    -- arguments of an HDEL that finds nothing
    local extra = redis.call('EXISTS', K_PROGRESS, K_NOTIFY) > 0
    if extra then redis.call('HDEL', K_PROGRESS, unpack(done, 1, d)) end
    if ns > 0 then
        -- the retention index: one member of their ids per DONE_CHUNK
        for a = 1, ns, DONE_CHUNK do
            redis.call('ZADD', K_DONE, expire_s,
                       table.concat(sids, DONE_SEP, a,
                                    math.min(ns, a + DONE_CHUNK - 1)))
        end
        -- the count formatted once for both HINCRBYs, the second of the
        -- tally cut from now_s (events_add)
        local nsucc = tostring(ns)
        redis.call('HINCRBY', K_STATS, 'succeeded', nsucc)
        -- sids are the feed's: no (id, state) table of its own
        events_add(sids, feed_max, now_s, nsucc, 'succeeded', ns,
                   not extra)
    end
    if lats and nl == n then
        -- every job succeeded: the worker's joined latencies, one element
        nl = 1; lat[1] = lats
    else
        -- else each succeeded job's from its document
        for j = 1, nl do
            local i = lat[j]
            lat[j] = doc_latency(ARGV[3 * i + 2], #ids[i])
        end
    end
    -- the samples (nil ones left out), newest last: LPUSH puts it first
    local k2 = 0
    for i = 1, nl do
        if lat[i] then k2 = k2 + 1; lat[k2] = lat[i] end
    end
    if k2 > 0 then
        -- the newest LAT_SAMPLES elements only: older ones would be
        -- trimmed at once. Trimmed back to LAT_SAMPLES once past twice
        -- that (the LPUSH says the length): one LTRIM in ~LAT_SAMPLES
        -- calls, not one a call (stats.lua reads the newest only)
        local len = redis.call('LPUSH', K_LAT,
                               unpack(lat, math.max(1, k2 - LAT_SAMPLES + 1), k2))
        if len > 2 * LAT_SAMPLES then
            redis.call('LTRIM', K_LAT, 0, LAT_SAMPLES - 1)
        end
    end
    -- the held lists' counts (a review job's element is in the jobs hash
    -- now: the retention is for a claim's succeeded only, and a list whose
    -- jobs all went to review goes with the last of them)
    local exp = now + ttl
    for _, h in pairs(hc) do
        if h.n > 0 then held_left(h.seq, h.n, h.ok and exp or nil) end
    end
    if #rv > 0 then
        redis.call('ZADD', PREFIX .. 'review', unpack(rv))
        redis.call('HINCRBY', K_STATS, 'review', #rv / 2)
    end
end
return out
