"""The Lua scripts behind the Redis fleet state, and the key layout they share.

Keys, under the configured prefix ``P``:

- ``P instances``: sorted set of live instances, scored by when each one's entries expire
  (Redis's own clock, so hosts' clocks never need to agree);
- ``P if:<replica>:<instance>``: hash ``{c: in-flight count, s: sequence}``, one per instance
  and replica, with a TTL: a dead instance's counts expire instead of leaking. The sequence
  makes every write idempotent and ordered: an older count never overwrites a newer one;
- ``P brk:<replica>``: the fleet's ejection of a replica, ``{until: epoch ms, ej: ejections,
  why: reason, by: instance}``, expiring when the ejection ends;
- ``P probe:<replica>``: the instance holding the half-open probe (SET NX PX: one prober);
- ``P est:<replica>:<instance>``: that instance's estimates of the replica (latency, decode
  speed, scraped load), with a TTL;
- ``P fb:<instance>``: that instance's feedback scores, as offsets from neutral, with a TTL;
- channel ``P events``: ejections and recoveries, pushed as they happen.

Every script reads keys it builds from the prefix, so the fleet state needs a standalone Redis
(or a primary), not Redis Cluster, which routes a script by its declared keys.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Script:
    source: str

    @property
    def sha(self) -> str:
        return hashlib.sha1(self.source.encode()).hexdigest()


_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

#: The hot-path check. ARGV: prefix, instance, replica, count after this request, sequence,
#: limit (-1: none), ttl ms, probe (1: take the probe lease), lease ms.
#: Returns {granted 0/1, others' in-flight, ms to wait before probing, 1 when that wait is the
#: fleet's ejection rather than another instance's lease}. A probe that failed elsewhere drops
#: its lease and records the next ejection in the same script: an instance that has not heard of
#: it yet finds the ejection, not a free lease, and does not probe a second time.
ACQUIRE = Script(
    _NOW
    + """
local P, me, rid = ARGV[1], ARGV[2], ARGV[3]
local value, seq, limit, ttl = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]),
  tonumber(ARGV[7])
local inst = P .. 'instances'
redis.call('ZADD', inst, now + ttl, me)
local took = false
if ARGV[8] == '1' then
  local untl = tonumber(redis.call('HGET', P .. 'brk:' .. rid, 'until') or '0')
  if untl > now then
    return {0, 0, untl - now, 1}
  end
  local pk = P .. 'probe:' .. rid
  local holder = redis.call('GET', pk)
  if holder and holder ~= me then
    return {0, 0, redis.call('PTTL', pk), 0}
  end
  if not holder then
    redis.call('SET', pk, me, 'PX', ARGV[9])
    took = true
  end
end
local others = 0
for _, m in ipairs(redis.call('ZRANGEBYSCORE', inst, now, '+inf')) do
  if m ~= me then
    others = others + tonumber(redis.call('HGET', P .. 'if:' .. rid .. ':' .. m, 'c') or '0')
  end
end
if limit >= 0 and others + value > limit then
  if took then redis.call('DEL', P .. 'probe:' .. rid) end
  return {0, others, 0, 0}
end
local own = P .. 'if:' .. rid .. ':' .. me
if seq > tonumber(redis.call('HGET', own, 's') or '-1') then
  redis.call('HSET', own, 'c', value, 's', seq)
end
redis.call('PEXPIRE', own, ttl)
return {1, others, 0, 0}
"""
)

#: Counts after releases, batched. ARGV: prefix, instance, ttl ms, then (replica, count,
#: sequence) triples. Slots freed are announced ({e: free, b: instance, r: [[replica, n]]}),
#: so requests queued at other instances for those replicas try again at once.
PUT = Script(
    """
