"""The Lua scripts of the Redis peer store (`swarmdex.peerstore.redis`), one per operation:
each runs atomically in Redis, so an announce is one round trip and two nodes announcing to
one swarm at once never lose a peer or a count. The key layout they share is in that
module's docstring.
"""

from __future__ import annotations

__all__ = ["ANNOUNCE", "COLLECT", "REMOVE", "SCRAPE", "STATS"]

COMMON = r"""
local P = ARGV[1]
local N = P .. 'n:'
local ORDER = P .. 'order:'

local function bucket(peer)
  if #peer == 18 then return string.sub(peer, 1, 8) end
  return string.sub(peer, 1, 4)
end

local function peers_of(h)
  return redis.call('ZCARD', P .. '4:' .. h) + redis.call('ZCARD', P .. '6:' .. h)
end

local function to_back(h)
  redis.call('ZADD', ORDER, redis.call('HINCRBY', N, 'seq', 1), h)
end

-- The swarm has no peers left: forget it, unless it is kept for its downloaded figure.
local function forget_if_idle(h, keep_dormant)
  local meta = P .. 'm:' .. h
  if keep_dormant and tonumber(redis.call('HGET', meta, 'd') or '0') > 0 then return end
  redis.call('DEL', meta)
  redis.call('ZREM', ORDER, h)
  redis.call('HINCRBY', N, 'swarms', -1)
end

local function drop_bucket(meta, peer)
  local b = bucket(peer)
  if redis.call('HINCRBY', meta, b, -1) <= 0 then redis.call('HDEL', meta, b) end
end
"""

