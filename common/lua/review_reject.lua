-- review_reject: `genq review reject`. ARGV: prefix, mode, feed_maxlen,
-- then pairs id, arg. Only jobs in state review change; each leaves the
-- review set and its flagged result is deleted.
--  mode "dead": arg is the error JSON (class review_rejected, built by
--  genq): the job goes to dead (dead set, feed entry).
--  mode "regenerate": arg is the new payload (the job with the reviewer's
--  note appended to its prompt, built and validated by genq): the job is
--  queued again behind the waiting ones, attempts kept, history entry
--  "review_regenerate"; the wake channel is published once.
-- Returns per id "rejected" / "requeued", or the job's state ("unknown"
-- when absent).
local K_REVIEW = PREFIX .. 'review'
local mode, feed_max = ARGV[2], tonumber(ARGV[3])
local now = now_ms()
local out, ev, n = {}, {}, 0
for i = 4, #ARGV - 1, 2 do
    local id, arg = ARGV[i], ARGV[i + 1]
    local m = meta_unpack(redis.call('HGET', K_META, id))
    if m and m.state == 'review' then
        redis.call('ZREM', K_REVIEW, id)
        redis.call('HDEL', K_RESULTS, id)
        if mode == 'dead' then
            history_add(id, now, '', 'review_rejected', arg)
            to_dead(id, m, now, arg, ev)
            out[#out + 1] = 'rejected'
        else
            redis.call('HSET', K_JOBS, id, arg)
            m.state = 'queued'; m.token = ''; m.upd = now; m.flags = ''
            m.attempts = 0 -- a new generation, not a retry
            redis.call('HSET', K_META, id, meta_pack(m))
            history_add(id, now, '', 'review_regenerate', nil)
            redis.call('LPUSH', K_READY[m.prio + 1], id)
            out[#out + 1] = 'requeued'
        end
        n = n + 1
    else
        out[#out + 1] = m and m.state or 'unknown'
    end
end
if n > 0 then
    redis.call('HINCRBY', K_STATS, mode == 'dead' and 'review_rejected' or
               'review_regenerated', n)
    if mode == 'dead' then events_add(ev, feed_max, now)
    else wake(n) end
end
return out
