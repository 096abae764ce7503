import { Database } from "bun:sqlite";
import { describe, expect, it } from "bun:test";
import { RowBatch } from "../../src/store/row-batch";

function table() {
  const db = new Database(":memory:");
  db.run("CREATE TABLE t (a INTEGER, b TEXT, c INTEGER, d INTEGER, e INTEGER, f INTEGER)");
  return { db, rows: new RowBatch(db, "INSERT INTO t (a, b, c, d, e, f)") };
}

describe("RowBatch", () => {
  it("any number of rows (0 to 140: every mix of 64, 16, 4 and 1) goes in whole and in order", () => {
    const { db, rows } = table();
    for (let n = 0; n <= 140; n++) {
      db.run("DELETE FROM t");
      for (let i = 0; i < n; i++) rows.add(i, `r${i}`, n, 0, 0, i * 2);
      expect(rows.size).toBe(n);
      rows.flush();
      expect(rows.size).toBe(0);
      const got = db.query("SELECT a, b, c, f FROM t ORDER BY rowid").all();
      expect(got).toEqual(Array.from({ length: n }, (_, i) => ({ a: i, b: `r${i}`, c: n, f: i * 2 })));
    }
    rows.finalize();
  });

  it("clear drops what is queued; a failed insert throws and leaves nothing queued", () => {
    const { db, rows } = table();
    rows.add(1, "x", 0, 0, 0, 0);
    rows.clear();
    rows.flush();
    expect((db.query("SELECT count(*) AS n FROM t").get() as { n: number }).n).toBe(0);
    db.run("CREATE UNIQUE INDEX one_a ON t (a)");
    rows.add(1, "x", 0, 0, 0, 0);
    rows.add(1, "y", 0, 0, 0, 0);
    expect(() => rows.flush()).toThrow();
    expect(rows.size).toBe(0);
  });

  it("records each row as it is queued, as the single-row INSERT would run it", () => {
    const db = new Database(":memory:");
    db.run("CREATE TABLE t (a INTEGER, b TEXT, c INTEGER, d INTEGER, e INTEGER, f INTEGER, g INTEGER)");
    const recorded: { sql: string; row: unknown[] }[] = [];
    const rows = new RowBatch(db, "INSERT INTO t (a, b, c, d, e, f, g)", 7, {
      recorder: (sql) => (row) => recorded.push({ sql, row: [...row] }),
    });
    rows.add(1, "x", 2, 3, 4, 5, 6);
    rows.add(7, "y", 8, 9, 10, 11, null);
    expect(recorded).toEqual([
      {
        sql: "INSERT INTO t (a, b, c, d, e, f, g) VALUES (?, ?, ?, ?, ?, ?, ?)",
        row: [1, "x", 2, 3, 4, 5, 6],
      },
      {
        sql: "INSERT INTO t (a, b, c, d, e, f, g) VALUES (?, ?, ?, ?, ?, ?, ?)",
        row: [7, "y", 8, 9, 10, 11, null],
      },
    ]);
    // Replaying what was recorded gives what the batch writes.
    const replica = new Database(":memory:");
    replica.run("CREATE TABLE t (a INTEGER, b TEXT, c INTEGER, d INTEGER, e INTEGER, f INTEGER, g INTEGER)");
    for (const r of recorded) replica.prepare(r.sql).run(...(r.row as never[]));
    rows.flush();
    const all = (d: Database) => d.query("SELECT * FROM t ORDER BY a").all();
    expect(all(db)).toEqual(all(replica));
  });

  it("takes back a queued row by its key and owner; others stay, in order", () => {
    const db = new Database(":memory:");
    db.run("CREATE TABLE t (a INTEGER, b INTEGER, c TEXT, d INTEGER, e INTEGER, f INTEGER)");
    const rows = new RowBatch(db, "INSERT INTO t (a, b, c, d, e, f)", 6, { key: 1 });
    for (let id = 1; id <= 100; id++) rows.add(id % 2, id, `m${id}`, 0, 0, 0);
    expect(rows.remove(3, 0)).toBe(false); // 3 belongs to owner 1
    for (let id = 1; id <= 100; id += 3) expect(rows.remove(id, id % 2)).toBe(true);
    expect(rows.remove(1, 1)).toBe(false); // already taken back
    rows.flush();
    const left = (db.query("SELECT b FROM t ORDER BY rowid").all() as { b: number }[]).map((r) => r.b);
    expect(left).toEqual(Array.from({ length: 100 }, (_, i) => i + 1).filter((id) => (id - 1) % 3 !== 0));
    // Once written, a row is no longer the batch's to take back.
    expect(rows.remove(2, 0)).toBe(false);
  });
});
