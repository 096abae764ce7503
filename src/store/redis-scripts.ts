// The Lua scripts of the Redis store. Each runs atomically and touches the keys of one hash
// tag only (see redis-keys.ts), passed in KEYS, so each also runs unchanged on Redis Cluster.
// Numbers cross as decimal strings: Lua's numbers are doubles, exact up to 2^53 like ours,
// but tostring() would print only 14 digits, so stored strings are returned as they are.

export interface Script {
  readonly name: string;
  readonly lua: string;
  /** SHA1 of lua, for EVALSHA. */
  readonly sha: string;
}

function script(name: string, lua: string): Script {
  return { name, lua, sha: new Bun.CryptoHasher("sha1").update(lua).digest("hex") };
}

/**
 * call(cmd, key, list): one command for many values instead of one each, in runs of 500
 * values (even: pairs stay whole), since unpack() of thousands overflows Lua's stack.
 */
const CHUNKED = `
local function chunked(cmd, key, list)
  for i = 1, #list, 500 do redis.call(cmd, key, unpack(list, i, math.min(i + 499, #list))) end
end
`;

/** paired(ids, hash): {id, value, id, value, ...} ('' for a missing value), one HMGET per 500 ids. */
const PAIRED = `
local function paired(ids, hash)
  local out = {}
  for i = 1, #ids, 500 do
    local vs = redis.call('HMGET', hash, unpack(ids, i, math.min(i + 499, #ids)))
    for j = 1, #vs do
      out[#out + 1] = ids[i + j - 1]
      out[#out + 1] = vs[j] or ''
    end
  end
  return out
end
`;

// --- the directory ({d}): KEYS are DIR_KEYS ---
// 1 byKey, 2 byId, 3 passwords, 4 skeletons, 5 keys, 6 reserved, 7 reservedBySkeleton,
// 8 reservedUntil, 9 nextId.

const DIR_HELPERS = `
local function untilOf(v) return string.match(v, '^(%d+)|') end
local function recordOf(v) return string.sub(v, string.find(v, '|', 1, true) + 1) end
local function reservedAfter(k, t)
  local v = redis.call('HGET', KEYS[6], k)
  return v and tonumber(untilOf(v)) > t
end
local function reservedKeys(skel)
  local v = redis.call('HGET', KEYS[7], skel)
  if not v then return {} end
  return cjson.decode(v)
end
local function unreserve(k)
  local v = redis.call('HGET', KEYS[6], k)
  if not v then return end
  local skel = cjson.decode(recordOf(v)).skeleton
  local rest = {}
  for _, x in ipairs(reservedKeys(skel)) do
    if x ~= k then rest[#rest + 1] = x end
  end
  if #rest == 0 then redis.call('HDEL', KEYS[7], skel) else redis.call('HSET', KEYS[7], skel, cjson.encode(rest)) end
  redis.call('HDEL', KEYS[6], k)
  redis.call('ZREM', KEYS[8], k)
end
`;

/** ARGV: key, skeleton, record json, createdAt, password hash. Answers the new id, or 0. */
export const CREATE_ACCOUNT = script(
  "create",
  `${DIR_HELPERS}
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 or redis.call('HEXISTS', KEYS[4], ARGV[2]) == 1 then return 0 end
local t = tonumber(ARGV[4])
if reservedAfter(ARGV[1], t) then return 0 end
for _, k in ipairs(reservedKeys(ARGV[2])) do
  if reservedAfter(k, t) then return 0 end
end
local id = redis.call('INCR', KEYS[9])
local rec = id .. '|' .. ARGV[3]
redis.call('HSET', KEYS[1], ARGV[1], rec)
redis.call('HSET', KEYS[2], id, rec)
redis.call('HSET', KEYS[3], id, ARGV[5])
redis.call('HSET', KEYS[4], ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[5], 0, ARGV[1])
return id
`,
);

