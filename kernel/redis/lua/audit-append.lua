-- Appends a run of audit entries (one group commit) if the chain is still where the appender read
-- it, moving the head with them: concurrent appenders from several processes stay one chain. The
-- head is "<seq>:<hash>" of the newest entry (every new entry has a new hash, so an unchanged head
-- means nothing was appended); it does not depend on the stream's length, which shrinks when sealed
-- entries are trimmed. The head is written with KEEPTTL (Redis 6.0 and later): an offboarded
-- tenant's keys carry the expiry of its retention (AuditTrail.expireAfter), which a plain SET would
-- drop, leaving the head in Redis for good after an entry appended late (XADD keeps the stream's).
-- KEYS: stream, head. ARGV: expected head, new head (the last entry's), a JSON array of the entries'
-- JSON texts in chain order, the head of an empty trail.
-- Returns {1} when appended. When another append landed first, {0, the head now, the stream's
-- length}: the appender chains on from there in its next try without a round trip to read them.
local head = redis.call('GET', KEYS[2]) or ARGV[4]
if head ~= ARGV[1] then return {0, head, redis.call('XLEN', KEYS[1])} end
for _, entry in ipairs(cjson.decode(ARGV[3])) do
  redis.call('XADD', KEYS[1], '*', 'entry', entry)
end
redis.call('SET', KEYS[2], ARGV[2], 'KEEPTTL')
return {1}
