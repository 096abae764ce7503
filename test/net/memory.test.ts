import { describe, expect, test } from "bun:test";
import { defaultMaxBufferedBytes, type Holder, MemoryBudget, partialFrameBytes } from "../../src/net/memory";

class FakeHolder implements Holder {
  held = 0;
  cut: string | null = null;
  constructor(
    readonly name: string,
    private readonly budget: MemoryBudget,
  ) {}
  set(n: number) {
    const before = this.held;
    this.held = n;
    this.budget.change(this, before, n);
  }
  shed(why: string) {
    this.cut = why;
    this.set(0);
  }
}

describe("MemoryBudget", () => {
  test("over the limit, the largest holders are cut until 90 % or less is left", () => {
    const b = new MemoryBudget(1000);
    const hs = [100, 400, 200, 250].map((n, i) => {
      const h = new FakeHolder(`h${i}`, b);
      h.set(n);
      return h;
    });
    expect(b.total).toBe(950);
    expect(hs.every((h) => h.cut === null)).toBe(true);
    const late = new FakeHolder("late", b);
    late.set(300); // 1250: cut 400 (850 ≤ 900)
    expect(hs.map((h) => h.cut !== null)).toEqual([false, true, false, false]);
    expect(late.cut).toBeNull();
    expect(b.total).toBe(850);
    expect(b.shedCount).toBe(1);
    expect(hs[1]!.cut).toBe("400 bytes held while all connections together hold 1250 (limit 1000)");
  });

  test("a holder giving back its bytes leaves the books", () => {
    const b = new MemoryBudget(100);
    const h = new FakeHolder("h", b);
    h.set(60);
    h.set(0);
    expect(b.total).toBe(0);
    const other = new FakeHolder("o", b);
    other.set(101);
    expect(other.cut).not.toBeNull();
    expect(h.cut).toBeNull();
  });

  test("a holder that does not give its bytes back is dropped from the books anyway", () => {
    const b = new MemoryBudget(100);
    const stubborn: Holder = { held: 150, shed() {} };
    b.change(stubborn, 0, 150);
    expect(b.total).toBe(0);
  });
});

describe("partialFrameBytes", () => {
  const MAX = 65_536;
  test("a frame begun in this chunk costs its announced length", () => {
    // 60,000 announced (e0 d4 03), one body byte sent
    expect(partialFrameBytes(Uint8Array.from([0xe0, 0xd4, 0x03, 0x00]), 4, 0, MAX)).toBe(60_000);
    // a whole frame, then a 300-byte one begun (ac 02)
    expect(partialFrameBytes(Uint8Array.from([0x01, 0x08, 0xac, 0x02, 0x00]), 3, 0, MAX)).toBe(300);
  });
  test("only part of a prefix costs nothing yet; a prefix split across reads is charged the largest frame", () => {
    expect(partialFrameBytes(Uint8Array.from([0x05, 0x01, 0x02, 0x03, 0x04, 0x05, 0xe0]), 1, 0, MAX)).toBe(0);
    expect(partialFrameBytes(Uint8Array.from([0xd4, 0x03]), 3, 0, MAX)).toBe(MAX);
  });
  test("a frame continued from an earlier chunk keeps its charge; none left costs nothing", () => {
    expect(partialFrameBytes(Uint8Array.from([0, 0, 0]), 500, 60_000, MAX)).toBe(60_000);
    expect(partialFrameBytes(Uint8Array.from([0, 0, 0]), 0, 60_000, MAX)).toBe(0);
  });
});

describe("defaultMaxBufferedBytes", () => {
  const MiB = 1024 * 1024;
  test("an eighth of memory, between 64 MiB and 2 GiB", () => {
    expect(defaultMaxBufferedBytes(4096 * MiB)).toBe(512 * MiB);
    expect(defaultMaxBufferedBytes(256 * MiB)).toBe(64 * MiB);
    expect(defaultMaxBufferedBytes(256 * 1024 * MiB)).toBe(2048 * MiB);
  });
});