/** ARGV: id, reserve-until ("" for none). Answers the account's key, or nil if there was none. */
export const DELETE_ACCOUNT = script(
  "delete",
  `${DIR_HELPERS}
local rec = redis.call('HGET', KEYS[2], ARGV[1])
if not rec then return false end
local json = recordOf(rec)
local a = cjson.decode(json)
redis.call('HDEL', KEYS[1], a.key)
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
if redis.call('HGET', KEYS[4], a.skeleton) == a.key then redis.call('HDEL', KEYS[4], a.skeleton) end
redis.call('ZREM', KEYS[5], a.key)
if ARGV[2] ~= '' then
  unreserve(a.key)
  redis.call('HSET', KEYS[6], a.key, ARGV[2] .. '|' .. json)
  local ks = reservedKeys(a.skeleton)
  ks[#ks + 1] = a.key
  redis.call('HSET', KEYS[7], a.skeleton, cjson.encode(ks))
  redis.call('ZADD', KEYS[8], ARGV[2], a.key)
end
return a.key
`,
);

/** ARGV: key, skeleton, now. Answers {until, record json} of the longest reservation on, or nil. */
export const NAME_RESERVATION = script(
  "reservation",
  `${DIR_HELPERS}
local now = tonumber(ARGV[3])
local best, bestUntil, bestRecord
local function consider(k)
  local v = redis.call('HGET', KEYS[6], k)
  if not v then return end
  local u = untilOf(v)
  if tonumber(u) > now and (not best or tonumber(u) > best) then
    best, bestUntil, bestRecord = tonumber(u), u, recordOf(v)
  end
end
consider(ARGV[1])
for _, k in ipairs(reservedKeys(ARGV[2])) do consider(k) end
if not best then return false end
return {bestUntil, bestRecord}
`,
);

/** ARGV: now, batch size. Drops up to a batch of ended reservations; answers how many. */
export const SWEEP_RESERVATIONS = script(
  "sweep-reservations",
  `${DIR_HELPERS}
local ks = redis.call('ZRANGEBYSCORE', KEYS[8], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, k in ipairs(ks) do unreserve(k) end
return #ks
`,
);

/** ARGV: skeleton. Answers the record of the account with it, or nil. */
export const FIND_BY_SKELETON = script(
  "find-by-skeleton",
  `local k = redis.call('HGET', KEYS[4], ARGV[1])
if not k then return false end
return redis.call('HGET', KEYS[1], k)
`,
);

/** ARGV: id, hash. Replaces the password hash of an existing account only. */
export const SET_PASSWORD = script(
  "set-password",
  `if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then redis.call('HSET', KEYS[3], ARGV[1], ARGV[2]) end
return 0
`,
);

// --- one recipient ({u:<id>}): KEYS are userKeys(id) ---
// 1 queue, 2 bodies, 3 senders, 4 meta, 5 gone, 6 rings, 7 tokens.

/**
 * Pads. A resend ring's hash holds up to the ring size (128 by default) small fields, which
 * Redis keeps as a listpack (hash-max-listpack-entries 128, or 512 in Debian's redis.conf):
 * every HMGET, HSET and HDEL of a field then scans it from its start, 3 × 128 scans per 128
 * messages, most of the append's cost. One field with a value longer than
 * hash-max-listpack-value (64 bytes by default) makes Redis keep the hash as a hash table
 * for good: a constant-time lookup, for two to three times the memory. The field is no
 * client_msg_id (those are digits), so no lookup ever finds it. A key gets its pad once it
 * holds PAD_FROM entries: below that the scans are short, and most keys (a pair that
 * exchanged a few messages, a queue of a few) stay small listpacks.
 */
export const PAD_FROM = 32;
export const RING_PAD_FIELD = "~";
const RING_PAD = "~".repeat(100);

/**
 * The same for a recipient's queue, a sorted set of ids scored by id: as a listpack every
 * ZADD scans it from its start for the member and again for the place (always the end), and
 * every ZMSCORE and ZREM scans for the member. A member longer than zset-max-listpack-value
 * (64 bytes by default) makes Redis keep it as a skip list. The pad has the score -inf, so
 * every range of ids (pending's, from an id on) and every count of messages (ZCOUNT from
 * "(-inf") leaves it out, and no ACK names it (ids are digits). It is added by an append
 * that writes to a queue of PAD_FROM or more, and the queue is dropped once only the pad is
 * left, so an empty queue costs nothing.
 */
export const QUEUE_PAD = "~".repeat(100);
/**
 * A sender's receipts (a sorted set of ids beside a hash of their bodies) keep pads the same
 * way: added by the scripts that add receipts, scored -inf, so counts, ranges and the
 * trimming (from the lowest id, by score) leave it out, and both are dropped once only the
 * pads are left.
 */
