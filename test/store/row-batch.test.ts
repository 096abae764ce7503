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
});
