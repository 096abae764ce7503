// The login-failure and account-creation budgets in Redis: token buckets kept by one Lua
// script per key, so that every node takes from the same bucket and spreading guesses over
// nodes gains nothing. Same rules as ratelimit.ts's Budget; the times are the nodes' clocks.

import type { Throttle, Throttles } from "../core/context";
import type { CoreOptions } from "../core/options";
import { RECENT_FAILURE_MS } from "../core/ratelimit";
import type { RedisCommands } from "./commands";
import { budgetKey } from "./keys";
import { BUDGET } from "./scripts";

export class RedisBudget implements Throttle {
  private readonly perSecond: number;

  /** name: the budget's part of its keys; memoryMs: how long a spending counts as recent. */
  constructor(
    private readonly redis: RedisCommands,
    private readonly name: string,
    private readonly perMinute: number,
    private readonly memoryMs = 0,
  ) {
    this.perSecond = perMinute / 60;
  }

  async waitMs(key: string, now: number): Promise<number> {
    return Number(await this.run("wait", key, now));
  }

  async spend(key: string, now: number): Promise<void> {
    await this.run("spend", key, now);
  }

  async recentlySpent(key: string, now: number): Promise<boolean> {
    if (this.memoryMs <= 0) return false;
    return Number(await this.run("recent", key, now)) === 1;
  }

  async forget(key: string): Promise<void> {
    await this.redis.send("DEL", [budgetKey(this.name, key)]);
  }

  private run(op: "wait" | "spend" | "recent", key: string, now: number): Promise<unknown> {
    return this.redis.eval(
      BUDGET,
      [budgetKey(this.name, key)],
      [op, Math.floor(now), this.perSecond, this.perMinute, this.memoryMs],
    );
  }
}

/** The four budgets of the options, shared in Redis. */
export function redisThrottles(redis: RedisCommands, o: CoreOptions): Throttles {
  return {
    loginFailuresByAccount: new RedisBudget(redis, "login:account", o.loginFailuresPerAccount),
    loginFailuresByAddress: new RedisBudget(redis, "login:address", o.loginFailuresPerAddress),
    loginFailuresByAccountAddress: new RedisBudget(
      redis,
      "login:pair",
      o.loginFailuresPerAccountAddress,
      RECENT_FAILURE_MS,
    ),
    accountCreations: new RedisBudget(redis, "create:address", o.accountCreationsPerAddress),
  };
}
