import { Database } from "bun:sqlite";
import { afterEach, beforeEach, describe, expect, it } from "bun:test";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { nameIdentity, nameKey, nameSkeleton } from "../../src/rules/names";
import { MIGRATIONS, SCHEMA_VERSION } from "../../src/store/migrations";
import { type SqliteOptions, SqliteStore, StoreOpenError } from "../../src/store/sqlite";
import { openDataFile } from "../../src/store/sqlite-file";
import { type Account, StorageError, StorageFullError } from "../../src/store/store";
import { addAccount, LIMITS, msg, put, runStoreContract, T0 } from "./contract";

// --- helpers ---

/** A fresh directory per test, removed afterwards with everything opened in it. */
let dir: string;
let opened: SqliteStore[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "chat-sqlite-test-"));
});

afterEach(async () => {
  for (const s of opened) await s.close();
  opened = [];
  rmSync(dir, { recursive: true, force: true });
});

function open(extra: Partial<SqliteOptions> = {}): SqliteStore {
  const s = SqliteStore.open({ path: join(dir, "chat.db"), sync: "normal", ...LIMITS, ...extra });
  opened.push(s);
  return s;
}

function openError(extra: Partial<SqliteOptions> = {}): string {
  try {
    open(extra);
  } catch (e) {
    expect(e).toBeInstanceOf(StoreOpenError);
    return (e as Error).message;
  }
  throw new Error("the store opened");
}

/** Writes a SQLite file with bun:sqlite directly, as another program would. */
function writeDatabase(path: string, sql: string[]): Buffer {
  const db = new Database(path);
  for (const q of sql) db.run(q);
  db.close();
  return readFileSync(path);
}

/**
 * A table's row count in a copy of the live files (the store holds an exclusive lock), opened
 * as the server opens its file after a crash: what a crash now would keep.
 */
function countInCopy(table: string): number {
  const copy = join(dir, "copy");
  rmSync(copy, { recursive: true, force: true });
  mkdirSync(copy);
  for (const ext of ["", "-wal", "-redo"]) {
    if (existsSync(join(dir, `chat.db${ext}`)))
      copyFileSync(join(dir, `chat.db${ext}`), join(copy, `c.db${ext}`));
  }
  const { db } = openDataFile({ path: join(copy, "c.db"), sync: "normal" });
  const { n } = db.query(`SELECT count(*) AS n FROM ${table}`).get() as { n: number };
  db.close();
  return n;
}

/**
 * Makes the store's next steps that make a batch durable fail as a disk I/O error would:
 * its COMMIT, and its write to the redo log.
 */
function failCommits(s: SqliteStore): () => void {
  const inner = s as unknown as {
    q: { commit: { run: () => unknown } };
    redo: { append: () => void };
  };
  const commit = inner.q.commit.run;
  const append = inner.redo.append;
  const ioError = () => {
    throw Object.assign(new Error("disk I/O error"), { code: "SQLITE_IOERR" });
  };
  inner.q.commit.run = ioError;
  inner.redo.append = ioError;
  return () => {
    inner.q.commit.run = commit;
    inner.redo.append = append;
  };
}

const big = "x".repeat(500);
const ids = (ms: readonly { id: number }[]): number[] => ms.map((m) => m.id);

runStoreContract("SqliteStore", (limits) =>
  SqliteStore.open({ path: join(dir, "contract.db"), sync: "normal", ...limits }),
);

