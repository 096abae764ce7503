// Rows written to one table during a batch, inserted together just before the batch's
// commit with multi-row INSERT statements: one statement per 64 rows instead of one per
// row. In bun:sqlite a statement's call and binding cost about as much as SQLite's own
// work for a small row, and the relay stores a message and a de-duplication record per
// SEND. Whoever reads the table within the batch flushes first.

import type { Statement } from "bun:sqlite";
import type { Preparer } from "./redo-log";

/** Rows per statement, largest first: any count is a sum of these. */
const CHUNKS = [64, 16, 4, 1] as const;

export type SqlValue = number | string | null;

/** Rows of six or seven columns (the tables that use it have these). */
export class RowBatch {
  private readonly values: SqlValue[] = [];
  private readonly statements = new Map<number, Statement>();

  constructor(
    private readonly db: Preparer,
    /** e.g. "INSERT INTO t (a, b, c, d, e, f)": the VALUES part is added per chunk size. */
    private readonly head: string,
    private readonly columns: 6 | 7 = 6,
  ) {}

  get size(): number {
    return this.values.length / this.columns;
  }

  /** Queues one row, its values in the order of the head's column list. */
  add(
    a: SqlValue,
    b: SqlValue,
    c: SqlValue,
    d: SqlValue,
    e: SqlValue,
    f: SqlValue,
    g: SqlValue = null,
  ): void {
    if (this.columns === 6) this.values.push(a, b, c, d, e, f);
    else this.values.push(a, b, c, d, e, f, g);
  }

  /** Inserts the queued rows (inside the caller's open transaction). Throws what SQLite throws. */
  flush(): void {
    const values = this.values;
    const total = values.length;
    if (total === 0) return;
    const width = this.columns;
    try {
      if (total === width) {
        // One row (a batch of one SEND: the light workload): no slice, no spread.
        const one = this.statement(1);
        if (width === 6) one.run(values[0]!, values[1]!, values[2]!, values[3]!, values[4]!, values[5]!);
        else one.run(values[0]!, values[1]!, values[2]!, values[3]!, values[4]!, values[5]!, values[6]!);
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
  }

  finalize(): void {
    for (const st of this.statements.values()) st.finalize();
    this.statements.clear();
  }

  private statement(rows: number): Statement {
    let st = this.statements.get(rows);
    if (!st) {
      const tuple = `(${Array(this.columns).fill("?").join(", ")})`;
      st = this.db.prepare(`${this.head} VALUES ${Array(rows).fill(tuple).join(", ")}`);
      this.statements.set(rows, st);
    }
    return st;
  }
}
