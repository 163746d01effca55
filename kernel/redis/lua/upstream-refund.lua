-- Gives back one call charged to an upstream's shared budget (the upstream layer of rate-limit.lua)
-- that never reached the upstream: an egress gateway's request it refused after the charge, or that
-- never connected (docs/egress.md, "Budgets", says which). GCRA keeps one theoretical arrival time
-- per layer and each call advances it one step; giving one back moves it one step back, which
-- commutes with the steps other calls (other tenants', other routers') added meanwhile, so the
-- budget is as if that call had never been charged, whatever ran in between. Never before now: a
-- layer full again stays full, and its key goes, as rate-limit.lua leaves none for a full layer.
-- The step is that of the budget now (an operator's change in between gives back one step of the
-- new budget).
-- KEYS[1]: the upstream's theoretical arrival time (ms, a string); KEYS[2]: the hash of upstream
-- budgets (name -> calls per minute). ARGV[1]: the upstream's name.
-- Returns 1 when a call was given back, 0 when there was none to give (no budget, the layer full).
local limit = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0') or 0
if limit <= 0 then return 0 end
local tat = tonumber(redis.call('GET', KEYS[1]) or '')
if not tat then return 0 end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
tat = tat - 60000 / limit
if tat <= now then
  redis.call('DEL', KEYS[1])
  return 1
end
redis.call('SET', KEYS[1], string.format('%.3f', tat), 'PX', math.max(1, math.ceil(tat - now)))
return 1