describe("SqliteStore: durability", () => {
  it("keeps accounts, queued messages and tokens across close and reopen", async () => {
    const s = open();
    const [alice, bob] = [await addAccount(s, "Alice"), await addAccount(s, "Bob")];
    const m = await put(s, msg(bob, "alice", "still here?"));
    await s.saveToken({ hash: "t", accountId: alice.id, expiresAt: T0 + 1000 });
    await s.close();
    const again = open();
    expect(await again.findAccount("alice")).toEqual(alice);
    expect(await again.findAccountById(bob.id)).toEqual(bob);
    expect(await again.pending(alice.id, 0, 10)).toEqual([m]);
    expect(await again.findToken("t", T0)).toEqual({ hash: "t", accountId: alice.id, expiresAt: T0 + 1000 });
    expect(await again.stats()).toEqual({ accounts: 2, queued: 1 });
  });

  it("never goes back on message ids, even with every message acked and the file reopened", async () => {
    let s = open();
    const [alice, bob] = [await addAccount(s, "Alice"), await addAccount(s, "Bob")];
    let last = 0;
    for (let round = 0; round < 3; round++) {
      const m = await put(s, msg(bob, "alice", `round ${round}`));
      expect(m.id).toBeGreaterThan(last);
      last = m.id;
      await s.ack(alice.id, [m.id]);
      expect(await s.countPending(alice.id)).toBe(0);
      await s.close();
      s = open();
    }
  });

  it("resolves calls issued in one turn together, after one commit that makes them all durable", async () => {
    const s = open({ sync: "full", maxQueuedPerAccount: 100, maxQueuedPerSender: 100 });
    const [alice, bob] = [await addAccount(s, "Alice"), await addAccount(s, "Bob")];
    const calls = Array.from({ length: 50 }, (_, i) => s.enqueue(msg(bob, "alice", `m${i}`)));
    expect(calls.every((p) => Bun.peek.status(p) === "pending")).toBe(true);
    await calls[0];
    expect(calls.every((p) => Bun.peek.status(p) === "fulfilled")).toBe(true);
    // Committed before close: a copy of the files taken now holds all fifty.
    expect(countInCopy("messages")).toBe(50);
    expect(await s.countPending(alice.id)).toBe(50);
  });

  it("rejects every call of a batch whose COMMIT fails, and keeps nothing of it", async () => {
    const s = open();
    const [alice, bob] = [await addAccount(s, "Alice"), await addAccount(s, "Bob")];
    const before = await put(s, msg(bob, "alice", "committed"));
    const restore = failCommits(s);
    const batch = await Promise.allSettled([
      s.createAccount({ name: "Carol", key: "carol", passwordHash: "h", createdAt: T0 }),
      s.enqueue(msg(bob, "alice", "lost")),
      s.saveToken({ hash: "t", accountId: alice.id, expiresAt: T0 + 1000 }),
      s.countPending(alice.id),
    ]);
    for (const r of batch) {
      expect(r.status).toBe("rejected");
      expect((r as PromiseRejectedResult).reason).toBeInstanceOf(StorageError);
    }
    restore();
    expect(await s.findAccount("carol")).toBeNull();
    expect(await s.findToken("t", T0)).toBeNull();
    expect(await s.pending(alice.id, 0, 10)).toEqual([before]);
    expect(await s.stats()).toEqual({ accounts: 2, queued: 1 });
    // Ids handed out in the failed batch are not reused.
    expect((await put(s, msg(bob, "alice", "next"))).id).toBeGreaterThan(before.id + 1);
  });

  it("stores a receipt in the commit that removes its message: both, or after a failed commit neither", async () => {
    let s = open();
    const [alice, bob] = [await addAccount(s, "Alice"), await addAccount(s, "Bob")];
    const m1 = await put(s, msg(bob, "alice", "first", { clientMsgId: 9 }));
    const m2 = await put(s, msg(bob, "alice", "second"));
    const asAlice = { recipientName: "Alice", confirmedAt: T0 + 7, maxPerAccount: 10 };
    const restore = failCommits(s);
    const batch = await Promise.allSettled([
      s.ackWithReceipts(alice.id, [m1.id], asAlice),
      s.enqueue(msg(bob, "alice", "fails the commit")),
    ]);
    expect(batch.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    restore();
    expect(ids(await s.pending(alice.id, 0, 10))).toEqual([m1.id, m2.id]);
    expect(await s.receipts(bob.id, 10)).toEqual([]);
    expect((await s.ackWithReceipts(alice.id, [m1.id], asAlice)).receipts).toHaveLength(1);
    await s.close();
    s = open();
    expect(ids(await s.pending(alice.id, 0, 10))).toEqual([m2.id]);
    expect(await s.receipts(bob.id, 10)).toEqual([
      { messageId: m1.id, senderId: bob.id, recipientName: "Alice", confirmedAt: T0 + 7, clientMsgId: 9 },
    ]);
  });

  it("keeps each sender's newest receipts across a reopen and a failed commit (the counts in memory stay true)", async () => {
    let s = open();
    const [alice, bob] = [await addAccount(s, "Alice"), await addAccount(s, "Bob")];
    const cap = { recipientName: "Alice", confirmedAt: T0, maxPerAccount: 2 };
    const confirm = async (text: string) => {
      const m = await put(s, msg(bob, "alice", text));
      await s.ackWithReceipts(alice.id, [m.id], cap);
      return m.id;
    };
    const first = [await confirm("1"), await confirm("2")];
    await s.close();
    s = open();
    // Counted from the file: one more drops the oldest.
    const third = await confirm("3");
    expect((await s.receipts(bob.id, 10)).map((r) => r.messageId)).toEqual([first[1]!, third]);
    // A rolled-back batch forgets its counts: the next call still keeps exactly two.
    const m4 = await put(s, msg(bob, "alice", "4"));
    const restore = failCommits(s);
    const failed = await Promise.allSettled([
      s.ackWithReceipts(alice.id, [m4.id], cap),
      s.enqueue(msg(bob, "alice", "fails the commit")),
    ]);
    expect(failed.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    restore();
    await s.deleteReceipts(bob.id, [third]);
    const fifth = await confirm("5");
    expect((await s.receipts(bob.id, 10)).map((r) => r.messageId)).toEqual([first[1]!, fifth]);
    expect((await s.ackWithReceipts(alice.id, [m4.id], cap)).dropped).toBe(1);
    expect((await s.receipts(bob.id, 10)).map((r) => r.messageId)).toEqual([m4.id, fifth]);
  });

  it("confirms a run of messages stored before a reopen with their senders' receipts (read from the rows)", async () => {
    let s = open({ maxQueuedPerAccount: 20, maxQueuedPerSender: 20 });
    const [alice, bob, carol] = [
      await addAccount(s, "Alice"),
      await addAccount(s, "Bob"),
      await addAccount(s, "Carol"),
    ];
    const ms = [];
    for (let i = 0; i < 8; i++)
      ms.push(await put(s, msg(i % 2 ? carol : bob, "alice", `m${i}`, { clientMsgId: 50 + i })));
    await s.close();
    s = open({ maxQueuedPerAccount: 20, maxQueuedPerSender: 20 });
    const cap = { recipientName: "Alice", confirmedAt: T0 + 3, maxPerAccount: 10 };
    const r = await s.ackWithReceipts(
      alice.id,
      ms.slice(1, 7).map((m) => m.id),
      cap,
    );
    expect(r.receipts.map((x) => [x.messageId, x.senderId, x.clientMsgId])).toEqual(
      ms.slice(1, 7).map((m, i) => [m.id, (i + 1) % 2 ? carol.id : bob.id, 51 + i]),
    );
    expect((await s.pending(alice.id, 0, 20)).map((m) => m.id)).toEqual([ms[0]!.id, ms[7]!.id]);
    expect((await s.receipts(bob.id, 10)).map((x) => x.clientMsgId)).toEqual([52, 54, 56]);
    expect((await s.receipts(carol.id, 10)).map((x) => x.clientMsgId)).toEqual([51, 53, 55]);
  });

  it("confirms interleaved mailboxes stored before a reopen, each with its own senders' receipts", async () => {
    let s = open({ maxQueuedPerAccount: 20, maxQueuedPerSender: 20 });
    const [alice, bob, carol] = [
      await addAccount(s, "Alice"),
      await addAccount(s, "Bob"),
      await addAccount(s, "Carol"),
    ];
    const forAlice = [];
    const forCarol = [];
    for (let i = 0; i < 6; i++) {
      forAlice.push(await put(s, msg(bob, "alice", `a${i}`, { clientMsgId: 70 + i })));
      forCarol.push(await put(s, msg(alice, "carol", `c${i}`, { clientMsgId: 90 + i })));
    }
    await s.close();
    s = open({ maxQueuedPerAccount: 20, maxQueuedPerSender: 20 });
    const cap = { recipientName: "Alice", confirmedAt: T0 + 3, maxPerAccount: 10 };
    const r = await s.ackWithReceipts(
      alice.id,
      forAlice.slice(0, 5).map((m) => m.id),
      cap,
    );
    expect(r.receipts.map((x) => [x.senderId, x.clientMsgId])).toEqual(
      [70, 71, 72, 73, 74].map((c) => [bob.id, c]),
    );
    expect((await s.pending(alice.id, 0, 20)).map((m) => m.id)).toEqual([forAlice[5]!.id]);
    expect((await s.pending(carol.id, 0, 20)).map((m) => m.id)).toEqual(forCarol.map((m) => m.id));
  });

  it("rejects calls made after close", async () => {
    const s = open();
    await s.close();
    await expect(s.findAccount("alice")).rejects.toThrow(new StorageError("the data store is closed"));
  });
});

describe("SqliteStore: the per-sender quota across restarts", () => {
  it("counts the messages already waiting when the file is opened again", async () => {
    const limits = { maxQueuedPerAccount: 10, maxQueuedPerSender: 2 };
    let s = open(limits);
    const [alice, bob] = [await addAccount(s, "Alice"), await addAccount(s, "Bob")];
    const first = await put(s, msg(bob, "alice", "1"));
    await put(s, msg(bob, "alice", "2"));
    await s.close();
    s = open(limits);
    expect(await s.enqueue(msg(bob, "alice", "3"))).toEqual({ ok: false, error: "sender_quota" });
    await s.ack(alice.id, [first.id]);
    await s.close();
    s = open(limits);
    await put(s, msg(bob, "alice", "3"));
    expect(await s.enqueue(msg(bob, "alice", "4"))).toEqual({ ok: false, error: "sender_quota" });
  });

  it("a confirmation repeated, or of a message whose batch failed, frees nothing more", async () => {
    const s = open({ maxQueuedPerAccount: 10, maxQueuedPerSender: 2 });
    const [alice, bob] = [await addAccount(s, "Alice"), await addAccount(s, "Bob")];
    const first = await put(s, msg(bob, "alice", "1"));
    const restore = failCommits(s);
    const lost = await s.enqueue(msg(bob, "alice", "lost")).catch((e) => e);
    expect(lost).toBeInstanceOf(StorageError);
    restore();
    await put(s, msg(bob, "alice", "2"));
    // first.id + 1 went to the failed batch's message.
    await s.ack(alice.id, [first.id, first.id, first.id + 1, first.id + 1000]);
    await put(s, msg(bob, "alice", "3"));
    expect(await s.enqueue(msg(bob, "alice", "4"))).toEqual({ ok: false, error: "sender_quota" });
    await s.ack(alice.id, [first.id]);
    expect(await s.enqueue(msg(bob, "alice", "4"))).toEqual({ ok: false, error: "sender_quota" });
    expect(await s.stats()).toEqual({ accounts: 2, queued: 2 });
  });

  it("a file from before the quota: waiting messages are matched to their senders by name", async () => {
    const path = join(dir, "chat.db");
    const old = new Database(path);
    old.run(MIGRATIONS[0]!);
    old.run("PRAGMA user_version = 1");
    old.run(
      "INSERT INTO accounts (key, name, password_hash, created_at) VALUES ('alice', 'Alice', 'h', 0), ('bob', 'Bob', 'h', 0)",
    );
    old.run(
      "INSERT INTO messages (recipient_id, id, sender_name, text, sent_at) VALUES (1, 1, 'Bob', 'a', 0), (1, 2, 'Bob', 'b', 0), (1, 3, 'Gone', 'c', 0)",
    );
    old.run("UPDATE meta SET value = 4 WHERE key = 'next_message_id'");
    old.close();
    const s = open({ maxQueuedPerAccount: 10, maxQueuedPerSender: 2 });
    const bob = (await s.findAccount("bob"))!;
    const alice = (await s.findAccount("alice"))!;
    expect(await s.countPending(alice.id)).toBe(3);
    expect(await s.enqueue(msg(bob, "alice", "more"))).toEqual({ ok: false, error: "sender_quota" });
    await put(s, msg(alice, "alice", "a note to self"));
  });
});

describe("SqliteStore.open: files it must not use", () => {
  it("refuses a file another store has open, and opens it once that one closes", async () => {
    const first = open();
    expect(openError()).toBe(
      `data file ${join(dir, "chat.db")} is in use by another chat server (it is locked). ` +
        "Stop that server or choose another file with --data.",
    );
    await first.close();
    expect(await open().stats()).toEqual({ accounts: 0, queued: 0 });
  });

  it("refuses a file of garbage bytes and leaves it byte for byte as it was", () => {
    const garbage = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) & 0xff));
    writeFileSync(join(dir, "chat.db"), garbage);
    const message = openError();
    expect(message).toStartWith(`data file ${join(dir, "chat.db")} is corrupt (it is not a SQLite database)`);
    expect(message).toContain("--reset-corrupt-data");
    expect(readFileSync(join(dir, "chat.db")).equals(garbage)).toBe(true);
    expect(readdirSync(dir)).toEqual(["chat.db"]);
  });

  it("refuses a SQLite file with damaged pages and leaves it untouched", () => {
    const path = join(dir, "chat.db");
    const good = writeDatabase(path, [
      "CREATE TABLE t (x)",
      ...Array(200).fill("INSERT INTO t VALUES (randomblob(100))"),
    ]);
    const damaged = Buffer.from(good);
    damaged.fill(0xaa, 4096, 4096 + 100); // page 2's header
    writeFileSync(path, damaged);
    expect(openError()).toMatch(/is corrupt .*--reset-corrupt-data/);
    expect(readFileSync(path).equals(damaged)).toBe(true);
  });

  it("with resetCorrupt, moves a corrupt file aside intact and starts empty", async () => {
    const garbage = Buffer.alloc(8192, 0x5a);
    writeFileSync(join(dir, "chat.db"), garbage);
    const s = open({ resetCorrupt: true });
    expect(s.movedAside).toStartWith(`${join(dir, "chat.db")}.corrupt-`);
    expect(readFileSync(s.movedAside!).equals(garbage)).toBe(true);
    expect(await s.stats()).toEqual({ accounts: 0, queued: 0 });
    expect(await addAccount(s, "Alice")).toMatchObject({ key: "alice" });
  });

  it("refuses another program's SQLite database and leaves it untouched", () => {
    const theirs = writeDatabase(join(dir, "chat.db"), [
      "CREATE TABLE notes (body TEXT)",
      "INSERT INTO notes VALUES ('x')",
    ]);
    expect(openError()).toBe(
      `data file ${join(dir, "chat.db")} is a SQLite database of some other program, not a chat data file`,
    );
    expect(readFileSync(join(dir, "chat.db")).equals(theirs)).toBe(true);
  });

  it("refuses a data file of a newer schema", async () => {
    await open().close();
    writeDatabase(join(dir, "chat.db"), ["PRAGMA user_version = 99"]);
    expect(openError()).toContain(
      `was written by a newer chat (schema version 99; this chat knows up to ${SCHEMA_VERSION})`,
    );
  });

  it("explains a path under a missing directory", () => {
    const path = join(dir, "missing", "chat.db");
    expect(openError({ path })).toBe(
      `cannot open data file ${path}: directory ${join(dir, "missing")} does not exist`,
    );
  });

  it("explains a path where nothing can be written", () => {
    const message = openError({ path: "/proc/chat-test.db" });
    expect(message).toStartWith("cannot write data file /proc/chat-test.db: ");
    expect(message).toContain("Check that the file and its directory are writable by this user");
  });

  it("explains a path that is a directory", () => {
    expect(openError({ path: dir })).toBe(`cannot open data file ${dir}: it is a directory`);
  });
});

