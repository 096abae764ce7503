// Rows written to one table, inserted together later with multi-row INSERT statements:
// one statement per 64 rows instead of one per row. In bun:sqlite a statement's call and
// binding cost about as much as SQLite's own work for a small row, and the relay stores a
// message and a de-duplication record per SEND. Whoever reads the table flushes first.
//
// With a recorder, each row is recorded (in the redo log) as it is queued, so the rows may
// wait past their batch, until the next COMMIT; a queued row removed again (a message
// confirmed before then) never reaches SQLite, and a row put again under its key (a resend
// ring's slot taken again) replaces the queued one. Either way the queue holds about what
// the next flush inserts, not every row since the last one.

import type { Statement } from "bun:sqlite";
import { IdIndex } from "./id-index";
import type { Preparer } from "./redo-log";

/** Rows per statement, largest first: any count is a sum of these. */
const CHUNKS = [64, 16, 4, 1] as const;

/** Rows taken back from which the queue is closed up (when they are half of it). */
const COMPACT_AT = 1024;

export type SqlValue = number | string | null;

export interface RowBatchOptions {
  /** Records one queued row as the single-row INSERT `sql` would run it. */
  recorder?: (sql: string) => (row: readonly SqlValue[]) => void;
  /** The column (0-based) remove() finds rows by: a unique number. */
  key?: number;
  /** Rows are queued with put() under a key of their own (an INSERT OR REPLACE table's), not taken back. */
  replace?: boolean;
}

/** Rows of five to seven columns (the tables that use it have these). */
export class RowBatch {
  private readonly values: SqlValue[] = [];
  private readonly statements = new Map<number, Statement>();
  private readonly record: ((row: readonly SqlValue[]) => void) | null;
  private readonly scratch: SqlValue[];
  /** Row number of each queued row by its key. */
  private readonly rowOf: IdIndex | null;
  /** 1 for each row removed since the last flush; how many there are. */
  private dead = new Uint8Array(1024);
  private removedRows = 0;
  /** With `replace`: row number of each queued row by the key it was put under. */
  private readonly placed: IdIndex | null;

  constructor(
    private readonly db: Preparer,
    /** e.g. "INSERT INTO t (a, b, c, d, e, f)": the VALUES part is added per chunk size. */
    private readonly head: string,
    private readonly columns: 5 | 6 | 7 = 6,
    private readonly opts: RowBatchOptions = {},
  ) {
    this.record = opts.recorder ? opts.recorder(`${head} VALUES ${tuple(columns)}`) : null;
    this.scratch = new Array<SqlValue>(columns).fill(null);
    this.rowOf = opts.key === undefined ? null : new IdIndex();
    this.placed = opts.replace ? new IdIndex() : null;
  }

  /** Rows queued (removed ones included until the next flush). */
  get size(): number {
    return this.values.length / this.columns;
  }

  /** Rows queued and not taken back: what the next flush inserts. */
  get live(): number {
    return this.size - this.removedRows;
  }

  /** Takes back the queued row whose key column is `key` and whose first column is `first`; false if none is queued. */
  remove(key: number, first: SqlValue): boolean {
    const row = this.rowOf ? this.rowOf.take(key) : -1;
    if (row < 0) return false;
    // Another account's row under that id (a confirmation of an id that is not theirs): it stays.
    if (this.values[row * this.columns] !== first) {
      this.rowOf!.set(key, row);
      return false;
    }
    this.dead[row] = 1;
    this.removedRows++;
    // Rows confirmed soon after they were queued (the relay) would otherwise stay until the
    // COMMIT: closing the gaps once they are half the queue keeps it near what is live.
    if (this.removedRows >= COMPACT_AT && this.removedRows * 2 >= this.size) this.compact();
    return true;
  }

  /**
   * Queues a row under `key`, in place of the queued row of that key if there is one: in
   * an INSERT OR REPLACE table whose conflict is the key, the later row would replace the
   * earlier anyway. The row is recorded all the same (the redo log replays both in order).
   */
  put(
    key: number,
    a: SqlValue,
    b: SqlValue,
    c: SqlValue,
    d: SqlValue,
    e: SqlValue,
    f: SqlValue = null,
  ): void {
    const row = this.placed!.get(key);
    if (row < 0) {
      this.placed!.set(key, this.size);
      this.add(a, b, c, d, e, f);
      return;
    }
    const v = this.values;
    const at = row * this.columns;
    v[at] = a;
    v[at + 1] = b;
    v[at + 2] = c;
    v[at + 3] = d;
    v[at + 4] = e;
    if (this.columns > 5) v[at + 5] = f;
    if (this.record) this.recordRow(a, b, c, d, e, f, null);
  }

