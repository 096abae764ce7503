// The keys of accounts whose deletion is under way on some node: sends to them are refused.
// A mark learnt from another node's signal lasts one presence lease unless renewed (the
// deleting node repeats the signal every lease / 3), so a node that dies mid-deletion does
// not leave the account unsendable forever. With one process the lease is infinite.

export class DeletingMarks {
  /** Key → when the mark runs out (ms on the core's clock). */
  private readonly until = new Map<string, number>();

  constructor(
    private readonly now: () => number,
    private readonly leaseMs: () => number,
  ) {}

  has(key: string): boolean {
    const until = this.until.get(key);
    if (until === undefined) return false;
    if (until > this.now()) return true;
    this.until.delete(key);
    return false;
  }

  /** Marks key (again) for one lease from now. */
  add(key: string): void {
    this.until.set(key, this.now() + this.leaseMs());
  }

  delete(key: string): void {
    this.until.delete(key);
  }

  get size(): number {
    return this.until.size;
  }
}