describe("SqliteStore: the data budget (maxBytes)", () => {
  const BUDGET = 1024 * 1024;
  const limits = { maxBytes: BUDGET, maxQueuedPerAccount: 100_000, maxQueuedPerSender: 100_000 };
  /** What the data takes on disk: the file and its WAL. */
  const onDisk = () =>
    ["chat.db", "chat.db-wal"].reduce(
      (n, f) => n + (statSync(join(dir, f), { throwIfNoEntry: false })?.size ?? 0),
      0,
    );

  /**
   * Enqueues big messages, 20 at a time, until the store answers storage_full, then one at
   * a time until it does so with nothing else in the batch (a batch's additions are only
   * estimated until it commits); returns how many it took.
   */
  async function fill(s: SqliteStore, to: string): Promise<number> {
    const from = (await s.findAccount("bob"))!;
    let n = 0;
    for (let round = 0; round < 1000; round++) {
      const answers = await Promise.all(Array.from({ length: 20 }, () => s.enqueue(msg(from, to, big))));
      expect(onDisk()).toBeLessThanOrEqual(BUDGET);
      const taken = answers.filter((r) => r.ok).length;
      n += taken;
      if (taken < answers.length) {
        expect(answers[taken]).toEqual({ ok: false, error: "storage_full" });
        for (let i = 0; i < 100; i++) {
          const r = await s.enqueue(msg(from, to, big));
          if (!r.ok) {
            expect(r).toEqual({ ok: false, error: "storage_full" });
            return n;
          }
          n++;
        }
      }
    }
    throw new Error("the store never filled up");
  }

  it("refuses new messages with storage_full a reserve below the budget; file and WAL stay within it", async () => {
    const s = open(limits);
    const [alice] = [await addAccount(s, "Alice"), await addAccount(s, "Bob")];
    const n = await fill(s, "alice");
    // 500-character messages in 896 KiB of pages: most of the space, and no write failed.
    expect(n).toBeGreaterThan(800);
    expect(onDisk()).toBeLessThanOrEqual(BUDGET);
    expect(await s.countPending(alice.id)).toBe(n);
    expect((await s.pending(alice.id, 0, 1))[0]!.text).toBe(big);
    expect(await s.findAccount("alice")).toEqual(alice);
    expect(await s.stats()).toEqual({ accounts: 2, queued: n });
    expect(s.description).toEndWith("(sync=normal, up to 1 MB)");
  });

  it("refuses a new account at the limit without failing the rest of its batch", async () => {
    const s = open(limits);
    const [alice] = [await addAccount(s, "Alice"), await addAccount(s, "Bob")];
    await fill(s, "alice");
    const token = s.saveToken({ hash: "t", accountId: alice.id, expiresAt: T0 + 1000 });
    const created = s.createAccount({ name: "Carol", key: "carol", passwordHash: "h", createdAt: T0 });
    await expect(created).rejects.toBeInstanceOf(StorageFullError);
    await token;
    expect(await s.findToken("t", T0)).toMatchObject({ accountId: alice.id });
    expect(await s.findAccount("carol")).toBeNull();
  });

  it("after a restart at the limit: tokens use the reserve, confirmations free space, messages are taken again", async () => {
    let s = open(limits);
    const [alice, bob] = [await addAccount(s, "Alice"), await addAccount(s, "Bob")];
    const n = await fill(s, "alice");
    await s.close();
    s = open(limits);
    expect(await s.enqueue(msg(bob, "alice", big))).toEqual({ ok: false, error: "storage_full" });
    for (let i = 0; i < 200; i++)
      await s.saveToken({ hash: `token ${i}`, accountId: alice.id, expiresAt: T0 + 1000 });
    const waiting = await s.pending(alice.id, 0, 1000);
    // Not awaited: the confirmations join the send's batch, and the space they free counts at once.
    const confirmed = s.ack(alice.id, ids(waiting));
    await put(s, msg(bob, "alice", big));
    await confirmed;
    expect(await s.countPending(alice.id)).toBe(n - waiting.length + 1);
    expect(onDisk()).toBeLessThanOrEqual(BUDGET);
  });

  it("a deleted account's messages free space too", async () => {
    const s = open(limits);
    const [alice, bob] = [await addAccount(s, "Alice"), await addAccount(s, "Bob")];
    await fill(s, "alice");
    await s.deleteAccount(alice.id);
    await put(s, msg(alice, "bob", big));
    expect(await s.countPending(bob.id)).toBe(1);
  });

  it("past the file's hard cap (the reserve spent too) a write fails with 'the disk is full'", async () => {
    const s = open(limits);
    const [alice] = [await addAccount(s, "Alice"), await addAccount(s, "Bob")];
    await fill(s, "alice");
    let failure: unknown;
    for (let i = 0; i < 5000 && !failure; i++) {
      await s
        .saveToken({ hash: `${"x".repeat(400)} ${i}`, accountId: alice.id, expiresAt: T0 })
        .catch((e) => {
          failure = e;
        });
    }
    expect(failure).toBeInstanceOf(StorageError);
    expect((failure as Error).message).toBe("the disk is full");
    expect(onDisk()).toBeLessThanOrEqual(BUDGET);
    // Reads still work, and sweeping the expired tokens gives the space back.
    expect(await s.countPending(alice.id)).toBeGreaterThan(0);
    await s.sweep(T0 + 1);
    await s.saveToken({ hash: "after", accountId: alice.id, expiresAt: T0 + 1000 });
  });
});

