// One budget for the memory that clients make the server hold: output waiting for a reader
// and frames half received. Per-connection caps bound one client; this bounds all of them
// together. Over budget, the largest holders are cut first until it is back under.

export interface Holder {
  /** Bytes this holder has charged to the budget now. */
  readonly held: number;
  /** Cuts the holder: it must give back everything it holds (change(h, held, 0)). */
  shed(why: string): void;
}

/** After shedding, the total is back at or below this share of the limit (hysteresis). */
const SHED_TO = 0.9;

export class MemoryBudget {
  /** Bytes charged by every holder together. */
  total = 0;
  /** Holders cut because the budget was spent. */
  shedCount = 0;
  private readonly holders = new Set<Holder>();
  private shedding = false;

  constructor(readonly limitBytes: number) {}

  /** A holder's charge went from before to after bytes; over budget, the largest are cut. */
  change(h: Holder, before: number, after: number): void {
    this.total += after - before;
    if (after > 0) this.holders.add(h);
    else this.holders.delete(h);
    if (this.total > this.limitBytes && !this.shedding) this.shed();
  }

  private shed(): void {
    this.shedding = true;
    try {
      const target = this.limitBytes * SHED_TO;
      const largest = [...this.holders].sort((a, b) => b.held - a.held);
      for (const h of largest) {
        if (this.total <= target) break;
        const held = h.held;
        this.shedCount++;
        h.shed(
          `${held} bytes held while all connections together hold ${this.total} (limit ${this.limitBytes})`,
        );
        // A holder that did not give its charge back is dropped from the books anyway.
        if (this.holders.delete(h)) this.total -= h.held;
      }
    } finally {
      this.shedding = false;
    }
  }
}

/**
 * Bytes a frame decoder holds for the frame in progress after it was fed chunk: `waiting`
 * is what it reports (prefix and body bytes read so far), `before` what this returned for
 * the previous chunk. The decoder allocates the whole announced body as soon as it knows the
 * length, so that (not the bytes received) is what a half-sent frame costs.
 */
export function partialFrameBytes(
  chunk: Uint8Array,
  waiting: number,
  before: number,
  maxFrameBytes: number,
): number {
  if (waiting === 0) return 0;
  if (waiting > chunk.length) {
    // The frame began in an earlier chunk: its buffer is what it was, unless its length
    // prefix was itself split, which is rare enough to charge the largest frame.
    return before > 0 ? before : maxFrameBytes;
  }
  let length = 0;
  let shift = 0;
  for (let i = chunk.length - waiting; i < chunk.length; i++) {
    const b = chunk[i]!;
    length += (b & 0x7f) * 2 ** shift;
    shift += 7;
    if ((b & 0x80) === 0) return length;
  }
  return 0; // only part of the length prefix so far: nothing allocated yet
}

/** Default --max-buffered-mb: an eighth of the machine's memory, between 64 MiB and 2 GiB. */
export function defaultMaxBufferedBytes(totalMemoryBytes: number): number {
  const MiB = 1024 * 1024;
  return Math.min(2048 * MiB, Math.max(64 * MiB, Math.floor(totalMemoryBytes / 8 / MiB) * MiB));
}
