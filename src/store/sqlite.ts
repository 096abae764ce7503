// The default Store: one SQLite file in WAL mode, held exclusively by one server.
//
// Group commit: calls run their statements at once inside a transaction that stays open
// until the work in hand is done (the end of the event-loop turn with sync=full, so many
// reads share one fsync; the end of the current read with sync=normal), then one COMMIT
// makes the whole batch durable and every call's promise resolves together.
// If the commit fails (disk full, I/O error) the batch is rolled back and every call in
// it is rejected with StorageError: no caller is ever told a lost write succeeded.

import type { Database, Statement } from "bun:sqlite";
import { closeSync, fsyncSync, openSync } from "node:fs";
import { dirname } from "node:path";
import { openDataFile, type SyncMode, sqliteCode } from "./sqlite-file";
import {
  type Account,
  type Ban,
  type EnqueueResult,
  type NewMessage,
  type SessionToken,
  StorageError,
  type Store,
  type StoredMessage,
  type StoreLimits,
} from "./store";

export { StoreOpenError, type SyncMode } from "./sqlite-file";

export interface SqliteOptions extends StoreLimits {
  path: string;
  /** full: fsync at every commit (survives power loss); normal: survives process crashes. */
  sync: SyncMode;
  /** Move a corrupt file aside and start empty instead of refusing to start. */
  resetCorrupt?: boolean;
  /** Largest size of the database file; writes past it fail with "the disk is full". */
  maxBytes?: number;
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: unknown): void;
  value: unknown;
}

type AccountRow = Account;
interface MessageRow {
  id: number;
  recipientId: number;
  senderName: string;
  text: string;
  sentAt: number;
}

const ACCOUNT_COLUMNS = "id, key, name, created_at AS createdAt";
const MESSAGE_COLUMNS = "id, recipient_id AS recipientId, sender_name AS senderName, text, sent_at AS sentAt";

export class SqliteStore implements Store {
  readonly description: string;
  private batch: Pending[] = [];
  private inTxn = false;
  private scheduled = false;
  private closed = false;
  /** Waiting-message counts as committed, and the changes of the open batch. */
  private counts = new Map<number, number>();
  private countDelta = new Map<number, number>();
  private accountCache = new Map<string, Account>();
  private nextMessageId: number;
  /** Ids below this are reserved in the file; raised a block at a time, so most commits skip it. */
  private idCeiling: number;
  private committedIdCeiling: number;
  private readonly q: ReturnType<typeof prepareStatements>;
  private readonly scheduleCommit: (fn: () => void) => void;
  /** Confirmations not yet applied (see ack()). */
  private acks: {
    recipientId: number;
    ids: readonly number[];
    resolve: () => void;
    reject: (e: unknown) => void;
  }[] = [];
  private ackTimer: Timer | null = null;

  private constructor(
    private readonly db: Database,
    private readonly opts: SqliteOptions,
    /** The absolute path of the data file. */
    readonly path: string,
    /** Set when --reset-corrupt-data moved a corrupt file aside: where it went. */
    readonly movedAside?: string,
  ) {
    this.description = `sqlite ${path} (sync=${opts.sync})`;
    // With sync=full every commit is an fsync: share one among all the reads of an
    // event-loop turn. With sync=normal a commit is a write to the OS: commit what one read
    // brought at once, which answers sooner and still batches every frame of that read.
    this.scheduleCommit = opts.sync === "full" ? (fn) => void setImmediate(fn) : queueMicrotask;
    this.q = prepareStatements(db);
    if (opts.maxBytes) {
      const pageSize = (db.query("PRAGMA page_size").get() as { page_size: number }).page_size;
      db.run(`PRAGMA max_page_count = ${Math.max(16, Math.floor(opts.maxBytes / pageSize))}`);
    }
    // meta.next_message_id is a ceiling: ids below it may have been handed out. Starting
    // from it after a restart skips the unused rest of a block, and ids never go back.
    this.idCeiling = (
      db.query("SELECT value FROM meta WHERE key = 'next_message_id'").get() as { value: number }
    ).value;
    this.committedIdCeiling = this.idCeiling;
    this.nextMessageId = this.idCeiling;
    for (const row of db
      .query("SELECT recipient_id AS id, count(*) AS n FROM messages GROUP BY recipient_id")
      .all() as { id: number; n: number }[]) {
      this.counts.set(row.id, row.n);
    }
  }

