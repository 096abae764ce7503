// Row numbers by key (a message id, a ring slot's number: integers from 0 to 2^53) for the
// rows a RowBatch holds: open addressing in two typed arrays. Under the relay a
// Map<number, number> of a few thousand ids cost 100-500 ns per set and per delete (its
// entries are heap objects, far apart); this costs a few, and allocates nothing per key.

const EMPTY = -1;

/** Slots at first; the table doubles when it is half full. */
const FIRST_SLOTS = 1024;

/** A clear() of a table grown past this many slots gives it back (a burst's table is not kept). */
const KEEP_SLOTS = 1 << 17;

export class IdIndex {
  private keys = new Float64Array(FIRST_SLOTS).fill(EMPTY);
  private rows = new Int32Array(FIRST_SLOTS);
  private mask = FIRST_SLOTS - 1;
  private bits = Math.log2(FIRST_SLOTS);
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** The row of key, or -1. */
  get(key: number): number {
    const keys = this.keys;
    for (let i = this.home(key); ; i = (i + 1) & this.mask) {
      const k = keys[i]!;
      if (k === key) return this.rows[i]!;
      if (k === EMPTY) return -1;
    }
  }

  /** Sets key's row, in place of the one it had. */
  set(key: number, row: number): void {
    const keys = this.keys;
    let i = this.home(key);
    for (; ; i = (i + 1) & this.mask) {
      const k = keys[i]!;
      if (k === key) {
        this.rows[i] = row;
        return;
      }
      if (k === EMPTY) break;
    }
    keys[i] = key;
    this.rows[i] = row;
    if (++this.count * 2 > keys.length) this.resize(keys.length * 2);
  }

  /** Removes key; false if it was not there. */
  delete(key: number): boolean {
    return this.take(key) >= 0;
  }

  /** Removes key and returns its row, or -1 if it was not there (one probe where get and delete take two). */
  take(key: number): number {
    const keys = this.keys;
    const rows = this.rows;
    const mask = this.mask;
    let i = this.home(key);
    for (; ; i = (i + 1) & mask) {
      const k = keys[i]!;
      if (k === key) break;
      if (k === EMPTY) return -1;
    }
    const row = rows[i]!;
    // Backward shift: each key after the hole that may move into it does, so that every key
    // stays reachable from its home slot without tombstones.
    for (let j = (i + 1) & mask; keys[j] !== EMPTY; j = (j + 1) & mask) {
      const h = this.home(keys[j]!);
      // The key at j stays where it is when its home lies cyclically in (i, j].
      if (i <= j ? i < h && h <= j : i < h || h <= j) continue;
      keys[i] = keys[j]!;
      rows[i] = rows[j]!;
      i = j;
    }
    keys[i] = EMPTY;
    this.count--;
    return row;
  }

  clear(): void {
    if (this.count === 0) return;
    if (this.keys.length > KEEP_SLOTS) this.allocate(FIRST_SLOTS);
    else this.keys.fill(EMPTY);
    this.count = 0;
  }

  /** Fibonacci hashing of the key's two 32-bit halves: consecutive ids spread over the table. */
  private home(key: number): number {
    const lo = key | 0;
    const hi = (key / 4294967296) | 0;
    return Math.imul(lo ^ Math.imul(hi, 0x85ebca6b), 0x9e3779b1) >>> (32 - this.bits);
  }

  private resize(slots: number): void {
    const keys = this.keys;
    const rows = this.rows;
    this.allocate(slots);
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]!;
      if (k === EMPTY) continue;
      let j = this.home(k);
      while (this.keys[j] !== EMPTY) j = (j + 1) & this.mask;
      this.keys[j] = k;
      this.rows[j] = rows[i]!;
    }
  }

  private allocate(slots: number): void {
    this.keys = new Float64Array(slots).fill(EMPTY);
    this.rows = new Int32Array(slots);
    this.mask = slots - 1;
    this.bits = Math.log2(slots);
  }
}
