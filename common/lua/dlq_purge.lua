-- dlq_purge: `genq dlq purge`. ARGV: prefix, then ids (at most ~1000).
-- Only jobs whose state is dead are purged: their fields in every
-- per-queue hash (jobs, meta, errors, history, results, progress) and
-- their dead-set entry are deleted, and their idempotency key too when it
-- still names the job (so the same job may be enqueued again).
-- Returns per id "purged" or the job's state ("unknown" when absent).
local ids = {}
for i = 2, #ARGV do ids[#ids + 1] = ARGV[i] end
if #ids == 0 then return {} end
local pays = payloads_get(ids)
local gone = {}
local out = dead_each(ids, 'unknown', function(i, id)
    gone[#gone + 1] = id
    idem_forget(id, pays[i])
    return 'purged'
end)
if #gone > 0 then
    redis.call('ZREM', K_DEAD, unpack(gone))
    jobs_delete(gone)
    redis.call('HINCRBY', K_STATS, 'purged', #gone)
end
return out
