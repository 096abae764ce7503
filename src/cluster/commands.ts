// What the cluster pieces need of a Redis connection: the store's RedisConnection has this
// shape, and a router for Redis Cluster can wrap it without these pieces changing.

import type { Script } from "../store/redis-scripts";

export interface RedisCommands {
  /** One command; rejects with StorageError when Redis is unavailable. */
  send(command: string, args: readonly (string | number)[]): Promise<unknown>;
  /** Runs a script by its SHA1 (loading it when Redis does not have it). */
  eval(script: Script, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown>;
}
