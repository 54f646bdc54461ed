-- review_page: one page of the review set (results the content review
-- flagged, oldest first), for `genq review ls|show`. Read-only.
-- ARGV: prefix, cursor_score ("" = start), cursor_id, count, then ids
-- (show: these ids instead of a page; a missing one gives false).
-- Returns {next_score, next_id, n, then n groups of 4: id, flagged_ms,
-- result document, meta} (false = absent); n < count means the end.
local K_REVIEW = PREFIX .. 'review'
local ids, scores = {}, {}
if #ARGV > 4 then
    for i = 5, #ARGV do
        ids[#ids + 1] = ARGV[i]
        scores[#scores + 1] = redis.call('ZSCORE', K_REVIEW, ARGV[i]) or false
    end
else
    ids, scores = zset_page(K_REVIEW, ARGV[2], ARGV[3], '-inf', '+inf',
                            tonumber(ARGV[4]), false)
end
local out = {false, false, #ids}
if #ids == 0 then return out end
out[1] = scores[#scores]; out[2] = ids[#ids]
local docs = redis.call('HMGET', K_RESULTS, unpack(ids))
local metas = metas_get(ids)
for i, id in ipairs(ids) do
    out[#out + 1] = id
    out[#out + 1] = scores[i]
    out[#out + 1] = docs[i] or false
    out[#out + 1] = metas[i] or false
end
return out
