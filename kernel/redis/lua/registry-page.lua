-- One page of the tenant ids in id order (the console's list, kernel/registry/tenant-id-page.ts),
-- read from the sorted set kept beside the tenant set: O(log N + page), not the whole set. An order
-- that does not hold as many ids as the set (tenants created before it was kept, or by a registry
-- of an earlier version during an upgrade) is built again from the set first, in this same step.
-- KEYS: tenant set, id order. ARGV: where ('first', 'after' or 'before' the id), id, limit.
-- Returns { total, start (the page's first id's 0-based place in the order), id, id, ... }.
local total = redis.call('SCARD', KEYS[1])
if redis.call('ZCARD', KEYS[2]) ~= total then
  redis.call('DEL', KEYS[2])
  local ids = redis.call('SMEMBERS', KEYS[1])
  for first = 1, #ids, 1000 do
    local args = {}
    for i = first, math.min(first + 999, #ids) do
      args[#args + 1] = 0
      args[#args + 1] = ids[i]
    end
    redis.call('ZADD', KEYS[2], unpack(args))
  end
end
local limit = tonumber(ARGV[3])
local start = 0
local page
if ARGV[1] == 'after' then
  start = redis.call('ZLEXCOUNT', KEYS[2], '-', '[' .. ARGV[2])
  page = redis.call('ZRANGE', KEYS[2], start, start + limit - 1)
elseif ARGV[1] == 'before' then
  local below = redis.call('ZLEXCOUNT', KEYS[2], '-', '(' .. ARGV[2])
  start = math.max(0, below - limit)
  -- Back at the start of the list: the first page, full, as it was first shown.
  local last = below - 1
  if start == 0 then last = limit - 1 end
  page = redis.call('ZRANGE', KEYS[2], start, last)
else
  page = redis.call('ZRANGE', KEYS[2], 0, limit - 1)
end
local answer = { total, start }
for _, id in ipairs(page) do answer[#answer + 1] = id end
return answer
