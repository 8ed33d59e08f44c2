"""The two Lua scripts behind the hot path: one round trip to admit a request, one to settle it.

Why not one ``limits`` call per limit: a request is checked against several limits (key, user,
organisation, provider; rate, concurrency, quotas) and a credit reservation, and it must take
*all or none* of them — a request refused by the organisation limit must not have used a slot of
the key limit. ``limits`` checks one limit per call (one round trip each) and has no concurrency
limit or reservation, so these scripts check everything first and only then apply it, atomically,
with Redis' own clock (``TIME``) so replicas with skewed clocks agree. The rate limits use the
same moving-window semantics as ``limits``' ``MovingWindowRateLimiter``, kept in a sorted set
(member = the request's ledger id) so the remaining count and the reset time are exact.
"""

from __future__ import annotations

#: KEYS: rate keys (R), concurrency keys (C), quota keys (Q), credit hash, holds hash.
#: ARGV: id, R, C, Q, then (limit, window_ms) × R, (limit, lease_ms) × C, (limit, reset_ms) × Q,
#:       credit mode (0 none, 1 enforce), estimate, hold record.
#: Returns {1, remaining, reset_ms, … per rate, remaining … per concurrency, remaining … per quota,
#:      credits left after this reservation (-1: credits not enforced; 0 for a repeated call)}
#:      or {0, kind, index, retry_after_ms}; kind "init" asks the caller to load the balance first.
#: Safe to run twice for one id (a client retrying a call whose reply it lost): a request already
#: holding its hold is admitted again without taking anything more.
ADMIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local id = ARGV[1]
local nr, nc, nq = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local again = redis.call('HEXISTS', KEYS[nr + nc + nq + 2], id) == 1
local take = again and 0 or 1
local a = 5
local out = {1}
for i = 1, nr do
  local key, limit, window = KEYS[i], tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  a = a + 2
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local count = redis.call('ZCARD', key)
  local reset = window
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  if oldest[2] then reset = tonumber(oldest[2]) + window - now end
  if count >= limit and not again then return {0, 'rate', i, reset} end
  out[#out + 1] = limit - count - take
  out[#out + 1] = reset
end
for i = 1, nc do
  local key, limit = KEYS[nr + i], tonumber(ARGV[a])
  a = a + 2
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  local count = redis.call('ZCARD', key)
  if count >= limit and not again then return {0, 'conc', i, 1000} end
  out[#out + 1] = limit - count - take
end
for i = 1, nq do
  local key, limit, reset = KEYS[nr + nc + i], tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  a = a + 2
  local used = tonumber(redis.call('GET', key) or '0')
  if used >= limit and not again then return {0, 'quota', i, reset} end
  out[#out + 1] = limit - used
end
local credit, holds = KEYS[nr + nc + nq + 1], KEYS[nr + nc + nq + 2]
local mode, estimate = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
if again then
  out[#out + 1] = 0
  return out
end
local left = -1
if mode == 1 then
  local v = redis.call('HMGET', credit, 'cap', 'used', 'held')
  if not v[1] then return {0, 'init', 0, 0} end
  left = tonumber(v[1]) - tonumber(v[2] or '0') - tonumber(v[3] or '0') - estimate
  if left < 0 then return {0, 'credit', 0, 0} end
end
-- Every check passed: take everything.
a = 5
for i = 1, nr do
  local window = tonumber(ARGV[a + 1])
  a = a + 2
  redis.call('ZADD', KEYS[i], now, id)
  redis.call('PEXPIRE', KEYS[i], window)
end
for i = 1, nc do
  local lease = tonumber(ARGV[a + 1])
  a = a + 2
  redis.call('ZADD', KEYS[nr + i], now + lease, id)
  redis.call('PEXPIRE', KEYS[nr + i], lease)
end
if mode == 1 then redis.call('HINCRBY', credit, 'held', estimate) end
redis.call('HSET', holds, id, ARGV[a + 2])
out[#out + 1] = left
return out
"""

#: KEYS: concurrency keys (C), quota keys (Q), credit hash, holds hash, ledger stream.
#: ARGV: id, C, Q, then (units, ttl_ms) × Q, credit mode, estimate, cost, event JSON.
#: Returns 1 if this call settled the hold, 0 if it was already settled (the event is appended anyway:
#: the ledger ignores a duplicate id).
SETTLE = """
local id, nc, nq = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
for i = 1, nc do redis.call('ZREM', KEYS[i], id) end
local a = 4
local credit, holds, stream = KEYS[nc + nq + 1], KEYS[nc + nq + 2], KEYS[nc + nq + 3]
local settled = redis.call('HDEL', holds, id)
if settled == 1 then
  for i = 1, nq do
    local units, ttl = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
    if units > 0 then
      redis.call('INCRBY', KEYS[nc + i], units)
      redis.call('PEXPIRE', KEYS[nc + i], ttl)
    end
    a = a + 2
  end
else
  a = a + 2 * nq
end
local mode, estimate, cost = tonumber(ARGV[a]), tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
if settled == 1 and mode == 1 then
  redis.call('HINCRBY', credit, 'held', -estimate)
  redis.call('HINCRBY', credit, 'used', cost)
end
redis.call('XADD', stream, '*', 'e', ARGV[a + 3])
return settled
"""
