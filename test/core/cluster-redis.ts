// Nodes of one service on a real redis-server, as the core tests see them: each node its
// own RedisStore connection, RedisPresence, RedisSignals (its own subscription) and Redis
// budgets, like separate processes. settle() also waits for the Redis commands and the
// signals still in flight, so the socket-free harness stays deterministic.

import { RedisClient } from "bun";
import { RedisPresence } from "../../src/cluster/redis-presence";
import { RedisSignals } from "../../src/cluster/redis-signals";
import { redisThrottles } from "../../src/cluster/redis-throttles";
import { type CoreOptions, DEFAULT_OPTIONS } from "../../src/core/options";
import type { Signal, SignalHandler, Signals } from "../../src/core/signals";
import { RedisStore } from "../../src/store/redis";
import { parseRedisTarget } from "../../src/store/redis-url";
import type { Store } from "../../src/store/store";
import { Harness, type Shared, START } from "./helpers";

/** Work in flight over all nodes of one cluster: Redis commands and signals not yet received. */
interface InFlight {
  commands: number;
  signals: number;
}

/** A RedisSignals that counts what it publishes until the receiving node has it. */
class CountedSignals implements Signals {
  readonly inOrder = false;
  /** Handled in this call stack (a signal to this node itself), not over Redis. */
  private local = 0;

  constructor(
    private readonly inner: RedisSignals,
    private readonly flight: InFlight,
    private readonly nodes: () => number,
  ) {}

  send(node: string, signal: Signal): void {
    if (node !== this.inner.node) this.flight.signals++;
    this.locally(() => this.inner.send(node, signal));
  }

  broadcast(signal: Signal): void {
    this.flight.signals += this.nodes() - 1;
    this.locally(() => this.inner.broadcast(signal));
  }

  subscribe(node: string, handler: SignalHandler): () => void {
    return this.inner.subscribe(node, (signal) => {
      if (this.local === 0 && signal.type !== "resync") this.flight.signals--;
      handler(signal);
    });
  }

  private locally(f: () => void): void {
    this.local++;
    try {
      f();
    } finally {
      this.local--;
    }
  }
}

export interface RedisNodeParts {
  store: RedisStore;
  presence: RedisPresence;
  signals: RedisSignals;
  /** What the bus reported (it logs these in a server). */
  reports: string[];
}

/** The nodes of one cluster, and how to take them down. */
export interface RedisCluster {
  nodes: Harness<Store>[];
  parts: RedisNodeParts[];
  close(): Promise<void>;
}

let clusters = 0;

/** Empties the database, then starts n nodes on it. */
export async function redisCluster(
  url: string,
  n: number,
  overrides: Partial<CoreOptions> = {},
  leaseMs = 60_000,
): Promise<RedisCluster> {
  const flush = new RedisClient(url);
  await flush.send("FLUSHALL", []);
  flush.close();
  const parsed = parseRedisTarget(url);
  if (!parsed.ok) throw new Error(parsed.reason);
  const options = { ...DEFAULT_OPTIONS, ...overrides };
  const flight: InFlight = { commands: 0, signals: 0 };
  const clock = { now: START };
  const round = ++clusters;
  const nodes: Harness<Store>[] = [];
  const parts: RedisNodeParts[] = [];
  for (let i = 0; i < n; i++) {
    const name = `c${round}-node${i + 1}`;
    const store = await RedisStore.open(parsed.target, {
      maxQueuedPerAccount: options.maxQueuedPerAccount,
      maxQueuedPerSender: options.maxQueuedPerSender,
      dedupPerSender: options.maxUnansweredSends,
    });
    countCommands(store, flight);
    const presence = new RedisPresence(store.connection, name, leaseMs);
    await presence.renew(name);
    const reports: string[] = [];
    const signals = await RedisSignals.open(parsed.target, name, store.connection, (detail) =>
      reports.push(detail),
    );
    const shared: Shared<Store> = {
      store,
      coreStore: store,
      presence,
      signals: new CountedSignals(signals, flight, () => nodes.length),
      throttles: redisThrottles(store.connection, options),
      clock,
      holding: () => flight.commands + flight.signals,
    };
    nodes.push(new Harness<Store>(overrides, shared, name));
    parts.push({ store, presence, signals, reports });
  }
  return {
    nodes,
    parts,
    async close() {
      for (const [i, h] of nodes.entries()) {
        h.core.detach();
        parts[i]!.signals.close();
        await parts[i]!.store.close().catch(() => {});
      }
    },
  };
}

/** Counts the store connection's commands until they are answered. */
function countCommands(store: RedisStore, flight: InFlight): void {
  const conn = store.connection;
  const send = conn.send.bind(conn);
  conn.send = (command, args) => {
    flight.commands++;
    const p = send(command, args);
    p.then(
      () => flight.commands--,
      () => flight.commands--,
    );
    return p;
  };
}
