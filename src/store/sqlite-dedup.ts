// The SQLite store's de-duplication records: table sent_ring holds, for each sender, the
// client_msg_ids of its last N messages stored with one, one row per (sender, slot), so
// the table never holds more than N rows per sender however many messages pass through.
// Rows are written in the transaction that stores the message: what was committed before
// a crash is recognised after it.

import type { Database, Statement } from "bun:sqlite";

export interface SentRow {
  messageId: number;
  recipientId: number;
  sentAt: number;
}

export class SqliteDedup {
  /** Each sender's next slot, learnt from the file the first time the sender is seen. */
  private nextSlot = new Map<number, number>();
  private readonly q: Record<"find" | "last" | "put" | "forget", Statement>;

  constructor(
    db: Database,
    private readonly perSender: number,
  ) {
    const p = (sql: string) => db.prepare(sql);
    this.q = {
      find: p(
        "SELECT message_id AS messageId, recipient_id AS recipientId, sent_at AS sentAt FROM sent_ring WHERE sender_id = ? AND client_msg_id = ?",
      ),
      // The newest row is the one with the highest message id (ids increase).
      last: p("SELECT slot FROM sent_ring WHERE sender_id = ? ORDER BY message_id DESC LIMIT 1"),
      put: p(
        "INSERT OR REPLACE INTO sent_ring (sender_id, slot, client_msg_id, message_id, recipient_id, sent_at) VALUES (?, ?, ?, ?, ?, ?)",
      ),
      forget: p("DELETE FROM sent_ring WHERE sender_id = ?"),
    };
  }

  find(senderId: number, clientMsgId: number): SentRow | null {
    return this.q.find.get(senderId, clientMsgId) as SentRow | null;
  }

  /** Records a stored message in the sender's next slot, replacing its oldest record. */
  remember(senderId: number, clientMsgId: number, row: SentRow): void {
    const slot = this.slotFor(senderId);
    this.q.put.run(senderId, slot, clientMsgId, row.messageId, row.recipientId, row.sentAt);
    this.nextSlot.set(senderId, (slot + 1) % this.perSender);
  }

  forget(senderId: number): void {
    this.q.forget.run(senderId);
    this.nextSlot.delete(senderId);
  }

  /** After a rollback the slots handed out may not be in the file: learn them again. */
  reset(): void {
    this.nextSlot.clear();
  }

  finalize(): void {
    for (const st of Object.values(this.q)) st.finalize();
  }

  private slotFor(senderId: number): number {
    let slot = this.nextSlot.get(senderId);
    if (slot === undefined) {
      const last = this.q.last.get(senderId) as { slot: number } | null;
      slot = last ? (last.slot + 1) % this.perSender : 0;
    }
    return slot;
  }
}
