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
const INSERT =
  "INSERT OR REPLACE INTO receipts (account_id, message_id, recipient_name, confirmed_at, client_msg_id)";

/**
 * One sender's new receipts, not yet in the table, each id higher than the one before:
 * those from `start` on, an id of 0 for one removed since. Dropping the oldest (a sender
 * kept at its cap) moves start; the rest reach the table with the next flush.
 */
interface SenderQueue {
  ids: number[];
  names: string[];
  at: number[];
  clientMsgIds: number[];
  start: number;
  /** Entries from start on that were not removed. */
  live: number;
}

export class SqliteReceipts {
  private counts = new Map<number, number>();
  /** Rows for the table, inserted together (RowBatch); whoever reads the table flushes first. */
  private readonly rows: RowBatch;
  /**
   * With a recorder (the redo log): each sender's new receipts wait here, in order, until a
   * flush moves them to rows; a receipt out of order moves its sender's at once.
   */
  private readonly queues = new Map<number, SenderQueue>();
  /** Senders with rows in `rows` (out of order): theirs go there until the next flush. */
  private readonly spilled = new Set<number>();
  /** Records a new receipt (the single-row INSERT) and the removal of one not yet in the table. */
  private readonly recordInsert: ((args: readonly SqlValue[]) => void) | null;
  private readonly recordRemove: ((args: readonly SqlValue[]) => void) | null;
  private readonly q: Record<
    | "account"
    | "count"
    | "nthOldest"
    | "newest"
    | "dropUpTo"
    | "list"
    | "remove"
    | "removeAll"
    | "idsInRange"
    | "removeRange",
    Statement
  >;

