// The Redis budgets follow the same rules as the in-process Budget, step by step.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { RedisBudget } from "../../src/cluster/redis-throttles";
import { Budget } from "../../src/core/ratelimit";
import { RedisStore } from "../../src/store/redis";
import { parseRedisTarget } from "../../src/store/redis-url";
import { HAVE_REDIS, type RedisServer, startRedis } from "../store/redis-server";

let redis: RedisServer;
let store: RedisStore;

describe.skipIf(!HAVE_REDIS)("RedisBudget", () => {
  beforeAll(async () => {
    redis = await startRedis();
    const t = parseRedisTarget(redis.url);
    if (!t.ok) throw new Error(t.reason);
    store = await RedisStore.open(t.target, {
      maxQueuedPerAccount: 10,
      maxQueuedPerSender: 10,
      dedupPerSender: 4,
    });
  });

  afterAll(async () => {
    await store?.close();
    await redis?.stop();
  });

  test("its script is loaded with the store's: no call of it fails NOSCRIPT", async () => {
    await new RedisBudget(store.connection, "test:loaded", 3, 60_000).spend("k", Date.now());
    expect(await redis.cli("INFO", "errorstats")).not.toContain("NOSCRIPT");
  });

  test("waits, refills and remembers like the local budget", async () => {
    const local = new Budget(3, 1000, 60_000);
    const shared = new RedisBudget(store.connection, "test:a", 3, 60_000);
    const t0 = 1_900_000_000_000;
    const steps: [string, number][] = [
      ["spend", 0],
      ["spend", 10],
      ["spend", 20],
      ["spend", 30],
      ["wait", 40],
      ["wait", 20_000],
      ["wait", 20_030],
      ["spend", 20_040],
      ["wait", 20_050],
      ["recent", 70_000],
      ["recent", 90_041],
    ];
    for (const [op, at] of steps) {
      const now = t0 + at;
      if (op === "spend") {
        local.spend("k", now);
        await shared.spend("k", now);
      } else if (op === "wait") {
        expect(await shared.waitMs("k", now)).toBe(local.waitMs("k", now));
      } else {
        expect(await shared.recentlySpent("k", now)).toBe(local.recentlySpent("k", now));
      }
    }
    expect(await shared.waitMs("k", t0 + 20_050)).toBeGreaterThan(0);
    await shared.forget("k");
    expect(await shared.waitMs("k", t0 + 20_050)).toBe(0);
    expect(await shared.recentlySpent("k", t0 + 20_050)).toBe(false);
  });

  test("keys are independent, and a bucket expires once it is full again", async () => {
    const b = new RedisBudget(store.connection, "test:b", 1);
    const now = Date.now();
    await b.spend("x", now);
    expect(await b.waitMs("x", now)).toBeGreaterThan(59_000);
    expect(await b.waitMs("y", now)).toBe(0);
    const ttl = Number(await redis.cli("PTTL", "chat:{r:test:b:x}"));
    expect(ttl).toBeGreaterThan(59_000);
    expect(ttl).toBeLessThanOrEqual(61_000);
  });
});
