-- Appends one audit entry if the chain is still where the appender read it, moving the head with it:
-- concurrent appenders from several processes stay one chain. The head is "<seq>:<hash>" of the
-- newest entry (every new entry has a new hash, so an unchanged head means nothing was appended);
-- it does not depend on the stream's length, which shrinks when sealed entries are trimmed.
-- KEYS: stream, head. ARGV: expected head, new head, entry JSON, the head of an empty trail.
-- Returns 1 when appended, 0 when another append landed first.
local head = redis.call('GET', KEYS[2]) or ARGV[4]
if head ~= ARGV[1] then return 0 end
redis.call('XADD', KEYS[1], '*', 'entry', ARGV[3])
redis.call('SET', KEYS[2], ARGV[2])
return 1
