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
    expect(rows.remove(4, 1)).toBe(false); // 4 belongs to owner 0, and is still found: the loop takes it
    for (let id = 1; id <= 100; id += 3) expect(rows.remove(id, id % 2)).toBe(true);
    expect(rows.remove(1, 1)).toBe(false); // already taken back
    rows.flush();
    const left = (db.query("SELECT b FROM t ORDER BY rowid").all() as { b: number }[]).map((r) => r.b);
    expect(left).toEqual(Array.from({ length: 100 }, (_, i) => i + 1).filter((id) => (id - 1) % 3 !== 0));
    // Once written, a row is no longer the batch's to take back.
    expect(rows.remove(2, 0)).toBe(false);
  });

  it("closes up the rows taken back once they are half the queue, and still finds the others by key", () => {
    const db = new Database(":memory:");
    db.run("CREATE TABLE t (a INTEGER, b INTEGER, c TEXT, d INTEGER, e INTEGER, f INTEGER)");
    const rows = new RowBatch(db, "INSERT INTO t (a, b, c, d, e, f)", 6, { key: 1 });
    // The relay's pattern: rows queued, most of them confirmed soon after, a few left.
    const kept: number[] = [];
    for (let id = 1; id <= 5000; id++) {
      rows.add(0, id, `m${id}`, 0, 0, 0);
      if (id > 10 && (id - 10) % 7 !== 0) expect(rows.remove(id - 10, 0)).toBe(true);
    }
    for (let id = 1; id <= 5000; id++) if (id > 4990 || id % 7 === 0) kept.push(id);
    // Far fewer rows held than were queued: the gaps were closed as they came.
    expect(rows.size).toBeLessThan(3000);
    expect(rows.live).toBe(kept.length);
    // Rows moved by a compaction are still taken back by their key.
    for (const id of [7, 4998, 4991]) expect(rows.remove(id, 0)).toBe(true);
    rows.flush();
    const left = (db.query("SELECT b FROM t ORDER BY rowid").all() as { b: number }[]).map((r) => r.b);
    expect(left).toEqual(kept.filter((id) => ![7, 4998, 4991].includes(id)));
  });

  it("put replaces the queued row of its key in place, records every put, and inserts the last", () => {
    const db = new Database(":memory:");
    db.run(
      "CREATE TABLE t (a INTEGER, b INTEGER, c INTEGER, d INTEGER, e INTEGER, f INTEGER, PRIMARY KEY (e, f))",
    );
    const recorded: unknown[][] = [];
    const rows = new RowBatch(db, "INSERT OR REPLACE INTO t (a, b, c, d, e, f)", 6, {
      replace: true,
      recorder: () => (row) => recorded.push([...row]),
    });
    // Two senders (e) with rings of 4 slots (f), 10 records each: slots are taken again.
    for (let n = 0; n < 10; n++)
      for (const sender of [1, 2]) rows.put(sender * 4 + (n % 4), n, n, 0, 0, sender, n % 4);
    expect(rows.size).toBe(8);
    expect(recorded.length).toBe(20);
    rows.flush();
    const all = (d: Database) => d.query("SELECT * FROM t ORDER BY e, f").all();
    const got = all(db) as { a: number; e: number; f: number }[];
    expect(got.map((r) => [r.e, r.f, r.a])).toEqual([
      [1, 0, 8],
      [1, 1, 9],
      [1, 2, 6],
      [1, 3, 7],
      [2, 0, 8],
      [2, 1, 9],
      [2, 2, 6],
      [2, 3, 7],
    ]);
    // Replaying every recorded put in order ends in the same table.
    const replica = new Database(":memory:");
    replica.run(
      "CREATE TABLE t (a INTEGER, b INTEGER, c INTEGER, d INTEGER, e INTEGER, f INTEGER, PRIMARY KEY (e, f))",
    );
    const st = replica.prepare("INSERT OR REPLACE INTO t (a, b, c, d, e, f) VALUES (?, ?, ?, ?, ?, ?)");
    for (const r of recorded) st.run(...(r as never[]));
    expect(all(replica)).toEqual(all(db));
    // After a flush the same keys start new rows.
    rows.put(4, 99, 0, 0, 0, 1, 0);
    expect(rows.size).toBe(1);
  });
});
