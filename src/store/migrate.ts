// `chat migrate`: copies a SQLite data file into Redis (one Redis or a Redis Cluster), in
// the Redis store's key layout (redis-keys.ts), keeping every id: accounts with their
// names, skeletons, password hashes and last logins, reserved names of deleted accounts,
// queued messages with their ids and senders, the resend-detection rings, session tokens
// (unless left out) and bans, and the id counters above every id copied. Then it counts
// what Redis holds and compares. The file is opened the way a server opens it, so its lock
// refuses a file a running server holds, and an older file is brought up to date first.

import type { Database } from "bun:sqlite";
import { existsSync } from "node:fs";
import { nameIdentity } from "../rules/names";
import { forEachMaster, openRedisLink } from "./redis-cluster";
import type { RedisLink } from "./redis-conn";
import { dir, messages, ops, PREFIX, ring, token, tokenExpiry, user } from "./redis-keys";
import type { RedisTarget } from "./redis-url";
import { openDataFile, StoreOpenError } from "./sqlite-file";

/** The migration cannot run, or its check failed; the message says why and what to do. */
export class MigrateError extends Error {
  override name = "MigrateError";
}

export interface MigrateOptions {
  from: string;
  to: RedisTarget;
  /** Replace the chat data already in the target (it is deleted first). */
  force?: boolean;
  /** Leave session tokens behind: everybody logs in again with their password. */
  skipTokens?: boolean;
  now?: number;
}

export interface MigrateCounts {
  accounts: number;
  queued: number;
  reservedNames: number;
  tokens: number;
  bans: number;
}

/** Commands sent before waiting for their answers (bounded: a big file does not pile up promises). */
const BATCH = 2000;

export async function migrateSqliteToRedis(o: MigrateOptions): Promise<MigrateCounts> {
  if (!existsSync(o.from)) throw new MigrateError(`${o.from} does not exist`);
  let db: Database;
  try {
    db = openDataFile({ path: o.from, sync: "full" }).db;
  } catch (error) {
    if (error instanceof StoreOpenError) throw new MigrateError(error.message);
    throw error;
  }
  try {
    const link = await openRedisLink(o.to).catch((error) => {
      throw new MigrateError((error as Error).message);
    });
    try {
      await prepareTarget(link, o.force === true);
      const expected = await copy(db, link, o.skipTokens === true, o.now ?? Date.now());
      const found = await countTarget(link);
      for (const k of Object.keys(expected) as (keyof MigrateCounts)[])
        if (found[k] !== expected[k])
          throw new MigrateError(
            `the check failed: ${k} in Redis ${found[k]}, in the file ${expected[k]}; run again with --force`,
          );
      return expected;
    } finally {
      link.close();
    }
  } finally {
    db.close();
  }
}

// --- internal ---

/** Refuses a target holding chat data, or (force) deletes every chat key there first. */
async function prepareTarget(link: RedisLink, force: boolean): Promise<void> {
  const used = await Promise.all([
    link.send("EXISTS", [dir.keys]),
    link.send("EXISTS", [dir.nextId]),
    link.send("EXISTS", [messages.nextId]),
  ]);
  if (!used.some(Number)) return;
  if (!force)
    throw new MigrateError(
      `${link.target.display} already holds chat data; to replace it (everything there is deleted), run again with --force`,
    );
  await forEachMaster(link, async (c) => {
    let cursor = "0";
    do {
      const [next, keys] = (await c.send("SCAN", [cursor, "MATCH", `${PREFIX}*`, "COUNT", 1000])) as [
        string,
        string[],
      ];
      cursor = String(next);
      // One key per DEL: on a cluster the keys of one reply lie in many slots.
      await Promise.all(keys.map((k) => c.send("DEL", [k])));
    } while (cursor !== "0");
  });
}

interface AccountRow {
  id: number;
  key: string;
  name: string;
  password_hash: string;
  created_at: number;
  skeleton: string | null;
  last_login_at: number | null;
}