# ARGV: prefix, the store's 10 limits, then 8 per announce (a batch of any size, one reply
# each, in order): info hash, peer, event, seeder, numwant, other family, now, dice. One call
# for every announce a node has in hand: the fixed cost of a script call (its arguments,
# its functions, its reply, the command's I/O) is then paid once for all of them.
ANNOUNCE = COMMON + r"""
local max_peers, max_swarms = tonumber(ARGV[2]), tonumber(ARGV[3])
local cap = tonumber(ARGV[4])
local ns_burst, ns_per = tonumber(ARGV[5]), tonumber(ARGV[6])
local min_ticks = tonumber(ARGV[7])
local pl_burst, pl_per = tonumber(ARGV[8]), tonumber(ARGV[9])
local keep_dormant = ARGV[10] == '1'
local evict_look = tonumber(ARGV[11])

local function announce(h, peer, event, seeder, numwant, other_family, now, dice)
  local v6 = #peer == 18
  local fam = P .. (v6 and '6:' or '4:') .. h
  local ofam = P .. (v6 and '4:' or '6:') .. h
  local meta = P .. 'm:' .. h
  local tick = math.floor(now)

  -- GCRA, as swarmdex.peerstore.pacing.Pacer, one key per bucket.
  local function allow(key, burst, per)
    local tat = tonumber(redis.call('GET', key) or '') or now
    if tat < now then tat = now end
    tat = tat + per / burst
    if tat - now > per * (1 + 1e-9) then return false end
    redis.call('SET', key, string.format('%.6f', tat), 'PX', math.ceil((tat - now) * 1000) + 1)
    return true
  end

  local function evict(keep)
    local candidates = redis.call('ZRANGE', ORDER, 0, evict_look - 1)
    for _, k in ipairs(candidates) do
      if k ~= keep then
        local n = peers_of(k)
        if n <= 1 then
          redis.call('DEL', P .. '4:' .. k, P .. '6:' .. k, P .. 'm:' .. k)
          redis.call('ZREM', ORDER, k)
          redis.call('HINCRBY', N, 'swarms', -1)
          redis.call('HINCRBY', N, 'peers', -n)
          return true
        end
      end
      to_back(k)
    end
    return false
  end

  -- Seeders and downloads as this script keeps them (`s`, `d`): read once, then followed.
  local sd = redis.call('HMGET', meta, 's', 'd')
  local exists = sd[1] ~= false
  local s, d = tonumber(sd[1] or '0'), tonumber(sd[2] or '0')

  -- `nfam`, `nofam`: the swarm's peers of this family and of the other, when known.
  local function answer(own, other, paced, nfam, nofam)
    local total = (nfam or redis.call('ZCARD', fam)) + (nofam or redis.call('ZCARD', ofam))
    if v6 then return {0, s, total - s, d, other, own, paced} end
    return {0, s, total - s, d, own, other, paced}
  end

  if event == 3 then  -- stopped: leave at once, no peers
    if not exists then return {0, 0, 0, 0, '', '', 0} end
    local old = redis.call('ZSCORE', fam, peer)
    if old then
      redis.call('ZREM', fam, peer)
      if tonumber(old) % 2 == 1 then
        redis.call('HINCRBY', meta, 's', -1)
        s = s - 1
      end
      drop_bucket(meta, peer)
      redis.call('HINCRBY', N, 'peers', -1)
      local result = answer('', '', 0)
      if result[2] + result[3] == 0 then forget_if_idle(h, keep_dormant) end
      return result
    end
    return answer('', '', 0)
  end

  if not exists then
    if ns_burst > 0 and not allow(P .. 'ns:' .. bucket(peer), ns_burst, ns_per) then return {2} end
    if tonumber(redis.call('HGET', N, 'swarms') or '0') >= max_swarms and not evict(false) then
      return {3}
    end
    redis.call('HSET', meta, 's', 0, 'd', 0)
    s, d = 0, 0
    to_back(h)
    redis.call('HINCRBY', N, 'swarms', 1)
  end

  local paced = 0
  local word = tick * 4
  if seeder or event == 1 then word = word + 1 end
  local old = redis.call('ZSCORE', fam, peer)
  local seeders = 0
  if old then
    old = tonumber(old)
    word = word + (math.floor(old / 2) % 2) * 2
    seeders = (word % 2) - (old % 2)
    if numwant > 0 and min_ticks > 0 and tick - math.floor(old / 4) < min_ticks then
      numwant = 0  -- too soon after its previous announce: recorded, but no peers
      paced = 1
    end
  else
    if cap > 0 and tonumber(redis.call('HGET', meta, bucket(peer)) or '0') >= cap then
      return {1}
    end
    if tonumber(redis.call('HGET', N, 'peers') or '0') >= max_peers and not evict(h) then
      if peers_of(h) == 0 then forget_if_idle(h, keep_dormant) end
      return {3}
    end
    redis.call('HINCRBY', N, 'peers', 1)
    redis.call('HINCRBY', meta, bucket(peer), 1)
    seeders = word % 2
    if numwant > 0 and pl_burst > 0 and redis.call('ZCARD', fam) > 0
        and not allow(P .. 'pl:' .. bucket(peer) .. h, pl_burst, pl_per) then
      numwant = 0  -- new ports of one address must not stand in for early re-announces
      paced = 1
    end
  end
  if event == 1 and math.floor(word / 2) % 2 == 0 then
    word = word + 2
    redis.call('HINCRBY', meta, 'd', 1)
    d = d + 1
  end
  redis.call('ZADD', fam, word, peer)
  if seeders ~= 0 then
    redis.call('HINCRBY', meta, 's', seeders)
    s = s + seeders
  end

  -- Up to `want` of the `n` peers of `key` but `skip`: a window of the set (in score order)
  -- from a random place, wrapping around, as the memory store hands them out. ZRANDMEMBER
  -- cost about a quarter of the whole script for 51 of 64 peers (it copies the set into a
  -- dictionary and deletes from it); a window is a plain range read, and a swarm up to twice
  -- the window is read whole, once, rather than in two pieces. Each redis.call costs far
  -- more than its command (arguments and reply go through RESP and Lua), so they are few.
  local function window(key, want, skip, n)
    if n == 0 or want <= 0 then return '' end
    local out = {}
    local first = dice % n
    if n <= 2 * (want + 1) then
      local all = redis.call('ZRANGE', key, 0, -1)
      for j = 0, n - 1 do
        local p = all[(first + j) % n + 1]
        if p ~= skip then
          out[#out + 1] = p
          if #out == want then break end
        end
      end
      return table.concat(out)
    end
    local list = redis.call('ZRANGE', key, first, first + want)  -- one more, in case skip is in it
    if first + want >= n then
      for _, p in ipairs(redis.call('ZRANGE', key, 0, first + want - n)) do list[#list + 1] = p end
    end
    for _, p in ipairs(list) do
      if p ~= skip and #out < want then out[#out + 1] = p end
    end
    return table.concat(out)
  end

  local nfam = redis.call('ZCARD', fam)
  local own = window(fam, numwant, peer, nfam)
  local other = ''
  local nofam
  if other_family then
    nofam = redis.call('ZCARD', ofam)
    other = window(ofam, numwant - #own / #peer, '', nofam)
  end
  return answer(own, other, paced, nfam, nofam)
end

local out = {}
for i = 12, #ARGV, 8 do
  out[#out + 1] = announce(ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2]), ARGV[i + 3] == '1',
                           tonumber(ARGV[i + 4]), ARGV[i + 5] == '1', tonumber(ARGV[i + 6]),
                           tonumber(ARGV[i + 7]))
end
return out
"""