  /** Opens (creating if needed) and migrates the data file; throws StoreOpenError. */
  static open(opts: SqliteOptions): SqliteStore {
    const file = openDataFile(opts);
    try {
      return new SqliteStore(file.db, opts, file.path, file.movedAside);
    } catch (error) {
      file.db.close();
      throw error;
    }
  }

  createAccount(a: { name: string; key: string; passwordHash: string; createdAt: number }) {
    return this.op(true, (): Account | null => {
      const row = this.q.insertAccount.get(a.key, a.name, a.passwordHash, a.createdAt) as {
        id: number;
      } | null;
      if (!row) return null;
      const account: Account = { id: row.id, name: a.name, key: a.key, createdAt: a.createdAt };
      this.accountCache.set(a.key, account);
      return account;
    });
  }

  findAccount(key: string) {
    return this.op(false, () => this.accountByKey(key));
  }

  findAccountById(id: number) {
    return this.op(false, () => (this.q.accountById.get(id) as AccountRow | null) ?? null);
  }

  passwordHash(id: number) {
    return this.op(false, () => (this.q.passwordHash.get(id) as { hash: string } | null)?.hash ?? null);
  }

  deleteAccount(id: number) {
    return this.op(true, () => {
      const account = this.q.accountById.get(id) as AccountRow | null;
      if (!account) return;
      this.q.deleteMessagesOf.run(id);
      this.q.deleteSentOf.run(id);
      this.q.deleteTokensOf.run(id);
      this.q.deleteAccount.run(id);
      this.accountCache.delete(account.key);
      this.addCount(id, -this.countOf(id));
    });
  }

  listAccounts(afterKey: string, limit: number, match: (key: string) => boolean) {
    return this.op(false, () => {
      const out: Account[] = [];
      // A statement of its own: iterate() holds a cursor.
      for (const row of this.db
        .query(`SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE key > ? ORDER BY key`)
        .iterate(afterKey)) {
        if (out.length >= limit) break;
        const account = row as AccountRow;
        if (!match(account.key)) continue;
        out.push(account);
      }
      return out;
    });
  }

  enqueue(m: NewMessage) {
    return this.op(true, (): EnqueueResult => {
      const recipient = this.accountByKey(m.recipientKey);
      if (!recipient) return { ok: false, error: "no_such_account" };
      if (m.clientMsgId) {
        const prior = this.q.findSent.get(m.senderId, m.clientMsgId) as {
          messageId: number;
          recipientId: number;
          sentAt: number;
        } | null;
        if (prior && prior.sentAt > m.sentAt - this.opts.dedupWindowMs) {
          // The answer describes the message first stored under this id, wherever it went.
          const first =
            prior.recipientId === recipient.id
              ? recipient
              : (this.q.accountById.get(prior.recipientId) as AccountRow | null);
          const message = {
            id: prior.messageId,
            recipientId: prior.recipientId,
            senderName: m.senderName,
            text: m.text,
            sentAt: prior.sentAt,
          };
          return { ok: true, message, recipient: first ?? recipient, duplicate: true };
        }
      }
      if (this.countOf(recipient.id) >= this.opts.maxQueuedPerAccount)
        return { ok: false, error: "mailbox_full" };
      const message: StoredMessage = {
        id: this.takeMessageId(),
        recipientId: recipient.id,
        senderName: m.senderName,
        text: m.text,
        sentAt: m.sentAt,
      };
      this.q.insertMessage.run(recipient.id, message.id, m.senderName, m.text, m.sentAt);
      this.addCount(recipient.id, 1);
      if (m.clientMsgId) this.q.insertSent.run(m.senderId, m.clientMsgId, message.id, recipient.id, m.sentAt);
      return { ok: true, message, recipient, duplicate: false };
    });
  }

