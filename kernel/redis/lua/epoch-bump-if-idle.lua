-- Bumps a tenant runtime's epoch only if the tenant has been idle since the cutoff: the check and
-- the bump are one step, so a call recorded in between keeps the runtime.
-- KEYS: activity sorted set, epoch counter. ARGV: tenant, idle cutoff (ms since the epoch).
-- Returns the new epoch, or -1 when the tenant was active after the cutoff.
local last = redis.call('ZSCORE', KEYS[1], ARGV[1])
if last and tonumber(last) > tonumber(ARGV[2]) then return -1 end
return redis.call('INCR', KEYS[2])