local P, me, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
local freed = {}
for i = 4, #ARGV, 3 do
  local own = P .. 'if:' .. ARGV[i] .. ':' .. me
  local old = redis.call('HMGET', own, 'c', 's')
  if tonumber(ARGV[i + 2]) > tonumber(old[2] or '-1') then
    redis.call('HSET', own, 'c', ARGV[i + 1], 's', ARGV[i + 2])
    local n = tonumber(old[1] or '0') - tonumber(ARGV[i + 1])
    if n > 0 then freed[#freed + 1] = {ARGV[i], n} end
  end
  redis.call('PEXPIRE', own, ttl)
end
if #freed > 0 then
  redis.call('PUBLISH', P .. 'events', cjson.encode({e = 'free', b = me, r = freed}))
end
return #freed
"""
)

#: The background round trip. ARGV: prefix, instance, ttl ms, feedback offsets (JSON), then per
#: replica (id, count, sequence, estimates). Writes this instance's heartbeat, counts, estimates
#: and feedback; returns {live instances, {others' feedback}, then per replica: others'
#: in-flight, {others' estimates}, {until, ej, why, by}}.
SYNC = Script(
    _NOW
    + """
local P, me, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
local inst = P .. 'instances'
redis.call('ZREMRANGEBYSCORE', inst, '-inf', now)
redis.call('ZADD', inst, now + ttl, me)
local members = redis.call('ZRANGE', inst, 0, -1)
redis.call('SET', P .. 'fb:' .. me, ARGV[4], 'PX', ttl)
local fbs = {}
for _, m in ipairs(members) do
  if m ~= me then
    local f = redis.call('GET', P .. 'fb:' .. m)
    if f then fbs[#fbs + 1] = f end
  end
end
local out = {#members, fbs}
for i = 5, #ARGV, 4 do
  local rid = ARGV[i]
  local own = P .. 'if:' .. rid .. ':' .. me
  if tonumber(ARGV[i + 2]) > tonumber(redis.call('HGET', own, 's') or '-1') then
    redis.call('HSET', own, 'c', ARGV[i + 1], 's', ARGV[i + 2])
  end
  redis.call('PEXPIRE', own, ttl)
  if ARGV[i + 3] ~= '' then
    redis.call('SET', P .. 'est:' .. rid .. ':' .. me, ARGV[i + 3], 'PX', ttl)
  end
  local others, ests = 0, {}
  for _, m in ipairs(members) do
    if m ~= me then
      others = others + tonumber(redis.call('HGET', P .. 'if:' .. rid .. ':' .. m, 'c') or '0')
      local e = redis.call('GET', P .. 'est:' .. rid .. ':' .. m)
      if e then ests[#ests + 1] = e end
    end
  end
  out[#out + 1] = others
  out[#out + 1] = ests
  out[#out + 1] = redis.call('HMGET', P .. 'brk:' .. rid, 'until', 'ej', 'why', 'by')
end
return out
"""
)

#: An ejection or a recovery seen here. ARGV: prefix, instance, replica, 'open' or 'closed',
#: until (epoch ms), ejections, reason, the event to publish. An open never shortens a longer
#: one already recorded; a close (a probe succeeded, a health check saw the replica ready)
#: removes the record and the probe lease.
BREAKER = Script(
    """
local P, me, rid = ARGV[1], ARGV[2], ARGV[3]
local key = P .. 'brk:' .. rid
if ARGV[4] == 'open' then
  local untl = tonumber(ARGV[5])
  local old = tonumber(redis.call('HGET', key, 'until') or '0')
  if old >= untl then return 0 end
  redis.call('HSET', key, 'until', untl, 'ej', ARGV[6], 'why', ARGV[7], 'by', me)
  redis.call('PEXPIREAT', key, untl + 1000)
  local pk = P .. 'probe:' .. rid
  if redis.call('GET', pk) == me then redis.call('DEL', pk) end
else
  redis.call('DEL', key)
  redis.call('DEL', P .. 'probe:' .. rid)
end
redis.call('PUBLISH', P .. 'events', ARGV[8])
return 1
"""
)

ALL = (ACQUIRE, PUT, SYNC, BREAKER)
