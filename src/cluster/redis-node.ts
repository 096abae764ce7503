// What a node on the Redis store shares with the other nodes of its service: presence with
// leases, the signal bus and the login and creation budgets, all on the store's Redis.

import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { Throttles } from "../core/context";
import type { CoreOptions } from "../core/options";
import type { RedisStore } from "../store/redis";
import { RedisPresence } from "./redis-presence";
import { RedisSignals } from "./redis-signals";
import { redisThrottles } from "./redis-throttles";

/** A node name: letters, digits and . _ - : (it is part of Redis keys and channels). */
export const NODE_NAME = /^[A-Za-z0-9._:-]{1,100}$/;

/** hostname-pid-random: unique per process, and says where the process runs. */
export function defaultNodeName(): string {
  const host =
    hostname()
      .replace(/[^A-Za-z0-9._-]/g, "")
      .slice(0, 60) || "node";
  return `${host}-${process.pid}-${randomBytes(3).toString("hex")}`;
}

export interface RedisNode {
  readonly node: string;
  readonly presence: RedisPresence;
  readonly signals: RedisSignals;
  readonly throttles: Throttles;
  /** Leaves the service (after its sessions ended and released their claims); signals stop. */
  close(): Promise<void>;
}

/**
 * Joins the service: takes the node's lease and subscribes to its signals. Throws (with the
 * store's StorageError or the client's error) when Redis cannot be used.
 */
export async function joinRedisService(
  store: RedisStore,
  o: CoreOptions,
  node: string,
  leaseMs: number,
  report: (detail: string) => void,
): Promise<RedisNode> {
  const redis = store.connection;
  const presence = new RedisPresence(redis, node, leaseMs);
  await presence.renew(node);
  const signals = await RedisSignals.open(redis.target, node, redis, report, (id) => store.takeInOrder(id));
  return {
    node,
    presence,
    signals,
    throttles: redisThrottles(redis, o),
    close: async () => {
      await presence.leave().catch(() => {}); // Redis away: the lease runs out by itself
      signals.close();
    },
  };
}
