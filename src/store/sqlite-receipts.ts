// The SQLite store's delivery receipts: table receipts, one row per (sender, message). A
// receipt is written in the transaction that removes its message (SqliteStore.applyAcks),
// so what was committed is never one without the other.
//
// Each sender keeps at most N receipts. The count per sender is kept in memory (read from
// the file the first time a sender is seen), so keeping to N deletes exactly the excess:
// counting or ranking a thousand rows at every confirmation cost ~50 µs.

import type { Statement } from "bun:sqlite";
import type { Preparer } from "./redo-log";
import { RowBatch, type RowBatchOptions, type SqlValue } from "./row-batch";
import type { AckResult, Receipt, ReceiptRequest } from "./store";

/** Senders whose counts are kept in memory; others are counted again when seen. */
const CACHED_SENDERS = 65_536;

const REMOVE = "DELETE FROM receipts WHERE account_id = ? AND message_id = ?";

export class SqliteReceipts {
  private counts = new Map<number, number>();
  /** New receipts, inserted together (RowBatch); whoever reads the table flushes them first. */
  private readonly rows: RowBatch;
  /**
   * Per sender, the message ids of its receipts queued in rows, in the order queued, and
   * whether each was higher than the one before (the usual case): the oldest of a sender
   * kept at its cap are then dropped from the queue, and never reach the table.
   */
  private readonly queued = new Map<number, { ids: Set<number>; last: number; ordered: boolean }>();
  /** Records the removal of a receipt still queued in rows (it never reaches the table). */
  private readonly recordRemove: ((args: readonly SqlValue[]) => void) | null;
  private readonly q: Record<
    "account" | "count" | "nthOldest" | "newest" | "dropUpTo" | "list" | "remove" | "removeAll",
    Statement
  >;

  constructor(
    db: Preparer,
    /** How new receipts are written and recorded (see RowBatch); by default through db. */
    rows: { db: Preparer; options: RowBatchOptions } = { db, options: {} },
  ) {
    const p = (sql: string) => db.prepare(sql);
    this.rows = new RowBatch(
      rows.db,
      "INSERT OR REPLACE INTO receipts (account_id, message_id, recipient_name, confirmed_at, client_msg_id)",
      5,
      { ...rows.options, key: 1 },
    );
    this.recordRemove = rows.options.recorder ? rows.options.recorder(REMOVE) : null;
    this.q = {
      account: p("SELECT 1 AS x FROM accounts WHERE id = ?"),
      count: p("SELECT count(*) AS n FROM receipts WHERE account_id = ?"),
      nthOldest: p(
        "SELECT message_id AS id FROM receipts WHERE account_id = ? ORDER BY message_id LIMIT 1 OFFSET ?",
      ),
      newest: p("SELECT max(message_id) AS id FROM receipts WHERE account_id = ?"),
      dropUpTo: p("DELETE FROM receipts WHERE account_id = ? AND message_id <= ?"),
      list: p(
        `SELECT message_id AS messageId, account_id AS senderId, recipient_name AS recipientName,
           confirmed_at AS confirmedAt, client_msg_id AS clientMsgId
         FROM receipts WHERE account_id = ? ORDER BY message_id LIMIT ?`,
      ),
      remove: p(REMOVE),
      removeAll: p("DELETE FROM receipts WHERE account_id = ?"),
    };
  }

  /**
   * In the open write transaction, as message id (sent by senderId) leaves its recipient's
   * queue: its receipt. Sender and client_msg_id come from the store's cache of recent
   * messages (or its read of the row), so the message is not read again here.
   */
  store(id: number, senderId: number, clientMsgId: number, r: ReceiptRequest, out: AckResult): void {
    // No receipt for a sender whose account is gone (ids are never reused: a new account of
    // the name has another id). A sender with a count in memory exists: deleting an account
    // forgets its count (removeAll), so only the first receipt of a sender looks it up.
    if (!this.counts.has(senderId) && !this.q.account.get(senderId)) return;
    this.rows.add(senderId, id, r.recipientName, r.confirmedAt, clientMsgId);
    if (this.recordRemove) {
      let q = this.queued.get(senderId);
      if (!q) {
        q = { ids: new Set(), last: 0, ordered: true };
        this.queued.set(senderId, q);
      }
      if (id <= q.last) q.ordered = false;
      q.last = id;
      q.ids.add(id);
    }
    // Ids are never reused and the message goes in this transaction: the row is a new one.
    this.add(senderId, 1);
    out.receipts.push({
      messageId: id,
      senderId,
      recipientName: r.recipientName,
      confirmedAt: r.confirmedAt,
      clientMsgId,
    });
  }

