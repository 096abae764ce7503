// The Lua scripts of presence, deletion marks and shared budgets. Each touches the keys of
// one hash tag (keys.ts), passed in KEYS, and runs atomically.

import { SCRIPTS, type Script } from "../store/redis-scripts";

function script(name: string, lua: string): Script {
  return { name, lua, sha: new Bun.CryptoHasher("sha1").update(lua).digest("hex") };
}

/** KEYS: a key. ARGV: a value. Deletes the key if it holds that value (a claim, a mark). */
export const DELETE_IF = script(
  "delete-if",
  `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`,
);

/** KEYS: a key. ARGV: a value, ms. Extends the key's expiry if it holds that value. */
export const EXPIRE_IF = script(
  "expire-if",
  `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`,
);

/**
 * A token bucket (hash tokens, at, spent). KEYS: the bucket. ARGV: op ("wait", "spend",
 * "recent"), now (ms), tokens per second, burst, memory (ms). The arithmetic is Budget's,
 * step for step, so both give the same answers. "wait" answers the ms until a
 * token is there (0: go ahead); "spend" takes one if there is one and notes when; "recent"
 * answers 1 when the key spent within memory ms. A bucket is kept until it is full again
 * and its spending forgotten, then expires.
 */
export const BUDGET = script(
  "budget",
  `local op, now, rate, burst, memory = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local v = redis.call('HMGET', KEYS[1], 'tokens', 'at', 'spent')
if op == 'recent' then
  local spent = tonumber(v[3])
  if spent and now - spent < memory then return 1 end
  return 0
end
local tokens, at = tonumber(v[1]) or burst, tonumber(v[2]) or now
if now > at then
  tokens = math.min(burst, tokens + ((now - at) / 1000) * rate)
  at = now
end
if op == 'wait' then
  if tokens >= 1 then return 0 end
  return math.ceil(((1 - tokens) / rate) * 1000)
end
if tokens >= 1 then tokens = tokens - 1 end
-- %.17g: tostring() would keep 14 digits, and the bucket would drift from Budget's.
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'at', string.format('%.17g', at), 'spent', string.format('%.17g', now))
local full = math.ceil(((burst - tokens) / rate) * 1000)
redis.call('PEXPIRE', KEYS[1], math.max(full, memory) + 1000)
return 0
`,
);

// Loaded with the store's scripts on every (re)connection: otherwise each one's first calls
// would fail NOSCRIPT and be sent again as EVAL, after commands sent later.
SCRIPTS.push(DELETE_IF, EXPIRE_IF, BUDGET);