  pending(recipientId: number, afterId: number, limit: number) {
    return this.op(false, () => this.q.pending.all(recipientId, afterId, limit) as MessageRow[]);
  }

  countPending(recipientId: number) {
    return this.op(false, () => this.countOf(recipientId));
  }

  /**
   * Confirmations are applied lazily: with the next batch that writes or reads anything,
   * or after ACK_DELAY_MS. Until then nothing reads the store without applying them first,
   * and losing them in a crash only means the messages are delivered again (and the
   * client drops the repeats), so they need no commit of their own on the hot path.
   */
  ack(recipientId: number, ids: readonly number[]) {
    if (this.closed) return Promise.reject(new StorageError("the data store is closed"));
    return new Promise<void>((resolve, reject) => {
      this.acks.push({ recipientId, ids, resolve, reject });
      this.ackTimer ??= setTimeout(() => {
        this.ackTimer = null;
        if (this.acks.length) void this.op(true, () => undefined).catch(() => {});
      }, ACK_DELAY_MS);
    });
  }

  saveToken(t: SessionToken) {
    return this.op(true, () => {
      this.q.insertToken.run(t.hash, t.accountId, t.expiresAt);
    });
  }

  findToken(hash: string, now: number) {
    return this.op(false, () => {
      const t = this.q.findToken.get(hash) as SessionToken | null;
      return t && t.expiresAt > now ? t : null;
    });
  }

  deleteToken(hash: string) {
    return this.op(true, () => {
      this.q.deleteToken.run(hash);
    });
  }

  /** Drops expired tokens and dedup records; called from time to time by the server. */
  sweep(now: number) {
    return this.op(true, () => {
      this.q.sweepTokens.run(now);
      this.q.sweepSent.run(now - this.opts.dedupWindowMs);
    });
  }

  stats() {
    return this.op(false, () => {
      let queued = 0;
      for (const n of this.counts.values()) queued += n;
      for (const d of this.countDelta.values()) queued += d;
      return { accounts: (this.q.countAccounts.get() as { n: number }).n, queued };
    });
  }

  recordLogin(id: number, at: number) {
    return this.op(true, () => {
      this.q.setLastLogin.run(at, id);
    });
  }

  lastLogin(id: number) {
    return this.op(false, () => (this.q.lastLogin.get(id) as { at: number | null } | null)?.at ?? null);
  }

  resetPassword(id: number, passwordHash: string) {
    return this.op(true, () => {
      this.q.setPasswordHash.run(passwordHash, id);
      this.q.deleteTokensOf.run(id);
    });
  }

  saveBan(b: Ban) {
    return this.op(true, () => {
      this.db.run("INSERT OR REPLACE INTO bans (prefix, until, created_at) VALUES (?, ?, ?)", [
        b.prefix,
        b.until,
        b.createdAt,
      ]);
    });
  }

  deleteBan(prefix: string) {
    return this.op(true, () => this.db.run("DELETE FROM bans WHERE prefix = ?", [prefix]).changes > 0);
  }

  listBans(now: number) {
    return this.op(true, () => {
      this.db.run("DELETE FROM bans WHERE until IS NOT NULL AND until <= ?", [now]);
      return this.db
        .query("SELECT prefix, until, created_at AS createdAt FROM bans ORDER BY prefix")
        .all() as Ban[];
    });
  }

  /**
   * Writes a consistent copy of the database to file (VACUUM INTO): everything committed
   * so far, nothing of a batch still open. Runs synchronously: the server pauses for as
   * long as the copy takes (about a second per few hundred MB).
   */
  backupTo(file: string): void {
    if (this.closed) throw new StorageError("the data store is closed");
    // VACUUM cannot run inside a transaction: commit the open batch first.
    if (this.acks.length) void this.op(true, () => undefined).catch(() => {});
    if (this.inTxn || this.batch.length) this.commit();
    this.db.run("VACUUM INTO ?", [file]);
    // SQLite does not fsync what VACUUM INTO writes: a backup must survive a power loss too.
    for (const path of [file, dirname(file)]) {
      const fd = openSync(path, "r");
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    }
  }

