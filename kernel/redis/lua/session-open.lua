-- Opens a 2025 session and keeps the sessions one tenant holds in the shared Redis within its bound:
-- past it, the tenant's least recently used sessions end. Without a bound, a client of a tenant could
-- fill Redis with one `initialize` after another, each a record kept for the idle lifetime.
-- KEYS: the new session, the tenant's index (a sorted set of its sessions' keys, by last use: opened
-- here, used in session-touch.lua, both by Redis's clock in microseconds).
-- ARGV: the session's record, its idle time to live in seconds, the bound, the index's lifetime in
-- seconds.
-- Returns how many live sessions of the tenant it ended. A member not used for the idle lifetime has
-- expired (its key's timer restarts at each use too), so it is dropped before counting; a member
-- whose session ended otherwise (terminated without the index) is dropped when met at the oldest
-- end, and ends nothing.
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2], 'NX')
-- Redis's clock, not a router's: sessions opened and used through two replicas are ordered by one.
local now = redis.call('TIME')
local micros = now[1] * 1000000 + now[2]
redis.call('ZADD', KEYS[2], micros, KEYS[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', micros - tonumber(ARGV[2]) * 1000000)
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
