// The memory store's delivery receipts: per sender account, keyed by message id, at most
// a given number each (the receipts of the lowest message ids are dropped first).

import type { Receipt } from "./store";

/**
 * One account's receipts, and their ids in increasing order from ids[start] on (receipts
 * mostly come in that order): dropping the oldest moves start, not every other id.
 */
interface Box {
  byId: Map<number, Receipt>;
  ids: number[];
  start: number;
}

export class ReceiptBox {
  private readonly byAccount = new Map<number, Box>();

  /** Stores r (replacing one for the same message); returns how many older ones were dropped. */
  add(r: Receipt, max: number): number {
    let box = this.byAccount.get(r.senderId);
    if (!box) {
      box = { byId: new Map(), ids: [], start: 0 };
      this.byAccount.set(r.senderId, box);
    }
    if (!box.byId.has(r.messageId)) box.ids.splice(insertionPoint(box, r.messageId), 0, r.messageId);
    box.byId.set(r.messageId, r);
    const over = box.byId.size - Math.max(0, max);
    if (over <= 0) return 0;
    for (let i = 0; i < over; i++) box.byId.delete(box.ids[box.start++]!);
    if (box.start > 1024 && box.start * 2 > box.ids.length) {
      box.ids = box.ids.slice(box.start);
      box.start = 0;
    }
    if (box.byId.size === 0) this.byAccount.delete(r.senderId);
    return over;
  }

  /** The account's receipts, lowest message id first; at most limit. */
  list(accountId: number, limit: number): Receipt[] {
    const box = this.byAccount.get(accountId);
    if (!box || limit <= 0) return [];
    return box.ids.slice(box.start, box.start + limit).map((id) => box.byId.get(id)!);
  }

  has(accountId: number, messageId: number): boolean {
    return this.byAccount.get(accountId)?.byId.has(messageId) ?? false;
  }

  delete(accountId: number, messageIds: readonly number[]): void {
    const box = this.byAccount.get(accountId);
    if (!box) return;
    let removed = false;
    for (const id of messageIds) if (box.byId.delete(id)) removed = true;
    if (removed) {
      box.ids = box.ids.slice(box.start).filter((id) => box.byId.has(id));
      box.start = 0;
    }
    if (box.byId.size === 0) this.byAccount.delete(accountId);
  }

  dropAccount(accountId: number): void {
    this.byAccount.delete(accountId);
  }
}

/** Where id goes in the box's increasing ids (at the end, for the usual newest one). */
function insertionPoint(box: Box, id: number): number {
  const ids = box.ids;
  let lo = box.start;
  let hi = ids.length;
  if (hi > lo && ids[hi - 1]! < id) return hi;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ids[mid]! < id) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