  /** Queues one row, its values in the order of the head's column list. */
  add(
    a: SqlValue,
    b: SqlValue,
    c: SqlValue,
    d: SqlValue,
    e: SqlValue,
    f: SqlValue = null,
    g: SqlValue = null,
  ): void {
    const row = this.size;
    if (this.rowOf) {
      const k = this.opts.key;
      const key = k === 0 ? a : k === 1 ? b : k === 2 ? c : k === 3 ? d : k === 4 ? e : k === 5 ? f : g;
      this.rowOf.set(key as number, row);
      if (row >= this.dead.length) this.growDead(row);
    }
    const w = this.columns;
    if (w === 6) this.values.push(a, b, c, d, e, f);
    else if (w === 7) this.values.push(a, b, c, d, e, f, g);
    else this.values.push(a, b, c, d, e);
    if (this.record) this.recordRow(a, b, c, d, e, f, g);
  }

  /** Hands one row to the recorder, in the scratch array (the recorder copies what it keeps). */
  private recordRow(
    a: SqlValue,
    b: SqlValue,
    c: SqlValue,
    d: SqlValue,
    e: SqlValue,
    f: SqlValue,
    g: SqlValue,
  ): void {
    const r = this.scratch;
    const w = this.columns;
    r[0] = a;
    r[1] = b;
    r[2] = c;
    r[3] = d;
    r[4] = e;
    if (w > 5) r[5] = f;
    if (w > 6) r[6] = g;
    this.record!(r);
  }

  /** Inserts the queued rows (inside the caller's open transaction). Throws what SQLite throws. */
  flush(): void {
    if (this.removedRows) this.compact();
    this.rowOf?.clear();
    this.placed?.clear();
    const values = this.values;
    const total = values.length;
    if (total === 0) return;
    const width = this.columns;
    try {
      if (total === width) {
        // One row (a batch of one SEND: the light workload): no slice, no spread.
        const one = this.statement(1);
        if (width === 6) one.run(values[0]!, values[1]!, values[2]!, values[3]!, values[4]!, values[5]!);
        else if (width === 7)
          one.run(values[0]!, values[1]!, values[2]!, values[3]!, values[4]!, values[5]!, values[6]!);
        else one.run(values[0]!, values[1]!, values[2]!, values[3]!, values[4]!);
        return;
      }
      let at = 0;
      while (at < total) {
        const left = (total - at) / width;
        const rows = CHUNKS.find((n) => n <= left)!;
        this.statement(rows).run(...values.slice(at, at + rows * width));
        at += rows * width;
      }
    } finally {
      values.length = 0;
    }
  }

  /** Forgets the queued rows (the batch was rolled back). */
  clear(): void {
    this.values.length = 0;
    this.rowOf?.clear();
    this.placed?.clear();
    this.dead.fill(0);
    this.removedRows = 0;
  }

  /** Drops the removed rows from the queue; the rows kept get their new numbers. */
  private compact(): void {
    const v = this.values;
    const w = this.columns;
    const k = this.opts.key ?? 0;
    const dead = this.dead;
    const n = v.length / w;
    let to = 0;
    for (let row = 0; row < n; row++) {
      if (dead[row]) continue;
      if (to !== row * w) {
        for (let i = 0; i < w; i++) v[to + i] = v[row * w + i]!;
        this.rowOf?.set(v[to + k] as number, to / w);
      }
      to += w;
    }
    v.length = to;
    dead.fill(0, 0, n);
    this.removedRows = 0;
  }

  /** Room in `dead` for row numbers up to `row`. */
  private growDead(row: number): void {
    let n = this.dead.length;
    while (n <= row) n *= 2;
    const next = new Uint8Array(n);
    next.set(this.dead);
    this.dead = next;
  }

  finalize(): void {
    for (const st of this.statements.values()) st.finalize();
    this.statements.clear();
  }

  private statement(rows: number): Statement {
    let st = this.statements.get(rows);
    if (!st) {
      st = this.db.prepare(`${this.head} VALUES ${Array(rows).fill(tuple(this.columns)).join(", ")}`);
      this.statements.set(rows, st);
    }
    return st;
  }
}

const tuple = (columns: number) => `(${Array(columns).fill("?").join(", ")})`;
