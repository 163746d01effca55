-- Ends an offboarded tenant's trail in Redis once every entry of it is sealed: deletes the stream and
-- the head, so that the same tenant id onboarded again starts a chain of its own (seq 1) rather than
-- continuing the offboarded one's, whose end its sealed segments and their offboarding marker keep.
-- Only if nothing is left to seal and nothing was appended since the sealer read the head.
-- KEYS: stream, head. ARGV: the head as sealed ("<seq>:<hash>" of the last entry sealed).
-- Returns 1 when closed, 0 when entries are still in the stream or the head moved.
if redis.call('XLEN', KEYS[1]) ~= 0 then return 0 end
if (redis.call('GET', KEYS[2]) or '') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1], KEYS[2])
return 1