describe("SqliteStore: accounts from before name skeletons", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "chat-identity-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("get their skeleton and today's key once; a key another account has is left as it was", async () => {
    const path = join(dir, "chat.db");
    // A data file of the first schema, with keys folded the old way (no NFKC).
    writeDatabase(path, [
      MIGRATIONS[0]!,
      "INSERT INTO accounts (key, name, password_hash, created_at) VALUES ('alice', 'alice', 'h', 1)",
      "INSERT INTO accounts (key, name, password_hash, created_at) VALUES ('ａlice', 'ａlice', 'h', 2)",
      "INSERT INTO accounts (key, name, password_hash, created_at) VALUES ('ｂob', 'ｂob', 'h', 3)",
      "PRAGMA user_version = 1",
    ]);
    const s = SqliteStore.open({ path, sync: "normal", ...LIMITS });
    try {
      expect(await s.backfillIdentity(nameIdentity)).toBe(3);
      expect(await s.backfillIdentity(nameIdentity)).toBe(0);
      expect(await s.findAccount("bob")).toMatchObject({ name: "ｂob" });
      expect(await s.findAccount("alice")).toMatchObject({ name: "alice" });
      // Its new key is alice's: it keeps its old one, still found by it.
      expect(await s.findAccount("ａlice")).toMatchObject({ name: "ａlice" });
      expect(await s.findAccountBySkeleton(nameSkeleton("alice"))).toMatchObject({ name: "alice" });
      const made = await s.createAccount({
        name: "\u0430lice",
        key: nameKey("\u0430lice"),
        skeleton: nameSkeleton("\u0430lice"),
        passwordHash: "h",
        createdAt: 4,
      });
      expect(made).toBeNull();
    } finally {
      await s.close();
    }
  });
});