  flush() {
    return this.op(false, () => undefined);
  }

  async close() {
    if (this.closed) return;
    if (this.acks.length) void this.op(true, () => undefined).catch(() => {});
    if (this.batch.length) this.commit();
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.closed = true;
    try {
      this.db.run("PRAGMA wal_checkpoint(TRUNCATE)");
    } catch {
      // The WAL stays and is replayed on the next open: nothing is lost.
    }
    // An unfinalized statement keeps the connection, and so its exclusive lock, alive
    // after close(): the file could not be opened again by this process.
    for (const st of Object.values(this.q)) st.finalize();
    this.db.close();
  }

  // --- internal ---

  /**
   * Runs fn now (inside the open batch transaction if write) and resolves with its
   * result once the batch commits.
   */
  private op<T>(write: boolean, fn: () => T): Promise<T> {
    if (this.closed) return Promise.reject(new StorageError("the data store is closed"));
    let value: T;
    try {
      if ((write || this.acks.length) && !this.inTxn) {
        this.q.begin.run();
        this.inTxn = true;
      }
      if (this.acks.length) this.applyAcks();
      value = fn();
    } catch (error) {
      const failure = toStorageError(error);
      this.abort(failure);
      return Promise.reject(failure);
    }
    return new Promise<T>((resolve, reject) => {
      this.batch.push({ resolve: resolve as (v: unknown) => void, reject, value });
      if (!this.scheduled) {
        this.scheduled = true;
        this.scheduleCommit(() => this.commit());
      }
    });
  }

  private commit(): void {
    this.scheduled = false;
    if (this.inTxn) {
      try {
        this.q.commit.run();
      } catch (error) {
        this.abort(toStorageError(error));
        return;
      }
      this.inTxn = false;
      this.committedIdCeiling = this.idCeiling;
      for (const [id, d] of this.countDelta) {
        const n = (this.counts.get(id) ?? 0) + d;
        if (n > 0) this.counts.set(id, n);
        else this.counts.delete(id);
      }
      this.countDelta.clear();
    }
    const batch = this.batch;
    this.batch = [];
    for (const p of batch) p.resolve(p.value);
  }

  /** Rolls the open batch back and fails every call in it. */
  private abort(error: StorageError): void {
    if (this.inTxn) {
      try {
        this.q.rollback.run();
      } catch {
        // SQLite may already have rolled back (e.g. SQLITE_FULL); either way nothing is committed.
      }
      this.inTxn = false;
    }
    this.countDelta.clear();
    this.accountCache.clear();
    // nextMessageId stays where it is: an id handed out in a failed batch is never reused.
    this.idCeiling = this.committedIdCeiling;
    const batch = this.batch;
    this.batch = [];
    for (const p of batch) p.reject(error);
  }

  /** Deletes the confirmed messages waiting in `acks`, as part of the open batch. */
  private applyAcks(): void {
    for (const a of this.acks) {
      let removed = 0;
      for (const id of a.ids) removed += this.q.deleteMessage.run(a.recipientId, id).changes;
      if (removed) this.addCount(a.recipientId, -removed);
      this.batch.push({ resolve: a.resolve as (v: unknown) => void, reject: a.reject, value: undefined });
    }
    this.acks = [];
  }

  /** The next message id, reserving another block in the file when the last is used up. */
  private takeMessageId(): number {
    if (this.nextMessageId >= this.idCeiling) {
      this.idCeiling = this.nextMessageId + ID_BLOCK;
      this.q.setNextMessageId.run(this.idCeiling);
    }
    return this.nextMessageId++;
  }

  private accountByKey(key: string): Account | null {
    let account = this.accountCache.get(key);
    if (account) return account;
    account = (this.q.accountByKey.get(key) as AccountRow | null) ?? undefined;
    if (!account) return null;
    if (this.accountCache.size > 100_000) this.accountCache.clear();
    this.accountCache.set(key, account);
    return account;
  }

