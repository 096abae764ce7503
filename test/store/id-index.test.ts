import { describe, expect, it } from "bun:test";
import { IdIndex } from "../../src/store/id-index";

/** A small deterministic generator (xorshift32): the same sequence on every run. */
function random(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

/** Every key of the oracle is found with its row, and a few that are not there are not. */
function agree(index: IdIndex, oracle: Map<number, number>, absent: number[]): void {
  expect(index.size).toBe(oracle.size);
  for (const [k, row] of oracle) expect(index.get(k)).toBe(row);
  for (const k of absent) if (!oracle.has(k)) expect(index.get(k)).toBe(-1);
}

describe("IdIndex", () => {
  it("agrees with a Map over random sets, overwrites and deletes, through growth and clear", () => {
    const next = random(12345);
    const index = new IdIndex();
    const oracle = new Map<number, number>();
    // Keys from a few narrow ranges (ids of a relay), and wide ones up to 2^53.
    const key = () => {
      const r = next();
      if (r < 0.6) return Math.floor(next() * 5000);
      if (r < 0.9) return 1_000_000 + Math.floor(next() * 3000) * 1024;
      return Math.floor(next() * 2 ** 53);
    };
    for (let step = 0; step < 60_000; step++) {
      const r = next();
      const k = key();
      if (r < 0.55) {
        const row = Math.floor(next() * 1e6);
        index.set(k, row);
        oracle.set(k, row);
      } else if (r < 0.8) {
        expect(index.delete(k)).toBe(oracle.delete(k));
      } else if (r < 0.999) {
        const row = oracle.get(k) ?? -1;
        oracle.delete(k);
        expect(index.take(k)).toBe(row);
      } else {
        index.clear();
        oracle.clear();
      }
      if (step % 5000 === 0) agree(index, oracle, [key(), key(), key()]);
    }
    agree(index, oracle, [key(), key(), key()]);
  });

  it("keeps a sliding window of consecutive ids, as a relay's rows in flight", () => {
    const index = new IdIndex();
    const live = 8000;
    for (let id = 1; id <= 200_000; id++) {
      index.set(id, id * 2);
      if (id > live) expect(index.delete(id - live)).toBe(true);
    }
    expect(index.size).toBe(live);
    expect(index.get(200_000 - live)).toBe(-1);
    expect(index.get(200_000 - live + 1)).toBe((200_000 - live + 1) * 2);
    expect(index.get(200_000)).toBe(400_000);
  });

  it("takes key 0 and keys up to 2^53 that differ only in their high bits", () => {
    const index = new IdIndex();
    const keys = [0, 2 ** 32, 2 ** 33, 2 ** 52, 2 ** 53 - 1, 2 ** 32 + 1, 1];
    keys.forEach((k, row) => {
      index.set(k, row);
    });
    keys.forEach((k, row) => {
      expect(index.get(k)).toBe(row);
    });
    expect(index.delete(2 ** 33)).toBe(true);
    expect(index.get(2 ** 33)).toBe(-1);
    expect(index.get(2 ** 52)).toBe(3);
    expect(index.delete(2 ** 33)).toBe(false);
    expect(index.size).toBe(keys.length - 1);
  });
});