describe("SqliteStore: deduplication records across restarts, failures and upgrades", () => {
  const RING = LIMITS.dedupPerSender;
  const dup = async (s: SqliteStore, from: Account, id: number) =>
    ((await s.enqueue(msg(from, "alice", "resent", { clientMsgId: id }))) as { duplicate?: boolean })
      .duplicate;

  /** Stores messages with the given client ids from `from` to alice, in one batch. */
  async function sendIds(s: SqliteStore, from: Account, idList: number[]): Promise<void> {
    await Promise.all(idList.map((id) => put(s, msg(from, "alice", `m${id}`, { clientMsgId: id }))));
  }
  const roomy = { maxQueuedPerAccount: 10_000, maxQueuedPerSender: 10_000 };

  it("after a reopen, recognises the last ids and goes on replacing the oldest", async () => {
    let s = open(roomy);
    const bob = (await Promise.all([addAccount(s, "Alice"), addAccount(s, "Bob")]))[1];
    await sendIds(s, bob, [1, 2, 3, 4, 5, 6]);
    await s.close();
    s = open(roomy);
    for (const id of [3, 4, 5, 6]) expect(await dup(s, bob, id)).toBe(true);
    await sendIds(s, bob, [7]);
    for (const id of [4, 5, 6, 7]) expect(await dup(s, bob, id)).toBe(true);
    expect(await dup(s, bob, 3)).toBe(false);
  });

  it("holds at most dedupPerSender rows per sender in the file, however many messages passed", async () => {
    const s = open(roomy);
    const [, bob, carol] = [
      await addAccount(s, "Alice"),
      await addAccount(s, "Bob"),
      await addAccount(s, "Carol"),
    ];
    const many = Array.from({ length: 300 }, (_, i) => i + 1);
    await sendIds(s, bob, many);
    await sendIds(s, carol, many);
    await s.flush();
    expect(countInCopy("sent_ring")).toBe(2 * RING);
    await s.deleteAccount(bob.id);
    await s.flush();
    expect(countInCopy("sent_ring")).toBe(RING);
  });

  it("a failed commit leaves the ring as it was", async () => {
    const s = open(roomy);
    const bob = (await Promise.all([addAccount(s, "Alice"), addAccount(s, "Bob")]))[1];
    await sendIds(s, bob, [1, 2, 3, 4]);
    const restore = failCommits(s);
    expect(await s.enqueue(msg(bob, "alice", "lost", { clientMsgId: 5 })).catch((e) => e)).toBeInstanceOf(
      StorageError,
    );
    restore();
    // 5 was never stored: it is new, and takes the slot of the oldest (1), not of 2.
    expect(await dup(s, bob, 5)).toBe(false);
    for (const id of [2, 3, 4, 5]) expect(await dup(s, bob, id)).toBe(true);
    expect(await dup(s, bob, 1)).toBe(false);
  });

  it("an upgraded file keeps each sender's newest 64 records of the old 24-hour table", async () => {
    const path = join(dir, "chat.db");
    const db = new Database(path);
    db.run(MIGRATIONS[0]!);
    db.run("PRAGMA user_version = 1");
    db.run(
      "INSERT INTO accounts (key, name, password_hash, created_at) VALUES ('alice', 'Alice', 'h', 0), ('bob', 'Bob', 'h', 0)",
    );
    for (let i = 1; i <= 70; i++)
      db.run("INSERT INTO sent_ids VALUES (2, ?, ?, 1, ?)", [1000 + i, i, T0 + i]);
    db.run("UPDATE meta SET value = 100 WHERE key = 'next_message_id'");
    db.close();
    const s = open({ ...roomy, dedupPerSender: 128 });
    const bob = (await s.findAccount("bob"))!;
    for (let i = 7; i <= 70; i++) expect(await dup(s, bob, 1000 + i)).toBe(true);
    for (let i = 1; i <= 6; i++) expect(await dup(s, bob, 1000 + i)).toBe(false);
  });
});

describe("SqliteStore: deduplication records when N changes or many senders send", () => {
  const roomy = { maxQueuedPerAccount: 100_000, maxQueuedPerSender: 100_000 };
  const dup = async (s: SqliteStore, from: Account, id: number) =>
    ((await s.enqueue(msg(from, "alice", "resent", { clientMsgId: id }))) as { duplicate?: boolean })
      .duplicate;

  it("reopened with a smaller N, keeps the newest N ids of each sender and drops the rest", async () => {
    let s = open({ ...roomy, dedupPerSender: 8 });
    const bob = (await Promise.all([addAccount(s, "Alice"), addAccount(s, "Bob")]))[1];
    await Promise.all(
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((id) => put(s, msg(bob, "alice", "m", { clientMsgId: id }))),
    );
    await s.close();
    s = open({ ...roomy, dedupPerSender: 4 });
    for (const id of [7, 8, 9, 10]) expect(await dup(s, bob, id)).toBe(true);
    await s.flush();
    expect(countInCopy("sent_ring")).toBe(4);
    // New ids replace the oldest kept one first.
    await put(s, msg(bob, "alice", "m", { clientMsgId: 11 }));
    for (const id of [8, 9, 10, 11]) expect(await dup(s, bob, id)).toBe(true);
    expect(await dup(s, bob, 7)).toBe(false);
  });

  it("recognises a resend from a sender whose ring was read back from the file", async () => {
    const s = open(roomy);
    await addAccount(s, "Alice");
    const senders = await Promise.all(Array.from({ length: 4200 }, (_, i) => addAccount(s, `s${i}`)));
    await Promise.all(senders.map((a, i) => put(s, msg(a, "alice", "m", { clientMsgId: 1000 + i }))));
    // The first senders' rings have left the in-memory cache of 4096 by now.
    expect(await dup(s, senders[0]!, 1000)).toBe(true);
    expect(await dup(s, senders[4199]!, 5199)).toBe(true);
    expect(await dup(s, senders[0]!, 1001)).toBe(false);
  });
});

describe("SqliteStore: confirmations a SEND does not wait for", () => {
  it("a confirmation not yet applied still frees its place in a full mailbox for the next SEND", async () => {
    const s = open({ maxQueuedPerAccount: 2 });
    const [alice, bob] = [await addAccount(s, "Alice"), await addAccount(s, "Bob")];
    const first = await put(s, msg(bob, "alice", "1"));
    await put(s, msg(bob, "alice", "2"));
    // Queued, not applied: a SEND leaves it for later, unless the count it lowers refuses.
    const confirmed = s.ack(alice.id, [first.id]);
    const third = await s.enqueue(msg(bob, "alice", "3"));
    await confirmed;
    expect(third.ok).toBe(true);
    expect(await s.countPending(alice.id)).toBe(2);
    expect(await s.enqueue(msg(bob, "alice", "4"))).toEqual({ ok: false, error: "mailbox_full" });
  });

  it("a SEND applies its sender's own confirmations first: the receipt is settled before the reply", async () => {
    const s = open();
    const [alice, bob] = [await addAccount(s, "Alice"), await addAccount(s, "Bob")];
    const question = await put(s, msg(bob, "alice", "are you there?"));
    const order: string[] = [];
    const receipt = s
      .ackWithReceipts(alice.id, [question.id], {
        recipientName: "Alice",
        confirmedAt: T0 + 5,
        maxPerAccount: 10,
      })
      .then((r) => order.push(`receipt ${r.receipts.length}`));
    const reply = s.enqueue(msg(alice, "bob", "yes!")).then(() => order.push("reply"));
    await Promise.all([receipt, reply]);
    expect(order).toEqual(["receipt 1", "reply"]);
  });
});