  private countOf(id: number): number {
    return (this.counts.get(id) ?? 0) + (this.countDelta.get(id) ?? 0);
  }

  private addCount(id: number, d: number): void {
    this.countDelta.set(id, (this.countDelta.get(id) ?? 0) + d);
  }
}

/** Longest a confirmation waits for a batch to join before committing on its own. */
const ACK_DELAY_MS = 20;

/** Message ids reserved in the file at a time. */
const ID_BLOCK = 4096;

function prepareStatements(db: Database) {
  const p = (sql: string): Statement => db.prepare(sql);
  return {
    insertAccount: p(
      "INSERT INTO accounts (key, name, password_hash, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (key) DO NOTHING RETURNING id",
    ),
    accountByKey: p(`SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE key = ?`),
    accountById: p(`SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE id = ?`),
    passwordHash: p("SELECT password_hash AS hash FROM accounts WHERE id = ?"),
    deleteAccount: p("DELETE FROM accounts WHERE id = ?"),
    deleteMessagesOf: p("DELETE FROM messages WHERE recipient_id = ?"),
    deleteSentOf: p("DELETE FROM sent_ids WHERE sender_id = ?"),
    deleteTokensOf: p("DELETE FROM tokens WHERE account_id = ?"),
    insertMessage: p(
      "INSERT INTO messages (recipient_id, id, sender_name, text, sent_at) VALUES (?, ?, ?, ?, ?)",
    ),
    deleteMessage: p("DELETE FROM messages WHERE recipient_id = ? AND id = ?"),
    pending: p(
      `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE recipient_id = ? AND id > ? ORDER BY id LIMIT ?`,
    ),
    findSent: p(
      "SELECT message_id AS messageId, recipient_id AS recipientId, sent_at AS sentAt FROM sent_ids WHERE sender_id = ? AND client_msg_id = ?",
    ),
    insertSent: p(
      "INSERT OR REPLACE INTO sent_ids (sender_id, client_msg_id, message_id, recipient_id, sent_at) VALUES (?, ?, ?, ?, ?)",
    ),
    sweepSent: p("DELETE FROM sent_ids WHERE sent_at < ?"),
    insertToken: p("INSERT OR REPLACE INTO tokens (hash, account_id, expires_at) VALUES (?, ?, ?)"),
    findToken: p("SELECT hash, account_id AS accountId, expires_at AS expiresAt FROM tokens WHERE hash = ?"),
    deleteToken: p("DELETE FROM tokens WHERE hash = ?"),
    sweepTokens: p("DELETE FROM tokens WHERE expires_at <= ?"),
    countAccounts: p("SELECT count(*) AS n FROM accounts"),
    setLastLogin: p("UPDATE accounts SET last_login_at = ? WHERE id = ?"),
    lastLogin: p("SELECT last_login_at AS at FROM accounts WHERE id = ?"),
    setPasswordHash: p("UPDATE accounts SET password_hash = ? WHERE id = ?"),
    // Prepared once: a batch's BEGIN and COMMIT are on every message's path.
    begin: p("BEGIN"),
    commit: p("COMMIT"),
    rollback: p("ROLLBACK"),
    setNextMessageId: p("UPDATE meta SET value = ? WHERE key = 'next_message_id'"),
  };
}

const STORAGE_REASONS: Record<string, string> = {
  SQLITE_FULL: "the disk is full",
  SQLITE_IOERR: "a disk I/O error occurred",
  SQLITE_READONLY: "the data file has become read-only",
  SQLITE_BUSY: "the data file is locked",
  SQLITE_CORRUPT: "the data file is corrupt",
  SQLITE_CANTOPEN: "the data file cannot be opened",
};

function toStorageError(error: unknown): StorageError {
  if (error instanceof StorageError) return error;
  const code = sqliteCode(error);
  const base = Object.keys(STORAGE_REASONS).find((k) => code === k || code.startsWith(`${k}_`));
  const reason = base ? STORAGE_REASONS[base]! : "the data store failed";
  return new StorageError(reason, { cause: error });
}
