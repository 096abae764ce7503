// Waiting messages per (recipient, sender), for the per-sender quota: the counts as
// committed, and the changes of the open batch, which a rollback forgets.

type Counts = Map<number, Map<number, number>>;

export class SenderCounts {
  private committed: Counts = new Map();
  private delta: Counts = new Map();
  /** Recipients whose whole queue went in the open batch (their account was deleted). */
  private dropped = new Set<number>();

  /** Messages from sender waiting for recipient. */
  of(recipient: number, sender: number): number {
    const base = this.dropped.has(recipient) ? 0 : (this.committed.get(recipient)?.get(sender) ?? 0);
    return base + (this.delta.get(recipient)?.get(sender) ?? 0);
  }

  add(recipient: number, sender: number, d: number): void {
    let m = this.delta.get(recipient);
    if (!m) {
      m = new Map();
      this.delta.set(recipient, m);
    }
    m.set(sender, (m.get(sender) ?? 0) + d);
  }

  /** Forgets every count of recipient (its queue was deleted). */
  drop(recipient: number): void {
    this.dropped.add(recipient);
    this.delta.delete(recipient);
  }

  /** Sets a committed count, when loading the store. */
  load(recipient: number, sender: number, n: number): void {
    let m = this.committed.get(recipient);
    if (!m) {
      m = new Map();
      this.committed.set(recipient, m);
    }
    m.set(sender, n);
  }

  commit(): void {
    for (const r of this.dropped) this.committed.delete(r);
    for (const [r, changes] of this.delta) {
      for (const [s, d] of changes) {
        const n = (this.committed.get(r)?.get(s) ?? 0) + d;
        if (n > 0) this.load(r, s, n);
        else {
          const m = this.committed.get(r);
          m?.delete(s);
          if (m?.size === 0) this.committed.delete(r);
        }
      }
    }
    this.abort();
  }

  abort(): void {
    this.delta.clear();
    this.dropped.clear();
  }
}
