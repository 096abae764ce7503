// Message ids from a counter shared by every node: a node reserves a block of ids at a time
// (one INCRBY per block, not per message) and hands them out in call order, so the ids of
// one node's calls increase in the order the calls were made. The recipient's script keeps
// ids increasing per recipient in commit order (an id at or below the recipient's highest
// is refused as stale, and the caller takes a fresh block, above every id ever handed out).
//
// Every block boundary costs a round trip to each recipient with appends in flight
// (redis-order.ts), so blocks grow: each block used up makes the next twice as large, up to
// a cap. A discarded block (a stale answer: another node is writing to the same recipient)
// starts again from the first size, so the ids thrown away stay small where that happens.

export class IdBlocks {
  private next = 0;
  /** The last id of the current block (next > end: none left). */
  private end = -1;
  private refill: Promise<void> | null = null;
  /** Which block the current one is: a new number for every block reserved. */
  private block = 0;

  /** The size of the next block reserved. */
  private size: number;
  /** Discards so far: a block reserved across one does not make the next larger. */
  private discards = 0;

  /** reserve(n) adds n to the shared counter and answers its new value. */
  constructor(
    private readonly reserve: (n: number) => Promise<number>,
    private readonly firstSize: number,
    private readonly maxSize = firstSize,
  ) {
    this.size = firstSize;
  }

  /** The size the next block will have. */
  get nextSize(): number {
    return this.size;
  }

  /** The next id; callers are served in call order. */
  async take(): Promise<number> {
    return (await this.takeInBlock()).id;
  }

  /** The next id and the number of its block (ids of one block are one interval of the counter). */
  async takeInBlock(): Promise<{ id: number; block: number }> {
    while (this.refill || this.next > this.end) {
      if (!this.refill) this.startRefill();
      await this.refill;
    }
    return { id: this.next++, block: this.block };
  }

  /**
   * The next id at once when the block has one and no refill is under way, else null: the
   * appends of one turn then get their ids, and are sent, in that same turn (one batch).
   */
  takeNow(): { id: number; block: number } | null {
    if (this.refill || this.next > this.end) return null;
    return { id: this.next++, block: this.block };
  }

  /** Drops the rest of the block: the next take reserves a fresh one (ids above every id handed out so far). */
  discard(): void {
    this.size = this.firstSize;
    this.discards++;
    if (!this.refill) this.end = this.next - 1;
  }

  private startRefill(): void {
    const n = this.size;
    const discards = this.discards;
    this.refill = this.reserve(n)
      .then((end) => {
        this.next = end - n + 1;
        this.end = end;
        this.block++;
        if (discards === this.discards) this.size = Math.min(this.maxSize, n * 2);
      })
      .finally(() => {
        this.refill = null;
      });
  }
}