describe("SqliteStore: the redo log (what a crash keeps between commits)", () => {
  /** The live files copied now, as a crash now would leave them, and opened as a store. */
  function crashCopy(): SqliteStore {
    const copy = join(dir, "crash");
    rmSync(copy, { recursive: true, force: true });
    mkdirSync(copy);
    for (const ext of ["", "-wal", "-redo"])
      if (existsSync(join(dir, `chat.db${ext}`)))
        copyFileSync(join(dir, `chat.db${ext}`), join(copy, `chat.db${ext}`));
    const s = SqliteStore.open({ path: join(copy, "chat.db"), sync: "normal", ...LIMITS, ...roomy });
    opened.push(s);
    return s;
  }

  const roomy = { maxQueuedPerAccount: 100, maxQueuedPerSender: 100 };

  it("keeps every answered message, confirmation and receipt of batches not yet committed", async () => {
    const s = open(roomy);
    const [alice, bob] = [await addAccount(s, "Alice"), await addAccount(s, "Bob")];
    const asAlice = { recipientName: "Alice", confirmedAt: T0 + 5, maxPerAccount: 10 };
    const m = [];
    for (let i = 0; i < 5; i++) m.push(await put(s, msg(bob, "alice", `m${i}`, { clientMsgId: 100 + i })));
    await s.ackWithReceipts(alice.id, [m[0]!.id, m[1]!.id], asAlice);
    await s.deleteReceipts(bob.id, [m[0]!.id]);
    await s.flush();
    // Well within REDO_COMMIT_MS of the batches: they are in the redo log, not yet in a commit.
    expect(existsSync(join(dir, "chat.db-redo"))).toBe(true);
    const after = crashCopy();
    expect(ids(await after.pending(alice.id, 0, 10))).toEqual(ids(m.slice(2)));
    expect((await after.receipts(bob.id, 10)).map((r) => r.messageId)).toEqual([m[1]!.id]);
    expect(await after.stats()).toEqual({ accounts: 2, queued: 3 });
    // The de-duplication records came back too: a resend is the message first stored.
    const again = await after.enqueue(msg(bob, "alice", "m4", { clientMsgId: 104 }));
    expect(again.ok && again.duplicate && again.message.id).toBe(m[4]!.id);
    // Ids go on past those handed out before the crash.
    expect((await put(after, msg(bob, "alice", "new"))).id).toBeGreaterThan(m[4]!.id);
  });

  it("keeps exactly a sender's newest receipts when its oldest were dropped before they reached the table", async () => {
    const s = open(roomy);
    const [alice, bob] = [await addAccount(s, "Alice"), await addAccount(s, "Bob")];
    const cap = { recipientName: "Alice", confirmedAt: T0 + 5, maxPerAccount: 3 };
    const m = [];
    for (let i = 0; i < 10; i++) m.push(await put(s, msg(bob, "alice", `m${i}`, { clientMsgId: 200 + i })));
    // A commit between: the first two receipts are in the table, the rest only queued.
    await s.ackWithReceipts(alice.id, ids(m.slice(0, 2)), cap);
    await s.saveToken({ hash: "t", accountId: alice.id, expiresAt: T0 + 1000 });
    expect((await s.ackWithReceipts(alice.id, ids(m.slice(2, 4)), cap)).dropped).toBe(1);
    const r = await s.ackWithReceipts(alice.id, ids(m.slice(4, 10)), cap);
    expect(r.dropped).toBe(6);
    expect(r.receipts.map((x) => x.messageId)).toEqual(ids(m.slice(7)));
    const newest = [207, 208, 209];
    const after = crashCopy();
    expect((await after.receipts(bob.id, 10)).map((x) => x.clientMsgId)).toEqual(newest);
    expect((await s.receipts(bob.id, 10)).map((x) => x.clientMsgId)).toEqual(newest);
    // The counts stayed true: one more drops exactly one.
    const more = await put(s, msg(bob, "alice", "m10", { clientMsgId: 210 }));
    expect((await s.ackWithReceipts(alice.id, [more.id], cap)).dropped).toBe(1);
    expect((await s.receipts(bob.id, 10)).map((x) => x.clientMsgId)).toEqual([208, 209, 210]);
  });

  it("keeps a sender's receipts exact when they come out of order and some are confirmed before the commit", async () => {
    const s = open(roomy);
    const [alice, bob, carol] = [
      await addAccount(s, "Alice"),
      await addAccount(s, "Bob"),
      await addAccount(s, "Carol"),
    ];
    const cap = (name: string) => ({ recipientName: name, confirmedAt: T0 + 5, maxPerAccount: 6 });
    const toAlice = [];
    const toCarol = [];
    for (let i = 0; i < 6; i++) {
      toAlice.push(await put(s, msg(bob, "alice", `a${i}`)));
      toCarol.push(await put(s, msg(bob, "carol", `c${i}`)));
    }
    // In order at first; confirmed receipts taken out of the middle and the ends.
    await s.ackWithReceipts(alice.id, ids(toAlice.slice(0, 4)), cap("Alice"));
    await s.deleteReceipts(bob.id, [toAlice[1]!.id, toAlice[3]!.id, toAlice[0]!.id]);
    // Carol's are older than Alice's last: out of order from here on.
    await s.ackWithReceipts(carol.id, ids(toCarol), cap("Carol"));
    await s.deleteReceipts(bob.id, [toCarol[2]!.id]);
    const r = await s.ackWithReceipts(alice.id, ids(toAlice.slice(4)), cap("Alice"));
    // Carol's six dropped c0 (a2 and c0..c5 past the cap of 6); now a2, c1, c3..c5, a4, a5: c1 goes.
    expect(r.dropped).toBe(1);
    const kept = ids([toAlice[2]!, toCarol[3]!, toCarol[4]!, toCarol[5]!, toAlice[4]!, toAlice[5]!]).sort(
      (a, b) => a - b,
    );
    expect((await crashCopy().receipts(bob.id, 20)).map((x) => x.messageId)).toEqual(kept);
    expect((await s.receipts(bob.id, 20)).map((x) => x.messageId)).toEqual(kept);
  });

  it("confirms receipts not yet in the table in any order, each exactly once", async () => {
    const s = open({ maxQueuedPerAccount: 1000, maxQueuedPerSender: 1000 });
    const [alice, bob] = [await addAccount(s, "Alice"), await addAccount(s, "Bob")];
    const cap = { recipientName: "Alice", confirmedAt: T0 + 5, maxPerAccount: 1000 };
    const m = [];
    for (let i = 0; i < 300; i++) m.push(await put(s, msg(bob, "alice", `m${i}`)));
    await s.ackWithReceipts(alice.id, ids(m), cap);
    // Every third from the end, then the rest of the first half: holes before and among those left.
    const confirmed = new Set<number>();
    for (let i = 299; i >= 0; i -= 3) confirmed.add(m[i]!.id);
    for (let i = 0; i < 150; i++) confirmed.add(m[i]!.id);
    const order = [...confirmed];
    for (let i = 0; i < order.length; i += 40) await s.deleteReceipts(bob.id, order.slice(i, i + 40));
    await s.deleteReceipts(bob.id, order.slice(0, 10));
    const left = ids(m).filter((id) => !confirmed.has(id));
    expect((await crashCopy().receipts(bob.id, 1000)).map((x) => x.messageId)).toEqual(left);
    expect((await s.receipts(bob.id, 1000)).map((x) => x.messageId)).toEqual(left);
  });

  it("confirms receipts already in the table together: exactly those, and a crash keeps the queued ones", async () => {
    const s = open(roomy);
    const [alice, bob, carol] = [
      await addAccount(s, "Alice"),
      await addAccount(s, "Bob"),
      await addAccount(s, "Carol"),
    ];
    const cap = (name: string, max = 100) => ({
      recipientName: name,
      confirmedAt: T0 + 5,
      maxPerAccount: max,
    });
    const toAlice = [];
    for (let i = 0; i < 16; i++) {
      toAlice.push(await put(s, msg(bob, "alice", `a${i}`)));
      // Sent between a2 and a3, confirmed only after alice's receipts reached the table.
      if (i === 2) toAlice.push(await put(s, msg(bob, "carol", "c0")));
    }
    const toCarol = toAlice.splice(3, 1)[0]!;
    const late = await put(s, msg(bob, "alice", "late"));
    await s.ackWithReceipts(alice.id, ids(toAlice), cap("Alice"));
    // A commit: alice's sixteen receipts are in the table now.
    await s.saveToken({ hash: "t", accountId: alice.id, expiresAt: T0 + 1000 });
    await s.ackWithReceipts(carol.id, [toCarol.id], cap("Carol"));
    await s.ackWithReceipts(alice.id, [late.id], cap("Alice"));
    // Carol's queued receipt lies below a5: one range DELETE of a0..a5 would take it too
    // when the redo log replays its insert before that DELETE.
    await s.deleteReceipts(bob.id, ids(toAlice.slice(0, 6)));
    const waiting = [...ids(toAlice.slice(6)), toCarol.id, late.id].sort((a, b) => a - b);
    const first = crashCopy();
    expect((await first.receipts(bob.id, 20)).map((x) => x.messageId)).toEqual(waiting);
    await first.close();
    opened = opened.filter((x) => x !== first);
    await s.deleteReceipts(bob.id, [toCarol.id]);
    // In the table but a7 left out among them, and carol's again (it has no receipt now).
    await s.deleteReceipts(bob.id, [toAlice[6]!.id, ...ids(toAlice.slice(8, 11)), toCarol.id]);
    // a11..a15 are the table's only rows in their range: one range.
    await s.deleteReceipts(bob.id, ids(toAlice.slice(11)).reverse());
    const kept = [toAlice[7]!.id, late.id];
    expect((await crashCopy().receipts(bob.id, 20)).map((x) => x.messageId)).toEqual(kept);
    expect((await s.receipts(bob.id, 20)).map((x) => x.messageId)).toEqual(kept);
    // The count in memory stayed true: with a cap of 3, a third receipt drops none, a fourth one.
    const next = await put(s, msg(bob, "alice", "next"));
    expect((await s.ackWithReceipts(alice.id, [next.id], cap("Alice", 3))).dropped).toBe(0);
    const last = await put(s, msg(bob, "alice", "last"));
    expect((await s.ackWithReceipts(alice.id, [last.id], cap("Alice", 3))).dropped).toBe(1);
  });

  it("a batch whose redo write fails is refused whole; the batches answered before it stay", async () => {
    const s = open(roomy);
    const [alice, bob] = [await addAccount(s, "Alice"), await addAccount(s, "Bob")];
    const kept = [await put(s, msg(bob, "alice", "kept 1")), await put(s, msg(bob, "alice", "kept 2"))];
    await s.ack(alice.id, [kept[0]!.id]);
    const restore = failCommits(s);
    const refused = await Promise.allSettled([
      s.enqueue(msg(bob, "alice", "refused", { clientMsgId: 7 })),
      s.ack(alice.id, [kept[1]!.id]),
    ]);
    restore();
    for (const r of refused) expect((r as PromiseRejectedResult).reason).toBeInstanceOf(StorageError);
    // The rollback took back what only the redo log held; it was applied again.
    expect(ids(await s.pending(alice.id, 0, 10))).toEqual([kept[1]!.id]);
    expect(await s.stats()).toEqual({ accounts: 2, queued: 1 });
    // The refused SEND was not stored: its resend is a new message, and the store goes on.
    const again = await s.enqueue(msg(bob, "alice", "refused", { clientMsgId: 7 }));
    expect(again.ok && again.duplicate).toBe(false);
    expect(ids(await crashCopy().pending(alice.id, 0, 10))).toEqual([
      kept[1]!.id,
      again.ok ? again.message.id : 0,
    ]);
  });

  it("a reopen after a crash applies the log once; a clean close leaves none", async () => {
    const s = open();
    const [alice, bob] = [await addAccount(s, "Alice"), await addAccount(s, "Bob")];
    await put(s, msg(bob, "alice", "one"));
    const first = crashCopy();
    expect(await first.countPending(alice.id)).toBe(1);
    await first.close();
    const copyDir = join(dir, "crash");
    expect(existsSync(join(copyDir, "chat.db-redo"))).toBe(false);
    const second = SqliteStore.open({ path: join(copyDir, "chat.db"), sync: "normal", ...LIMITS });
    opened.push(second);
    expect(await second.countPending(alice.id)).toBe(1);
    await s.close();
    expect(existsSync(join(dir, "chat.db-redo"))).toBe(false);
  });

  it("frames a commit covers, left in the log past newer ones, are not applied again", async () => {
    const s = open(roomy);
    const [alice, bob] = [await addAccount(s, "Alice"), await addAccount(s, "Bob")];
    const m = [];
    for (let i = 0; i < 5; i++) m.push(await put(s, msg(bob, "alice", `m${i}`, { clientMsgId: 10 + i })));
    await s.ack(alice.id, [m[0]!.id]);
    await s.flush();
    const redo = join(dir, "chat.db-redo");
    const long = statSync(redo).size;
    // A write the log does not carry commits, and the log starts again at its header.
    await addAccount(s, "Carol");
    m.push(await put(s, msg(bob, "alice", "after", { clientMsgId: 20 })));
    await s.flush();
    // The file kept its length: the first batches' frames are still there, past the new one.
    expect(statSync(redo).size).toBe(long);
    const after = crashCopy();
    expect(ids(await after.pending(alice.id, 0, 10))).toEqual(ids(m.slice(1)));
    expect(await after.stats()).toEqual({ accounts: 3, queued: 5 });
  });

  it("sets aside a redo log of another data file, and refuses a file that is not one", async () => {
    const s = open();
    const [, bob] = [await addAccount(s, "Alice"), await addAccount(s, "Bob")];
    await put(s, msg(bob, "alice", "from the old file"));
    copyFileSync(join(dir, "chat.db-redo"), join(dir, "stray-redo"));
    await s.close();
    // A new data file beside the old file's log: the log is not applied to it.
    for (const f of ["chat.db", "chat.db-wal"]) rmSync(join(dir, f), { force: true });
    copyFileSync(join(dir, "stray-redo"), join(dir, "chat.db-redo"));
    const fresh = open();
    expect(await fresh.stats()).toEqual({ accounts: 0, queued: 0 });
    expect(readdirSync(dir).some((f) => f.startsWith("chat.db-redo.stale-"))).toBe(true);
    await fresh.close();
    writeFileSync(join(dir, "chat.db-redo"), "not a redo log, but long enough to have a header");
    expect(openError()).toContain("chat.db-redo is not a chat redo log");
    rmSync(join(dir, "chat.db-redo"));
    mkdirSync(join(dir, "chat.db-redo"));
    expect(openError()).toContain("cannot read its redo log");
  });
  it("commits within REDO_COMMIT_MS, and once quiet empties the WAL: the files hold what was answered", async () => {
    const s = open(roomy);
    const [alice, bob] = [await addAccount(s, "Alice"), await addAccount(s, "Bob")];
    const m = await put(s, msg(bob, "alice", "quiet now", { clientMsgId: 300 }));
    const wal = () => statSync(join(dir, "chat.db-wal"), { throwIfNoEntry: false })?.size ?? 0;
    expect(wal()).toBeGreaterThan(0); // the accounts' commits
    // The timer's COMMIT, then the quiet checkpoint: bounded waits on the WAL's size.
    const deadline = Date.now() + 10_000;
    while (wal() > 0 && Date.now() < deadline) await Bun.sleep(50);
    expect(wal()).toBe(0);
    // The data file alone (no WAL, the redo log past its commit) has the message.
    const copy = join(dir, "quiet");
    mkdirSync(copy);
    copyFileSync(join(dir, "chat.db"), join(copy, "chat.db"));
    const after = SqliteStore.open({ path: join(copy, "chat.db"), sync: "normal", ...LIMITS, ...roomy });
    opened.push(after);
    expect(ids(await after.pending(alice.id, 0, 10))).toEqual([m.id]);
  });
});

