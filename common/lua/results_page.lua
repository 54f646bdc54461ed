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

local ids, out = {}, {false, false, 0}
-- 16 members the first read (one can be ~130 kB), then as many as jobs
-- are still wanted, at most 100 (a member holds one at least)
local want = 16
while #ids < count do
    local mem, scores = zset_page(K_DONE, cs, cm, lo, '+inf', want, false)
    for i, m in ipairs(mem) do
        if #ids >= count then break end
        done_ids(m, ids)
        cs, cm = scores[i], m
    end
    if #mem < want then break end
    want = math.max(1, math.min(count - #ids, 100))
end
out[3] = #ids
if #ids == 0 then return out end
out[1] = cs; out[2] = cm
local res = redis.call('HMGET', K_RESULTS, unpack(ids))
for i, id in ipairs(ids) do
    out[#out + 1] = id
    out[#out + 1] = res[i] or false
end
return out
