-- Appends one audit entry if the chain is still where the appender read it (head hash and length),
-- moving the head with it: concurrent appenders from several processes stay one chain.
-- KEYS: stream, head. ARGV: expected head, new head, entry JSON, expected length, genesis hash
-- (the head of an empty trail).
-- Returns 1 when appended, 0 when another append landed first.
local head = redis.call('GET', KEYS[2]) or ARGV[5]
if head ~= ARGV[1] then return 0 end
if redis.call('XLEN', KEYS[1]) ~= tonumber(ARGV[4]) then return 0 end
redis.call('XADD', KEYS[1], '*', 'entry', ARGV[3])
redis.call('SET', KEYS[2], ARGV[2])
return 1
