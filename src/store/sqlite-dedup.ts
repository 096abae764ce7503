// The SQLite store's de-duplication records: table sent_ring holds, for each sender, the
// client_msg_ids of its last N messages stored with one, one row per (sender, slot), so
// the table never holds more than N rows per sender however many messages pass through.
// Rows are written in the transaction that stores the message: what was committed before
// a crash is recognised after it.
//
// Lookups go to a copy of recent senders' rings in memory (N ids each, read from the file
// the first time a sender is seen), so a message with an id costs one row written in place,
// with no index to maintain and no query to find it. The rows of a batch are written
// together before its commit (RowBatch); reading the table flushes them first.

import type { Statement } from "bun:sqlite";
import type { Preparer } from "./redo-log";
import { RowBatch, type RowBatchOptions } from "./row-batch";

export interface SentRow {
  messageId: number;
  recipientId: number;
  sentAt: number;
}

/** One sender's ids by slot (0 = empty) and the slot the next record goes to. */
interface Ring {
  ids: Float64Array;
  next: number;
}

interface LoadedRow extends SentRow {
  slot: number;
  id: number;
}

/** Senders whose rings are kept in memory (N × 8 bytes each); others are read again when seen. */
const CACHED_SENDERS = 4096;

export class SqliteDedup {
  private rings = new Map<number, Ring>();
  private readonly q: Record<"load" | "row" | "insert" | "forget", Statement>;
  /** Records of the open batch, not yet in the table. */
  private readonly rows: RowBatch;

  constructor(
    db: Preparer,
    private readonly perSender: number,
    /** How the batched records are written and recorded (see RowBatch); by default through db. */
    rows: { db: Preparer; options: RowBatchOptions } = { db, options: {} },
  ) {
    const p = (sql: string) => db.prepare(sql);
    this.q = {
      load: p(
        "SELECT slot, client_msg_id AS id, message_id AS messageId, recipient_id AS recipientId, sent_at AS sentAt FROM sent_ring WHERE sender_id = ?",
      ),
      row: p(
        "SELECT message_id AS messageId, recipient_id AS recipientId, sent_at AS sentAt FROM sent_ring WHERE sender_id = ? AND slot = ?",
      ),
      insert: p(
        "INSERT OR REPLACE INTO sent_ring (client_msg_id, message_id, recipient_id, sent_at, sender_id, slot) VALUES (?, ?, ?, ?, ?, ?)",
      ),
      forget: p("DELETE FROM sent_ring WHERE sender_id = ?"),
    };
    // A slot taken again replaces its row: in the table, and in the queue before it gets there.
    this.rows = new RowBatch(
      rows.db,
      "INSERT OR REPLACE INTO sent_ring (client_msg_id, message_id, recipient_id, sent_at, sender_id, slot)",
      6,
      { ...rows.options, replace: true },
    );
  }

  find(senderId: number, clientMsgId: number): SentRow | null {
    const ids = this.ring(senderId).ids;
    const slot = ids.indexOf(clientMsgId);
    if (slot < 0) return null;
    this.rows.flush();
    return this.q.row.get(senderId, slot) as SentRow;
  }

  /** Records a stored message in the sender's next slot, replacing its oldest record. */
  remember(senderId: number, clientMsgId: number, row: SentRow): void {
    const ring = this.ring(senderId);
    const slot = ring.next;
    this.rows.put(
      senderId * this.perSender + slot,
      clientMsgId,
      row.messageId,
      row.recipientId,
      row.sentAt,
      senderId,
      slot,
    );
    ring.ids[slot] = clientMsgId;
    ring.next = (slot + 1) % this.perSender;
  }

  /** Writes the open batch's records (before its commit). */
  flush(): void {
    this.rows.flush();
  }

  forget(senderId: number): void {
    this.rows.flush();
    this.q.forget.run(senderId);
    this.rings.delete(senderId);
  }

  /** After a rollback the rings in memory may hold what the file does not: read them again. */
  reset(): void {
    this.rows.clear();
    this.rings.clear();
  }

  finalize(): void {
    for (const st of Object.values(this.q)) st.finalize();
    this.rows.finalize();
  }

  private ring(senderId: number): Ring {
    let ring = this.rings.get(senderId);
    if (ring) return ring;
    // A sender dropped from the cache may still have records of this batch unwritten.
    this.rows.flush();
    const rows = this.q.load.all(senderId) as LoadedRow[];
    ring = rows.some((r) => r.slot >= this.perSender) ? this.rebuild(senderId, rows) : this.fromRows(rows);
    if (this.rings.size >= CACHED_SENDERS) this.rings.delete(this.rings.keys().next().value!);
    this.rings.set(senderId, ring);
    return ring;
  }

  private fromRows(rows: LoadedRow[]): Ring {
    const ring: Ring = { ids: new Float64Array(this.perSender), next: 0 };
    let newest = -1;
    for (const r of rows) {
      ring.ids[r.slot] = r.id;
      // The newest record has the highest message id (ids increase): the next slot follows it.
      if (r.messageId > newest) {
        newest = r.messageId;
        ring.next = (r.slot + 1) % this.perSender;
      }
    }
    return ring;
  }

  /** Rows left by a server that ran with a larger N: keep the newest N, in slots 0.., oldest first. */
  private rebuild(senderId: number, rows: LoadedRow[]): Ring {
    const keep = rows.sort((a, b) => a.messageId - b.messageId).slice(-this.perSender);
    this.q.forget.run(senderId);
    const ring: Ring = { ids: new Float64Array(this.perSender), next: keep.length % this.perSender };
    keep.forEach((r, slot) => {
      this.q.insert.run(r.id, r.messageId, r.recipientId, r.sentAt, senderId, slot);
      ring.ids[slot] = r.id;
    });
    return ring;
  }
}
