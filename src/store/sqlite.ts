// The default Store: one SQLite file in WAL mode, held exclusively by one server.
//
// Group commit: calls run their statements at once inside a transaction that stays open
// until the work in hand is done (the end of the event-loop turn with sync=full, so many
// reads share one fsync; the end of the current read with sync=normal), then one COMMIT
// makes the whole batch durable and every call's promise resolves together.
// If the commit fails (disk full, I/O error) the batch is rolled back and every call in
// it is rejected with StorageError: no caller is ever told a lost write succeeded.
//
// The hot path (messages stored and confirmed, receipts) does not COMMIT each batch: its
// statements go to the redo log (redo-log.ts) in one write, which makes the batch durable,
// and the transaction stays open until REDO_COMMIT_MS later, or REDO_COMMIT_BYTES of log,
// or a batch with any other change (accounts, tokens, bans: rare, and committed as before).

import type { Database, Statement } from "bun:sqlite";
import { closeSync, fsyncSync, openSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { prefixEnd } from "../rules/glob";
import { compareKeys } from "./keys";
import { SCHEMA_VERSION } from "./migrations";
import { applyFrames, meta, type Preparer, RedoLog, type ReplayOutcome, redoPath } from "./redo-log";
import { RowBatch } from "./row-batch";
import { SenderCounts } from "./sender-counts";
import { formatBytes, planSpace, type SpacePlan } from "./space";
import { SqliteDedup } from "./sqlite-dedup";
import { openDataFile, StoreOpenError, type SyncMode, sqliteCode } from "./sqlite-file";
import { SqliteReceipts } from "./sqlite-receipts";
import {
  type Account,
  type AccountPage,
  type AccountQuery,
  type AckResult,
  type Ban,
  type EnqueueResult,
  type NameReservation,
  type NewMessage,
  type ReceiptRequest,
  type SessionToken,
  StorageError,
  StorageFullError,
  type Store,
  type StoredMessage,
  type StoreLimits,
} from "./store";

export { StoreOpenError, type SyncMode, sharedAccess } from "./sqlite-file";

export interface SqliteOptions extends StoreLimits {
  path: string;
  /** full: fsync at every commit (survives power loss); normal: survives process crashes. */
  sync: SyncMode;
  /** Move a corrupt file aside and start empty instead of refusing to start. */
  resetCorrupt?: boolean;
  /**
   * The data budget: bytes the data file and its WAL may take together (see space.ts).
   * New messages and accounts are refused a reserve below it; the file's hard cap, past
   * which any write fails with "the disk is full", is the budget less the WAL's share.
   */
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

export class SqliteStore implements Store {
  readonly description: string;
  private batch: Pending[] = [];
  private inTxn = false;
  private scheduled = false;
  private closed = false;
  /** Waiting-message counts as committed, and the changes of the open batch. */
  private counts = new Map<number, number>();
  private countDelta = new Map<number, number>();
  /** The same per (recipient, sender), for the per-sender quota. */
  private senders = new SenderCounts();
  private accountCache = new Map<string, Account>();
  private nextMessageId: number;
  /** Ids below this are reserved in the file; raised a block at a time, so most commits skip it. */
  private idCeiling: number;
  private committedIdCeiling: number;
  private readonly q: ReturnType<typeof prepareStatements>;
  /** The data budget's split, or null without one. */
  readonly space: SpacePlan | null;
  private readonly pageSize: number;
  /** Bytes of the file's pages in use as of the last commit, and an estimate of the open batch's additions. */
  private liveBytes = 0;
  private batchBytes = 0;
  /**
   * The same estimate for the message rows queued since the last flush: not in the pages a
   * measure counts. Rows taken back stay in it until the flush (an upper bound, which only
   * makes a store near half its budget flush sooner).
   */
  private queuedBytes = 0;
  private wasFull = false;
  /** The open batch deleted rows, so liveBytes is stale until measured again. */
  private freedInBatch = false;
  private walCheckedAt = 0;
  /** When the file's pages were last counted (measureSpace). */
  private measuredAt = 0;
  /** total_changes() at the last WAL check: rows changed since bound how much the WAL grew. */
  private changesAtWalCheck = 0;
  private readonly dedup: SqliteDedup;
  private readonly receiptRows: SqliteReceipts;
  /** Messages stored in the open batch, inserted together before its commit (see flushRows). */
  private readonly messageRows: RowBatch;
  private readonly scheduleCommit: (fn: () => void) => void;
  private readonly redo: RedoLog;
  /** Records the removal of a message still queued in messageRows (it never reaches SQLite). */
  private readonly recordDelete: (args: readonly unknown[]) => void;
  /** The open batch changed something the redo log does not carry: it ends with a COMMIT. */
  private direct = false;
  /** The redo log is due to be committed: the open batch ends with a COMMIT. */
  private commitDue = false;
  private commitTimer: Timer | null = null;
  /** The queued rows are written in the next turn (flushLater). */
  private flushPending: ReturnType<typeof setImmediate> | null = null;
  /** After a COMMIT: checkpoints the WAL if no batch came since. */
  private idleTimer: Timer | null = null;
  /** Set when the state the redo log holds could not be applied again after a rollback. */
  private failed: StorageError | null = null;
  /** Confirmations not yet applied (see ack()). */
  private acks: {
    recipientId: number;
    ids: readonly number[];
    /** ack()'s takes nothing, ackWithReceipts()'s an AckResult (applyAcks gives each its own). */
    resolve: (value: never) => void;
    reject: (e: unknown) => void;
    /** Set by ackWithReceipts: receipts to store as the messages go. */
    receipts?: ReceiptRequest;
    /** Set by deleteReceipts: recipientId is the sender, ids its confirmed receipts. */
    receiptsShown?: true;
  }[] = [];
  /** The accounts whose message confirmations are in acks (not their receipts'). */
  private readonly ackers = new Set<number>();
  private ackTimer: Timer | null = null;
  /**
   * Who sent each recently stored message, so a confirmation deletes its row with a plain
   * DELETE: one with RETURNING cost several times as much. Direct-mapped by message id
   * (ids are consecutive, so the newest SENDER_CACHE all fit); a miss reads the sender first.
   */
  private readonly cachedIds = new Float64Array(SENDER_CACHE);
  private readonly cachedSenders = new Float64Array(SENDER_CACHE);
  /** The client_msg_id of each cached message (0: none), for its receipt without reading the row. */
  private readonly cachedClientMsgIds = new Float64Array(SENDER_CACHE);

  private constructor(
    private readonly db: Database,
    private readonly opts: SqliteOptions,
    /** The absolute path of the data file. */
    readonly path: string,
    /** Set when --reset-corrupt-data moved a corrupt file aside: where it went. */
    readonly movedAside?: string,
    /** What opening did with the redo log of a server that had not stopped cleanly. */
    readonly recovered: ReplayOutcome = { kind: "none" },
  ) {
    this.space = opts.maxBytes ? planSpace(opts.maxBytes) : null;
    this.description = `sqlite ${path} (sync=${opts.sync}${this.space ? `, up to ${formatBytes(this.space.totalBytes)}` : ""})`;
    // With sync=full every commit is an fsync: share one among all the reads of an
    // event-loop turn. With sync=normal a commit is a write to the OS: commit what one read
    // brought at once, which answers sooner and still batches every frame of that read.
    this.scheduleCommit = opts.sync === "full" ? (fn) => void setImmediate(fn) : queueMicrotask;
    this.redo = RedoLog.create(path, {
      schemaVersion: SCHEMA_VERSION,
      epoch: meta(db, "redo_epoch") ?? 0,
      seq: meta(db, "redo_seq") ?? 0,
      fsync: opts.sync === "full",
    });
    // Every statement records its runs: what a batch of the hot path ran is its redo frame.
    const recorded = { prepare: (sql: string) => this.redo.prepare(db, sql) };
    this.q = prepareStatements(recorded, db);
    // Queued rows are recorded as they are queued, and reach SQLite by the next COMMIT.
    const recorder = (sql: string) => this.redo.recorder(sql);
    this.dedup = new SqliteDedup(recorded, opts.dedupPerSender, { db, options: { recorder } });
    this.receiptRows = new SqliteReceipts(recorded, { db, options: { recorder } });
    this.messageRows = new RowBatch(
      db,
      "INSERT INTO messages (recipient_id, id, sender_name, text, sent_at, sender_id, client_msg_id)",
      7,
      { recorder, key: 1 },
    );
    this.recordDelete = this.redo.recorder(DELETE_MESSAGE);
    this.pageSize = (db.query("PRAGMA page_size").get() as { page_size: number }).page_size;
    if (this.space) {
      const { fileBytes, walBytes } = this.space;
      db.run(`PRAGMA max_page_count = ${Math.max(16, Math.floor(fileBytes / this.pageSize))}`);
      // The WAL keeps its largest size until truncated: checkpoint at half its share (at
      // most WAL_CHECKPOINT_PAGES), and cut it back to its share after each checkpoint.
      db.run(`PRAGMA journal_size_limit = ${walBytes}`);
      const framePages = Math.floor(walBytes / 2 / (this.pageSize + 24));
      db.run(`PRAGMA wal_autocheckpoint = ${Math.max(1, Math.min(WAL_CHECKPOINT_PAGES, framePages))}`);
      this.measureSpace();
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
    for (const row of db
      .query(
        "SELECT recipient_id AS r, sender_id AS s, count(*) AS n FROM messages GROUP BY recipient_id, sender_id",
      )
      .all() as { r: number; s: number; n: number }[]) {
      this.senders.load(row.r, row.s, row.n);
    }
  }

  /** Opens (creating if needed) and migrates the data file; throws StoreOpenError. */
  static open(opts: SqliteOptions): SqliteStore {
    const file = openDataFile(opts);
    try {
      return new SqliteStore(file.db, opts, file.path, file.movedAside, file.redo);
    } catch (error) {
      file.db.close();
      const code = (error as NodeJS.ErrnoException).code;
      if (typeof code === "string" && code.startsWith("E"))
        throw new StoreOpenError(
          `cannot write the redo log ${redoPath(file.path)} beside data file ${file.path}: ${(error as Error).message}. Check that the directory and the file are writable by this user.`,
        );
      throw error;
    }
  }

  createAccount(a: {
    name: string;
    key: string;
    skeleton?: string;
    passwordHash: string;
    createdAt: number;
  }) {
    // Refused before it joins a batch: a failure inside one would fail the whole batch.
    if (this.overBudget()) return Promise.reject(new StorageFullError());
    return this.op(true, (): Account | null => {
      const skeleton = a.skeleton ?? a.key;
      // Checked and inserted in one synchronous step of the batch: nothing comes between.
      if (this.q.accountBySkeleton.get(skeleton)) return null;
      if (this.q.reservation.get(a.key, skeleton, a.createdAt)) return null;
      const row = this.q.insertAccount.get(a.key, a.name, a.passwordHash, a.createdAt, skeleton) as {
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

  findAccountBySkeleton(skeleton: string) {
    return this.op(false, () => (this.q.accountBySkeleton.get(skeleton) as AccountRow | null) ?? null);
  }

  nameReservation(key: string, skeleton: string, now: number) {
    return this.op(
      false,
      () => (this.q.reservation.get(key, skeleton, now) as NameReservation | null) ?? null,
    );
  }

  backfillIdentity(identity: (name: string, key: string) => { key: string; skeleton: string }) {
    return this.op(true, () => {
      const rows = this.db.query("SELECT id, name, key FROM accounts WHERE skeleton IS NULL").all() as {
        id: number;
        name: string;
        key: string;
      }[];
      // Prepared here and finalized, like every statement of ours, so close() releases the file.
      const update = this.db.prepare("UPDATE accounts SET key = ?, skeleton = ? WHERE id = ?");
      const taken = this.db.prepare("SELECT 1 FROM accounts WHERE key = ? AND id != ?");
      try {
        for (const row of rows) {
          const next = identity(row.name, row.key);
          const key = next.key === row.key || taken.get(next.key, row.id) ? row.key : next.key;
          update.run(key, next.skeleton, row.id);
        }
      } finally {
        update.finalize();
        taken.finalize();
      }
      if (rows.length) this.accountCache.clear();
      return rows.length;
    });
  }

  revokeTokens(accountId: number, keepHash?: string) {
    return this.op(true, () => {
      this.q.revokeTokens.run(accountId, keepHash ?? "");
    });
  }

  setPasswordHash(id: number, hash: string) {
    return this.op(true, () => {
      this.q.setPasswordHash.run(hash, id);
    });
  }

  samplePasswordHashes(limit: number) {
    return this.op(false, () => {
      const range = this.q.idRange.get() as { lo: number | null; hi: number | null };
      if (range.lo === null || range.hi === null) return [];
      // Index seeks at random ids rather than a scan: cheap however many accounts there are.
      const out: string[] = [];
      for (let i = 0; i < limit; i++) {
        const at = range.lo + Math.floor(Math.random() * (range.hi - range.lo + 1));
        const row = this.q.hashAtOrAfter.get(at) as { hash: string } | null;
        if (row) out.push(row.hash);
      }
      return out;
    });
  }

  deleteAccount(id: number, reserveNameUntil?: number) {
    return this.op(true, () => {
      const account = this.q.accountById.get(id) as AccountRow | null;
      if (!account) return;
      if (reserveNameUntil !== undefined) {
        const skeleton = (this.q.skeletonOf.get(id) as { skeleton: string | null } | null)?.skeleton;
        this.q.reserveName.run(account.key, skeleton ?? account.key, account.name, reserveNameUntil);
      }
      this.q.deleteMessagesOf.run(id);
      this.receiptRows.removeAll(id);
      this.dedup.forget(id);
      this.q.deleteTokensOf.run(id);
      this.q.deleteAccount.run(id);
      this.accountCache.delete(account.key);
      this.addCount(id, -this.countOf(id));
      this.senders.drop(id);
      this.freedInBatch = true;
    });
  }

  listAccounts(q: AccountQuery) {
    return this.op(false, (): AccountPage => {
      // The pattern's prefix is a range of the key index, read in key order, at most
      // maxExamined rows of it. Keys are matched by the glob's own matcher, which is
      // linear: SQLite's GLOB took up to 20 ms per 1000 keys on patterns like a*a*…*ab.
      // Whole rows in one pass: a lookup per matching key made a page of 1,000 cost ~7 ms.
      const end = prefixEnd(q.pattern.prefix);
      const fromPrefix = compareKeys(q.afterKey, q.pattern.prefix) < 0;
      const range = `key ${fromPrefix ? ">=" : ">"} ?1${end === null ? "" : " AND key < ?2"}`;
      const accounts: Account[] = [];
      let examined = 0;
      let last = "";
      if (q.limit > 0) {
        // A statement of its own: iterate() holds a cursor.
        for (const row of this.db
          .query(`SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE ${range} ORDER BY key LIMIT ?3`)
          .iterate(fromPrefix ? q.pattern.prefix : q.afterKey, end ?? "", q.maxExamined)) {
          const key = (row as AccountRow).key;
          examined++;
          last = key;
          if (!q.pattern.matches(key)) continue;
          accounts.push(row as AccountRow);
          if (accounts.length >= q.limit) break;
        }
      }
      const spent = accounts.length < q.limit && examined >= q.maxExamined;
      return { accounts, examinedTo: spent ? last : null };
    });
  }

  enqueue(m: NewMessage) {
    return this.queue((): EnqueueResult => {
      // What the sender confirmed before sending takes effect first: its receipts reach
      // their senders before its reply does.
      if (this.ackers.has(m.senderId)) this.applyAcks();
      const recipient = this.accountByKey(m.recipientKey);
      if (!recipient) return { ok: false, error: "no_such_account" };
      if (m.clientMsgId) {
        const prior = this.dedup.find(m.senderId, m.clientMsgId);
        if (prior) {
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
      let refused = this.refusal(recipient.id, m.senderId);
      // Confirmations not applied yet (see op) would lower the counts: apply them first.
      if (refused && this.acks.length) {
        this.applyAcks();
        refused = this.refusal(recipient.id, m.senderId);
      }
      if (refused) return { ok: false, error: refused };
      const message: StoredMessage = {
        id: this.takeMessageId(),
        recipientId: recipient.id,
        senderName: m.senderName,
        text: m.text,
        sentAt: m.sentAt,
      };
      this.messageRows.add(
        recipient.id,
        message.id,
        m.senderName,
        m.text,
        m.sentAt,
        m.senderId,
        m.clientMsgId,
      );
      this.addCount(recipient.id, 1);
      this.senders.add(recipient.id, m.senderId, 1);
      this.rememberSender(message.id, m.senderId, m.clientMsgId);
      // Until the commit measures it: the row, its share of index pages, UTF-16 as a bound on UTF-8.
      if (this.space) {
        const bytes = 2 * (m.text.length + m.senderName.length) + 64;
        this.batchBytes += bytes;
        this.queuedBytes += bytes;
      }
      if (m.clientMsgId)
        this.dedup.remember(m.senderId, m.clientMsgId, {
          messageId: message.id,
          recipientId: recipient.id,
          sentAt: m.sentAt,
        });
      return { ok: true, message, recipient, duplicate: false };
    });
  }

  pending(recipientId: number, afterId: number, limit: number) {
    return this.op(false, () => {
      this.flushMessages();
      return this.q.pending.all(recipientId, afterId, limit) as MessageRow[];
    });
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
      this.ackers.add(recipientId);
      this.ackTimer ??= setTimeout(() => {
        this.ackTimer = null;
        if (this.acks.length) void this.op(true, () => this.applyAcks(), true).catch(() => {});
      }, ACK_DELAY_MS);
    });
  }

  /** Applied with the lazy confirmations (see ack()), in the same transaction as the removal. */
  ackWithReceipts(recipientId: number, ids: readonly number[], receipts: ReceiptRequest) {
    return this.lazily<AckResult>((resolve, reject) => ({ recipientId, ids, resolve, reject, receipts }));
  }

  receipts(accountId: number, limit: number) {
    return this.op(false, () => this.receiptRows.list(accountId, limit));
  }

  /**
   * Lazy like ack(): losing it in a crash only means the receipts are pushed again (and the
   * client shows them once), so a confirmed receipt costs no commit of its own either.
   */
  deleteReceipts(accountId: number, messageIds: readonly number[]) {
    return this.lazily<void>((resolve, reject) => ({
      recipientId: accountId,
      ids: messageIds,
      resolve,
      reject,
      receiptsShown: true,
    }));
  }

  /** Queues an entry for applyAcks, as ack() does: applied with the next batch, or after ACK_DELAY_MS. */
  private lazily<T>(
    entry: (resolve: (v: T) => void, reject: (e: unknown) => void) => SqliteStore["acks"][number],
  ): Promise<T> {
    if (this.closed) return Promise.reject(new StorageError("the data store is closed"));
    return new Promise<T>((resolve, reject) => {
      const e = entry(resolve, reject);
      this.acks.push(e);
      // A receipt confirmed changes nothing another account sees: no order to keep.
      if (!e.receiptsShown) this.ackers.add(e.recipientId);
      this.ackTimer ??= setTimeout(() => {
        this.ackTimer = null;
        if (this.acks.length) void this.op(true, () => this.applyAcks(), true).catch(() => {});
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

  /** Drops expired tokens; called from time to time by the server. */
  sweep(now: number) {
    return this.op(true, () => {
      this.q.sweepTokens.run(now);
      this.q.sweepReserved.run(now);
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
    if (this.acks.length) void this.op(true, () => this.applyAcks(), true).catch(() => {});
    if (this.inTxn || this.batch.length) this.commit();
    if (this.inTxn) {
      try {
        this.commitFile();
      } catch (error) {
        const failure = toStorageError(error);
        this.abort(failure);
        throw failure;
      }
    }
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
    if (this.acks.length) void this.op(true, () => this.applyAcks(), true).catch(() => {});
    if (this.batch.length) this.commit();
    let committed = !this.inTxn && !this.failed;
    if (this.inTxn && !this.failed) {
      try {
        this.commitFile();
        committed = true;
      } catch {
        // The redo log keeps what was answered for; the next start applies it.
      }
    }
    if (this.ackTimer) clearTimeout(this.ackTimer);
    if (this.commitTimer) clearTimeout(this.commitTimer);
    if (this.idleTimer) clearTimeout(this.idleTimer);
    if (this.flushPending) clearImmediate(this.flushPending);
    this.closed = true;
    this.redo.close(this.path, committed);
    try {
      this.db.run("PRAGMA wal_checkpoint(TRUNCATE)");
    } catch {
      // The WAL stays and is replayed on the next open: nothing is lost.
    }
    // An unfinalized statement keeps the connection, and so its exclusive lock, alive
    // after close(): the file could not be opened again by this process.
    for (const st of Object.values(this.q)) st.finalize();
    this.dedup.finalize();
    this.receiptRows.finalize();
    this.messageRows.finalize();
    this.db.close();
  }

  // --- internal ---

  /**
   * Runs fn now (inside the open batch transaction if write) and resolves with its
   * result once the batch is durable. A write the redo log does not carry (not `redone`)
   * makes the batch end with a COMMIT, and sees the queued rows written first; of the
   * reads, those of the messages table flush them themselves.
   */
  private op<T>(write: boolean, fn: () => T, redone = false): Promise<T> {
    if (this.closed) return Promise.reject(new StorageError("the data store is closed"));
    if (this.failed) return Promise.reject(this.failed);
    let value: T;
    try {
      if ((write || this.acks.length) && !this.inTxn) {
        this.q.begin.run();
        this.inTxn = true;
      }
      if (write && !redone) {
        this.direct = true;
        this.flushRows();
      }
      // A batch that only queues rows (a SEND) leaves the confirmations for later: applied
      // first, they would stand between a message and its push to an online recipient.
      // enqueue applies them itself before refusing for a count they would lower.
      if (this.acks.length && !redone) this.applyAcks();
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

  /** op() for a call that only queues rows (enqueue): what the batch queued stays queued. */
  private queue<T>(fn: () => T): Promise<T> {
    return this.op(true, fn, true);
  }

  /** Inserts the queued rows (messages, de-duplication records) into their tables. */
  private flushRows(): void {
    this.flushMessages();
    this.dedup.flush();
    this.receiptRows.flush();
  }

  /** Inserts the queued message rows: their bytes are in the pages a measure counts now. */
  private flushMessages(): void {
    this.messageRows.flush();
    this.queuedBytes = 0;
  }

  /** Ends the batch: its changes become durable (redo log or COMMIT), then its calls resolve. */
  private commit(): void {
    this.scheduled = false;
    if (this.inTxn) {
      try {
        if (this.direct || this.commitDue || this.redo.bytes >= REDO_COMMIT_BYTES) this.commitFile();
        else {
          if (this.redo.pending) this.redo.append();
          // Near the data budget, rows meet the file's cap in the batch they belong to.
          if (this.nearBudget()) this.flushRows();
          else if (this.messageRows.live >= MAX_QUEUED_ROWS) this.flushLater();
        }
      } catch (error) {
        this.abort(toStorageError(error));
        return;
      }
      if (this.inTxn) this.commitTimer ??= setTimeout(() => this.commitLater(), REDO_COMMIT_MS);
      this.committedIdCeiling = this.idCeiling;
      for (const [id, d] of this.countDelta) {
        const n = (this.counts.get(id) ?? 0) + d;
        if (n > 0) this.counts.set(id, n);
        else this.counts.delete(id);
      }
      this.countDelta.clear();
      this.senders.commit();
      if (this.space) this.afterCommit(this.space, !this.inTxn);
    }
    const batch = this.batch;
    this.batch = [];
    for (const p of batch) p.resolve(p.value);
  }

  /**
   * Writes the queued rows in the next turn, once this batch's callers have been answered:
   * they are durable in the redo log already, and the 30-60 ms of inserts a full queue
   * takes then run while the clients read their answers and send on, not before. A failure
   * there is a failed COMMIT's (abort).
   */
  private flushLater(): void {
    this.flushPending ??= setImmediate(() => {
      this.flushPending = null;
      if (!this.inTxn || this.closed || this.messageRows.live < MAX_QUEUED_ROWS) return;
      try {
        this.flushRows();
      } catch (error) {
        this.abort(toStorageError(error));
      }
    });
  }

  /** Commits the open transaction: the redo log's frames are in the file now. */
  private commitFile(): void {
    this.flushRows();
    this.q.setRedoSeq.run(this.redo.seq);
    this.q.commit.run();
    this.inTxn = false;
    this.direct = false;
    this.commitDue = false;
    if (this.commitTimer) clearTimeout(this.commitTimer);
    this.commitTimer = null;
    this.redo.committed();
    this.idleTimer ??= setTimeout(() => this.checkpointIfIdle(), IDLE_CHECKPOINT_MS);
    this.idleTimer.unref?.();
  }

  /** REDO_COMMIT_MS after a batch went to the redo log: commit, with the batch in hand if any. */
  private commitLater(): void {
    this.commitTimer = null;
    if (!this.inTxn || this.closed) return;
    if (this.scheduled) {
      this.commitDue = true;
      return;
    }
    try {
      this.commitFile();
    } catch (error) {
      this.abort(toStorageError(error));
      return;
    }
    if (this.space) this.afterCommit(this.space, true);
  }

  /**
   * The store went quiet after a COMMIT (no batch since): the WAL's pages go into the file
   * and the WAL is emptied now, instead of at the next WAL_CHECKPOINT_PAGES under load.
   * Under load a batch is always open by then, and nothing is done.
   */
  private checkpointIfIdle(): void {
    this.idleTimer = null;
    if (this.closed || this.inTxn || this.scheduled) return;
    try {
      this.db.run("PRAGMA wal_checkpoint(TRUNCATE)");
    } catch {
      // Checkpointed at the next WAL_CHECKPOINT_PAGES instead; nothing is lost.
    }
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
    this.redo.discard();
    this.direct = false;
    this.commitDue = false;
    // The rollback took back batches already answered for, which the redo log holds: apply
    // them again, in a transaction left open for the next commit.
    if (this.redo.uncommitted) {
      try {
        this.q.begin.run();
        this.inTxn = true;
        applyFrames(this.db, this.redo.frames(this.path));
        this.commitTimer ??= setTimeout(() => this.commitLater(), REDO_COMMIT_MS);
      } catch (cause) {
        this.failed = new StorageError("the data store failed and needs a restart", { cause });
      }
    }
    this.countDelta.clear();
    this.messageRows.clear();
    this.queuedBytes = 0;
    this.senders.abort();
    try {
      if (this.space) this.measureSpace();
    } catch {
      // Measured again after the next commit.
    }
    this.accountCache.clear();
    this.dedup.reset();
    this.receiptRows.reset();
    // nextMessageId stays where it is: an id handed out in a failed batch is never reused.
    this.idCeiling = this.committedIdCeiling;
    const batch = this.batch;
    this.batch = [];
    for (const p of batch) p.reject(error);
  }

  /** Deletes the confirmed messages waiting in `acks`, as part of the open batch. */
  private applyAcks(): void {
    for (const a of this.acks) {
      if (a.receiptsShown) {
        this.receiptRows.remove(a.recipientId, a.ids);
        this.batch.push({ resolve: a.resolve as (v: unknown) => void, reject: a.reject, value: undefined });
        continue;
      }
      const result: AckResult | undefined = a.receipts ? { receipts: [], dropped: 0 } : undefined;
      const removed = this.removeConfirmed(a.recipientId, a.ids, a.receipts, result);
      if (removed) this.freedInBatch = true;
      if (removed) this.addCount(a.recipientId, -removed);
      if (result) this.receiptRows.trim(a.receipts!.maxPerAccount, result);
      this.batch.push({ resolve: a.resolve as (v: unknown) => void, reject: a.reject, value: result });
    }
    this.acks = [];
    this.ackers.clear();
  }

  /**
   * Deletes the recipient's confirmed messages among ids (and stores their receipts with
   * r); returns how many were removed. A run of consecutive ids is one range DELETE, which
   * costs about what a single one does: since ids are never reused, a range whose every
   * id is confirmed holds no message of this recipient that was not. With no rows queued,
   * a run may have gaps (other recipients' messages between, as in a drain of many
   * mailboxes filled at once) when a read of the range finds only confirmed ones.
   */
  private removeConfirmed(
    recipientId: number,
    ids: readonly number[],
    r: ReceiptRequest | undefined,
    out: AckResult | undefined,
  ): number {
    let sorted = ids;
    for (let i = 1; i < ids.length; i++)
      if (ids[i]! < ids[i - 1]!) {
        sorted = [...ids].sort((x, y) => x - y);
        break;
      }
    let removed = 0;
    /** The run of ids in the table being gathered: sorted[runFrom..runTo). */
    let runFrom = 0;
    let runTo = 0;
    for (let i = 0; i < sorted.length; i++) {
      const id = sorted[i]!;
      // Still queued: taken back before it reached SQLite; the redo log records the removal.
      if (this.cachedIds[id & (SENDER_CACHE - 1)] === id && this.messageRows.remove(id, recipientId)) {
        this.recordDelete([recipientId, id]);
        removed += this.confirmedCached(recipientId, id, r, out);
        continue;
      }
      // A gap (ids of other recipients, or confirmed before) ends a run, unless no rows are
      // queued: then the table holds every message, and one read of the range can vouch for it.
      if (runTo > runFrom && id > sorted[runTo - 1]! + 1 && this.messageRows.live > 0) {
        removed += this.removeRun(recipientId, sorted, runFrom, runTo, r, out);
        runFrom = i;
      } else if (runTo === runFrom) runFrom = i;
      runTo = i + 1;
    }
    if (runTo > runFrom) removed += this.removeRun(recipientId, sorted, runFrom, runTo, r, out);
    return removed;
  }

  /** sorted[from..to) are ascending ids (repeats allowed) of messages in the table. */
  private removeRun(
    recipientId: number,
    sorted: readonly number[],
    from: number,
    to: number,
    r: ReceiptRequest | undefined,
    out: AckResult | undefined,
  ): number {
    const lo = sorted[from]!;
    const hi = sorted[to - 1]!;
    let unique = 0;
    for (let k = from; k < to; k++) if (k === from || sorted[k] !== sorted[k - 1]) unique++;
    if (unique < MIN_RANGE) return this.removeEach(recipientId, sorted, from, to, r, out);
    if (hi - lo + 1 === unique) return this.removeRange(recipientId, lo, hi, r, out);
    return this.removeSparse(recipientId, sorted, from, to, unique, r, out);
  }

  private removeEach(
    recipientId: number,
    sorted: readonly number[],
    from: number,
    to: number,
    r: ReceiptRequest | undefined,
    out: AckResult | undefined,
  ): number {
    let removed = 0;
    for (let k = from; k < to; k++)
      if (k === from || sorted[k] !== sorted[k - 1])
        removed += this.removeOne(recipientId, sorted[k]!, r, out);
    return removed;
  }

  /**
   * sorted[from..to) are confirmed ids with gaps, and no rows are queued: when the
   * recipient's messages between the lowest and the highest are all among them (one read
   * of the range, at most one row more than there are ids, says so), one range DELETE
   * removes them; otherwise each goes with a DELETE of its own.
   */
  private removeSparse(
    recipientId: number,
    sorted: readonly number[],
    from: number,
    to: number,
    unique: number,
    r: ReceiptRequest | undefined,
    out: AckResult | undefined,
  ): number {
    const lo = sorted[from]!;
    const hi = sorted[to - 1]!;
    if (this.messageRows.live > 0) return this.removeEach(recipientId, sorted, from, to, r, out);
    const rows = this.q.rowsInRange.values(recipientId, lo, hi, unique + 1) as [number, number, number][];
    let k = from;
    for (const [id] of rows) {
      while (k < to && sorted[k]! < id) k++;
      // A message of this recipient in the range that was not confirmed: it must stay.
      if (k === to || sorted[k] !== id) return this.removeEach(recipientId, sorted, from, to, r, out);
    }
    return this.deleteRows(recipientId, lo, hi, rows, r, out);
  }

  /** Deletes recipientId's rows lo..hi, which are `rows` (id, sender, client_msg_id), and what refers to them. */
  private deleteRows(
    recipientId: number,
    lo: number,
    hi: number,
    rows: [number, number, number][],
    r: ReceiptRequest | undefined,
    out: AckResult | undefined,
  ): number {
    if (!rows.length) return 0;
    this.q.deleteRange.run(recipientId, lo, hi);
    for (const [id, senderId, clientMsgId] of rows) {
      const slot = id & (SENDER_CACHE - 1);
      if (this.cachedIds[slot] === id) this.cachedIds[slot] = 0;
      this.confirmed(recipientId, id, senderId, clientMsgId, r, out);
    }
    return rows.length;
  }

  /** One confirmed id in the table: the old way, a DELETE of its own. */
  private removeOne(
    recipientId: number,
    id: number,
    r: ReceiptRequest | undefined,
    out: AckResult | undefined,
  ): number {
    // An id stays with its message and its sender for good (ids are never reused), so a
    // stale cache entry (its message deleted, or its batch rolled back) only deletes nothing.
    const slot = id & (SENDER_CACHE - 1);
    let senderId: number;
    let clientMsgId = 0;
    if (this.cachedIds[slot] === id) {
      senderId = this.cachedSenders[slot]!;
      clientMsgId = this.cachedClientMsgIds[slot]!;
      this.cachedIds[slot] = 0;
    } else {
      this.flushMessages();
      const row = this.q.senderOfMessage.get(recipientId, id) as {
        senderId: number;
        clientMsgId: number;
      } | null;
      if (!row) return 0;
      senderId = row.senderId;
      clientMsgId = row.clientMsgId;
    }
    if (this.q.deleteMessage.run(recipientId, id).changes === 0) return 0;
    // After the delete: a stale cache entry (its batch rolled back) makes no receipt.
    this.confirmed(recipientId, id, senderId, clientMsgId, r, out);
    return 1;
  }

  /** A confirmed message whose sender is in the cache (taken back from the queued rows, or in a range deleted). */
  private confirmedCached(
    recipientId: number,
    id: number,
    r: ReceiptRequest | undefined,
    out: AckResult | undefined,
  ): number {
    const slot = id & (SENDER_CACHE - 1);
    this.cachedIds[slot] = 0;
    this.confirmed(recipientId, id, this.cachedSenders[slot]!, this.cachedClientMsgIds[slot]!, r, out);
    return 1;
  }

  /** A confirmed message is gone: its sender's count falls, and its receipt is stored (with r). */
  private confirmed(
    recipientId: number,
    id: number,
    senderId: number,
    clientMsgId: number,
    r: ReceiptRequest | undefined,
    out: AckResult | undefined,
  ): void {
    this.senders.add(recipientId, senderId, -1);
    if (out) this.receiptRows.store(id, senderId, clientMsgId, r!, out);
  }

  /**
   * Every id from lo to hi is confirmed: one DELETE of the range. Which of them were there
   * comes from a count when the cache knows every sender, else from one read of the range
   * (the senders of its rows, for their receipts).
   */
  private removeRange(
    recipientId: number,
    lo: number,
    hi: number,
    r: ReceiptRequest | undefined,
    out: AckResult | undefined,
  ): number {
    const span = hi - lo + 1;
    let hits = 0;
    for (let id = lo; id <= hi; id++) if (this.cachedIds[id & (SENDER_CACHE - 1)] === id) hits++;
    if (hits === span && (this.q.countRange.get(recipientId, lo, hi) as { n: number }).n === span) {
      this.q.deleteRange.run(recipientId, lo, hi);
      for (let id = lo; id <= hi; id++) this.confirmedCached(recipientId, id, r, out);
      return span;
    }
    // Some are gone already, or were stored before the cache's reach: the rows say which.
    this.flushMessages();
    const rows = this.q.rowsInRange.values(recipientId, lo, hi, hi - lo + 1) as [number, number, number][];
    return this.deleteRows(recipientId, lo, hi, rows, r, out);
  }

  /** The next message id, reserving another block in the file when the last is used up. */
  private takeMessageId(): number {
    if (this.nextMessageId >= this.idCeiling) {
      this.idCeiling = this.nextMessageId + ID_BLOCK;
      this.q.setNextMessageId.run(this.idCeiling);
    }
    return this.nextMessageId++;
  }

  private rememberSender(messageId: number, senderId: number, clientMsgId: number): void {
    const slot = messageId & (SENDER_CACHE - 1);
    this.cachedIds[slot] = messageId;
    this.cachedSenders[slot] = senderId;
    this.cachedClientMsgIds[slot] = clientMsgId;
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

  /** The data budget is spent as of the last commit: new messages and accounts are refused. */
  get full(): boolean {
    return this.space !== null && this.liveBytes >= this.space.newDataBytes;
  }

  /** Past half the data budget: queued rows are written at once, where a full file fails their batch. */
  private nearBudget(): boolean {
    return this.space !== null && this.liveBytes + this.batchBytes >= this.space.newDataBytes / 2;
  }

  /** New data (messages, accounts) would go past the budget less its reserve. */
  private overBudget(): boolean {
    if (this.space === null) return false;
    // Inside the batch the page counts include its writes so far: confirmations just
    // applied count at once.
    if (this.freedInBatch && this.liveBytes + this.batchBytes >= this.space.newDataBytes) this.measureSpace();
    return this.liveBytes + this.batchBytes >= this.space.newDataBytes;
  }

  private measureSpace(): void {
    const pages = (this.q.pageCount.get() as { page_count: number }).page_count;
    const free = (this.q.freelistCount.get() as { freelist_count: number }).freelist_count;
    this.liveBytes = (pages - free) * this.pageSize + this.queuedBytes;
    this.batchBytes = 0;
    this.freedInBatch = false;
    this.measuredAt = Date.now();
  }

  /**
   * Measures the file after a commit, and keeps the WAL within its share of the budget.
   * Its size is checked every WAL_CHECK_MS, after enough changed rows to have grown it by
   * a quarter of its share (a big batch of confirmations or a deleted mailbox: then at
   * once), and on reaching the budget, when giving the WAL's disk space back helps most.
   */
  private afterCommit(space: SpacePlan, committed: boolean): void {
    const now = Date.now();
    // Measuring is two PRAGMA reads, 6 % of a server answering one message at a time. Far
    // from the budget the batch's estimate (an upper bound on what its messages added) is
    // added instead, and the file measured every MEASURE_MS; near the budget, or once
    // full, after every commit.
    this.liveBytes += this.batchBytes;
    this.batchBytes = 0;
    if (
      this.wasFull ||
      now - this.measuredAt >= MEASURE_MS ||
      this.liveBytes >= space.newDataBytes - space.newDataBytes / 8
    )
      this.measureSpace();
    const full = this.liveBytes >= space.newDataBytes;
    const justFull = full && !this.wasFull;
    this.wasFull = full;
    // A checkpoint needs the transaction closed: the WAL waits for the next COMMIT.
    if (!committed) return;
    const changes = (this.q.totalChanges.get() as { n: number }).n;
    // A changed row rewrites a page or two (its leaf, an index's leaf) in the WAL.
    const grown = (changes - this.changesAtWalCheck) * 2 * (this.pageSize + 24);
    if (!justFull && grown < space.walBytes / 4 && now - this.walCheckedAt < WAL_CHECK_MS) return;
    this.walCheckedAt = now;
    this.changesAtWalCheck = changes;
    if (!justFull && walSize(this.path) <= space.walBytes) return;
    try {
      this.db.run("PRAGMA wal_checkpoint(TRUNCATE)");
    } catch {
      // A checkpoint that cannot finish now is retried at the next check; nothing is lost.
    }
  }

  /** Why a new message from senderId to recipientId cannot be stored now, if it cannot. */
  private refusal(
    recipientId: number,
    senderId: number,
  ): "mailbox_full" | "sender_quota" | "storage_full" | null {
    if (this.countOf(recipientId) >= this.opts.maxQueuedPerAccount) return "mailbox_full";
    if (this.overSenderQuota(recipientId, senderId)) return "sender_quota";
    if (this.overBudget()) return "storage_full";
    return null;
  }

  private overSenderQuota(recipientId: number, senderId: number): boolean {
    return this.senders.of(recipientId, senderId) >= this.opts.maxQueuedPerSender;
  }

  private countOf(id: number): number {
    return (this.counts.get(id) ?? 0) + (this.countDelta.get(id) ?? 0);
  }

  private addCount(id: number, d: number): void {
    this.countDelta.set(id, (this.countDelta.get(id) ?? 0) + d);
  }
}

const DELETE_MESSAGE = "DELETE FROM messages WHERE recipient_id = ? AND id = ?";

/** Consecutive confirmed ids from which one range DELETE replaces a DELETE per id. */
const MIN_RANGE = 4;

/**
 * Queued rows past which they are written right after the batch (flushLater) rather than at
 * the COMMIT. A relay at 80,000 messages a second holds about 8,000 unconfirmed (a turn of
 * the event loop and a batch of confirmations): rows written at that point are deleted again
 * a moment later, and each such write made the turns longer and the rows held more.
 */
const MAX_QUEUED_ROWS = 32_768;

/** Longest (ms) a batch that went to the redo log waits for its COMMIT. */
const REDO_COMMIT_MS = 1000;

/**
 * WAL pages after which a COMMIT checkpoints (SQLite's default). A checkpoint's two fsyncs
 * stop the event loop for 10-30 ms on a VM's disk, and a relay's COMMIT writes about 250
 * pages: checkpointing at every COMMIT would put that pause in front of every 0.4 s of
 * messages. Under load the WAL holds up to these pages and a COMMIT; once the store is
 * quiet it is checkpointed and emptied (checkpointIfIdle).
 */
const WAL_CHECKPOINT_PAGES = 1000;

/** Quiet time (ms) after a COMMIT after which the WAL is checkpointed and emptied. */
const IDLE_CHECKPOINT_MS = 250;

/**
 * Redo log bytes past the last COMMIT that make the next batch end with one. A relayed
 * message takes about 270 bytes of log (its row, its ring record, its removal, its receipt
 * and the receipt's removal): at 80,000 a second, 8 MiB made a COMMIT every 0.4 s, and
 * each writes the rows still in flight only to delete them again.
 */
const REDO_COMMIT_BYTES = 24 * 1024 * 1024;

/** Longest a confirmation waits for a batch to join before committing on its own. */
const ACK_DELAY_MS = 20;

/** Longest (ms) the data budget goes on an estimate before the file is measured again. */
const MEASURE_MS = 50;

/** How often (ms) the WAL's size is checked against its share of the data budget. */
const WAL_CHECK_MS = 50;

function walSize(path: string): number {
  return statSync(`${path}-wal`, { throwIfNoEntry: false })?.size ?? 0;
}

/** Stored messages whose sender is remembered for their confirmation (16 bytes each); a power of 2. */
const SENDER_CACHE = 65_536;

/** Message ids reserved in the file at a time. */
const ID_BLOCK = 4096;

/** `db` records what its statements run (see RedoLog); `plain` is for those that must not be replayed. */
function prepareStatements(db: Preparer, plain: Database) {
  const p = (sql: string): Statement => db.prepare(sql);
  return {
    insertAccount: p(
      "INSERT INTO accounts (key, name, password_hash, created_at, skeleton) VALUES (?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING RETURNING id",
    ),
    accountBySkeleton: p(`SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE skeleton = ? ORDER BY id LIMIT 1`),
    skeletonOf: p("SELECT skeleton FROM accounts WHERE id = ?"),
    reservation: p(
      "SELECT name, until FROM reserved_names WHERE (key = ?1 OR skeleton = ?2) AND until > ?3 ORDER BY until DESC LIMIT 1",
    ),
    reserveName: p("INSERT OR REPLACE INTO reserved_names (key, skeleton, name, until) VALUES (?, ?, ?, ?)"),
    sweepReserved: p("DELETE FROM reserved_names WHERE until <= ?"),
    revokeTokens: p("DELETE FROM tokens WHERE account_id = ? AND hash != ?"),
    setPasswordHash: p("UPDATE accounts SET password_hash = ? WHERE id = ?"),
    idRange: p("SELECT min(id) AS lo, max(id) AS hi FROM accounts"),
    hashAtOrAfter: p("SELECT password_hash AS hash FROM accounts WHERE id >= ? ORDER BY id LIMIT 1"),
    accountByKey: p(`SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE key = ?`),
    accountById: p(`SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE id = ?`),
    passwordHash: p("SELECT password_hash AS hash FROM accounts WHERE id = ?"),
    deleteAccount: p("DELETE FROM accounts WHERE id = ?"),
    deleteMessagesOf: p("DELETE FROM messages WHERE recipient_id = ?"),
    deleteTokensOf: p("DELETE FROM tokens WHERE account_id = ?"),
    deleteMessage: p(DELETE_MESSAGE),
    senderOfMessage: p(
      "SELECT sender_id AS senderId, client_msg_id AS clientMsgId FROM messages WHERE recipient_id = ? AND id = ?",
    ),
    countRange: p("SELECT count(*) AS n FROM messages WHERE recipient_id = ? AND id BETWEEN ? AND ?"),
    rowsInRange: p(
      "SELECT id, sender_id, client_msg_id FROM messages WHERE recipient_id = ? AND id BETWEEN ? AND ? ORDER BY id LIMIT ?",
    ),
    deleteRange: p("DELETE FROM messages WHERE recipient_id = ? AND id BETWEEN ? AND ?"),
    pending: p(
      // The recipient's id from the argument, not each row: a column less to read per message.
      "SELECT id, ?1 AS recipientId, sender_name AS senderName, text, sent_at AS sentAt FROM messages WHERE recipient_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3",
    ),
    insertToken: p("INSERT OR REPLACE INTO tokens (hash, account_id, expires_at) VALUES (?, ?, ?)"),
    findToken: p("SELECT hash, account_id AS accountId, expires_at AS expiresAt FROM tokens WHERE hash = ?"),
    deleteToken: p("DELETE FROM tokens WHERE hash = ?"),
    sweepTokens: p("DELETE FROM tokens WHERE expires_at <= ?"),
    countAccounts: p("SELECT count(*) AS n FROM accounts"),
    pageCount: p("PRAGMA page_count"),
    totalChanges: p("SELECT total_changes() AS n"),
    freelistCount: p("PRAGMA freelist_count"),
    setLastLogin: p("UPDATE accounts SET last_login_at = ? WHERE id = ?"),
    lastLogin: p("SELECT last_login_at AS at FROM accounts WHERE id = ?"),
    setNextMessageId: p("UPDATE meta SET value = ? WHERE key = 'next_message_id'"),
    // Prepared once: a batch's BEGIN and COMMIT are on every message's path.
    begin: plain.prepare("BEGIN"),
    commit: plain.prepare("COMMIT"),
    rollback: plain.prepare("ROLLBACK"),
    setRedoSeq: plain.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('redo_seq', ?)"),
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
