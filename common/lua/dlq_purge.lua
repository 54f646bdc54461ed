-- dlq_purge: `genq dlq purge`. ARGV: prefix, then ids (at most ~1000).
-- Only jobs whose state is dead are purged: their fields in every
-- per-queue hash (jobs, meta, errors, history, results, progress) and
-- their dead-set entry are deleted, and their idempotency key too when it
-- still names the job (so the same job may be enqueued again).
-- Returns per id "purged" or the job's state ("unknown" when absent).
local ids = {}
for i = 2, #ARGV do ids[#ids + 1] = ARGV[i] end
if #ids == 0 then return {} end
local metas = metas_get(ids)
local pays = payloads_get(ids)
local out, gone, seen = {}, {}, {}
for i, id in ipairs(ids) do
    local m = meta_unpack(metas[i])
    if seen[id] then
        out[i] = 'unknown'
    elseif m and m.state == 'dead' then
        seen[id] = true
        gone[#gone + 1] = id
        out[i] = 'purged'
        idem_forget(id, pays[i])
    else
        out[i] = m and m.state or 'unknown'
    end
end
if #gone > 0 then
    redis.call('ZREM', K_DEAD, unpack(gone))
    redis.call('HDEL', K_JOBS, unpack(gone))
    redis.call('HDEL', K_META, unpack(gone))
    redis.call('HDEL', K_ERRORS, unpack(gone))
    redis.call('HDEL', K_HISTORY, unpack(gone))
    redis.call('HDEL', K_RESULTS, unpack(gone))
    redis.call('HDEL', K_PROGRESS, unpack(gone))
    redis.call('HINCRBY', K_STATS, 'purged', #gone)
end
return out
