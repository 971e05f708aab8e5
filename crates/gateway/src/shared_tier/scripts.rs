//! The Lua scripts the shared tier runs. Each touches keys of one hash tag only, so each runs
//! atomically on the one node that owns the slot, in a single Redis or a cluster alike.
//! redis-rs sends them by `EVALSHA` and loads them on `NOSCRIPT`.

use std::sync::LazyLock;

use redis::Script;

/// The miss path's one round trip. KEYS: value, backoff, lease. ARGV: fencing token, lease
/// TTL in ms, "1" to look past the value (it was refused). Returns `{"fresh", value, pttl}`
/// when the value is within its freshness (its remaining TTL exceeds the stale window the
/// writer stored at bytes 9..16), else `{"backoff", failure, stale-or-false, pttl}` while the
/// key backs off, else takes the lease if free and returns `{"won"|"lost", stale-or-false,
/// pttl}`.
pub(crate) static LOOKUP: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local value = false
local ttl = -2
if ARGV[3] ~= '1' then
  value = redis.call('GET', KEYS[1])
  if value then
    ttl = redis.call('PTTL', KEYS[1])
    local b1, b2, b3, b4, b5, b6, b7, b8 = string.byte(value, 9, 16)
    if not b8 then return {'fresh', value, ttl} end
    local window = ((((((b1 * 256 + b2) * 256 + b3) * 256 + b4) * 256 + b5) * 256 + b6) * 256 + b7) * 256 + b8
    if ttl > window then return {'fresh', value, ttl} end
  end
end
local failure = redis.call('GET', KEYS[2])
if failure then return {'backoff', failure, value, ttl} end
if redis.call('SET', KEYS[3], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {'won', value, ttl}
end
return {'lost', value, ttl}
",
    )
});

/// The winner's fenced step: only while the lease still holds its token. KEYS: value, backoff,
/// lease, failures. ARGV: token, mode (`value`, `failure` or `release`), record, then for
/// `value` the TTL in ms; for `failure` the first backoff in ms, the longest in ms, a jitter
/// factor in [0.5, 1] and how long the failure count is kept in ms; then the channel and the
/// notice to publish. Returns -1 when the lease was lost (taken over or purged), else the
/// backoff set in ms (0 for `value` and `release`).
pub(crate) static STORE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('GET', KEYS[3]) ~= ARGV[1] then return -1 end
local result = 0
if ARGV[2] == 'value' then
  redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])
  redis.call('DEL', KEYS[2], KEYS[4])
elseif ARGV[2] == 'failure' then
  local failures = redis.call('INCR', KEYS[4])
  redis.call('PEXPIRE', KEYS[4], ARGV[7])
  local ceiling = tonumber(ARGV[4]) * 2 ^ (math.min(failures, 21) - 1)
  ceiling = math.min(ceiling, tonumber(ARGV[5]))
  result = math.max(1, math.floor(ceiling * tonumber(ARGV[6])))
  redis.call('SET', KEYS[2], ARGV[3], 'PX', result)
end
redis.call('DEL', KEYS[3])
redis.call('PUBLISH', ARGV[8], ARGV[9])
return result
",
    )
});

/// A purge's shared half. KEYS: generations hash, purge stream. ARGV: scope (`all`, `space`,
/// `nospace`, `task`), the generation field (for `space`), the stream's approximate cap, this
/// replica's id, the purged space (or ''), the purged identifier (or ''), and the channel.
/// `all` bumps the all-generation and resets the others, which a new all-generation already
/// makes unreachable. Appends the purge with the generations it set and returns
/// `{stream id, all, field generation}`.
pub(crate) static PURGE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local scope = ARGV[1]
local field = ARGV[2]
if scope == 'all' then
  local all = redis.call('HINCRBY', KEYS[1], 'all', 1)
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], 'all', all)
elseif scope == 'space' or scope == 'nospace' then
  redis.call('HINCRBY', KEYS[1], field, 1)
end
local all = tonumber(redis.call('HGET', KEYS[1], 'all') or '0')
local generation = 0
if field ~= '' then generation = tonumber(redis.call('HGET', KEYS[1], field) or '0') end
local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*',
  'scope', scope, 'replica', ARGV[4], 'space', ARGV[5], 'identifier', ARGV[6],
  'field', field, 'all', all, 'generation', generation)
redis.call('PUBLISH', ARGV[7], 'purge')
return {id, all, generation}
",
    )
});

/// A replica's full view: the generations hash and the stream's last id. KEYS: generations,
/// purge stream.
pub(crate) static SYNC: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local last = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
local id = '0-0'
if last[1] then id = last[1][1] end
return {redis.call('HGETALL', KEYS[1]), id}
",
    )
});

/// Purges since ARGV[1] (at most ARGV[2] of them), and the stream's first id (or false when
/// it is empty), so a replica can tell when entries it has not read were trimmed or the
/// stream was lost. KEYS: purge stream.
pub(crate) static POLL: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local first = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)
local first_id = false
if first[1] then first_id = first[1][1] end
return {first_id, redis.call('XRANGE', KEYS[1], '(' .. ARGV[1], '+', 'COUNT', ARGV[2])}
",
    )
});
