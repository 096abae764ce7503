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
  /** Records the removal of a receipt still queued in rows (it never reaches the table). */
  private readonly recordRemove: ((args: readonly SqlValue[]) => void) | null;
  private readonly q: Record<
    "account" | "count" | "nthOldest" | "dropUpTo" | "list" | "remove" | "removeAll",
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
      this.rows.flush();
      // The oldest `over` are those up to the over-th lowest id: one range to delete, and
      // what survives of out is known without reading each receipt back.
      const last = this.q.nthOldest.get(sender, over - 1) as { id: number } | null;
      if (!last) {
        // Fewer rows than the count said: it is read from the file again next time.
        this.counts.delete(sender);
        continue;
      }
      const n = this.q.dropUpTo.run(sender, last.id).changes;
      this.add(sender, -n);
      dropped += n;
      cutoff ??= new Map();
      cutoff.set(sender, last.id);
    }
    if (!cutoff) return;
    out.dropped += dropped;
    const cut = cutoff;
    out.receipts = out.receipts.filter((x) => x.messageId > (cut.get(x.senderId) ?? 0));
  }

  list(accountId: number, limit: number): Receipt[] {
    if (limit <= 0) return [];
    this.rows.flush();
    return this.q.list.all(accountId, limit) as Receipt[];
  }

  /** In the open write transaction. */
  remove(accountId: number, ids: readonly number[]): void {
    let n = 0;
    for (const id of ids) {
      // Still queued: taken back before it reached the table; the redo log records the removal.
      if (this.recordRemove && this.rows.remove(id, accountId)) {
        this.recordRemove([accountId, id]);
        n++;
      } else n += this.q.remove.run(accountId, id).changes;
    }
    if (n) this.add(accountId, -n);
  }

  /** In the open write transaction: the account is being deleted. */
  removeAll(accountId: number): void {
    this.rows.flush();
    this.q.removeAll.run(accountId);
    this.counts.delete(accountId);
  }

  /** The open batch was rolled back: counts are read from the file again when needed. */
  reset(): void {
    this.counts.clear();
    this.rows.clear();
  }

  /** Writes the queued receipts into the table (before a COMMIT, or a read of the table). */
  flush(): void {
    this.rows.flush();
  }

  /** Before the database closes (an unfinalized statement keeps the file locked). */
  finalize(): void {
    for (const st of Object.values(this.q)) st.finalize();
    this.rows.finalize();
  }

  private count(sender: number): number {
    let n = this.counts.get(sender);
    if (n === undefined) {
      this.rows.flush();
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
