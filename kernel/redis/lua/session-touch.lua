-- Restarts a 2025 session's idle timer for a request of the principal the session is bound to, and
-- for no other: a request naming another principal's session id (leaked, logged, guessed) reads the
-- record, to be refused, and leaves its timer as it was, so it cannot keep that session alive.
-- KEYS: the session, its tenant's index of sessions by last use (session-open.lua). ARGV: the
-- requester's binding (router/mcp/sessions.ts, bindingOf), the idle time to live in seconds.
-- Returns {} when there is no session, else {record, 1} when the binding is the record's (timer
-- restarted) or {record, 0} when it is not (timer untouched).
local raw = redis.call('GET', KEYS[1])
if not raw then return {} end
local ok, record = pcall(cjson.decode, raw)
if ok and type(record) == 'table' and record['binding'] == ARGV[1] then
  redis.call('EXPIRE', KEYS[1], ARGV[2])
  -- Used now: the last the tenant's bound ends (XX: a session the index no longer names stays out).
  local now = redis.call('TIME')
  redis.call('ZADD', KEYS[2], 'XX', now[1] * 1000000 + now[2], KEYS[1])
  return {raw, 1}
end
return {raw, 0}
