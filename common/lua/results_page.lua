-- results_page: one page of finished jobs for `genq results export`, in
-- order of their retention deadline (finish time + result TTL), oldest
-- first. Read-only. ARGV: prefix, cursor_score ("" = start), cursor_id,
-- min_ms ("-inf"), count. The cursor is the last entry of the previous
-- page. Returns {next_score, next_id, n, then n pairs: id, result} where
-- result is false for a job without one (canceled); n < count means the
-- end.
local cs, cm, lo = ARGV[2], ARGV[3], ARGV[4]
local count = tonumber(ARGV[5])

-- Byte-wise a > b (Lua's > on strings follows the server's locale).
local function gt(a, b)
    local n = math.min(#a, #b)
    for i = 1, n do
        local x, y = string.byte(a, i), string.byte(b, i)
        if x ~= y then return x > y end
    end
    return #a > #b
end

local ids, scores = {}, {}
if cs ~= '' then
    local ties = redis.call('ZRANGE', K_DONE, cs, cs, 'BYSCORE')
    for _, id in ipairs(ties) do
        if #ids >= count then break end
        if gt(id, cm) then ids[#ids + 1] = id; scores[#scores + 1] = cs end
    end
    lo = '(' .. cs
end
if #ids < count then
    local r = redis.call('ZRANGE', K_DONE, lo, '+inf', 'BYSCORE', 'LIMIT', 0,
                         count - #ids, 'WITHSCORES')
    for i = 1, #r, 2 do
        ids[#ids + 1] = r[i]; scores[#scores + 1] = r[i + 1]
    end
end
local out = {false, false, #ids}
if #ids == 0 then return out end
out[1] = scores[#scores]; out[2] = ids[#ids]
local res = redis.call('HMGET', K_RESULTS, unpack(ids))
for i, id in ipairs(ids) do
    out[#out + 1] = id
    out[#out + 1] = res[i] or false
end
return out