  /** Keeps each sender of out's receipts within max; those dropped leave out. */
  trim(max: number, out: AckResult): void {
    if (!out.receipts.length) return;
    let dropped = 0;
    /** Per sender trimmed, the highest message id dropped: its receipts up to it are gone. */
    let cutoff: Map<number, number> | null = null;
    for (const sender of new Set(out.receipts.map((x) => x.senderId))) {
      const over = this.count(sender) - Math.max(0, max);
      if (over <= 0) continue;
      const last = this.dropOldest(sender, over);
      if (last === null) continue;
      dropped += last.n;
      cutoff ??= new Map();
      cutoff.set(sender, last.id);
    }
    if (!cutoff) return;
    out.dropped += dropped;
    const cut = cutoff;
    out.receipts = out.receipts.filter((x) => x.messageId > (cut.get(x.senderId) ?? 0));
  }

  /**
   * Drops the sender's `over` oldest receipts: those up to the over-th lowest id, one range.
   * Returns that id and how many went, or null when the count was wrong (read again next time).
   */
  private dropOldest(sender: number, over: number): { id: number; n: number } | null {
    const q = this.queued.get(sender);
    if (q?.ordered && q.ids.size) {
      // The queued ones are the newest (each higher than the last, and than the table's):
      // the oldest `over` are the table's first, then the queue's from its start.
      const inTable = (this.counts.get(sender) ?? -1) - q.ids.size;
      const first = q.ids.values().next().value!;
      const newest = inTable > 0 ? (this.q.newest.get(sender) as { id: number | null }).id : null;
      if (inTable >= 0 && (newest === null || newest < first)) {
        if (over <= inTable) return this.dropInTable(sender, over);
        let left = over - inTable;
        let last = 0;
        for (const id of q.ids) {
          if (left-- === 0) break;
          // Not recorded: the range DELETE below is, and after the inserts of these rows.
          this.rows.remove(id, sender);
          q.ids.delete(id);
          last = id;
        }
        const n = this.q.dropUpTo.run(sender, last).changes;
        this.add(sender, -(n + over - inTable));
        if (n !== inTable) this.counts.delete(sender);
        return { id: last, n: n + over - inTable };
      }
    }
    this.flushRows();
    return this.dropInTable(sender, over);
  }

  /** dropOldest() with every receipt of the sender in the table. */
  private dropInTable(sender: number, over: number): { id: number; n: number } | null {
    const last = this.q.nthOldest.get(sender, over - 1) as { id: number } | null;
    if (!last) {
      // Fewer rows than the count said: it is read from the file again next time.
      this.counts.delete(sender);
      return null;
    }
    const n = this.q.dropUpTo.run(sender, last.id).changes;
    this.add(sender, -n);
    return { id: last.id, n };
  }

  list(accountId: number, limit: number): Receipt[] {
    if (limit <= 0) return [];
    this.flushRows();
    return this.q.list.all(accountId, limit) as Receipt[];
  }

  /** In the open write transaction. */
  remove(accountId: number, ids: readonly number[]): void {
    let n = 0;
    for (const id of ids) {
      // Still queued: taken back before it reached the table; the redo log records the removal.
      if (this.recordRemove && this.rows.remove(id, accountId)) {
        this.recordRemove([accountId, id]);
        this.queued.get(accountId)?.ids.delete(id);
        n++;
      } else n += this.q.remove.run(accountId, id).changes;
    }
    if (n) this.add(accountId, -n);
  }

  /** In the open write transaction: the account is being deleted. */
  removeAll(accountId: number): void {
    this.flushRows();
    this.q.removeAll.run(accountId);
    this.counts.delete(accountId);
  }

  /** The open batch was rolled back: counts are read from the file again when needed. */
  reset(): void {
    this.counts.clear();
    this.rows.clear();
    this.queued.clear();
  }

  /** Writes the queued receipts into the table (before a COMMIT, or a read of the table). */
  flush(): void {
    this.flushRows();
  }

  private flushRows(): void {
    this.rows.flush();
    this.queued.clear();
  }

  /** Before the database closes (an unfinalized statement keeps the file locked). */
  finalize(): void {
    for (const st of Object.values(this.q)) st.finalize();
    this.rows.finalize();
  }

  private count(sender: number): number {
    let n = this.counts.get(sender);
    if (n === undefined) {
      this.flushRows();
      n = (this.q.count.get(sender) as { n: number }).n;
      if (this.counts.size >= CACHED_SENDERS) this.counts.clear();
      this.counts.set(sender, n);
    }
    return n;
  }

  private add(sender: number, d: number): void {
    // Unknown senders are counted from the file when next needed (which includes this row).
    const n = this.counts.get(sender);
    if (n !== undefined) this.counts.set(sender, n + d);
  }
}
