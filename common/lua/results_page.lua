-- results_page: one page of finished jobs for `genq results export`, in
-- order of their retention deadline (finish time + result TTL), oldest
-- first. Read-only. ARGV: prefix, cursor_score ("" = start), cursor_id,
-- min_ms ("-inf"), count. The cursor is the last entry of the previous
-- page. Returns {next_score, next_id, n, then n pairs: id, result} where
-- result is false for a job without one (canceled); n < count means the
-- end.
local cs, cm, lo = ARGV[2], ARGV[3], ARGV[4]
local count = tonumber(ARGV[5])

local ids, scores = zset_page(K_DONE, cs, cm, lo, '+inf', count, false)
local out = {false, false, #ids}
if #ids == 0 then return out end
out[1] = scores[#scores]; out[2] = ids[#ids]
local res = redis.call('HMGET', K_RESULTS, unpack(ids))
for i, id in ipairs(ids) do
    out[#out + 1] = id
    out[#out + 1] = res[i] or false
end
return out