const RECEIPTS_PAD = QUEUE_PAD;
/**
 * And the queue's bodies (a hash of id → body): bodies of short messages are under
 * hash-max-listpack-value, so without it the hash is a listpack, scanned by every HSET,
 * HMGET and HDEL. Added with the queue's pad (HSETNX: a no-op once there), dropped with the
 * queue once it is empty. No id is "~".
 */
const BODIES_PAD = RING_PAD;

/**
 * Appends to several recipients, each recipient's in order, as if each ran alone one after
 * the other: one call for a turn's SENDs (on a Redis Cluster, one per slot: every recipient
 * of a call is in its slot). KEYS: each recipient's queue key (user(id).queue); its other
 * keys are its tag's, made here. ARGV: mailbox cap, per-sender cap, ring size, writer, then per
 * recipient (in KEYS' order): its number of appends n, then n times: message id and
 * "<sender id>|<body json>" as stored (the JSON [name, text, sentAt] or [name, text, sentAt,
 * client_msg_id]: the sender, sentAt and client_msg_id are read from it, not sent twice).
 * Answers one string per append, in ARGV's order: "ok", "ok+", "dup:<id>:<sentAt>", "gone",
 * "mailbox_full", "sender_quota", "stale:<highest id here>" (the id is not above every id
 * stored here: the caller takes a newer one and tries again), or "bad" (a body not of that
 * form). The recipient's tombstone, queue size, highest id and senders' counts are read
 * once per recipient; the queue, bodies, highest id and counts are written once at the end
 * of its appends (nothing here reads them back before), and so are the rings' changes
 * (read through what this call changed).
 * The writer (ARGV[4], a token of the store that sends the call) is kept beside the highest
 * id ("<writer>:<id>" in meta's "w"). An append stored right after another of the same
 * writer is answered "ok"; one stored after another writer's, or after an id whose writer is
 * not known (an earlier build's, `chat migrate`'s), "ok+": its node may hold the recipient
 * and not yet have heard of the message before it, so it must not push it as it is but
 * read the queue (redis-signals.ts).
 * The dedup ring of a sender for this recipient lives here too, so a resend is recognised
 * in the same atomic step that would store it: it can never be stored twice. A resend in
 * the same call is recognised too, and one evicted earlier in the call is not.
 * A sender's ring (redis-keys.ts) is read with one HMGET of the call's client_msg_ids,
 * and its oldest entries, which this call may evict, with one LRANGE: a few commands per
 * recipient and sender, whatever the number of appends.
 */
