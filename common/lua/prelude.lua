-- genq prelude: prepended to every script (common/scripts.c; then
-- queue_keys.lua and transitions.lua to all but complete and extend, then
-- oplib.lua to all but the per-job ones). Key names, the packed per-job meta record's
-- patterns, the feed and tallies.
--
-- ARGV[1] is always the key prefix "genq:{Q}:", and every key name of the
-- queue is built from it here (the suffixes of common/keys.c qkey_suffix[]
-- and keys.h's QKEY_* names). KEYS holds ONE key of the queue (keys.h
-- QK_META: rclient.c, worker/rconn.c), there only for Redis Cluster's
-- routing (on a cluster then keys.h QKEY_GUARD, never touched here): every
-- name below shares its {Q} slot, and Redis allows a script same-slot keys
-- it did not declare. Passed as KEYS, each name cost Redis
-- ~1.8k instructions per call to parse and turn into a Lua string; one
-- concatenation here costs ~0.5k.
--
-- meta (hash field per job id) is one string, version 1 (common/meta.h is
-- the C side of the same format and says how a later version is tagged):
--   state|attempts|max_attempts|prio|token|worker|enqueued_ms|updated_ms|flags
-- state: queued delayed active succeeded dead canceled; prio: 0 high 1 normal
-- 2 low; max_attempts 0 = not yet resolved (claim sets the worker default);
-- token: the lease token of the current claim (fencing), "" when not active
-- (a succeeded job of a held claim keeps it: K_HELD below).
-- flags: "" or "cancel:TTL_MS" — an operator canceled the job while it was
-- active (cancel.lua); when its attempt fails in any way or its lease
-- expires it becomes canceled (kept TTL_MS in the done set); when it
-- succeeds the result is kept and it is succeeded. Version 1 begins with
-- the state, a lowercase word; a later version N begins "N|", which none
-- of the patterns below match (and the layout version in genq:layout,
-- common/layout.h, changes with it).
-- The one formatter is meta_record (meta_pack for a table:
-- transitions.lua); the parsers are the META_PAT patterns: the full one
-- (meta_unpack) and the ones the hot scripts use, which capture only what
-- they keep (every capture is a new Lua string: claim.lua, complete.lua
-- run them once per job).
-- Here the names complete.lua and extend.lua use; transitions.lua the
-- rest (each concatenation costs a call ~0.5k instructions).
local PREFIX = ARGV[1]
local K_META, K_LEASES = PREFIX .. 'meta', PREFIX .. 'leases'
local K_RESULTS, K_DONE = PREFIX .. 'results', PREFIX .. 'done'
local K_PROGRESS, K_STATS = PREFIX .. 'progress', PREFIX .. 'stats'
-- (genq:{Q}:events, qkey_suffix[]'s "events", is no longer written: the
-- feed, K_FEED, has the same transitions, one entry per job.)
-- The public keys of protocol version 1 (README "Producers and consumers in
-- any language"; keys.h QKEY_FEED, QKEY_NOTIFY): the completion feed, and
-- the echo of each job that has a notify list, id -> the JSON object text
-- of the metadata fields it names (written at enqueue).
local K_FEED, K_NOTIFY = PREFIX .. 'feed', PREFIX .. 'notify'
-- the feed's bound when the caller passes none (worker --feed-maxlen)
local FEED_MAXLEN_DEFAULT = 100000
-- What `genq stats` reads instead of scanning events (keys.h QKEY_TALLY,
-- QKEY_LAT): per-second tallies of terminal transitions, hash fields
-- "s:SEC", "d:SEC", "c:SEC" (succeeded, dead, canceled in unix second SEC;
-- one HINCRBY per state and batch, maintain.lua prunes them to ~70 s); and
-- the latency_ms of recent succeeded jobs, newest first (a list: one LPUSH
-- per batch of completions, trimmed to LAT_SAMPLES elements once longer
-- than 2 * LAT_SAMPLES; an
-- element is one job's, or a whole batch's joined by ',' in completion
-- order when the worker sends them so: stats.lua reads the newest
-- LAT_SAMPLES latencies of them).
local K_TALLY, K_LAT = PREFIX .. 'tally', PREFIX .. 'lat'
local LAT_SAMPLES = 200
-- A member the leases sorted set always holds (score +inf: never reaped,
-- never a job). Longer than zset-max-listpack-value (64), it keeps the set
-- a skiplist: as a listpack of ~100 members (a worker at concurrency 100)
-- every ZADD and ZREM scanned and moved the whole set, a quarter of Redis's
-- work per job. So ZCARD counts one more than the leases (max(n - 1, 0)).
local LEASE_PIN = '~genq: this member keeps the leases sorted set a skiplist, ' ..
    'it is not a job~'
-- The done sorted set (K_DONE, layout 4) is the retention index of finished
-- jobs: a member is the ids of jobs whose records go at the same time (its
-- score, ms), joined by DONE_SEP (a byte no job id holds: job.h, the ids'
-- class A-Z a-z 0-9 . _ : -). complete.lua adds one member per call (per
-- DONE_CHUNK ids) instead of one per job, which cost Redis about a tenth of
-- its CPU per job (a skiplist and a dict insert each, cache misses on a set
-- as big as the retained results); a canceled or approved job is a member
-- of one id, as every member was in layout 3. maintain.lua sweeps whole
-- members, results_page.lua pages by them.
local DONE_SEP, DONE_CHUNK = ',', 1000

-- Layout 5: a claimed inline job (transitions.lua job_header) is not
-- copied into the jobs hash. claim.lua appends the claim's inline elements,
-- (id, element) pairs, to one list of the claim, PREFIX .. 'held:' .. SEQ
-- (SEQ: the lease token's counter, the token "SEQ:MS:h" then), and counts
-- the claim's jobs (all of them) in K_HELD, SEQ -> jobs still active. An
-- insert of a ~350-byte value into a hash as big as the backlog cost Redis
-- ~8 % of its CPU per job (cache misses); an append to a small list does
-- not. Every way out of active (held_left) counts down: complete.lua
-- (succeeded, review), fail.lua, the reaper, release.lua. A way out other
-- than succeeded first moves the job's element into the jobs hash
-- (held_move), so a queued, delayed, dead, canceled or review job has its
-- request where it always had, and its copy in the list blanked.
-- When the count reaches 0 the list expires with the retention of its
-- succeeded jobs (the latest of their result deadlines: while jobs are
-- still active it waits in K_HELD under SEQ .. 'x', ms), or goes at once
-- when none succeeded. A succeeded job's meta record keeps its token, so
-- the dashboard's job view finds the element (inspect.lua).
local K_HELD = PREFIX .. 'held'

-- The counter SEQ of a held claim's token ("SEQ:MS:h"), nil for a plain
-- token (or "").
local function held_seq(tok)
    return string.byte(tok, -1) == 104 and string.match(tok, '^(%d+)') or nil
end

-- The element of job id in the list of held claim seq, or nil; then the
-- list's key and the id's index there. cache (optional: a table the caller
-- keeps for one script call): a second lookup in the same list reads the
-- whole list once and maps its ids, where an LPOS scan per job made moving
-- a claim's 1,000 jobs (a batch's record, a release) ~10^6 comparisons.
local function held_element(seq, id, cache)
    local key = PREFIX .. 'held:' .. seq
    local c = cache and cache[key]
    if c == true then
        local l, at = redis.call('LRANGE', key, 0, -1), {}
        for i = 1, #l - 1, 2 do at[l[i]] = i end
        c = {at = at, l = l}
        cache[key] = c
    end
    if c then
        local i = c.at[id]
        if not i then return nil end
        return c.l[i + 1], key, i - 1
    end
    if cache then cache[key] = true end
    local i = redis.call('LPOS', key, id)
    if not i then return nil end
    return redis.call('LINDEX', key, i + 1), key, i
end

-- Job id of held claim seq no longer needs its element kept with the
-- claim (it leaves active other than succeeded, or a batch records it):
-- the element moves into the jobs hash, where a queued, dead, canceled,
-- review or batched job's request is, and its pair in the list is blanked
-- (a purge there then leaves no copy behind). cache: held_element's.
local function held_move(id, seq, cache)
    local e, key, i = held_element(seq, id, cache)
    if not e then return end
    redis.call('HSET', PREFIX .. 'jobs', id, e)
    redis.call('LSET', key, i, '')
    redis.call('LSET', key, i + 1, '')
end

-- n jobs of held claim seq left active; exp: the retention (ms since the
-- epoch, a number) of the succeeded among them, nil when none succeeded.
-- The latest retention is kept: workers may differ in --result-ttl.
local function held_left(seq, n, exp)
    local left = redis.call('HINCRBY', K_HELD, seq, -n)
    if left > 0 and not exp then return end
    local x = tonumber(redis.call('HGET', K_HELD, seq .. 'x'))
    if x and (not exp or x > exp) then exp = x end
    if left > 0 then
        if exp ~= x then redis.call('HSET', K_HELD, seq .. 'x', exp) end
        return
    end
    redis.call('HDEL', K_HELD, seq, seq .. 'x')
    if exp then
        redis.call('PEXPIREAT', PREFIX .. 'held:' .. seq, exp)
    else
        redis.call('DEL', PREFIX .. 'held:' .. seq)
    end
end

local function now_ms()
    local t = redis.call('TIME')
    return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local META_PAT =
    '^([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)$'
-- claim.lua: queued records only → attempts, "max|prio" (one capture:
-- each is a string made), enqueued, flags
local META_PAT_QUEUED =
    '^queued|([^|]*)|([^|]*|[^|]*)|[^|]*|[^|]*|([^|]*)|[^|]*|([^|]*)$'
-- claim.lua: the header of a bulk-stored value (job_header), matched on
-- the value itself, or on an inline element after its "@ID|" prefix →
-- attempts, "max|prio", enqueued, flags
local META_PAT_HEADER =
    '^queued|([^|]*)|([^|]*|[^|]*)|[^|]*|[^|]*|([^|]*)|[^|]*|([^|\n]*)\n'
-- complete.lua: a result document of worker/flush.c opens with
-- {"id":ID, then this, then the latency's digits (found with a plain find)
local SUCC_LAT = '"state":"succeeded","latency_ms":'
-- extend.lua: active records only → token (the rest is not read)
local META_PAT_TOKEN = '^active|[^|]*|[^|]*|[^|]*|([^|]*)|'

-- The public completion feed (schemas/feed-entry.schema.json): one entry
-- per job of the flat {id1, state1, ...}, fields v id state queue, and
-- metadata (the job's notify field, as is) when it has one; the last entry
-- of the batch added with MAXLEN ~ maxlen (nil: FEED_MAXLEN_DEFAULT; 0:
-- the feed is off), which trims as an XTRIM would, cheaper than a MAXLEN
-- on every XADD and a command fewer than an XTRIM. The notify hash is read
-- only while it exists (no_echo: the caller knows it does not): no HMGET
-- for queues that never echo. With state given, the list is instead the
-- n ids {id1, id2, ...} of jobs all in that state (complete.lua: no pairs
-- table of its own).
local function feed_add(pairs_list, maxlen, state, n, no_echo)
    n = n or #pairs_list
    maxlen = maxlen or FEED_MAXLEN_DEFAULT
    if n == 0 or maxlen <= 0 then return end
    local step = state and 1 or 2 -- list elements per job
    local echo
    if not no_echo and redis.call('EXISTS', K_NOTIFY) == 1 then
        local ids = {}
        for i = 1, n, step do ids[#ids + 1] = pairs_list[i] end
        echo = redis.call('HMGET', K_NOTIFY, unpack(ids))
    end
    local q = string.sub(PREFIX, 7, -3) -- "genq:{Q}:" -> Q
    local j = 0 -- the job's index (echo)
    for i = 1, n, step do
        j = j + 1
        local e = echo and echo[j]
        local st, id = state or pairs_list[i + 1], pairs_list[i]
        if i <= n - step then
            if e then
                redis.call('XADD', K_FEED, '*', 'v', '1', 'id', id,
                           'state', st, 'queue', q, 'metadata', e)
            else
                redis.call('XADD', K_FEED, '*', 'v', '1', 'id', id,
                           'state', st, 'queue', q)
            end
        elseif e then
            redis.call('XADD', K_FEED, 'MAXLEN', '~', maxlen, '*', 'v', '1',
                       'id', id, 'state', st, 'queue', q, 'metadata', e)
        else
            redis.call('XADD', K_FEED, 'MAXLEN', '~', maxlen, '*', 'v', '1',
                       'id', id, 'state', st, 'queue', q)
        end
    end
end

-- Flat {id1, state1, id2, state2, ...} of transitions at now (ms: a
-- number, or its digits as a string, whose second is then cut from it
-- instead of formatted: a number turned into a string costs a sprintf) → the
-- per-second tallies of `genq stats` (K_TALLY) and one feed entry per job
-- (feed_add, bound feed_max: `genq results` tails the feed). nsucc: how
-- many of the pairs are succeeded when the caller knows (complete.lua: all
-- of them, as a string), else nil (counted here); then state and n: the list is
-- the n ids of jobs all in that state (feed_add); no_echo: the notify
-- hash is known not to exist (feed_add). (Until issue 15 this
-- also wrote one entry per batch to the events stream, KEYS[14]: nothing
-- reads it now.)
local function events_add(pairs_list, feed_max, now, nsucc, state, n,
                          no_echo)
    n = n or #pairs_list
    if n == 0 then return end
    local sec = type(now) == 'string' and ':' .. string.sub(now, 1, -4)
        or ':' .. math.floor(now / 1000)
    if nsucc then
        redis.call('HINCRBY', K_TALLY, 's' .. sec, nsucc)
    else
        local c = {succeeded = 0, dead = 0, canceled = 0}
        for i = 2, n, 2 do
            local st = pairs_list[i]
            if c[st] then c[st] = c[st] + 1 end
        end
        for st, v in pairs(c) do
            if v > 0 then
                redis.call('HINCRBY', K_TALLY, string.sub(st, 1, 1) .. sec, v)
            end
        end
    end
    feed_add(pairs_list, feed_max, state, n, no_echo)
end

-- A table for m elements filled in order from 1: its array part made at
-- once (the constructor's SETLIST sizes it), where appending grows it by
-- doubling, each step a rehash of every element (~250 instructions per
-- element at 50 jobs per call). Past 4000 it grows as usual (unpack's
-- stack limit). Its length operator is not to be trusted: callers count.
local NO_ELEMENTS = {}
local function table_sized(m)
    return {unpack(NO_ELEMENTS, 1, math.min(m, 4000))}
end

