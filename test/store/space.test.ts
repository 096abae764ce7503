import { describe, expect, it } from "bun:test";
import { defaultBudget, formatBytes, MIN_BUDGET_BYTES, planSpace } from "../../src/store/space";

const MiB = 1024 * 1024;

describe("planSpace", () => {
  it("splits 1 MiB into a 64 KiB WAL share, a 64 KiB reserve and the rest for data", () => {
    expect(planSpace(MiB)).toEqual({
      totalBytes: MiB,
      walBytes: 64 * 1024,
      fileBytes: MiB - 64 * 1024,
      reserveBytes: 64 * 1024,
      newDataBytes: MiB - 128 * 1024,
    });
  });

  it("gives the WAL a 16th and the reserve a 20th of a mid-sized budget", () => {
    const p = planSpace(640 * MiB);
    expect(p.walBytes).toBe(40 * MiB);
    expect(p.reserveBytes).toBe(32 * MiB);
    expect(p.fileBytes + p.walBytes).toBe(p.totalBytes);
    expect(p.newDataBytes + p.reserveBytes).toBe(p.fileBytes);
  });

  it("caps the WAL share and the reserve at 64 MiB for big budgets", () => {
    const p = planSpace(100 * 1024 * MiB);
    expect([p.walBytes, p.reserveBytes]).toEqual([64 * MiB, 64 * MiB]);
  });

  it("never plans below the minimum budget", () => {
    expect(planSpace(1000).totalBytes).toBe(MIN_BUDGET_BYTES);
    expect(planSpace(1000).newDataBytes).toBeGreaterThan(0);
  });
});

describe("defaultBudget", () => {
  it("is what the data uses plus 90% of the free space", () => {
    expect(defaultBudget(10 * MiB, 100 * MiB)).toBe(100 * MiB);
    expect(defaultBudget(0, 1000 * MiB)).toBe(900 * MiB);
  });

  it("is at least the minimum on a full disk", () => {
    expect(defaultBudget(0, 0)).toBe(MIN_BUDGET_BYTES);
  });
});

describe("formatBytes", () => {
  it.each([
    [512 * 1024, "512 KB"],
    [MiB, "1 MB"],
    [1.5 * MiB, "1.5 MB"],
    [2048 * MiB, "2 GB"],
  ])("%d is %s", (n, text) => expect(formatBytes(n)).toBe(text));
});
