// The memory store's delivery receipts: per sender account, keyed by message id, at most
// a given number each (the receipts of the lowest message ids are dropped first).

import type { Receipt } from "./store";

export class ReceiptBox {
  private readonly byAccount = new Map<number, Map<number, Receipt>>();

  /** Stores r (replacing one for the same message); resolves how many older ones were dropped. */
  add(r: Receipt, max: number): number {
    let box = this.byAccount.get(r.senderId);
    if (!box) {
      box = new Map();
      this.byAccount.set(r.senderId, box);
    }
    box.set(r.messageId, r);
    if (box.size <= max) return 0;
    const ids = [...box.keys()].sort((a, b) => a - b);
    const drop = ids.slice(0, box.size - Math.max(0, max));
    for (const id of drop) box.delete(id);
    if (box.size === 0) this.byAccount.delete(r.senderId);
    return drop.length;
  }

  /** The account's receipts, lowest message id first; at most limit. */
  list(accountId: number, limit: number): Receipt[] {
    const box = this.byAccount.get(accountId);
    if (!box || limit <= 0) return [];
    return [...box.values()].sort((a, b) => a.messageId - b.messageId).slice(0, limit);
  }

  has(accountId: number, messageId: number): boolean {
    return this.byAccount.get(accountId)?.has(messageId) ?? false;
  }

  delete(accountId: number, messageIds: readonly number[]): void {
    const box = this.byAccount.get(accountId);
    if (!box) return;
    for (const id of messageIds) box.delete(id);
    if (box.size === 0) this.byAccount.delete(accountId);
  }

  dropAccount(accountId: number): void {
    this.byAccount.delete(accountId);
  }
}
