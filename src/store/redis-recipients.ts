// Recipients recently looked up by name, so that a SEND costs one Redis script instead of a
// lookup and then the script. Safe without invalidation: an entry can only go stale by the
// account being deleted (names never move to another id while the account exists), and the
// recipient's script refuses appends to a deleted account (its tombstone), upon which the
// caller forgets the entry and looks the name up again. Entries live far shorter than a
// tombstone, so a stale entry never outlives the tombstone that catches it.

import type { Account } from "./store";

export class RecipientCache {
  private entries = new Map<string, { account: Account; until: number }>();

  constructor(
    private readonly maxEntries: number,
    private readonly ttlMs: number,
  ) {}

  get(key: string, now: number): Account | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.until <= now) {
      this.entries.delete(key);
      return undefined;
    }
    return e.account;
  }

  set(key: string, account: Account, now: number): void {
    this.entries.delete(key);
    // Maps iterate in insertion order: the first entry is the oldest.
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, { account, until: now + this.ttlMs });
  }

  forget(key: string): void {
    this.entries.delete(key);
  }

  /** Forgets the account with this id, whatever its name (a scan: for deletions, which are rare). */
  forgetId(id: number): void {
    for (const [key, e] of this.entries) if (e.account.id === id) this.entries.delete(key);
  }
}
