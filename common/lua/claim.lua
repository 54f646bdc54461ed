-- claim: lease up to n ready jobs. ARGV: prefix, worker, n, visibility_ms,
-- default_max_attempts[, feed_maxlen (absent: the default)]. Reaps expired leases and promotes due delayed jobs
-- first. Returns {status, id1, token1, attempts1, payload1, ...}; status is
-- "ok" or "paused" (nothing claimed). A payload may carry a bulk-enqueue
-- header (its meta record and a newline before the JSON, see job_header),
-- itself after the "@ID|" prefix of an inline job: the worker skips both
-- (meta_header_len). A ready list element is a job id, or an inline job
-- (transitions.lua job_header): claimed, the element itself goes to the
-- claim's held list (layout 5: prelude.lua K_HELD).
local worker, n = ARGV[2], tonumber(ARGV[3])
local vis, defmax = tonumber(ARGV[4]), tonumber(ARGV[5])
local now = now_ms()
local now_s = tostring(now)
-- reap and promote (transitions.lua) only when a lease expired or a
-- delayed job is due: their definitions (transitions_lazy, common/
-- scripts.c) cost a call ~20k instructions, a check of both sets ~4k
if redis.call('ZRANGEBYSCORE', K_LEASES, '-inf', now_s, 'LIMIT', '0', '1')[1]
    or redis.call('ZRANGEBYSCORE', K_DELAYED, '-inf', now_s, 'LIMIT', '0',
                  '1')[1] then
    local reap, promote = transitions_lazy()
    reap(now, 100, vis, tonumber(ARGV[6]))
    promote(now, 1000)
end
if redis.call('EXISTS', K_PAUSED) == 1 then return {'paused'} end
-- plain ids (their fields read below) apart from inline jobs (64: '@')
local ids, inl, ni, nl = {}, {}, 0, 0
local byte, sfind, smatch, ssub = string.byte, string.find, string.match,
    string.sub
for p = 1, 3 do
    local want = n - ni - nl
    if want <= 0 then break end
    -- n as the caller sent it while nothing is popped yet: a number
    -- argument costs Redis a sprintf
    local got = redis.call('RPOP', K_READY[p], want == n and ARGV[3] or want)
    if got then
        for i = 1, #got do
            local e = got[i]
            if byte(e, 1) == 64 then
                nl = nl + 1; inl[nl] = e
            else
                ni = ni + 1; ids[ni] = e
            end
        end
    end
end
local out = {'ok'}
if ni + nl == 0 then return out end
local metas, payloads = {}, {}
if ni > 0 then
    metas = redis.call('HMGET', K_META, unpack(ids))
    payloads = redis.call('HMGET', K_JOBS, unpack(ids))
end
-- one lease token for the jobs of this call (fencing pairs it with the id):
-- a counter and the claim time, so a counter rolled back by a Redis crash
-- (appendfsync everysec) can never hand out a token twice
-- (layout 5, prelude.lua K_HELD: ":h" when inline jobs were popped, whose
-- elements the claim's held list keeps)
-- (the counter's digits by %d: a number concatenated is "%.14g", which
-- past 14 digits would be an exponent form)
local seq = string.format('%d', redis.call('INCR', K_SEQ))
local token = seq .. ':' .. now_s .. (nl > 0 and ':h' or '')
local mset, lset = {}, {'+inf', LEASE_PIN}
local deadline = tostring(now + vis) -- converted once, not per job
local defmax_s = tostring(defmax)
local k, o = 2, 1 -- filled: lset (the pin first), out; mset has k - 2
-- the next attempt of the usual counts, as string and number, without a C
-- call per job (tonumber, string.char)
local NEXT_S = {['0'] = '1', ['1'] = '2', ['2'] = '3', ['3'] = '4',
    ['4'] = '5', ['5'] = '6', ['6'] = '7', ['7'] = '8', ['8'] = '9'}
local NEXT_N = {['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5,
    ['5'] = 6, ['6'] = 7, ['7'] = 8, ['8'] = 9}
local jset, kj = {}, 1 -- the inline jobs' (id, element) pairs
-- the record's constant pieces: "|token|worker|" and "|now|"
local tokw, nowb = '|' .. token .. '|' .. worker .. '|', '|' .. now_s .. '|'
-- "max|prio" as captured -> as written: max "0" (unresolved) becomes the
-- worker's default; a few values per call, each resolved once
local MP = {}
-- the plain ids, then the inline jobs: one loop body, one match per job
for pass = 1, 2 do
local list = pass == 1 and ids or inl
for i = 1, #list do
    local id, at, mp, enq, fl, payload
    if pass == 1 then
        id, payload = list[i], payloads[i]
        -- a bulk-enqueued job claimed for the first time: its meta is the
        -- header of its stored value (cut off by the worker)
        local mrec = metas[i]
        if mrec then
            at, mp, enq, fl = smatch(mrec, META_PAT_QUEUED)
        elseif payload then
            -- no job_header() copy: one match on the stored value
            at, mp, enq, fl = smatch(payload, META_PAT_HEADER)
        end
    else
        -- claimed: the element itself goes to the held list. Its
        -- "@ID|" prefix (transitions.lua job_header) by a plain find, then
        -- the header's pattern from there: a pattern class per byte of the
        -- id cost ~36 instructions each
        payload = list[i]
        local bar = sfind(payload, '|', 2, true)
        if bar then
            at, mp, enq, fl = smatch(payload, META_PAT_HEADER, bar + 1)
        end
        if at then
            id = ssub(payload, 2, bar - 1)
            jset[kj] = id; jset[kj + 1] = payload; kj = kj + 2
        end
    end
    -- A list entry whose job was canceled or purged meanwhile is dropped.
    if at and payload then
        local attempts, att_s = NEXT_N[at], NEXT_S[at]
        if not attempts then
            attempts = tonumber(at) + 1
            att_s = tostring(attempts)
        end
        local mpw = MP[mp]
        if not mpw then
            mpw = ssub(mp, 1, 2) == '0|' and defmax_s .. ssub(mp, 2)
                or mp
            MP[mp] = mpw
        end
        mset[k - 1] = id
        -- meta_record('active', att_s, max, prio, token, worker, enq,
        -- now_s, fl) inlined: a function call per job costs Redis ~1k
        -- instructions
        mset[k] = 'active|' .. att_s .. '|' .. mpw .. tokw .. enq .. nowb .. fl
        k = k + 2
        lset[k - 1] = deadline; lset[k] = id
        out[o + 1] = id; out[o + 2] = token
        out[o + 3] = attempts; out[o + 4] = payload
        o = o + 4
    end
end
end
if kj > 1 then redis.call('RPUSH', PREFIX .. 'held:' .. seq, unpack(jset)) end
if #mset > 0 then
    -- every job of a held token counts (prelude.lua held_left)
    if nl > 0 then redis.call('HSET', K_HELD, seq, (k - 2) / 2) end
    redis.call('HSET', K_META, unpack(mset))
    redis.call('ZADD', K_LEASES, unpack(lset))
end
return out
