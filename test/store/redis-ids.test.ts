import { describe, expect, test } from "bun:test";
import { IdBlocks } from "../../src/store/redis-ids";

/** A shared counter as Redis's INCRBY keeps it, with the sizes asked for. */
function counter() {
  let value = 0;
  const asked: number[] = [];
  return {
    asked,
    reserve: async (n: number) => {
      asked.push(n);
      value += n;
      return value;
    },
  };
}

async function takeAll(ids: IdBlocks, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(await ids.take());
  return out;
}

describe("IdBlocks", () => {
  test("hands out every id once, in order, from blocks that double up to the cap", async () => {
    const c = counter();
    const ids = new IdBlocks(c.reserve, 2, 16);
    const got = await takeAll(ids, 100);
    expect(got).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(c.asked).toEqual([2, 4, 8, 16, 16, 16, 16, 16, 16]);
  });

  test("a discarded block starts the sizes again, and its ids are never handed out", async () => {
    const c = counter();
    const ids = new IdBlocks(c.reserve, 2, 64);
    await takeAll(ids, 2 + 4 + 1); // blocks of 2 and 4 used up, the third (8) begun
    expect(ids.nextSize).toBe(16);
    ids.discard();
    expect(ids.nextSize).toBe(2);
    const next = await ids.take();
    // Above every id reserved before (the rest of the block of 8 is dropped).
    expect(next).toBe(2 + 4 + 8 + 1);
    expect(c.asked).toEqual([2, 4, 8, 2]);
    // And they grow again from there.
    await takeAll(ids, 1 + 4);
    expect(c.asked).toEqual([2, 4, 8, 2, 4]);
  });

  test("a discard while a block is being reserved keeps the next one small", async () => {
    const c = counter();
    const ids = new IdBlocks(c.reserve, 2, 64);
    const first = ids.take(); // the first reserve is under way
    ids.discard();
    expect(await first).toBe(1);
    await takeAll(ids, 2);
    expect(c.asked).toEqual([2, 2]);
  });

  test("with one size (the tests' small blocks) the blocks never grow", async () => {
    const c = counter();
    const ids = new IdBlocks(c.reserve, 3);
    await takeAll(ids, 10);
    expect(c.asked).toEqual([3, 3, 3, 3]);
  });

  test("takeNow answers at once within a block and null at its end", async () => {
    const c = counter();
    const ids = new IdBlocks(c.reserve, 2, 8);
    expect(ids.takeNow()).toBeNull();
    const first = await ids.takeInBlock();
    expect(first).toEqual({ id: 1, block: 1 });
    expect(ids.takeNow()).toEqual({ id: 2, block: 1 });
    expect(ids.takeNow()).toBeNull();
    expect(await ids.takeInBlock()).toEqual({ id: 3, block: 2 });
  });
});
