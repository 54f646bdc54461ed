-- dlq_page: one page of the dead-letter set, newest first, for `genq dlq`
-- (ls, show, export, and the filters of requeue and purge). Read-only.
-- ARGV: prefix, cursor_score ("" = start), cursor_id, min_ms ("-inf"),
-- max_ms ("+inf"), count, detail, grep.
--  detail 0: ids and times only; 1: + meta and error; 2: + prompt excerpt
--  (ls); 3: + job payload and history (show, export).
--  grep "" = none; else per entry 1 when grep occurs (plain, case-sensitive)
--  in the stored job JSON or the error JSON.
-- The cursor is the last entry of the previous page (its died-at score and
-- id): entries removed meanwhile (requeued, purged) never make a page skip
-- others. Returns {next_score, next_id, n, then n groups of 8: id, died_ms,
-- meta, error, excerpt, grep_hit, payload, history} (false = not asked or
-- absent); n < count means the end.
-- A compressed stored job (common/pack.h: it opens with a tag byte below
-- "\t", which no JSON text does) cannot be read here: its excerpt is false,
-- its grep_hit 2 ("undecided") unless the error matched, and its stored
-- value is the payload whenever an excerpt or a grep was asked; the client
-- decodes it (enqueue-tool/dlq_unpack.c).
local cs, cm = ARGV[2], ARGV[3]
local lo, hi = ARGV[4], ARGV[5]
local count, detail, grep = tonumber(ARGV[6]), tonumber(ARGV[7]), ARGV[8]

local ids, scores = zset_page(K_DEAD, cs, cm, lo, hi, count, true)
local out = {false, false, #ids}
if #ids == 0 then return out end
out[1] = scores[#scores]; out[2] = ids[#ids]
local metas, errs, pays, hist = {}, {}, {}, {}
if detail >= 1 then metas = metas_get(ids) end
if detail >= 1 or grep ~= '' then
    errs = redis.call('HMGET', K_ERRORS, unpack(ids))
end
if detail >= 2 or grep ~= '' then
    pays = payloads_get(ids)
end
if detail >= 3 then hist = redis.call('HMGET', K_HISTORY, unpack(ids)) end

local function packed(p) return p and string.byte(p, 1) < 9 end

-- The user prompt of a stored job (prompt, or the first message's text),
-- cut to 300 bytes (the client cuts it at a character).
local function excerpt(p)
    if not p or packed(p) then return false end
    local ok, j = pcall(cjson.decode, p)
    if not ok or type(j) ~= 'table' then return string.sub(p, 1, 300) end
    local s = j.prompt
    if type(s) ~= 'string' and type(j.messages) == 'table' and
        type(j.messages[1]) == 'table' then
        local c = j.messages[1].content
        if type(c) == 'string' then
            s = c
        elseif type(c) == 'table' and type(c[1]) == 'table' then
            s = c[1].text
        end
    end
    if type(s) ~= 'string' then return '' end
    return string.sub(s, 1, 300)
end

for i, id in ipairs(ids) do
    local hit = 0
    if grep ~= '' then
        if (errs[i] and string.find(errs[i], grep, 1, true)) or
            (pays[i] and not packed(pays[i]) and
             string.find(pays[i], grep, 1, true)) then
            hit = 1
        elseif packed(pays[i]) then
            hit = 2
        end
    end
    out[#out + 1] = id
    out[#out + 1] = scores[i]
    out[#out + 1] = metas[i] or false
    out[#out + 1] = errs[i] or false
    out[#out + 1] = detail >= 2 and excerpt(pays[i]) or false
    out[#out + 1] = hit
    out[#out + 1] = (detail >= 3 or (packed(pays[i]) and
                                     (detail >= 2 or hit == 2))) and
        pays[i] or false
    out[#out + 1] = hist[i] or false
end
return out