  constructor(
    db: Preparer,
    /** How new receipts are written and recorded (see RowBatch); by default through db. */
    rows: { db: Preparer; options: RowBatchOptions } = { db, options: {} },
  ) {
    const p = (sql: string) => db.prepare(sql);
    const recorder = rows.options.recorder;
    // Rows are recorded here as they come, not by the RowBatch when they go to the table.
    this.rows = new RowBatch(rows.db, INSERT, 5, { key: 1 });
    this.recordInsert = recorder ? recorder(`${INSERT} VALUES (?, ?, ?, ?, ?)`) : null;
    this.recordRemove = recorder ? recorder(REMOVE) : null;
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
      idsInRange: p(
        "SELECT message_id FROM receipts WHERE account_id = ? AND message_id BETWEEN ? AND ? ORDER BY message_id LIMIT ?",
      ),
      removeRange: p("DELETE FROM receipts WHERE account_id = ? AND message_id BETWEEN ? AND ?"),
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
    this.queue(senderId, id, r.recipientName, r.confirmedAt, clientMsgId);
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

  private queue(sender: number, id: number, name: string, at: number, clientMsgId: number): void {
    if (!this.recordInsert) {
      this.rows.add(sender, id, name, at, clientMsgId);
      return;
    }
    this.recordInsert([sender, id, name, at, clientMsgId]);
    let q = this.queues.get(sender);
    if (q?.ids.length && id <= q.ids[q.ids.length - 1]!) {
      // Out of order (confirmations from several recipients): this sender's go to rows.
      this.spill(sender, q);
      q = undefined;
    }
    if (this.spilled.has(sender)) {
      this.rows.add(sender, id, name, at, clientMsgId);
      return;
    }
    if (!q) {
      q = { ids: [], names: [], at: [], clientMsgIds: [], start: 0, live: 0 };
      this.queues.set(sender, q);
    }
    q.ids.push(id);
    q.names.push(name);
    q.at.push(at);
    q.clientMsgIds.push(clientMsgId);
    q.live++;
  }

  /** Moves a sender's queued receipts to rows (they were recorded when queued). */
  private spill(sender: number, q: SenderQueue): void {
    for (let i = q.start; i < q.ids.length; i++)
      if (q.ids[i]) this.rows.add(sender, q.ids[i]!, q.names[i]!, q.at[i]!, q.clientMsgIds[i]!);
    this.queues.delete(sender);
    this.spilled.add(sender);
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
    const q = this.queues.get(sender);
    if (q?.live) {
      // The queued ones are the newest when the table's are all older than the first: the
      // oldest `over` are then the table's, then the queue's from its start.
      while (!q.ids[q.start]) q.start++;
      const inTable = (this.counts.get(sender) ?? -1) - q.live;
      const newest = inTable > 0 ? (this.q.newest.get(sender) as { id: number | null }).id : null;
      if (inTable >= 0 && (newest === null || newest < q.ids[q.start]!)) {
        if (over <= inTable) return this.dropInTable(sender, over);
        let left = over - inTable;
        let last = 0;
        while (left > 0 && q.start < q.ids.length) {
          const id = q.ids[q.start++]!;
          if (!id) continue;
          last = id;
          left--;
          q.live--;
        }
        // Recorded after the inserts of the queued ones: a replay drops them again.
        const n = this.q.dropUpTo.run(sender, last).changes;
        const gone = n + over - inTable - left;
        this.add(sender, -gone);
        if (n !== inTable || left) this.counts.delete(sender);
        if (!q.live) this.queues.delete(sender);
        return { id: last, n: gone };
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
    const q = this.queues.get(accountId);
    let inTable: number[] | null = null;
    for (const id of ids) {
      // Still queued: taken back before it reached the table; the redo log records the removal.
      if ((q && this.unqueue(q, id)) || (this.recordRemove && this.rows.remove(id, accountId))) {
        this.recordRemove!([accountId, id]);
        n++;
      } else {
        inTable ??= [];
        inTable.push(id);
      }
    }
    if (inTable) n += this.removeFromTable(accountId, inTable, q);
    if (q && !q.live) this.queues.delete(accountId);
    if (n) this.add(accountId, -n);
  }

  /**
   * Deletes the account's receipts among ids from the table; returns how many went. A
   * sender confirms the receipts of a RECEIPT frame together, and those that reached the
   * table at a COMMIT would each cost a DELETE: when the table's rows between the lowest and
   * the highest id are all among ids (one read says so), one range DELETE takes them. Only
   * with none of the account's receipts queued in that range: the redo log replays their
   * inserts before this DELETE, so the range would take them too.
   */
  private removeFromTable(accountId: number, ids: number[], q: SenderQueue | undefined): number {
    if (ids.length >= MIN_RANGE && this.recordInsert && !this.spilled.has(accountId)) {
      const sorted = ascendingUnique(ids);
      const lo = sorted[0]!;
      const hi = sorted[sorted.length - 1]!;
      if (sorted.length >= MIN_RANGE && !(q?.live && lowestQueued(q) <= hi)) {
        const rows = this.q.idsInRange.values(accountId, lo, hi, sorted.length + 1) as [number][];
        let k = 0;
        let all = true;
        for (const [id] of rows) {
          while (k < sorted.length && sorted[k]! < id) k++;
          if (k === sorted.length || sorted[k] !== id) {
            all = false;
            break;
          }
        }
        if (all) return rows.length ? this.q.removeRange.run(accountId, lo, hi).changes : 0;
      }
    }
    let n = 0;
    for (const id of ids) n += this.q.remove.run(accountId, id).changes;
    return n;
  }

  /** Takes a receipt out of a sender's queue; false when it is not there. */
  private unqueue(q: SenderQueue, id: number): boolean {
    const ids = q.ids;
    let lo = q.start;
    let hi = ids.length - 1;
    // Ids ascend, with 0 for those removed: search by the nearest id that is still there.
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      let m = mid;
      while (m <= hi && !ids[m]) m++;
      if (m > hi) {
        hi = mid - 1;
        continue;
      }
      if (ids[m] === id) {
        ids[m] = 0;
        q.live--;
        // Confirmations come mostly oldest first: the start follows them, and a queue left
        // with more holes than receipts is closed up, so a search skips few holes.
        while (q.start < ids.length && !ids[q.start]) q.start++;
        if (q.live * 2 < ids.length - q.start && ids.length - q.start > 64) compact(q);
        return true;
      }
      if (ids[m]! < id) lo = m + 1;
      else hi = mid - 1;
    }
    return false;
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
    this.queues.clear();
    this.spilled.clear();
  }

  /** Writes the queued receipts into the table (before a COMMIT, or a read of the table). */
  flush(): void {
    this.flushRows();
  }

  private flushRows(): void {
    for (const [sender, q] of this.queues) this.spill(sender, q);
    this.rows.flush();
    this.spilled.clear();
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

/** Ids from which one read and one range DELETE replace a DELETE per id. */
const MIN_RANGE = 4;

/** ids sorted ascending, each once (a copy when they were not already so). */
function ascendingUnique(ids: number[]): number[] {
  for (let i = 1; i < ids.length; i++)
    if (ids[i]! <= ids[i - 1]!) return [...new Set(ids)].sort((a, b) => a - b);
  return ids;
}

/** The lowest id still queued (queue.live > 0). */
function lowestQueued(q: SenderQueue): number {
  for (let i = q.start; i < q.ids.length; i++) if (q.ids[i]) return q.ids[i]!;
  return Number.POSITIVE_INFINITY;
}

/** Drops the entries before start and the holes of a sender's queue. */
function compact(q: SenderQueue): void {
  let to = 0;
  for (let i = q.start; i < q.ids.length; i++) {
    if (!q.ids[i]) continue;
    q.ids[to] = q.ids[i]!;
    q.names[to] = q.names[i]!;
    q.at[to] = q.at[i]!;
    q.clientMsgIds[to] = q.clientMsgIds[i]!;
    to++;
  }
  q.ids.length = to;
  q.names.length = to;
  q.at.length = to;
  q.clientMsgIds.length = to;
  q.start = 0;
}
