-- ready_find: find queued inline jobs by id (`genq status`, `genq cancel`,
-- `genq result`, the dashboard's job view: enqueue-tool/ready_find.c). A
-- job enqueued by the bulk path of `genq enqueue` has, until it is
-- claimed, nothing but its element in a ready list (transitions.lua: inline
-- jobs), so no key finds it: this script scans a ready list one bounded
-- chunk per call (the client loops; never one long script) and turns each
-- inline element of a wanted id into a plain entry, as the other enqueue
-- paths store jobs: the element is replaced by the id in place (LSET: same
-- position), its text becomes the jobs-hash value (prefix and header kept,
-- as a job that leaves a held claim has it) and its header the meta
-- field. After that every script
-- finds the job by key. O(backlog) for a not-yet-claimed bulk job, one
-- call for any other.
-- ARGV: prefix, p (0 = first call; else the ready list 1 high .. 3 low),
-- offset (from the newest end, index 0: jobs pushed meanwhile only shift
-- the rest further, so nothing is skipped), count (elements per call, over
-- the lists: a short list's rest goes to the next one), then the wanted
-- ids. The first call drops the ids already known by key
-- (a jobs or meta field) and scans from the start of list 1.
-- Returns {next_p, next_offset, found, ids still wanted...}: next_p 0 when
-- done (nothing wanted any more, or every list scanned).
local p, off, cnt = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local ids = {}
for i = 5, #ARGV do ids[#ids + 1] = ARGV[i] end
if p == 0 then
    if #ids > 0 then
        local m = redis.call('HMGET', K_META, unpack(ids))
        local j = redis.call('HMGET', K_JOBS, unpack(ids))
        local keep = {}
        for i, id in ipairs(ids) do
            if not m[i] and not j[i] then keep[#keep + 1] = id end
        end
        ids = keep
    end
    p, off = 1, 0
end
local want, left, found = {}, 0, 0
for _, id in ipairs(ids) do
    if not want[id] then want[id] = true; left = left + 1 end
end
local budget = cnt
while left > 0 and p > 0 and budget > 0 do
    local key = K_READY[p]
    local els = redis.call('LRANGE', key, off, off + budget - 1)
    for i, e in ipairs(els) do
        local id = string.match(e, '^@([^|]*)|')
        local h = id and want[id] and job_header(e)
        if h then
            redis.call('LSET', key, off + i - 1, id)
            redis.call('HSET', K_JOBS, id, e)
            redis.call('HSET', K_META, id, h)
            want[id] = nil
            left, found = left - 1, found + 1
        end
    end
    if #els < budget then p, off = p + 1, 0 else off = off + #els end
    if p > 3 then p = 0 end
    budget = budget - #els
end
if left == 0 then p = 0 end
local out = {p, off, found}
for _, id in ipairs(ids) do
    if want[id] then out[#out + 1] = id; want[id] = nil end
end
return out
