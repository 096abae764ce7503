import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import {
  capWarning,
  defaultMaxConnections,
  FALLBACK_MAX_CONNECTIONS,
  headroom,
  refusalSlots,
} from "../../src/net/capacity";
import { raiseFileLimit } from "../../src/net/rlimit";

describe("connection cap from the open-file limit", () => {
  test("a tenth is kept free, and never fewer than 64", () => {
    expect(headroom(256)).toBe(64);
    expect(headroom(20_000)).toBe(2000);
    expect(defaultMaxConnections({ soft: 256, hard: 256 })).toBe(192);
    expect(defaultMaxConnections({ soft: 1_048_576, hard: 1_048_576 })).toBe(943_719);
    expect(defaultMaxConnections({ soft: 20, hard: 20 })).toBe(1);
    expect(defaultMaxConnections(null)).toBe(FALLBACK_MAX_CONNECTIONS);
  });

  test("TLS refusal slots take at most half the headroom", () => {
    expect(refusalSlots({ soft: 256, hard: 256 })).toBe(32);
    expect(refusalSlots({ soft: 20_000, hard: 20_000 })).toBe(1000);
  });

  test("an explicit cap that leaves no headroom is warned about", () => {
    expect(capWarning(192, { soft: 256, hard: 256 })).toBeNull();
    expect(capWarning(20_000, { soft: 20_000, hard: 20_000 })).toContain("at most 18000 fit");
    expect(capWarning(5, null)).toBeNull();
  });

  test("libc reports the real limit, raised to the hard one", () => {
    const limit = raiseFileLimit();
    if (process.platform !== "linux") return;
    expect(limit).not.toBeNull();
    expect(limit!.soft).toBe(limit!.hard);
    const proc = /Max open files\s+(\d+)\s+(\d+|unlimited)/.exec(readFileSync("/proc/self/limits", "utf8"));
    expect(limit!.soft).toBe(Number(proc![1]));
  });
});