async function copy(db: Database, link: RedisLink, skipTokens: boolean, now: number): Promise<MigrateCounts> {
  const out = new Pipeline(link);
  const counts: MigrateCounts = { accounts: 0, queued: 0, reservedNames: 0, tokens: 0, bans: 0 };

  const accounts = db
    .query<AccountRow, []>(
      "SELECT id, key, name, password_hash, created_at, skeleton, last_login_at FROM accounts ORDER BY id",
    )
    .all();
  const keys = new Set(accounts.map((a) => a.key));
  const ids = new Set<number>();
  let maxAccountId = 0;
  for (const a of accounts) {
    // Accounts from before skeletons get theirs as a server's start would give them.
    let { key, skeleton } = a;
    if (skeleton === null) {
      const today = nameIdentity(a.name);
      if (today.key !== key && !keys.has(today.key)) {
        keys.delete(key);
        keys.add(today.key);
        key = today.key;
      }
      skeleton = today.skeleton;
    }
    const rec = `${a.id}|${JSON.stringify({ name: a.name, key, createdAt: a.created_at, skeleton })}`;
    await out.send("HSET", [dir.byKey, key, rec]);
    await out.send("HSET", [dir.byId, a.id, rec]);
    await out.send("HSET", [dir.passwords, a.id, a.password_hash]);
    // The oldest account with a skeleton is the one it names (accounts go in id order).
    await out.send("HSETNX", [dir.skeletons, skeleton, key]);
    await out.send("ZADD", [dir.keys, 0, key]);
    if (a.last_login_at !== null) await out.send("HSET", [ops.lastLogin, a.id, a.last_login_at]);
    ids.add(a.id);
    maxAccountId = Math.max(maxAccountId, a.id);
    counts.accounts++;
  }
  // AUTOINCREMENT: ids of deleted accounts are not reused either.
  const seq = db.query<{ seq: number }, []>("SELECT seq FROM sqlite_sequence WHERE name = 'accounts'").get();
  await out.send("SET", [dir.nextId, Math.max(maxAccountId, seq?.seq ?? 0)]);

  const bySkeleton = new Map<string, string[]>();
  for (const r of db
    .query<{ key: string; skeleton: string; name: string; until: number }, []>(
      "SELECT key, skeleton, name, until FROM reserved_names ORDER BY key",
    )
    .iterate()) {
    const record = JSON.stringify({ name: r.name, key: r.key, createdAt: 0, skeleton: r.skeleton });
    await out.send("HSET", [dir.reserved, r.key, `${r.until}|${record}`]);
    await out.send("ZADD", [dir.reservedUntil, r.until, r.key]);
    bySkeleton.set(r.skeleton, [...(bySkeleton.get(r.skeleton) ?? []), r.key]);
    counts.reservedNames++;
  }
  for (const [skeleton, ks] of bySkeleton)
    await out.send("HSET", [dir.reservedBySkeleton, skeleton, JSON.stringify(ks)]);

  // Messages in id order per recipient: the queue, the bodies, the per-sender counts, the highest id.
  let last: { recipient: number; id: number } | null = null;
  let maxMessageId = 0;
  for (const m of db
    .query<
      {
        recipient_id: number;
        id: number;
        sender_id: number;
        sender_name: string;
        text: string;
        sent_at: number;
      },
      []
    >(
      "SELECT recipient_id, id, sender_id, sender_name, text, sent_at FROM messages ORDER BY recipient_id, id",
    )
    .iterate()) {
    if (!ids.has(m.recipient_id)) continue; // an orphan no server would ever hand out
    const u = user(m.recipient_id);
    if (last && last.recipient !== m.recipient_id)
      await out.send("HSET", [user(last.recipient).meta, "last", last.id]);
    await out.send("ZADD", [u.queue, m.id, m.id]);
    await out.send("HSET", [
      u.bodies,
      m.id,
      `${m.sender_id}|${JSON.stringify([m.sender_name, m.text, m.sent_at])}`,
    ]);
    await out.send("HINCRBY", [u.senders, m.sender_id, 1]);
    last = { recipient: m.recipient_id, id: m.id };
    maxMessageId = Math.max(maxMessageId, m.id);
    counts.queued++;
  }
  if (last) await out.send("HSET", [user(last.recipient).meta, "last", last.id]);
  const next = db.query<{ value: number }, []>("SELECT value FROM meta WHERE key = 'next_message_id'").get();
  // The Redis counter holds the last id handed out; the file keeps the next one.
  await out.send("SET", [messages.nextId, Math.max(maxMessageId, (next?.value ?? 1) - 1)]);
  await out.send("SET", [messages.queued, counts.queued]);

  // Resend detection: each sender's ring, kept per recipient on Redis (redis-keys.ts), in id order.
  for (const r of db
    .query<
      { sender_id: number; client_msg_id: number; message_id: number; recipient_id: number; sent_at: number },
      []
    >("SELECT sender_id, client_msg_id, message_id, recipient_id, sent_at FROM sent_ring ORDER BY message_id")
    .iterate()) {
    if (!ids.has(r.recipient_id)) continue;
    const g = ring(r.recipient_id, r.sender_id);
    await out.send("SADD", [user(r.recipient_id).rings, r.sender_id]);
    await out.send("HSET", [g.hash, r.client_msg_id, `${r.message_id}:${r.sent_at}`]);
    await out.send("RPUSH", [g.order, r.client_msg_id]);
  }

  if (!skipTokens)
    for (const t of db
      .query<{ hash: string; account_id: number; expires_at: number }, [number]>(
        "SELECT hash, account_id, expires_at FROM tokens WHERE expires_at > ? ORDER BY hash",
      )
      .iterate(now)) {
      if (!ids.has(t.account_id)) continue;
      await out.send("SET", [token(t.hash), `${t.account_id}|${t.expires_at}`]);
      await out.send("SADD", [user(t.account_id).tokens, t.hash]);
      await out.send("ZADD", [tokenExpiry, t.expires_at, t.hash]);
      counts.tokens++;
    }

  for (const b of db
    .query<{ prefix: string; until: number | null; created_at: number }, []>(
      "SELECT prefix, until, created_at FROM bans ORDER BY prefix",
    )
    .iterate()) {
    await out.send("HSET", [ops.bans, b.prefix, JSON.stringify({ until: b.until, createdAt: b.created_at })]);
    counts.bans++;
  }
  await out.done();
  return counts;
}