export const APPEND = script(
  "append",
  `${CHUNKED}
local mailboxCap, senderCap, ringSize = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local writer = ARGV[4]
local out, o = {}, 0
-- The appends ARGV[a + 1 .. a + 2n] (id, body pairs) to the recipient whose queue is q.
local function appendTo(q, a, n)
  local t = string.sub(q, 1, -3)
  if redis.call('EXISTS', t .. ':gone') == 1 then
    for i = 1, n do out[o + i] = 'gone' end
    o = o + n
    return
  end
  local bodies, sendersKey, meta, ringsKey = t .. ':m', t .. ':s', t .. ':meta', t .. ':dr'
  local queued = redis.call('ZCOUNT', q, '(-inf', '+inf')
  local lw = redis.call('HMGET', meta, 'last', 'w')
  local last = lw[1]
  local lastN = last and tonumber(last)
  -- Whether the highest id here is this writer's (or there is none yet).
  local own = not last or lw[2] == writer .. ':' .. last
  -- Per append: its sender, client_msg_id ('0' for none) and sentAt, from the body: it
  -- starts "<sender>|" and, with a client_msg_id, ends in two numbers (the third element, a
  -- number, follows the text, a string ending in a quote); looked for in its last 64 bytes.
  local ss, cs, ts = {}, {}, {}
  -- Each sender's ring as this call sees it: the stored values read (got; false once this
  -- call evicted the entry), the values this call added (set), its length, and the entries
  -- in eviction order: the oldest stored (head, from hi on), then this call's (new, from ni
  -- on). Only keys present are ever set to nil: in Lua 5.1 assigning nil to a missing key
  -- makes a slot for it.
  local rings = {}
  for i = 1, n do
    local body = ARGV[a + 2 * i]
    local s = string.match(body, '^(%d+)|')
    ss[i] = s
    local at, cm = string.match(body, ',([%d%.eE+-]+),(%d+)%]$', math.max(1, #body - 64))
    if s and cm then
      cs[i], ts[i] = cm, at
      local r = rings[s]
      if not r then
        r = {cms = {}, nc = 0, got = {}, set = {}, head = {}, hi = 1, new = {}, nn = 0, ni = 1}
        rings[s] = r
      end
      r.nc = r.nc + 1
      r.cms[r.nc] = cm
    end
  end
  for s, r in pairs(rings) do
    r.hash = ringsKey .. ':' .. s
    r.order = r.hash .. ':o'
    r.len = redis.call('LLEN', r.order)
    r.len0 = r.len
    if r.len > 0 then
      local got, cms = r.got, r.cms
      for i = 1, r.nc, 500 do
        local vs = redis.call('HMGET', r.hash, unpack(cms, i, math.min(i + 499, r.nc)))
        for j = 1, #vs do
          if vs[j] then got[cms[i + j - 1]] = vs[j] end
        end
      end
      -- At most this many of the stored entries can be evicted by this call.
      local k = math.min(r.len, r.len + r.nc - ringSize)
      if k > 0 then r.head = redis.call('LRANGE', r.order, 0, k - 1) end
    end
  end
  local counts, added, zargs, hargs, nz = {}, {}, {}, {}, 0
  for i = 1, n do
    local id, s, cm = ARGV[a + 2 * i - 1], ss[i], cs[i]
    local r = cm and rings[s]
    local d = r and (r.set[cm] or r.got[cm])
    local c = s and counts[s]
    if s and not d and queued < mailboxCap and not c then
      c = tonumber(redis.call('HGET', sendersKey, s) or '0')
      counts[s] = c
    end
    local idN = tonumber(id)
    if not s then out[o + i] = 'bad'
    elseif d then out[o + i] = 'dup:' .. d
    elseif queued >= mailboxCap then out[o + i] = 'mailbox_full'
    elseif c >= senderCap then out[o + i] = 'sender_quota'
    elseif lastN and idN <= lastN then out[o + i] = 'stale:' .. last
    else
      last = id
      lastN = idN
      queued = queued + 1
      counts[s] = c + 1
      added[s] = (added[s] or 0) + 1
      zargs[nz + 1] = id
      zargs[nz + 2] = id
      hargs[nz + 1] = id
      hargs[nz + 2] = ARGV[a + 2 * i]
      nz = nz + 2
      if r then
        local new, set = r.new, r.set
        r.nn = r.nn + 1
        new[r.nn] = cm
        set[cm] = id .. ':' .. ts[i]
        local len = r.len + 1
        -- Full: the oldest entries go, the stored ones first.
        while len > ringSize do
          if r.hi <= #r.head then
            local old = r.head[r.hi]
            r.hi = r.hi + 1
            if r.got[old] then r.got[old] = false end
          else
            local old = new[r.ni]
            r.ni = r.ni + 1
            set[old] = nil
          end
          len = len - 1
        end
        r.len = len
      end
      out[o + i] = own and 'ok' or 'ok+'
      own = true
    end
  end
  o = o + n
  if nz == 0 then return end
  redis.call('HSET', meta, 'last', last, 'w', writer .. ':' .. last)
  -- From PAD_FROM waiting on, a skip list and a hash table (QUEUE_PAD, BODIES_PAD): each is
  -- a no-op once there.
  if queued >= ${PAD_FROM} then
    redis.call('ZADD', q, '-inf', '${QUEUE_PAD}')
    redis.call('HSETNX', bodies, '${RING_PAD_FIELD}', '${BODIES_PAD}')
  end
  chunked('ZADD', q, zargs)
  chunked('HSET', bodies, hargs)
  for s, k in pairs(added) do redis.call('HINCRBY', sendersKey, s, k) end
  for s, r in pairs(rings) do
    local new = r.new
    if r.nn > 0 then
      if r.len0 == 0 then redis.call('SADD', ringsKey, s) end
      chunked('RPUSH', r.order, new)
      -- Pushed out: the stored entries from the head, then this call's from the front.
      local pops = (r.hi - 1) + (r.ni - 1)
      -- (LTRIM, not LPOP: the entries popped would come back as a reply for nothing.)
      if pops > 0 then redis.call('LTRIM', r.order, pops, -1) end
      -- This call's entries that stayed, set after the stored ones pushed out are deleted
      -- (one pushed out and stored again by this call is among them).
      local sets, ns = {}, 0
      for j = r.ni, r.nn do
        local cm = new[j]
        local v = r.set[cm]
        if v then
          sets[ns + 1] = cm
          sets[ns + 2] = v
          ns = ns + 2
        end
      end
      -- From PAD_FROM entries on, a hash table (RING_PAD): a listpack is scanned by every lookup.
      if r.len >= ${PAD_FROM} then redis.call('HSETNX', r.hash, '${RING_PAD_FIELD}', '${RING_PAD}') end
      if r.hi > 1 then
        local dels = r.head
        if r.hi - 1 < #dels then
          dels = {}
          for j = 1, r.hi - 1 do dels[j] = r.head[j] end
        end
        chunked('HDEL', r.hash, dels)
      end
      chunked('HSET', r.hash, sets)
    end
  end
end
local a = 4
for g = 1, #KEYS do
  local n = tonumber(ARGV[a + 1])
  appendTo(KEYS[g], a + 1, n)
  a = a + 1 + 2 * n
end
return out
`,
);

