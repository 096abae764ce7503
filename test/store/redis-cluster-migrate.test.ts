// chat migrate's copy from a real SQLite file into a real Redis (one redis-server, and a
// three-master Redis Cluster): the RedisStore opened afterwards answers as the SqliteStore
// did, ids carry on above the copied ones, and the target's emptiness and the source's
// lock are respected.

import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compileGlob } from "../../src/rules/glob";
import { MigrateError, migrateSqliteToRedis } from "../../src/store/migrate";
import { migrateRedisToSqlite } from "../../src/store/migrate-sqlite";
import { RedisStore } from "../../src/store/redis";
import { parseRedisTarget } from "../../src/store/redis-url";
import { SqliteStore } from "../../src/store/sqlite";
import type { Account, Store } from "../../src/store/store";
import { addAccount, LIMITS, msg, put, T0 } from "./contract";
import { type RedisCluster, startRedisCluster } from "./redis-cluster-server";
import { type RedisServer, startRedis } from "./redis-server";

const limits = { ...LIMITS, maxQueuedPerAccount: 50, maxQueuedPerSender: 50 };
let dir: string;
let redis: RedisServer;
let cluster: RedisCluster;
const opened: Store[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "chat-migrate-"));
  [redis, cluster] = await Promise.all([startRedis(), startRedisCluster()]);
}, 60_000);

afterAll(async () => {
  for (const s of opened) await s.close().catch(() => {});
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
});

function target(url: string) {
  const r = parseRedisTarget(url);
  if (!r.ok) throw new Error(r.reason);
  return r.target;
}

interface Source {
  file: string;
  alice: Account;
  bob: Account;
  carol: Account;
  queued: { id: number; text: string }[];
}

/** A data file as a server leaves it: accounts, a deleted one's reserved name, queues, a token, a ban. */
async function makeSource(name: string): Promise<Source> {
  const file = join(dir, `${name}.db`);
  const s = SqliteStore.open({ path: file, sync: "normal", ...limits });
  const [alice, bob, carol] = [
    await addAccount(s, "Alice"),
    await addAccount(s, "Bob"),
    await addAccount(s, "Carol"),
  ];
  const gone = await addAccount(s, "Dave");
  await s.deleteAccount(gone.id, T0 + 86_400_000);
  const queued = [];
  for (let i = 0; i < 5; i++)
    queued.push(await put(s, msg(bob, "alice", `from bob ${i}`, { clientMsgId: 100 + i, sentAt: T0 + i })));
  queued.push(await put(s, msg(carol, "alice", "from carol", { clientMsgId: 7 })));
  await put(s, msg(alice, "bob", "to bob"));
  await s.ack(
    bob.id,
    (await s.pending(bob.id, 0, 10)).map((m) => m.id),
  );
  await s.saveToken({ hash: "tok-alice", accountId: alice.id, expiresAt: Date.now() + 3_600_000 });
  await s.saveToken({ hash: "tok-old", accountId: bob.id, expiresAt: 1 });
  await s.saveBan({ prefix: "203.0.113.0/24", until: null, createdAt: T0 });
  await s.recordLogin(carol.id, T0 + 5);
  await s.close();
  return { file, alice, bob, carol, queued: queued.map((m) => ({ id: m.id, text: m.text })) };
}

/** What both stores must answer alike. */
async function checkCopied(r: Store, src: Source): Promise<void> {
  const { alice, bob, carol } = src;
  for (const a of [alice, bob, carol]) {
    expect(await r.findAccount(a.key)).toEqual(a);
    expect(await r.findAccountById(a.id)).toEqual(a);
    expect(await r.passwordHash(a.id)).toBe(`hash:${a.name}`);
  }
  expect(await r.findAccountBySkeleton("alice")).toEqual(alice);
  const waiting = await r.pending(alice.id, 0, 50);
  expect(waiting.map((m) => ({ id: m.id, text: m.text }))).toEqual(src.queued);
  expect(waiting[0]).toMatchObject({ senderName: "Bob", sentAt: T0 });
  expect(await r.countPending(bob.id)).toBe(0);
  expect(await r.stats()).toEqual({ accounts: 3, queued: 6 });
  expect(await r.nameReservation("dave", "dave", T0)).toEqual({ name: "Dave", until: T0 + 86_400_000 });
  expect(await r.createAccount({ name: "Dave", key: "dave", passwordHash: "h", createdAt: T0 })).toBeNull();
  expect(await r.findToken("tok-alice", Date.now())).toMatchObject({ accountId: alice.id });
  expect(await r.findToken("tok-old", Date.now())).toBeNull();
  expect(await r.listBans(T0)).toEqual([{ prefix: "203.0.113.0/24", until: null, createdAt: T0 }]);
  expect(await r.lastLogin(carol.id)).toBe(T0 + 5);
  const page = await r.listAccounts({ afterKey: "", pattern: glob("*"), limit: 10, maxExamined: 10 });
  expect(page.accounts.map((a) => a.key)).toEqual(["alice", "bob", "carol"]);
  // A resend of a message sent before the move is still recognised.
  expect(await r.enqueue(msg(bob, "alice", "from bob 4", { clientMsgId: 104 }))).toMatchObject({
    duplicate: true,
    message: { id: src.queued[4]!.id },
  });
  // New ids carry on above every copied one; the queue stays in order.
  const next = await put(r, msg(carol, "alice", "after the move"));
  expect(next.id).toBeGreaterThan(Math.max(...src.queued.map((m) => m.id)));
  const erin = await addAccount(r, "Erin");
  expect(erin.id).toBeGreaterThan(carol.id + 1); // above the deleted Dave's id too
  await r.ack(alice.id, [src.queued[0]!.id]);
  expect((await r.pending(alice.id, 0, 50)).map((m) => m.text)).toEqual([
    ...src.queued.slice(1).map((m) => m.text),
    "after the move",
  ]);
}

