import { describe, expect, test } from "bun:test";
import { FrameQueue } from "../../src/wire";

describe("FrameQueue", () => {
  test("gives frames back in order, byte for byte, however they interleave with pushes", () => {
    const q = new FrameQueue();
    const sizes = [0, 1, 127, 128, 300, 16_384, 70_000, 5];
    const made: Uint8Array[] = [];
    const got: number[][] = [];
    for (let round = 0; round < 3; round++) {
      for (const n of sizes) {
        const f = Uint8Array.from({ length: n }, (_, i) => (i * 7 + n + round) & 0xff);
        made.push(f);
        q.push(f);
      }
      // Take half back before the next round, so pushes meet a partly read buffer.
      for (let i = 0; i < sizes.length / 2; i++) got.push([...q.shift()!]);
    }
    for (let f = q.shift(); f; f = q.shift()) got.push([...f]);
    expect(got).toEqual(made.map((f) => [...f]));
    expect(q.length).toBe(0);
    expect(q.bytes).toBe(0);
    expect(q.shift()).toBeNull();
  });

  test("counts frames and bytes, length prefixes included", () => {
    const q = new FrameQueue();
    q.push(new Uint8Array(10));
    q.push(new Uint8Array(200));
    expect(q.length).toBe(2);
    expect(q.bytes).toBe(1 + 10 + 2 + 200);
    q.shift();
    expect(q.bytes).toBe(202);
  });
});