/**
 * ARGV: after id, limit. Answers {{id, ...}, {body, ...}} (false for a missing body), oldest
 * first: the two replies as they are, with no Lua work per message below 500 of them.
 */
export const PENDING = script(
  "pending",
  `local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[1], '+inf', 'LIMIT', 0, tonumber(ARGV[2]))
if #ids == 0 then return {ids, {}} end
if #ids <= 500 then return {ids, redis.call('HMGET', KEYS[2], unpack(ids))} end
local bodies = {}
for i = 1, #ids, 500 do
  local vs = redis.call('HMGET', KEYS[2], unpack(ids, i, math.min(i + 499, #ids)))
  for j = 1, #vs do bodies[i + j - 1] = vs[j] end
end
return {ids, bodies}
`,
);

/**
 * take(from): removes the messages of ARGV[from..] waiting here (each id once) with their
 * bodies and senders' counts, a few commands for all of them; answers how many were waiting,
 * and the ids, bodies and senders of those with a body, in ARGV's order. A message waits
 * while it has a body (APPEND, take and DROP_USER write and remove the two together), so
 * the bodies read tell which wait: no ZMSCORE, whose scores Redis would format and Lua
 * parse for nothing. The queue's ZREM counts what it removed (an id in the queue with no
 * body too, should one ever be).
 */
const TAKE_QUEUED = `${CHUNKED}
-- A stored body's client_msg_id ('0' for none): a body "<sender>|[name,text,sentAt,cm]" ends
-- in two numbers, one of three elements in a string and one. The pattern is tried from 64
-- bytes before the end only (",sentAt,cm]" is at most 35), not at every position of the body.
local function cmOf(v)
  return string.match(v, ',%d+,(%d+)%]$', math.max(1, #v - 64)) or '0'
end
local function take(from)
  local ids, seen, n = {}, {}, 0
  for i = from, #ARGV do
    local id = ARGV[i]
    if not seen[id] then
      seen[id] = true
      n = n + 1
      ids[n] = id
    end
  end
  local queued, bodies, senders, q = {}, {}, {}, 0
  if n == 0 then return 0, queued, bodies, senders end
  for i = 1, n, 500 do
    local vs = redis.call('HMGET', KEYS[2], unpack(ids, i, math.min(i + 499, n)))
    for j = 1, #vs do
      if vs[j] then
        q = q + 1
        queued[q] = ids[i + j - 1]
        bodies[q] = vs[j]
      end
    end
  end
  local removed = 0
  for i = 1, n, 500 do removed = removed + redis.call('ZREM', KEYS[1], unpack(ids, i, math.min(i + 499, n))) end
  if removed == 0 then return 0, {}, {}, {} end
  chunked('HDEL', KEYS[2], queued)
  -- Only the pads left (QUEUE_PAD, BODIES_PAD): an empty queue takes no memory.
  if redis.call('ZCOUNT', KEYS[1], '(-inf', '+inf') == 0 then redis.call('DEL', KEYS[1], KEYS[2]) end
  local dec = {}
  for j = 1, q do
    local s = string.match(bodies[j], '^(%d+)|')
    senders[j] = s
    dec[s] = (dec[s] or 0) + 1
  end
  for s, k in pairs(dec) do
    if redis.call('HINCRBY', KEYS[3], s, -k) <= 0 then redis.call('HDEL', KEYS[3], s) end
  end
  return removed, queued, bodies, senders
end
`;