function glob(p: string) {
  const r = compileGlob(p);
  if (!r.ok) throw new Error(r.reason);
  return r.glob;
}

describe("chat migrate: SQLite into Redis", () => {
  it("copies everything into one Redis, and the Redis store answers as the SQLite store did", async () => {
    await redis.cli("FLUSHALL");
    const src = await makeSource("one");
    const counts = await migrateSqliteToRedis({ from: src.file, to: target(redis.url) });
    expect(counts).toEqual({ accounts: 3, queued: 6, reservedNames: 1, tokens: 1, bans: 1 });
    const r = await RedisStore.open(target(redis.url), limits);
    opened.push(r);
    await checkCopied(r, src);
  });

  it("copies into a Redis Cluster the same way", async () => {
    await cluster.flush();
    const src = await makeSource("sharded");
    expect(await migrateSqliteToRedis({ from: src.file, to: target(cluster.url) })).toMatchObject({
      accounts: 3,
      queued: 6,
    });
    const r = await RedisStore.open(target(cluster.url), limits);
    opened.push(r);
    expect(r.onCluster).toBe(true);
    await checkCopied(r, src);
  });

  it("refuses a target that holds chat data unless forced, and a file a server holds", async () => {
    await redis.cli("FLUSHALL");
    const src = await makeSource("twice");
    await migrateSqliteToRedis({ from: src.file, to: target(redis.url), skipTokens: true });
    await redis.cli("SET", "unrelated", "kept");
    const again = await migrateSqliteToRedis({ from: src.file, to: target(redis.url) }).catch((e) => e);
    expect(again).toBeInstanceOf(MigrateError);
    expect(again.message).toContain("already holds chat data; to replace it");
    // --force: the old chat keys go (the extra account made here too), other keys stay.
    const r = await RedisStore.open(target(redis.url), limits);
    opened.push(r);
    await addAccount(r, "Zed");
    expect(await migrateSqliteToRedis({ from: src.file, to: target(redis.url), force: true })).toMatchObject({
      accounts: 3,
      tokens: 1,
    });
    expect(await r.findAccount("zed")).toBeNull();
    expect(await redis.cli("GET", "unrelated")).toBe("kept");
    // A running server holds the file's lock.
    const held = SqliteStore.open({ path: src.file, sync: "normal", ...limits });
    try {
      const locked = await migrateSqliteToRedis({ from: src.file, to: target(redis.url), force: true }).catch(
        (e) => e,
      );
      expect(locked).toBeInstanceOf(MigrateError);
      expect(locked.message).toContain("is in use by another chat server");
    } finally {
      await held.close();
    }
    const missing = await migrateSqliteToRedis({ from: join(dir, "nope.db"), to: target(redis.url) }).catch(
      (e) => e,
    );
    expect(missing.message).toBe(`${join(dir, "nope.db")} does not exist`);
  });
});

describe("chat migrate: back from Redis to a new SQLite file", () => {
  for (const where of ["one Redis", "a Redis Cluster"] as const) {
    it(`copies everything from ${where} into a new file, which the SQLite store serves as before`, async () => {
      const url = where === "one Redis" ? redis.url : cluster.url;
      if (where === "one Redis") await redis.cli("FLUSHALL");
      else await cluster.flush();
      const src = await makeSource(`round-${where.length}`);
      await migrateSqliteToRedis({ from: src.file, to: target(url) });
      const file = join(dir, `back-${where.length}.db`);
      expect(await migrateRedisToSqlite({ from: target(url), to: file })).toEqual({
        accounts: 3,
        queued: 6,
        reservedNames: 1,
        tokens: 1,
        bans: 1,
      });
      const s = SqliteStore.open({ path: file, sync: "normal", ...limits });
      try {
        await checkCopied(s, src);
      } finally {
        await s.close();
      }
      const exists = await migrateRedisToSqlite({ from: target(url), to: file }).catch((e) => e);
      expect(exists).toBeInstanceOf(MigrateError);
      expect(exists.message).toBe(`${file} already exists; choose a new file name`);
    });
  }

  it("refuses a Redis without chat data", async () => {
    await redis.cli("FLUSHALL");
    const error = await migrateRedisToSqlite({ from: target(redis.url), to: join(dir, "empty.db") }).catch(
      (e) => e,
    );
    expect(error).toBeInstanceOf(MigrateError);
    expect(error.message).toBe(`redis://127.0.0.1:${redis.port}/0 holds no chat data`);
  });
});
