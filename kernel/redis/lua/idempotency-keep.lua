-- Keeps a write's sealed result for replays within its tenant's byte budget, or gives the write's
-- claim back (router/pipeline/result-keeping.ts). What a result costs is what Redis says it holds
-- (MEMORY USAGE of its key, after the SET) plus a fixed charge for its entry here; the tenant's
-- kept results are a sorted set of "<bytes>:<n>" scored by when each expires (ms, Redis's clock),
-- pruned here as they expire, and their sum is kept beside it: no scan, no work on reads.
-- KEYS: the result's place, the tenant's kept results (sorted set), the tenant's totals (hash:
-- bytes, n, refusing).
-- ARGV: the caller's claim (the place's value while its call runs), the sealed result, the window
-- (ms), the budget (bytes), the bytes charged for each entry of the set.
-- Returns {status, bytes, kept}: status 1 kept (bytes: its charge); 0 not kept, the claim given
-- back (bytes: 1 when this is the first refusal since a result was last kept, else 0); -1 the
-- place holds another call's record, left alone. kept: the tenant's bytes kept after.
local function nowMs()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local place, results, totals = KEYS[1], KEYS[2], KEYS[3]
local claim, record, windowMs = ARGV[1], ARGV[2], tonumber(ARGV[3])
local budget, entryBytes = tonumber(ARGV[4]), tonumber(ARGV[5])

-- Results whose keys have expired free their bytes (a bounded number per call; the rest next time,
-- counted until then). A score is never before its key's expiry, so nothing is freed early.
local expired = redis.call('ZRANGEBYSCORE', results, '-inf', '(' .. nowMs(), 'LIMIT', 0, 1000)
if #expired > 0 then
  local freed = 0
  for _, member in ipairs(expired) do freed = freed + tonumber(string.match(member, '^(%d+):')) end
  redis.call('ZREMRANGEBYRANK', results, 0, #expired - 1)
  redis.call('HINCRBY', totals, 'bytes', -freed)
end
local kept = tonumber(redis.call('HGET', totals, 'bytes') or '0')

-- Only our own claim is replaced (or a place whose claim expired unclaimed): compared by length
-- first, so that another call's stored result is never read into the script.
local held = redis.call('STRLEN', place)
if held ~= 0 and (held ~= #claim or redis.call('GET', place) ~= claim) then return { -1, 0, kept } end

local function refuse()
  redis.call('DEL', place)
  local first = redis.call('HSETNX', totals, 'refusing', 1)
  if redis.call('PTTL', totals) < 0 then redis.call('PEXPIRE', totals, windowMs) end
  return { 0, first, kept }
end

-- A string's memory is never less than its length: a result that cannot fit is not even stored.
if kept + #record + entryBytes > budget then return refuse() end
redis.call('SET', place, record, 'PX', windowMs)
local charge = redis.call('MEMORY', 'USAGE', place, 'SAMPLES', 0) + entryBytes
if kept + charge > budget then return refuse() end
-- Scored after the SET: its expiry (Redis's clock then) is never later than this.
local expires = nowMs() + 1 + windowMs
local n = redis.call('HINCRBY', totals, 'n', 1)
redis.call('HINCRBY', totals, 'bytes', charge)
redis.call('HDEL', totals, 'refusing')
redis.call('ZADD', results, expires, charge .. ':' .. n)
redis.call('PEXPIRE', results, windowMs + 1000)
redis.call('PEXPIRE', totals, windowMs + 1000)
return { 1, charge, kept + charge }