describe("SqliteStore.backupTo", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "chat-backup-test-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("copies what is committed, including a batch still open, into a file the store opens", async () => {
    const s = SqliteStore.open({ path: join(dir, "chat.db"), sync: "normal", ...LIMITS });
    const [alice, bob] = [await addAccount(s, "Alice"), await addAccount(s, "Bob")];
    const first = await put(s, msg(alice, "bob", "one"));
    // Not awaited: the message is in the open batch when the copy is made.
    const second = s.enqueue(msg(alice, "bob", "two"));
    s.backupTo(join(dir, "copy.db"));
    await second;
    await put(s, msg(alice, "bob", "after the copy"));
    await s.close();
    const copy = SqliteStore.open({ path: join(dir, "copy.db"), sync: "normal", ...LIMITS });
    const texts = (await copy.pending(bob.id, 0, 10)).map((m) => m.text);
    expect(texts).toEqual([first.text, "two"]);
    await copy.close();
  });
});

describe("SqliteStore: the rows of one batch, written together before its commit", () => {
  const roomy = { maxQueuedPerAccount: 10_000, maxQueuedPerSender: 10_000 };

  it("a batch of 150 messages (every statement size) is stored whole, in order, and survives a reopen", async () => {
    const wide = { ...roomy, dedupPerSender: 200 };
    let s = open(wide);
    const [alice, bob] = [await addAccount(s, "Alice"), await addAccount(s, "Bob")];
    const stored = await Promise.all(
      Array.from({ length: 150 }, (_, i) => put(s, msg(bob, "alice", `m${i}`, { clientMsgId: 1 + i }))),
    );
    await s.close();
    s = open(wide);
    const page = await s.pending(alice.id, 0, 1000);
    expect(page.map((m) => m.text)).toEqual(stored.map((_, i) => `m${i}`));
    expect(ids(page)).toEqual(ids(stored));
    for (const id of [150, 100, 23])
      expect(await s.enqueue(msg(bob, "alice", "again", { clientMsgId: id }))).toMatchObject({
        ok: true,
        duplicate: true,
        message: { id: stored[id - 1]!.id },
      });
  });

  it("a resend within the same batch as its first copy is that copy, stored once", async () => {
    const s = open(roomy);
    const [alice, bob] = [await addAccount(s, "Alice"), await addAccount(s, "Bob")];
    const [first, again] = await Promise.all([
      s.enqueue(msg(bob, "alice", "hi", { clientMsgId: 42 })),
      s.enqueue(msg(bob, "alice", "hi", { clientMsgId: 42 })),
    ]);
    expect(first).toMatchObject({ ok: true, duplicate: false });
    expect(again).toMatchObject({ ok: true, duplicate: true });
    expect((again as { message: { id: number } }).message.id).toBe(
      (first as { message: { id: number } }).message.id,
    );
    expect(await s.countPending(alice.id)).toBe(1);
    expect((await s.pending(alice.id, 0, 10)).length).toBe(1);
  });

  it("a read in the same batch sees the messages queued before it", async () => {
    const s = open(roomy);
    const [alice, bob] = [await addAccount(s, "Alice"), await addAccount(s, "Bob")];
    const sent = s.enqueue(msg(bob, "alice", "first"));
    const read = s.pending(alice.id, 0, 10);
    await sent;
    expect((await read).map((m) => m.text)).toEqual(["first"]);
  });

  it("a full queue is written after its batch is answered; if that fails, the redo log puts it back", async () => {
    const n = 32_768 + 10;
    const s = open({ maxQueuedPerAccount: n, maxQueuedPerSender: n });
    const [alice, bob] = [await addAccount(s, "Alice"), await addAccount(s, "Bob")];
    const rows = (s as unknown as { messageRows: { flush(): void; clear(): void } }).messageRows;
    const flush = rows.flush;
    let flushes = 0;
    // As a failed INSERT leaves it: the queue is gone from memory, the table did not take it.
    rows.flush = () => {
      flushes++;
      rows.clear();
      throw Object.assign(new Error("disk I/O error"), { code: "SQLITE_IOERR" });
    };
    // One batch past the queue's cap: every call is answered before its rows are written.
    const sent = await Promise.all(
      Array.from({ length: n }, (_, i) => s.enqueue(msg(bob, "alice", `m${i}`, { clientMsgId: i + 1 }))),
    );
    expect(sent.every((r) => r.ok && !r.duplicate)).toBe(true);
    expect(flushes).toBe(0);
    // The next turn writes them, and fails: the batch answered for is applied again.
    await new Promise((resolve) => setImmediate(resolve));
    expect(flushes).toBe(1);
    rows.flush = flush;
    expect(await s.countPending(alice.id)).toBe(n);
    const first = await s.pending(alice.id, 0, 3);
    expect(first.map((m) => m.text)).toEqual(["m0", "m1", "m2"]);
    // The resend ring came back with them: the last message sent again is the one stored.
    const again = await s.enqueue(msg(bob, "alice", `m${n - 1}`, { clientMsgId: n }));
    const last = sent[n - 1]!;
    expect(again.ok && again.duplicate && again.message.id).toBe(last.ok && last.message.id);
  });

  it("a batch whose rows fail at the commit fails every call in it and stores none", async () => {
    const s = open(roomy);
    const [alice, bob] = [await addAccount(s, "Alice"), await addAccount(s, "Bob")];
    const restore = failCommits(s);
    const results = await Promise.all(
      [1, 2, 3].map((i) => s.enqueue(msg(bob, "alice", `m${i}`, { clientMsgId: i })).catch((e) => e)),
    );
    restore();
    for (const r of results) expect(r).toBeInstanceOf(StorageError);
    expect(await s.countPending(alice.id)).toBe(0);
    expect(await s.pending(alice.id, 0, 10)).toEqual([]);
    expect(await s.enqueue(msg(bob, "alice", "m1", { clientMsgId: 1 }))).toMatchObject({ duplicate: false });
  });
});