/** What the target holds, counted in Redis itself. */
async function countTarget(link: RedisLink): Promise<MigrateCounts> {
  const ids = ((await link.send("HKEYS", [dir.byId])) as string[]).map(Number);
  let queued = 0;
  for (let i = 0; i < ids.length; i += BATCH)
    for (const n of await Promise.all(
      // Without the queue's pad (QUEUE_PAD, scored -inf).
      ids.slice(i, i + BATCH).map((id) => link.send("ZCOUNT", [user(id).queue, "(-inf", "+inf"])),
    ))
      queued += Number(n);
  const [accounts, reservedNames, tokens, bans] = await Promise.all([
    link.send("ZCARD", [dir.keys]),
    link.send("HLEN", [dir.reserved]),
    link.send("ZCARD", [tokenExpiry]),
    link.send("HLEN", [ops.bans]),
  ]);
  return {
    accounts: Number(accounts),
    queued,
    reservedNames: Number(reservedNames),
    tokens: Number(tokens),
    bans: Number(bans),
  };
}

/** Sends commands without waiting for each answer, waiting once BATCH are on their way. */
class Pipeline {
  private pending: Promise<unknown>[] = [];

  constructor(private readonly link: RedisLink) {}

  async send(command: string, args: (string | number)[]): Promise<void> {
    this.pending.push(this.link.send(command, args));
    if (this.pending.length >= BATCH) await this.done();
  }

  async done(): Promise<void> {
    const p = this.pending;
    this.pending = [];
    await Promise.all(p);
  }
}
