// Identity pieces without sockets: names refused as taken or reserved, the cost of the
// dummy hash, hash costs, and the failure memory behind the per-account lockout rule.

import { describe, expect, test } from "bun:test";
import { type Argon2Cost, HashGate, hashCost, type PasswordHasher } from "../../src/core/auth";
import { commonCost, DummyHash } from "../../src/core/dummy-hash";
import { Budget } from "../../src/core/ratelimit";
import { MemoryStore } from "../../src/store/memory";
import { Op, Status } from "../../src/wire";
import { Harness, pw } from "./helpers";

const phc = (m: number, t: number) => `$argon2id$v=19$m=${m},t=${t},p=1$c2FsdHNhbHQ$aGFzaGhhc2g`;

describe("CREATE_ACCOUNT and look-alikes", () => {
  test("a look-alike of an account is taken; a free name mixing scripts is invalid", async () => {
    const h = new Harness();
    await h.offline("alice");
    const c = h.connect();
    expect(await c.create("\u0430lice")).toMatchObject({
      status: Status.NAME_TAKEN,
      msg: "the name \u0430lice is taken: it looks like the existing account alice",
    });
    expect(await c.create("ALICE")).toMatchObject({
      status: Status.NAME_TAKEN,
      msg: "the name ALICE is taken",
    });
    expect(await c.create("p\u0430ypal")).toMatchObject({
      status: Status.INVALID_NAME,
      msg: "invalid name: the name mixes Latin and Cyrillic letters",
    });
    expect(await c.create("alice\u3164")).toMatchObject({ status: Status.INVALID_NAME });
    expect(await c.create("\u0430\u043b\u0438\u0441\u0430")).toMatchObject({ status: Status.OK });
  });

  test("--name-reuse-after 0: a deleted name is free at once", async () => {
    const h = new Harness({ nameReuseAfterMs: 0 });
    const bob = await h.user("bob");
    expect(await bob.request({ opcode: Op.DELETE_ACCOUNT, password: pw("bob") })).toMatchObject({
      status: Status.OK,
    });
    expect(await h.connect().create("bob")).toMatchObject({ status: Status.OK });
  });
});

describe("hash costs", () => {
  test("hashCost reads argon2 PHC strings", () => {
    expect(hashCost(phc(19456, 2))).toEqual({ memoryKiB: 19456, timeCost: 2 });
    expect(hashCost("h:secret")).toBeNull();
  });

  test("commonCost is the most frequent cost", () => {
    expect(commonCost([phc(256, 1), phc(512, 2), phc(512, 2), "junk"])).toEqual({
      memoryKiB: 512,
      timeCost: 2,
    });
    expect(commonCost([])).toBeNull();
  });

  test("the dummy hash is made at the stored cost, and remade when that changes", async () => {
    const costs: (Argon2Cost | undefined)[] = [];
    const hasher: PasswordHasher = {
      cost: { memoryKiB: 64, timeCost: 1 },
      async hash(_p, cost) {
        costs.push(cost);
        return phc(cost?.memoryKiB ?? 64, cost?.timeCost ?? 1);
      },
      async verify() {
        return false;
      },
    };
    const store = new MemoryStore({ maxQueuedPerAccount: 10, maxQueuedPerSender: 10, dedupPerSender: 128 });
    let now = 0;
    const dummy = new DummyHash(store, new HashGate(hasher, 10), () => now);
    // No accounts: the configured cost.
    expect(await dummy.get()).toBe(phc(64, 1));
    for (const name of ["a", "b", "c"])
      await store.createAccount({ name, key: name, passwordHash: phc(32768, 3), createdAt: 0 });
    // Relearnt after 10 minutes: the stored cost.
    now += 10 * 60 * 1000;
    await dummy.get();
    expect(await dummy.get()).toBe(phc(32768, 3));
    expect(costs).toEqual([
      { memoryKiB: 64, timeCost: 1 },
      { memoryKiB: 32768, timeCost: 3 },
    ]);
  });
});

describe("failure memory", () => {
  test("recentlySpent remembers a key for memoryMs, even once its budget is whole again", () => {
    const b = new Budget(60, 10, 15 * 60_000);
    b.spend("k", 0);
    expect(b.recentlySpent("k", 60_000)).toBe(true);
    b.sweep(60_000);
    expect(b.recentlySpent("k", 15 * 60_000 - 1)).toBe(true);
    expect(b.recentlySpent("k", 15 * 60_000)).toBe(false);
    b.spend("j", 0);
    b.forget("j");
    expect(b.recentlySpent("j", 1)).toBe(false);
  });
});
