-- review_approve: `genq review approve`. ARGV: prefix, result_ttl_ms,
-- feed_maxlen, then ids. Each job in state review becomes succeeded: its
-- result document (kept, reasons included) gets state "succeeded", it
-- leaves the review set, its result expires like any other (done set),
-- one feed entry. Returns per id "approved", or the job's state
-- ("unknown" when absent; a repeated id "approved" once, then "succeeded").
local K_REVIEW = PREFIX .. 'review'
local ttl, feed_max = tonumber(ARGV[2]), tonumber(ARGV[3])
local now = now_ms()
local out, ev, n = {}, {}, 0
for i = 4, #ARGV do
    local id = ARGV[i]
    local m = meta_unpack(redis.call('HGET', K_META, id))
    local doc = redis.call('HGET', K_RESULTS, id)
    if m and m.state == 'review' and doc then
        -- {"id":"ID","state":"review",... -> "succeeded" (complete.lua)
        local at = #id + 19
        doc = string.sub(doc, 1, at - 1) .. 'succeeded' ..
            string.sub(doc, at + 6)
        m.state = 'succeeded'; m.upd = now
        redis.call('HSET', K_META, id, meta_pack(m))
        redis.call('HSET', K_RESULTS, id, doc)
        redis.call('ZADD', K_DONE, now + ttl, id)
        redis.call('ZREM', K_REVIEW, id)
        history_add(id, now, '', 'review_approved', nil)
        ev[#ev + 1] = id; ev[#ev + 1] = 'succeeded'
        n = n + 1
        out[#out + 1] = 'approved'
    else
        out[#out + 1] = m and m.state or 'unknown'
    end
end
if n > 0 then
    redis.call('HINCRBY', K_STATS, 'succeeded', n)
    redis.call('HINCRBY', K_STATS, 'review_approved', n)
    events_add(ev, feed_max, now)
end
return out
