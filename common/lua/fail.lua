-- fail: an attempt did not succeed. ARGV: prefix, then per job id, token,
-- kind, backoff_ms, error_json (an error object with its class), then
-- optionally the feed's bound (worker --feed-maxlen; absent:
-- FEED_MAXLEN_DEFAULT).
-- kind "retry": the job's own fault: delayed by backoff_ms while attempts
--   remain, else dead with class "exhausted";
-- kind "dead": permanent error: dead at once;
-- kind "requeue": not the job's fault (auth, budget, shutdown): back to
--   the end of its ready list, attempt not counted;
-- kind "throttle": rate limited or overloaded after every in-attempt retry
--   (429/529): like "requeue", but every THROTTLE_COUNT-th consecutive one
--   counts as a failed attempt ("retry"), so a job whose own request always
--   draws a 429 (too large for the token rate limit) cannot loop forever.
-- A job flagged by `genq cancel` while active becomes canceled instead,
-- whatever the kind. Only the current lease holder may fail a job
-- (fencing). Returns per job the new state ("delayed", "dead", "queued",
-- "canceled") or "stale".
local THROTTLE_COUNT = 10
local now = now_ms()
local na, feed_max = #ARGV, nil
if na % 5 == 2 then feed_max = tonumber(ARGV[na]); na = na - 1 end
local ids = {}
for i = 2, na, 5 do ids[#ids + 1] = ARGV[i] end
if #ids == 0 then return {} end
local metas = redis.call('HMGET', K_META, unpack(ids))
local out, ev, gone, hc, seen = {}, {}, {}, held_ctx(), {}
for i, id in ipairs(ids) do
    local b = 2 + (i - 1) * 5
    local tok, kind = ARGV[b + 1], ARGV[b + 2]
    local backoff, err = tonumber(ARGV[b + 3]), ARGV[b + 4]
    local m = meta_unpack(metas[i])
    -- (a repeated id: its first entry took the job out of active, which
    -- the records read above do not show yet)
    if seen[id] or not (m and m.state == 'active' and m.token == tok) then
        out[i] = 'stale'
    else
        seen[id] = true
        gone[#gone + 1] = id
        held_restore(hc, id, tok)
        local w = m.worker
        if kind == 'throttle' then
            -- uncounted throttles so far are kept in the flags as rq:N
            local rq = tonumber(string.match(m.flags, 'rq:(%d+)') or '0') + 1
            local rest = string.gsub(m.flags, ',?rq:%d+', '')
            if rq >= THROTTLE_COUNT then
                kind = 'retry'
                m.flags = rest
            else
                kind = 'requeue'
                m.flags = rest .. ',rq:' .. rq
            end
        end
        local cttl = cancel_ttl(m)
        if cttl then
            -- `genq cancel` flagged it while active: any failure cancels.
            history_add(id, now, w, 'canceled', err)
            if kind == 'requeue' then m.attempts = m.attempts - 1 end
            to_canceled(id, m, now, cttl, cancel_err(
                'canceled by an operator; then its attempt ended without ' ..
                'success'), ev)
            out[i] = 'canceled'
        elseif kind == 'requeue' then
            history_add(id, now, w, 'requeued', err)
            m.attempts = m.attempts - 1
            m.state = 'queued'; m.token = ''; m.upd = now
            redis.call('HSET', K_META, id, meta_pack(m))
            -- to the end of the line: a job the API keeps refusing must not
            -- block the ones behind it
            redis.call('LPUSH', K_READY[m.prio + 1], id)
            redis.call('HINCRBY', K_STATS, 'requeued', 1)
            out[i] = 'queued'
        elseif kind == 'retry' and m.attempts < m.max then
            history_add(id, now, w, 'retry', err)
            m.state = 'delayed'; m.token = ''; m.upd = now
            redis.call('HSET', K_META, id, meta_pack(m))
            redis.call('HSET', K_ERRORS, id, err)
            redis.call('ZADD', K_DELAYED, now + backoff, id)
            redis.call('HINCRBY', K_STATS, 'retried', 1)
            out[i] = 'delayed'
        else
            if kind == 'retry' then
                local e = cjson.decode(err)
                e.class = 'exhausted'
                err = cjson.encode(e)
            end
            history_add(id, now, w, 'dead', err)
            to_dead(id, m, now, err, ev)
            out[i] = 'dead'
        end
        if kind ~= 'requeue' then redis.call('HINCRBY', K_STATS, 'failed', 1) end
    end
end
if #gone > 0 then
    redis.call('ZREM', K_LEASES, unpack(gone))
    redis.call('HDEL', K_PROGRESS, unpack(gone))
    held_done(hc)
end
events_add(ev, feed_max, now)
return out
