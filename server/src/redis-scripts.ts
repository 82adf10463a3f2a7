// The Redis store's Lua scripts. Each runs atomically in Redis: it applies the
// AtomKV revision rules, keeps the value hash, the write-time set, the prefix
// index and the key count, and appends the change to the feed (a Redis
// Stream), all in one step, so no instance can see a write without its event
// or the reverse.
//
// Every key lives under one hash tag (`{atomkv}:…`), so every key a script
// touches is in one Cluster slot. The prefix index keys are built inside the
// scripts (they cannot be declared ahead): fine for one Redis and for a
// Cluster's single slot, which is all this store uses.
//
// KEYS (every script): data, written, feed, seq, top
//   data     HASH  key → "<revision> <seq> <writtenAt ms> <json>"
//   written  ZSET  key scored by its write time (ms): what the expiry sweep reads
//   feed     STREAM of changes, fields s (seq), k, r, j, n (key count after),
//            p (removedTop before it), and t (a write's time) or x (a removal's
//            revision)
//   seq      the number of the last change: a change's seq is its place in the
//            feed, and a value's seq is its write's, so a snapshot sorts
//            oldest write first
//   top      the highest revision any removed key had reached
// ARGV[1] is the key prefix the index keys are built from (`{atomkv}`),
// ARGV[2] the feed's approximate length, ARGV[3] expireAfterMs (0: never).
// Index keys: `<prefix>:k:<P>` SET of the keys right under prefix P,
// `<prefix>:c:<P>` SET of the prefixes right under P (memory-store.ts's tree).

const PRELUDE = `
local data, written, feed, seqKey, topKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local base, maxLen, expireAfter = ARGV[1], ARGV[2], tonumber(ARGV[3])

local function now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local t = now()

local function int(n)
  return string.format('%d', n)
end

-- The prefix just above a key or a prefix ('/a/b' and '/a/b/' give '/a/'); nil at the top.
local function parent(path)
  local p = string.match(path, '^(.*/)[^/]+/?$')
  if p == '/' then return nil end
  return p
end

local function present(key)
  return redis.call('EXISTS', key) == 1
end

-- Enters a new key, and the prefixes above it that were not there yet.
local function index(key)
  local p = parent(key)
  if not p then return end
  redis.call('SADD', base .. ':k:' .. p, key)
  if redis.call('SCARD', base .. ':k:' .. p) > 1 or present(base .. ':c:' .. p) then return end
  local child, above = p, parent(p)
  while above do
    redis.call('SADD', base .. ':c:' .. above, child)
    if redis.call('SCARD', base .. ':c:' .. above) > 1 or present(base .. ':k:' .. above) then return end
    child, above = above, parent(above)
  end
end

-- Takes a key out, and the prefixes above it that hold nothing else (an empty set is gone by itself).
local function unindex(key)
  local p = parent(key)
  if not p then return end
  redis.call('SREM', base .. ':k:' .. p, key)
  if present(base .. ':k:' .. p) or present(base .. ':c:' .. p) then return end
  local child, above = p, parent(p)
  while above do
    redis.call('SREM', base .. ':c:' .. above, child)
    if present(base .. ':c:' .. above) or present(base .. ':k:' .. above) then return end
    child, above = above, parent(above)
  end
end

-- Appends a change to the feed; returns its seq.
local function emit(seq, key, revision, json, extra, value)
  local prior = redis.call('GET', topKey) or '-1'
  redis.call('XADD', feed, 'MAXLEN', '~', maxLen, '*',
    's', seq, 'k', key, 'r', revision, 'j', json, 'n', redis.call('HLEN', data), 'p', prior, extra, value)
  return seq
end

-- "<revision> <seq> <writtenAt> <json>" → revision, writtenAt (numbers)
local function parse(packed)
  local r, s, w = string.match(packed, '^(%d+) (%d+) (%d+) ')
  return tonumber(r), tonumber(w)
end

local function expired(writtenAt)
  return expireAfter > 0 and t - writtenAt >= expireAfter
end

-- Removes a key at revision r; returns the removal's seq.
local function remove(key, r)
  redis.call('HDEL', data, key)
  redis.call('ZREM', written, key)
  unindex(key)
  local seq = redis.call('INCR', seqKey)
  local top = tonumber(redis.call('GET', topKey) or '-1')
  local result = emit(seq, key, '-1', 'null', 'x', int(r))
  if r > top then redis.call('SET', topKey, int(r)) end
  return result
end

-- Removes up to n keys whose time has come, oldest first; returns the last removal's seq, or false.
local function sweep(n)
  if expireAfter <= 0 then return false end
  local last = false
  local due = redis.call('ZRANGEBYSCORE', written, '-inf', int(t - expireAfter), 'LIMIT', 0, n)
  for _, key in ipairs(due) do
    local packed = redis.call('HGET', data, key)
    if packed then
      local r, w = parse(packed)
      if expired(w) then last = remove(key, r) end
    else
      redis.call('ZREM', written, key)
    end
  end
  return last
end

-- The live entry of key: revision, or nil when missing (an expired one is removed first).
-- Returns revision, and the seq of a removal it made (or false).
local function live(key)
  local packed = redis.call('HGET', data, key)
  if not packed then return nil, false end
  local r, w = parse(packed)
  if expired(w) then return nil, remove(key, r) end
  return r, false
end
`

