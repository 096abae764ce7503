// The cross-node contract on Redis: RedisStore, RedisPresence, RedisSignals and the Redis
// budgets on a real redis-server, each node with its own connections.

import { afterAll, beforeAll, describe } from "bun:test";
import { HAVE_REDIS, type RedisServer, startRedis } from "../store/redis-server";
import { clusterContract } from "./cluster-contract";
import { type RedisCluster, redisCluster } from "./cluster-redis";

let redis: RedisServer;
let current: RedisCluster | null = null;

// Not in the scrambled reruns of this folder (out-of-order.test.ts): they scramble the memory
// store, and these run on Redis, whose answers over several connections come in no set order.
describe.skipIf(!HAVE_REDIS || process.env.CHAT_CORE_SCRAMBLE !== undefined)("on redis-server", () => {
  beforeAll(async () => {
    redis = await startRedis();
  });

  afterAll(async () => {
    await current?.close();
    await redis.stop();
  });

  clusterContract("nodes sharing one redis-server", async (n, overrides = {}) => {
    await current?.close();
    current = await redisCluster(redis.url, n, overrides);
    return current.nodes;
  });
});
