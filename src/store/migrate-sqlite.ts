// `chat migrate --from redis://… --to FILE`: the way back from Redis (one Redis or a Redis
// Cluster) to a new SQLite data file, keeping every id: accounts with their passwords,
// skeletons and last logins, reserved names, queued messages in order, the resend rings
// (regrouped per sender, as the SQLite store keeps them), session tokens (unless left out)
// and bans, with the id counters. Written in one transaction, then counted in the file.
// Redis cannot be locked the way a file is: every node must be stopped first (docs/CLUSTER.md).

import type { Database } from "bun:sqlite";
import { existsSync } from "node:fs";
import { type MigrateCounts, MigrateError } from "./migrate";
import { openRedisLink } from "./redis-cluster";
import type { RedisLink } from "./redis-conn";
import { dir, messages, ops, ring, token, tokenExpiry, user } from "./redis-keys";
import { RING_PAD_FIELD } from "./redis-scripts";
import type { RedisTarget } from "./redis-url";
import { openDataFile, StoreOpenError } from "./sqlite-file";

export interface MigrateBackOptions {
  from: RedisTarget;
  to: string;
  skipTokens?: boolean;
  now?: number;
}

/** Records read per HSCAN/ZRANGE step, and recipients read at once. */
const STEP = 1000;

export async function migrateRedisToSqlite(o: MigrateBackOptions): Promise<MigrateCounts> {
  if (existsSync(o.to)) throw new MigrateError(`${o.to} already exists; choose a new file name`);
  const link = await openRedisLink(o.from).catch((error) => {
    throw new MigrateError((error as Error).message);
  });
  let db: Database | null = null;
  try {
    if (!Number(await link.send("EXISTS", [dir.nextId])))
      throw new MigrateError(`${o.from.display} holds no chat data`);
    try {
      db = openDataFile({ path: o.to, sync: "full" }).db;
    } catch (error) {
      if (error instanceof StoreOpenError) throw new MigrateError(error.message);
      throw error;
    }
    const expected = await copyBack(link, db, o.skipTokens === true, o.now ?? Date.now());
    const found = countFile(db);
    for (const k of Object.keys(expected) as (keyof MigrateCounts)[])
      if (found[k] !== expected[k])
        throw new MigrateError(`the check failed: ${k} in ${o.to} ${found[k]}, in Redis ${expected[k]}`);
    return expected;
  } finally {
    db?.close();
    link.close();
  }
}

// --- internal ---

interface AccountRecord {
  name: string;
  key: string;
  createdAt: number;
  skeleton: string;
}