/**
 * Force-set (ARGV[6] empty) or compare-and-swap (ARGV[6] the revision asked)
 * of ARGV[4] to the JSON ARGV[5]; a new key only while fewer than ARGV[7]
 * keys are stored. Returns `{status, seq, revision}`: status `ok`,
 * `conflict` or `full`; seq the last change it made (0: none).
 */
export const WRITE = `${PRELUDE}
local key, json, expected, maxKeys = ARGV[4], ARGV[5], ARGV[6], tonumber(ARGV[7])
local current, last = live(key)
local revision = current and current + 1 or 0
if expected ~= '' and tonumber(expected) ~= revision then return {'conflict', last or 0, 0} end
if not current and redis.call('HLEN', data) >= maxKeys then
  last = sweep(100) or last
  if redis.call('HLEN', data) >= maxKeys then return {'full', last or 0, 0} end
end
local seq = redis.call('INCR', seqKey)
redis.call('HSET', data, key, int(revision) .. ' ' .. int(seq) .. ' ' .. int(t) .. ' ' .. json)
redis.call('ZADD', written, t, key)
if not current then index(key) end
emit(seq, key, int(revision), json, 't', int(t))
return {'ok', seq, revision}
`

/**
 * Deletes ARGV[4] (with ARGV[5] not empty, only at that revision). Returns
 * `{status, seq}`: status `deleted`, `missing` or `conflict`.
 */
export const DELETE = `${PRELUDE}
local key, expected = ARGV[4], ARGV[5]
local current, last = live(key)
if not current then return {'missing', last or 0} end
if expected ~= '' and tonumber(expected) ~= current then return {'conflict', last or 0} end
return {'deleted', remove(key, current)}
`

/**
 * The live value of ARGV[4] (packed), or false; an expired one is removed.
 * Returns `{packed or false, seq of that removal or 0}`.
 */
export const GET = `${PRELUDE}
local key = ARGV[4]
local current, last = live(key)
if not current then return {false, last or 0} end
return {redis.call('HGET', data, key), 0}
`

/** Removes up to ARGV[4] expired keys. Returns the seq of the last removal, or 0. */
export const SWEEP = `${PRELUDE}
return sweep(tonumber(ARGV[4])) or 0
`

/**
 * The entries covered by the subscriptions ARGV[4…] (keys and prefixes), each
 * key once, walked through the index: `{seq, key, packed, key, packed, …}`,
 * seq being the last change committed when they were read. Expired entries
 * are removed (their changes come before that seq).
 */
export const LIST = `${PRELUDE}
local keys, prefixes = {}, {}
for i = 4, #ARGV do
  local path = ARGV[i]
  if string.sub(path, -1) == '/' then prefixes[path] = true else keys[path] = true end
end
local function covered(path)
  local p = parent(path)
  while p do
    if prefixes[p] then return true end
    p = parent(p)
  end
  return false
end
local out = {0}
local function take(key)
  local packed = redis.call('HGET', data, key)
  if not packed then return end
  local r, w = parse(packed)
  if expired(w) then remove(key, r) else
    out[#out + 1] = key
    out[#out + 1] = packed
  end
end
for key in pairs(keys) do
  if not covered(key) then take(key) end
end
for top in pairs(prefixes) do
  if not covered(top) then
    local walk = {top}
    while #walk > 0 do
      local prefix = table.remove(walk)
      for _, key in ipairs(redis.call('SMEMBERS', base .. ':k:' .. prefix)) do take(key) end
      for _, below in ipairs(redis.call('SMEMBERS', base .. ':c:' .. prefix)) do walk[#walk + 1] = below end
    end
  end
end
out[1] = tonumber(redis.call('GET', seqKey) or '0')
return out
`

/**
 * Where a store starts: names the history once (ARGV[4], kept if a name is
 * there already). Returns `{instance, seq, removedTop, keys, newest feed id or false}`.
 */
export const OPEN = `${PRELUDE}
redis.call('SET', base .. ':instance', ARGV[4], 'NX')
local newest = redis.call('XREVRANGE', feed, '+', '-', 'COUNT', 1)[1]
return {
  redis.call('GET', base .. ':instance'),
  tonumber(redis.call('GET', seqKey) or '0'),
  tonumber(redis.call('GET', topKey) or '-1'),
  redis.call('HLEN', data),
  newest and newest[1] or false,
}
`