SCRAPE = COMMON + r"""
local out = {}
for i = 2, #ARGV do
  local h = ARGV[i]
  local meta = P .. 'm:' .. h
  local values = redis.call('HMGET', meta, 's', 'd')
  local s = tonumber(values[1] or '0')
  out[#out + 1] = {s, peers_of(h) - s, tonumber(values[2] or '0')}
end
return out
"""

REMOVE = COMMON + r"""
local h = ARGV[2]
local meta = P .. 'm:' .. h
if redis.call('EXISTS', meta) == 0 then return 0 end
local n = peers_of(h)
redis.call('DEL', P .. '4:' .. h, P .. '6:' .. h, meta)
redis.call('ZREM', ORDER, h)
redis.call('HINCRBY', N, 'swarms', -1)
redis.call('HINCRBY', N, 'peers', -n)
return 1
"""

# ARGV: prefix, token, after (a score of P order, exclusive), batch, cutoff score,
# keep_dormant, lock ms. Returns {removed, last score, done, lock held}.
COLLECT = COMMON + r"""
local token, after, batch = ARGV[2], ARGV[3], tonumber(ARGV[4])
local cutoff, keep_dormant, lock_ms = ARGV[5], ARGV[6] == '1', tonumber(ARGV[7])
local lock = P .. 'gc:'
if redis.call('GET', lock) ~= token then return {0, after, 1, 0} end
redis.call('PEXPIRE', lock, lock_ms)
local swarms = redis.call('ZRANGE', ORDER, '(' .. after, '+inf', 'BYSCORE', 'LIMIT', 0, batch,
                          'WITHSCORES')
local removed = 0
local last = after
for i = 1, #swarms, 2 do
  local h = swarms[i]
  last = swarms[i + 1]
  local meta = P .. 'm:' .. h
  local gone = 0
  for _, f in ipairs({'4:', '6:'}) do
    local key = P .. f .. h
    local expired = redis.call('ZRANGE', key, '-inf', '(' .. cutoff, 'BYSCORE', 'WITHSCORES')
    if #expired > 0 then
      local seeders = 0
      for j = 1, #expired, 2 do
        if tonumber(expired[j + 1]) % 2 == 1 then seeders = seeders + 1 end
        drop_bucket(meta, expired[j])
      end
      redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. cutoff)
      if seeders > 0 then redis.call('HINCRBY', meta, 's', -seeders) end
      gone = gone + #expired / 2
    end
  end
  if gone > 0 then
    removed = removed + gone
    redis.call('HINCRBY', N, 'peers', -gone)
    if peers_of(h) == 0 then forget_if_idle(h, keep_dormant) end
  end
end
local done = 0
if #swarms < 2 * batch then done = 1 end
return {removed, last, done, 1}
"""

# ARGV: prefix, after, batch. Returns {peers4, peers6, seeders, last score, done}.
STATS = COMMON + r"""
local after, batch = ARGV[2], tonumber(ARGV[3])
local swarms = redis.call('ZRANGE', ORDER, '(' .. after, '+inf', 'BYSCORE', 'LIMIT', 0, batch,
                          'WITHSCORES')
local v4, v6, seeders, last = 0, 0, 0, after
for i = 1, #swarms, 2 do
  local h = swarms[i]
  last = swarms[i + 1]
  v4 = v4 + redis.call('ZCARD', P .. '4:' .. h)
  v6 = v6 + redis.call('ZCARD', P .. '6:' .. h)
  seeders = seeders + tonumber(redis.call('HGET', P .. 'm:' .. h, 's') or '0')
end
local done = 0
if #swarms < 2 * batch then done = 1 end
return {v4, v6, seeders, last, done}
"""
