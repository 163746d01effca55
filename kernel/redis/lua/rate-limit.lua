-- Rate-limit decisions over every layer a call touches (GCRA, the generic cell rate algorithm): a
-- call is admitted only if every layer admits it, and only then is every layer charged, so no layer
-- pays for a call another layer refused. One script call decides one or more calls (a router's
-- calls that reached the limiter in the same turn of its event loop), one after another in order,
-- each as if alone: a later call sees what an earlier one charged. One script is one atomic step in
-- Redis, which makes each decision exact across any number of router processes; the clock is
-- Redis's own (TIME), so the routers' clocks do not matter.
-- Per call, KEYS (9 each) and ARGV (14 each) in blocks, call after call:
-- KEYS[1..5]: each layer's theoretical arrival time (ms, a string), in the order tenant per minute,
-- tenant per day, agent, user, tool; KEYS[6..8]: the same for up to three upstreams (downstream
-- budgets shared by every tenant); KEYS[9]: the hash of upstream budgets (name -> calls per minute).
-- ARGV[1..5]: each layer's limit (calls per period; 0 = the layer does not apply to this call);
-- ARGV[6..10]: each layer's period in ms; ARGV[11]: 1 to only look (quota_status), 0 to decide;
-- ARGV[12..14]: the upstreams' names ('' = the slot is unused). An upstream's limit is read here,
-- from KEYS[9], so that a budget an operator changes applies to the next call without a round trip;
-- an upstream with no budget there does not limit.
-- Returns, call after call, 34 integers each: { admitted (1/0), the deciding layer (1..8; when
-- refused, the one to wait longest for), then per layer: limit, remaining, ms until fully
-- replenished, ms until a call would be admitted }.
local KEYS_PER_CALL, ARGS_PER_CALL = 9, 14
local calls = #KEYS / KEYS_PER_CALL
if calls < 1 or calls % 1 ~= 0 or #ARGV ~= calls * ARGS_PER_CALL then
  return redis.error_reply('rate-limit: ' .. #KEYS .. ' keys and ' .. #ARGV .. ' arguments do not make whole calls')
end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local result = {}

local function decide(k, a)
  local peek = ARGV[a + 11] == '1'
  local admitted = 1
  local deciding = 0
  local longest = -1
  local function limitOf(i)
    if i <= 5 then return tonumber(ARGV[a + i]), tonumber(ARGV[a + 5 + i]) end
    local name = ARGV[a + 6 + i]
    if name == '' then return 0, 60000 end
    return tonumber(redis.call('HGET', KEYS[k + 9], name) or '0') or 0, 60000
  end
  local layers = {}
  for i = 1, 8 do
    local limit, period = limitOf(i)
    local layer = { limit = limit, remaining = 0, reset = 0, retry = 0 }
    if limit > 0 then
      local step = period / limit
      local tat = tonumber(redis.call('GET', KEYS[k + i]) or now)
      if tat < now then tat = now end
      layer.tat = tat + step
      layer.remaining = math.max(0, math.floor((period - (tat - now)) / step + 0.000001))
      layer.reset = math.ceil(tat - now)
      -- A millisecond's tolerance: step is a float and must not refuse the limit-th call by rounding.
      local wait = layer.tat - period - now
      if wait > 0.001 then
        layer.retry = math.ceil(wait)
        admitted = 0
        if layer.retry > longest then longest = layer.retry; deciding = i end
      end
    end
    layers[i] = layer
  end
  result[#result + 1] = admitted
  result[#result + 1] = deciding
  for i = 1, 8 do
    local layer = layers[i]
    if admitted == 1 and not peek and layer.limit > 0 then
      -- Charged: one call less, replenished later. The key lives until the layer is full again, so
      -- an idle caller leaves nothing behind.
      layer.remaining = layer.remaining - 1
      layer.reset = math.ceil(layer.tat - now)
      redis.call('SET', KEYS[k + i], string.format('%.3f', layer.tat), 'PX', math.max(1, layer.reset))
    end
    result[#result + 1] = layer.limit
    result[#result + 1] = layer.remaining
    result[#result + 1] = layer.reset
    result[#result + 1] = layer.retry
  end
end

for call = 0, calls - 1 do
  decide(call * KEYS_PER_CALL, call * ARGS_PER_CALL)
end
return result
