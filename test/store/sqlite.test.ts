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
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SCHEMA_VERSION } from "../../src/store/migrations";
import { type SqliteOptions, SqliteStore, StoreOpenError } from "../../src/store/sqlite";
import { StorageError } from "../../src/store/store";
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

/** A table's row count, read from a copy of the live files (the store holds an exclusive lock). */
function countInCopy(table: string): number {
  const copy = join(dir, "copy");
  rmSync(copy, { recursive: true, force: true });
  mkdirSync(copy);
  for (const ext of ["", "-wal"]) {
    if (existsSync(join(dir, `chat.db${ext}`)))
      copyFileSync(join(dir, `chat.db${ext}`), join(copy, `c.db${ext}`));
  }
  const db = new Database(join(copy, "c.db"), { readonly: true });
  const { n } = db.query(`SELECT count(*) AS n FROM ${table}`).get() as { n: number };
  db.close();
  return n;
}

/**
 * Makes the next COMMIT of this store fail, through its own connection: a message insert
 * leaves a deferred foreign key violation, which SQLite reports only at COMMIT.
 */
function failCommits(s: SqliteStore): () => void {
  const db = (s as unknown as { db: Database }).db;
  db.run("PRAGMA foreign_keys = ON");
  db.run("CREATE TEMP TABLE parent (id INTEGER PRIMARY KEY)");
  db.run("CREATE TEMP TABLE child (p INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)");
  db.run(
    "CREATE TEMP TRIGGER fail_commit AFTER INSERT ON main.messages BEGIN INSERT INTO child VALUES (1); END",
  );
  return () => db.run("DROP TRIGGER temp.fail_commit");
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
    const s = open({ sync: "full", maxQueuedPerAccount: 100 });
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

  it("rejects calls made after close", async () => {
    const s = open();
    await s.close();
    await expect(s.findAccount("alice")).rejects.toThrow(new StorageError("the data store is closed"));
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

describe("SqliteStore: a full disk (maxBytes)", () => {
  /** Enqueues big messages until the store refuses one; returns how many it took. */
  async function fill(s: SqliteStore, to: string): Promise<number> {
    const from = (await s.findAccount("bob"))!;
    for (let n = 0; n < 2000; n++) {
      try {
        await put(s, msg(from, to, big));
      } catch (e) {
        expect(e).toBeInstanceOf(StorageError);
        expect((e as Error).message).toBe("the disk is full");
        return n;
      }
    }
    throw new Error("the store never filled up");
  }

  it("refuses writes with 'the disk is full' and keeps serving reads", async () => {
    const s = open({ maxBytes: 64 * 1024, maxQueuedPerAccount: 10_000 });
    const [alice] = [await addAccount(s, "Alice"), await addAccount(s, "Bob")];
    const n = await fill(s, "alice");
    expect(n).toBeGreaterThan(0);
    expect(await s.countPending(alice.id)).toBe(n);
    expect((await s.pending(alice.id, 0, 1))[0]!.text).toBe(big);
    expect(await s.findAccount("alice")).toEqual(alice);
    expect(await s.stats()).toEqual({ accounts: 2, queued: n });
  });

  it("takes writes again once acks or a deleted account free space", async () => {
    const s = open({ maxBytes: 64 * 1024, maxQueuedPerAccount: 10_000 });
    const [alice, bob] = [await addAccount(s, "Alice"), await addAccount(s, "Bob")];
    await fill(s, "alice");
    const waiting = await s.pending(alice.id, 0, 20);
    await s.ack(alice.id, ids(waiting));
    await put(s, msg(bob, "alice", big));
    await fill(s, "alice");
    await s.deleteAccount(alice.id);
    await put(s, msg(alice, "bob", big));
    expect(await s.countPending(bob.id)).toBe(1);
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