/** ARGV: message ids. Removes those waiting here; answers how many were. */
export const ACK = script(
  "ack",
  `${TAKE_QUEUED}
return (take(1))
`,
);

/** How old an outbox entry must be to count as left by a node that died (ms). */
export const LEFTOVER_MS = 10_000;

/**
 * KEYS: userKeys(id) then the receipt outbox. ARGV: confirmed at, recipient name, message
 * ids. As ACK, and each removed message's receipt goes into the outbox in the same step.
 * Answers {removed, id, entry, id, entry, ...}: the entries written now, and the leftovers
 * of a node that died: entries confirmed LEFTOVER_MS or more before this one. Younger ones
 * belong to ACKs of this recipient still moving them: answering those again would move each
 * receipt twice. The outbox is read only when it holds more than was written now.
 * The client_msg_id is the body's 4th element, read as digits (a Lua number would round it):
 * a body "[name,text,sentAt,cm]" ends in two numbers, one of 3 elements in a string and one.
 */
export const ACK_WITH_RECEIPTS = script(
  "ack-with-receipts",
  `${TAKE_QUEUED}
local removed, queued, bodies, senders = take(3)
local out = {removed}
local entries = {}
for j = 1, #queued do
  local v = bodies[j]
  if v then
    local s = senders[j]
    local cm = cmOf(v)
    local e = s .. '|' .. cm .. '|' .. ARGV[1] .. '|' .. ARGV[2]
    entries[#entries + 1] = queued[j]
    entries[#entries + 1] = e
    out[#out + 1] = queued[j]
    out[#out + 1] = e
  end
end
chunked('HSET', KEYS[8], entries)
if redis.call('HLEN', KEYS[8]) > (#out - 1) / 2 then
  local before = tonumber(ARGV[1]) - ${LEFTOVER_MS}
  local box = redis.call('HGETALL', KEYS[8])
  for i = 1, #box, 2 do
    local at = tonumber(string.match(box[i + 1], '^%d+|%d+|(%d+)|'))
    if at and at <= before then
      out[#out + 1] = box[i]
      out[#out + 1] = box[i + 1]
    end
  end
end
return out
`,
);

/**
 * On one Redis (not a cluster, where a sender's receipts are in another slot): the whole
 * confirmation in one step. KEYS: userKeys(id), the receipt outbox, the directory's byId.
 * ARGV: confirmed at, recipient name, receipts kept per sender at most, the key prefix,
 * message ids. Removes the messages as ACK does, and stores each one's receipt with its
 * sender, as ADD_RECEIPTS would, if the sender's account still exists; the outbox's
 * leftovers older than LEFTOVER_MS (there only after a cluster's node died, or before the
 * switch to this script) go with them. Answers {removed, dropped, n, id, sender, cm (n
 * times: confirmed now), id, sender, cm, confirmed at, recipient name (each leftover)}:
 * the receipts kept.
 */
