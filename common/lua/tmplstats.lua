-- tmplstats: add a batch of per-template figures (worker/tmplstats.c) to
-- the queue's template hash, PREFIX .. 'tmplstats' (keys.h QKEY_TMPLSTATS).
-- ARGV: prefix, then field, increment pairs ("REF|jobs" 3, "REF|h:41" 1,
-- ...). Returns the number of fields changed.
local key = PREFIX .. 'tmplstats'
local n = 0
for i = 2, #ARGV - 1, 2 do
    redis.call('HINCRBY', key, ARGV[i], ARGV[i + 1])
    n = n + 1
end
return n
