-- results_page: one page of finished jobs for `genq results export`, in
-- order of their retention deadline (finish time + result TTL), oldest
-- first. Read-only. ARGV: prefix, cursor_score ("" = start), cursor_member,
-- min_ms ("-inf"), count. The done set's members are batches of ids
-- (prelude.lua DONE_SEP): a page is whole members, at least count jobs
-- unless the set ends (then fewer), at most count + DONE_CHUNK - 1; the
-- cursor is the last member of the previous page. Returns {next_score,
-- next_member, n, then n pairs: id, result} where result is false for a
-- job without one (canceled); n < count means the end.
local cs, cm, lo = ARGV[2], ARGV[3], ARGV[4]
local count = tonumber(ARGV[5])

-- read by cursor: the last member read and its score
local ids, mems, score = done_take(function(want)
    local mem, scores = zset_page(K_DONE, cs, cm, lo, '+inf', want, false)
    if #mem > 0 then cs, cm = scores[#scores], mem[#mem] end
    return mem, scores
end, count)
local out = {false, false, #ids}
if #ids == 0 then return out end
out[1] = score; out[2] = mems[#mems]
local res = redis.call('HMGET', K_RESULTS, unpack(ids))
for i, id in ipairs(ids) do
    out[#out + 1] = id
    out[#out + 1] = res[i] or false
end
return out