export const ACK_WITH_RECEIPTS_LOCAL = script(
  "ack-with-receipts-local",
  `${TAKE_QUEUED}
local removed, queued, bodies, from = take(5)
local at, cap, prefix = ARGV[1], tonumber(ARGV[3]), ARGV[4]
local name = cjson.encode(ARGV[2])
-- Per sender, in order of first appearance: its receipts' ids, client_msg_ids, and (for
-- the outbox's leftovers only; nil for those confirmed now) confirmed at and recipient name.
local bySender, senders, ns = {}, {}, 0
local function group(s)
  local g = bySender[s]
  if not g then
    g = {ids = {}, cms = {}, ats = {}, nms = {}, n = 0}
    bySender[s] = g
    ns = ns + 1
    senders[ns] = s
  end
  return g
end
-- (take answers only messages with a body.)
for j = 1, #queued do
  local g = group(from[j])
  local k = g.n + 1
  g.n = k
  g.ids[k] = queued[j]
  g.cms[k] = cmOf(bodies[j])
end
if redis.call('EXISTS', KEYS[8]) == 1 then
  local before = tonumber(at) - ${LEFTOVER_MS}
  local box = redis.call('HGETALL', KEYS[8])
  local moved = {}
  for i = 1, #box, 2 do
    local s, cm, t, nm = string.match(box[i + 1], '^(%d+)|(%d+)|(%d+)|(.*)$')
    if t and tonumber(t) <= before then
      local g = group(s)
      local k = g.n + 1
      g.n = k
      g.ids[k], g.cms[k], g.ats[k], g.nms[k] = box[i], cm, t, nm
      moved[#moved + 1] = box[i]
    end
  end
  chunked('HDEL', KEYS[8], moved)
end
-- The receipts confirmed now go straight into the answer (its counts are set at the end).
local out, no, left, nl, dropped = {removed, 0, 0}, 3, {}, 0, 0
for _, s in ipairs(senders) do
  local t = prefix .. '{u:' .. s .. '}'
  if redis.call('HEXISTS', KEYS[9], s) == 1 and redis.call('EXISTS', t .. ':gone') == 0 then
    local g, zargs, hargs = bySender[s], {}, {}
    local n, ids, cms, ats, nms = g.n, g.ids, g.cms, g.ats, g.nms
    for i = 1, n do
      local id, nm = ids[i], nms[i]
      zargs[2 * i - 1] = id
      zargs[2 * i] = id
      hargs[2 * i - 1] = id
      if nm then
        hargs[2 * i] = '[' .. cjson.encode(nm) .. ',' .. ats[i] .. ',' .. cms[i] .. ']'
      else
        hargs[2 * i] = '[' .. name .. ',' .. at .. ',' .. cms[i] .. ']'
      end
    end
    -- The pads (RECEIPTS_PAD) from PAD_FROM receipts on: before adding this many, or after
    -- the count reached it. Counts leave them out.
    local padded = n >= ${PAD_FROM}
    if padded then redis.call('ZADD', t .. ':r', '-inf', '${RECEIPTS_PAD}') end
    chunked('ZADD', t .. ':r', zargs)
    local count = redis.call('ZCOUNT', t .. ':r', '(-inf', '+inf')
    if not padded and count >= ${PAD_FROM} then
      redis.call('ZADD', t .. ':r', '-inf', '${RECEIPTS_PAD}')
      padded = true
    end
    if padded then redis.call('HSETNX', t .. ':rb', '${RING_PAD_FIELD}', '${RECEIPTS_PAD}') end
    chunked('HSET', t .. ':rb', hargs)
    local over = count - cap
    local kept = {}
    if over > 0 then
      local oldest = redis.call('ZRANGE', t .. ':r', '(-inf', '+inf', 'BYSCORE', 'LIMIT', 0, over)
      chunked('HDEL', t .. ':rb', oldest)
      chunked('ZREM', t .. ':r', oldest)
      dropped = dropped + over
      for i = 1, n, 500 do
        local scores = redis.call('ZMSCORE', t .. ':r', unpack(ids, i, math.min(i + 499, n)))
        for j = 1, #scores do kept[i + j - 1] = scores[j] and true or false end
      end
    end
    for i = 1, n do
      if over <= 0 or kept[i] then
        local nm = nms[i]
        if nm then
          left[nl + 1], left[nl + 2], left[nl + 3], left[nl + 4], left[nl + 5] = ids[i], s, cms[i], ats[i], nm
          nl = nl + 5
        else
          out[no + 1], out[no + 2], out[no + 3] = ids[i], s, cms[i]
          no = no + 3
        end
      end
    end
  end
end
out[2] = dropped
out[3] = (no - 3) / 3
for i = 1, nl do out[no + i] = left[i] end
return out
`,
);

/**
 * ARGV: how long the tombstone stays (ms). Drops the account's queue, counts, rings and
 * token index and leaves a tombstone that refuses appends still on their way (they looked
 * the account up before it went). Answers {messages dropped, {token hashes}}.
 */
export const DROP_USER = script(
  "drop-user",
  `local n = redis.call('ZCOUNT', KEYS[1], '(-inf', '+inf')
local tokens = redis.call('SMEMBERS', KEYS[7])
for _, s in ipairs(redis.call('SMEMBERS', KEYS[6])) do
  redis.call('DEL', KEYS[6] .. ':' .. s, KEYS[6] .. ':' .. s .. ':o')
end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[6], KEYS[7])
redis.call('SET', KEYS[5], '1', 'PX', ARGV[1])
return {n, tokens}
`,
);