async function copyBack(
  link: RedisLink,
  db: Database,
  skipTokens: boolean,
  now: number,
): Promise<MigrateCounts> {
  const counts: MigrateCounts = { accounts: 0, queued: 0, reservedNames: 0, tokens: 0, bans: 0 };
  // Read everything first (Redis is not changing: the nodes are stopped), then write in one transaction.
  const accounts = await hashEntries(link, dir.byId);
  const passwords = new Map(await hashEntries(link, dir.passwords));
  const logins = new Map(await hashEntries(link, ops.lastLogin));
  const reserved = await hashEntries(link, dir.reserved);
  const bans = await hashEntries(link, ops.bans);
  const nextAccount = Number((await link.send("GET", [dir.nextId])) ?? 0);
  const lastMessage = Number((await link.send("GET", [messages.nextId])) ?? 0);

  const insertAccount = db.prepare(
    "INSERT INTO accounts (id, key, name, password_hash, created_at, skeleton, last_login_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
  );
  const insertMessage = db.prepare(
    "INSERT INTO messages (recipient_id, id, sender_name, text, sent_at, sender_id) VALUES (?, ?, ?, ?, ?, ?)",
  );
  const insertRing = db.prepare(
    "INSERT INTO sent_ring (sender_id, slot, client_msg_id, message_id, recipient_id, sent_at) VALUES (?, ?, ?, ?, ?, ?)",
  );
  try {
    const rows: { id: number; a: AccountRecord }[] = accounts.map(([id, rec]) => ({
      id: Number(id),
      a: JSON.parse(rec.slice(rec.indexOf("|") + 1)) as AccountRecord,
    }));
    rows.sort((x, y) => x.id - y.id);

    // Queues and rings, a batch of recipients at a time.
    const queued: [number, number, string, string, number, number][] = [];
    const rings = new Map<number, { cm: number; messageId: number; recipientId: number; sentAt: number }[]>();
    for (let i = 0; i < rows.length; i += STEP) {
      await Promise.all(
        rows.slice(i, i + STEP).map(async ({ id }) => {
          const u = user(id);
          // Every id, without the queue's pad (QUEUE_PAD, scored -inf).
          const ids = (await link.send("ZRANGE", [u.queue, "(-inf", "+inf", "BYSCORE"])) as string[];
          const bodies = ids.length
            ? ((await link.send("HMGET", [u.bodies, ...ids])) as (string | null)[])
            : [];
          ids.forEach((mid, j) => {
            const raw = bodies[j];
            if (!raw) return;
            const bar = raw.indexOf("|");
            const [senderName, text, sentAt] = JSON.parse(raw.slice(bar + 1)) as [string, string, number];
            queued.push([id, Number(mid), senderName, text, sentAt, Number(raw.slice(0, bar))]);
          });
          for (const s of (await link.send("SMEMBERS", [u.rings])) as string[]) {
            const sender = Number(s);
            const list = rings.get(sender) ?? [];
            for (const [cm, v] of await hashEntries(link, ring(id, sender).hash)) {
              if (cm === RING_PAD_FIELD) continue;
              const [messageId, sentAt] = v.split(":").map(Number);
              list.push({ cm: Number(cm), messageId: messageId!, recipientId: id, sentAt: sentAt! });
            }
            rings.set(sender, list);
          }
        }),
      );
    }

    const tokens: [string, number, number][] = [];
    if (!skipTokens) {
      const expiring = await sortedEntries(link, tokenExpiry);
      for (let i = 0; i < expiring.length; i += STEP)
        await Promise.all(
          expiring.slice(i, i + STEP).map(async ([hash, expiresAt]) => {
            if (expiresAt <= now) return;
            const v = (await link.send("GET", [token(hash)])) as string | null;
            if (v) tokens.push([hash, Number(v.split("|")[0]), Number(v.split("|")[1])]);
          }),
        );
    }

    db.transaction(() => {
      for (const { id, a } of rows) {
        const login = logins.get(String(id));
        insertAccount.run(
          id,
          a.key,
          a.name,
          passwords.get(String(id)) ?? "",
          a.createdAt,
          a.skeleton,
          login === undefined ? null : Number(login),
        );
        counts.accounts++;
      }
      // Ids of deleted accounts are not reused either.
      const seq = Math.max(nextAccount, rows.at(-1)?.id ?? 0);
      if (db.run("UPDATE sqlite_sequence SET seq = ? WHERE name = 'accounts'", [seq]).changes === 0)
        db.run("INSERT INTO sqlite_sequence (name, seq) VALUES ('accounts', ?)", [seq]);
      for (const [key, v] of reserved) {
        const bar = v.indexOf("|");
        const r = JSON.parse(v.slice(bar + 1)) as AccountRecord;
        db.run("INSERT INTO reserved_names (key, skeleton, name, until) VALUES (?, ?, ?, ?)", [
          key,
          r.skeleton,
          r.name,
          Number(v.slice(0, bar)),
        ]);
        counts.reservedNames++;
      }
      let maxMessage = lastMessage;
      for (const m of queued) {
        insertMessage.run(...m);
        maxMessage = Math.max(maxMessage, m[1]);
        counts.queued++;
      }
      // The file keeps the next id to give, Redis the last one given.
      db.run("UPDATE meta SET value = ? WHERE key = 'next_message_id'", [maxMessage + 1]);
      for (const [sender, list] of rings) {
        list.sort((x, y) => x.messageId - y.messageId);
        // Oldest first in slots 0..: the SQLite store continues after the newest (and keeps its own N).
        list.forEach((r, slot) => {
          insertRing.run(sender, slot, r.cm, r.messageId, r.recipientId, r.sentAt);
        });
      }
      for (const [hash, accountId, expiresAt] of tokens) {
        db.run("INSERT INTO tokens (hash, account_id, expires_at) VALUES (?, ?, ?)", [
          hash,
          accountId,
          expiresAt,
        ]);
        counts.tokens++;
      }
      for (const [prefix, v] of bans) {
        const b = JSON.parse(v) as { until: number | null; createdAt: number };
        db.run("INSERT INTO bans (prefix, until, created_at) VALUES (?, ?, ?)", [
          prefix,
          b.until,
          b.createdAt,
        ]);
        counts.bans++;
      }
    })();
    return counts;
  } finally {
    // Statements left open would keep the file (and its lock) open after close.
    for (const st of [insertAccount, insertMessage, insertRing]) st.finalize();
  }
}

function countFile(db: Database): MigrateCounts {
  const n = (table: string) => (db.query(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
  return {
    accounts: n("accounts"),
    queued: n("messages"),
    reservedNames: n("reserved_names"),
    tokens: n("tokens"),
    bans: n("bans"),
  };
}

/** Every field and value of a hash, by HSCAN steps. */
async function hashEntries(link: RedisLink, key: string): Promise<[string, string][]> {
  const out: [string, string][] = [];
  let cursor = "0";
  do {
    const [next, flat] = (await link.send("HSCAN", [key, cursor, "COUNT", STEP])) as [string, string[]];
    for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i]!, flat[i + 1]!]);
    cursor = String(next);
  } while (cursor !== "0");
  return out;
}

/** Every member and score of a sorted set, by ZRANGE steps. */
async function sortedEntries(link: RedisLink, key: string): Promise<[string, number][]> {
  const out: [string, number][] = [];
  for (let start = 0; ; start += STEP) {
    const r = (await link.send("ZRANGE", [key, start, start + STEP - 1, "WITHSCORES"])) as unknown[];
    // RESP3 answers [member, score] pairs, RESP2 a flat list.
    const flat = r.flat() as (string | number)[];
    for (let i = 0; i + 1 < flat.length; i += 2) out.push([String(flat[i]), Number(flat[i + 1])]);
    if (flat.length < 2 * STEP) return out;
  }
}
