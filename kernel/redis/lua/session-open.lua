-- Opens a 2025 session and keeps the sessions one tenant holds in the shared Redis within its bound:
-- past it, the tenant's oldest sessions end. Without a bound, a client of a tenant could fill Redis
-- with one `initialize` after another, each a record kept for the idle lifetime.
-- KEYS: the new session, the tenant's index (a sorted set of its sessions' keys, by opening time).
-- ARGV: the session's record, its idle time to live in seconds, the bound, the index's lifetime in
-- seconds.
-- Returns how many live sessions of the tenant it ended. Members whose session is already gone
-- (terminated, expired) are dropped from the oldest end as they are met, and end nothing.
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2], 'NX')
-- Redis's clock, not a router's: sessions opened through two replicas are ordered by one clock.
local now = redis.call('TIME')
redis.call('ZADD', KEYS[2], now[1] * 1000000 + now[2], KEYS[1])
local bound = tonumber(ARGV[3])
local ended = 0
while true do
  local oldest = redis.call('ZRANGE', KEYS[2], 0, 0)[1]
  if not oldest then break end
  local over = redis.call('ZCARD', KEYS[2]) > bound
  if redis.call('EXISTS', oldest) == 1 then
    if not over then break end
    redis.call('DEL', oldest)
    ended = ended + 1
  end
  redis.call('ZREM', KEYS[2], oldest)
end
redis.call('EXPIRE', KEYS[2], ARGV[4])
return ended