// --- one sender's receipts ({u:<id>}): KEYS are receiptKeys(id): 1 ids, 2 bodies, 3 gone ---

/**
 * ARGV: receipts kept at most, then message id and body pairs. Stores them unless the
 * account is gone, then drops the receipts of the lowest ids past the cap. Answers
 * {dropped, id, id, ...}: the ids of ARGV still kept.
 */
export const ADD_RECEIPTS = script(
  "add-receipts",
  `${CHUNKED}
if redis.call('EXISTS', KEYS[3]) == 1 then return {0} end
local zargs, hargs = {}, {}
for i = 2, #ARGV, 2 do
  zargs[#zargs + 1] = ARGV[i]
  zargs[#zargs + 1] = ARGV[i]
  hargs[#hargs + 1] = ARGV[i]
  hargs[#hargs + 1] = ARGV[i + 1]
end
-- The pads (RECEIPTS_PAD) from PAD_FROM receipts on: before adding this many, or after the
-- count reached it. Counts leave them out.
local padded = #zargs / 2 >= ${PAD_FROM}
if padded then redis.call('ZADD', KEYS[1], '-inf', '${RECEIPTS_PAD}') end
chunked('ZADD', KEYS[1], zargs)
local count = redis.call('ZCOUNT', KEYS[1], '(-inf', '+inf')
if not padded and count >= ${PAD_FROM} then
  redis.call('ZADD', KEYS[1], '-inf', '${RECEIPTS_PAD}')
  padded = true
end
if padded then redis.call('HSETNX', KEYS[2], '${RING_PAD_FIELD}', '${RECEIPTS_PAD}') end
chunked('HSET', KEYS[2], hargs)
local dropped = 0
local over = count - tonumber(ARGV[1])
if over > 0 then
  local oldest = redis.call('ZRANGE', KEYS[1], '(-inf', '+inf', 'BYSCORE', 'LIMIT', 0, over)
  chunked('HDEL', KEYS[2], oldest)
  chunked('ZREM', KEYS[1], oldest)
  dropped = over
end
local out = {dropped}
for i = 2, #ARGV, 2 do
  -- Nothing dropped: every one is kept.
  if dropped == 0 or redis.call('ZSCORE', KEYS[1], ARGV[i]) then out[#out + 1] = ARGV[i] end
end
return out
`,
);

/** ARGV: limit. Answers {id, body, id, body, ...}, lowest id first. */
export const LIST_RECEIPTS = script(
  "list-receipts",
  `${PAIRED}
-- From the lowest id on, without the pad (RECEIPTS_PAD, scored -inf).
local ids = redis.call('ZRANGE', KEYS[1], '(-inf', '+inf', 'BYSCORE', 'LIMIT', 0, tonumber(ARGV[1]))
return paired(ids, KEYS[2])
`,
);

/** ARGV: message ids. Removes those receipts. */
export const DELETE_RECEIPTS = script(
  "delete-receipts",
  `${CHUNKED}
chunked('ZREM', KEYS[1], ARGV)
chunked('HDEL', KEYS[2], ARGV)
-- Only the pads left (RECEIPTS_PAD): no receipts take no memory.
if redis.call('ZCOUNT', KEYS[1], '(-inf', '+inf') == 0 then redis.call('DEL', KEYS[1], KEYS[2]) end
return 0
`,
);

// --- one token ({t:<hash>}) ---

/** KEYS: the token. ARGV: now. Deletes it if it has expired; answers its value then, else nil. */
export const DROP_EXPIRED_TOKEN = script(
  "drop-expired-token",
  `local v = redis.call('GET', KEYS[1])
if v and tonumber(string.match(v, '|(%d+)$')) <= tonumber(ARGV[1]) then
  redis.call('DEL', KEYS[1])
  return v
end
return false
`,
);

export const SCRIPTS = [
  CREATE_ACCOUNT,
  DELETE_ACCOUNT,
  NAME_RESERVATION,
  SWEEP_RESERVATIONS,
  FIND_BY_SKELETON,
  SET_PASSWORD,
  APPEND,
  PENDING,
  ACK,
  DROP_USER,
  DROP_EXPIRED_TOKEN,
  ACK_WITH_RECEIPTS,
  ACK_WITH_RECEIPTS_LOCAL,
  ADD_RECEIPTS,
  LIST_RECEIPTS,
  DELETE_RECEIPTS,
];
