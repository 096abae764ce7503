// The store on a sharded Redis Cluster, through Bun's client (which does not follow
// redirections): one RedisConnection per master, a map slot → master learnt from CLUSTER
// SLOTS, and each call sent to the master of its key's slot (a script's keys must share one
// slot: redis-keys.ts designs them so). A MOVED answer (the slot moved, by resharding or a
// failover) updates the map and retries there; ASK (a slot being migrated) sends ASKING and
// retries once on the target; TRYAGAIN (keys of a migrating slot split between the two
// nodes) retries after a moment. Each master's connection loads the scripts itself.
//
// Order: a call is sent at once on its master's connection, so calls on one slot (one
// account, the directory) leave in call order as on one Redis. Only a call redirected by a
// resharding is re-sent later.

import { keySlot, SLOTS } from "./redis-cluster-slot";
import {
  CLUSTER_DB,
  type ConnectionOptions,
  RedisConnection,
  type RedisLink,
  RedisOpenError,
} from "./redis-conn";
import type { Script } from "./redis-scripts";
import type { RedisTarget } from "./redis-url";
import { StorageError } from "./store";

/** Redirections followed for one call before it fails. */
const MAX_HOPS = 5;
/** Wait before retrying a TRYAGAIN. */
const TRYAGAIN_MS = 25;
/** A failed call asks for a new slot map at most this often (the cluster may have failed over). */
const REFRESH_EVERY_MS = 1000;

/** Whether the Redis behind conn runs in cluster mode (INFO's cluster_enabled). */
export async function isCluster(conn: RedisConnection): Promise<boolean> {
  try {
    return /cluster_enabled:1/.test(String(await conn.send("INFO", ["cluster"])));
  } catch (error) {
    // A user whose ACL forbids INFO: Redis is there, so treat it as one Redis.
    if (error instanceof StorageError && /refused the request/.test(error.message)) return false;
    throw error;
  }
}

/**
 * Connects to the Redis at target, as a cluster when it runs in cluster mode; throws
 * RedisOpenError when it cannot be used.
 */
export async function openRedisLink(target: RedisTarget, opts: ConnectionOptions = {}): Promise<RedisLink> {
  const conn = await RedisConnection.open(target, opts);
  let cluster: boolean;
  try {
    cluster = await isCluster(conn);
  } catch (error) {
    conn.close();
    throw new RedisOpenError(`cannot use Redis at ${target.display}: ${(error as Error).message}`);
  }
  return cluster ? RedisClusterConnection.open(conn, opts) : conn;
}

/** Runs fn on every master: the one Redis, or each master of a cluster (for SCAN, DBSIZE). */
export async function forEachMaster(
  link: RedisLink,
  fn: (c: RedisConnection) => Promise<void>,
): Promise<void> {
  if (link instanceof RedisClusterConnection) {
    for (const a of link.masters) await fn(await link.connection(a));
  } else if (link instanceof RedisConnection) await fn(link);
}

export class RedisClusterConnection implements RedisLink {
  onReconnect: (() => void) | null = null;
  /** slot → "host:port" of its master. */
  private owners: string[] = new Array(SLOTS).fill("");
  private readonly nodes = new Map<string, RedisConnection>();
  private readonly opening = new Map<string, Promise<RedisConnection>>();
  private refreshing: Promise<void> | null = null;
  private lastRefresh = 0;
  private closed = false;

  private constructor(
    readonly target: RedisTarget,
    private readonly opts: ConnectionOptions,
  ) {}

  /**
   * Builds the router from a connection to one node (kept as that node's connection) and
   * connects to every master; throws RedisOpenError when the cluster cannot be used.
   */
  static async open(seed: RedisConnection, opts: ConnectionOptions = {}): Promise<RedisClusterConnection> {
    const target = seed.target;
    if (!target.display.endsWith("/0")) {
      seed.close();
      throw new RedisOpenError(`cannot use Redis at ${target.display}: ${CLUSTER_DB}`);
    }
    const c = new RedisClusterConnection(target, opts);
    const seedAddress = address(target);
    c.adopt(seedAddress, seed);
    try {
      c.owners = await slotMap(seed, hostOf(target));
      const missing = c.owners.indexOf("");
      if (missing >= 0)
        throw new Error(`slot ${missing} has no master (the cluster is not fully set up: CLUSTER INFO)`);
      await Promise.all([...new Set(c.owners)].map((a) => c.node(a)));
    } catch (error) {
      c.close();
      const why = error instanceof Error ? error.message : String(error);
      throw new RedisOpenError(`cannot use the Redis Cluster at ${target.display}: ${why}`);
    }
    if (!c.owners.includes(seedAddress)) {
      c.nodes.delete(seedAddress);
      seed.close();
    }
    c.lastRefresh = Date.now();
    return c;
  }

  /** The masters in use, as "host:port". */
  get masters(): string[] {
    return [...new Set(this.owners)];
  }

  /** The connection to one master (connecting if needed). */
  connection(address: string): Promise<RedisConnection> {
    return this.node(address);
  }

  send(command: string, args: readonly (string | number)[]): Promise<unknown> {
    if (args.length === 0) return Promise.reject(new StorageError(`${command} names no key to route by`));
    return this.route(keySlot(String(args[0])), (c) => c.send(command, args));
  }

  eval(s: Script, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    const slot = keys.length ? keySlot(keys[0]!) : 0;
    if (keys.some((k) => keySlot(k) !== slot))
      return Promise.reject(new StorageError(`script ${s.name}: its keys are in different slots`));
    return this.route(slot, (c) => c.eval(s, keys, args));
  }

  waitReplicas(key: string, replicas: number, timeoutMs: number): Promise<number> {
    // The master of key's slot wrote it: its replicas are the ones to wait for.
    return this.at(this.owners[keySlot(key)]!, (c) => c.waitReplicas(key, replicas, timeoutMs));
  }

  close(): void {
    this.closed = true;
    for (const c of this.nodes.values()) c.close();
    this.nodes.clear();
  }

  // --- internal ---

  /** Sends run to the slot's master at once, then follows redirections. */
  private route<T>(slot: number, run: (c: RedisConnection) => Promise<T>): Promise<T> {
    return this.at(this.owners[slot]!, run).catch((error) => this.redirected(error, slot, run, 1));
  }

  private async redirected<T>(
    error: unknown,
    slot: number,
    run: (c: RedisConnection) => Promise<T>,
    hop: number,
  ): Promise<T> {
    const r = redirection(error);
    if (!r || hop > MAX_HOPS) {
      // A master unreachable may have been replaced by its replica: learn the map anew.
      if (error instanceof StorageError && /unavailable|did not answer/.test(error.message))
        this.refreshSoon();
      throw error;
    }
    try {
      if (r.kind === "MOVED") {
        this.owners[r.slot] = r.address;
        this.refreshSoon();
        return await this.at(r.address, run);
      }
      if (r.kind === "ASK") {
        // ASKING and the command must follow each other on one connection: sent together.
        return await this.at(r.address, (c) => {
          void c.send("ASKING", []).catch(() => {});
          return run(c);
        });
      }
      await Bun.sleep(TRYAGAIN_MS);
      return await this.at(this.owners[slot]!, run);
    } catch (next) {
      return this.redirected(next, slot, run, hop + 1);
    }
  }

  /** Runs on the connection to address, connecting first if there is none yet. */
  private at<T>(address: string, run: (c: RedisConnection) => Promise<T>): Promise<T> {
    const c = this.nodes.get(address);
    return c ? run(c) : this.node(address).then(run);
  }

  private node(address: string): Promise<RedisConnection> {
    const known = this.nodes.get(address);
    if (known) return Promise.resolve(known);
    if (this.closed) return Promise.reject(new StorageError("the store is closed"));
    let p = this.opening.get(address);
    if (!p) {
      p = RedisConnection.open(nodeTarget(this.target, address), this.opts)
        .then(
          (c) => {
            if (this.closed) {
              c.close();
              throw new StorageError("the store is closed");
            }
            this.adopt(address, c);
            return c;
          },
          (error) => {
            throw new StorageError(
              `the message store (Redis) is unavailable (${error instanceof Error ? error.message : String(error)})`,
            );
          },
        )
        .finally(() => this.opening.delete(address));
      this.opening.set(address, p);
    }
    return p;
  }

  private adopt(address: string, c: RedisConnection): void {
    this.nodes.set(address, c);
    c.onReconnect = () => this.onReconnect?.();
  }

  /** Learns the slot map again, at most once a REFRESH_EVERY_MS, asking each known master in turn. */
  private refreshSoon(): void {
    if (this.refreshing || this.closed || Date.now() - this.lastRefresh < REFRESH_EVERY_MS) return;
    this.lastRefresh = Date.now();
    this.refreshing = (async () => {
      for (const [, c] of this.nodes) {
        try {
          const owners = await slotMap(c, hostOf(c.target));
          if (owners.includes("")) continue;
          this.owners = owners;
          return;
        } catch {
          // that node is away too: the next one
        }
      }
    })().finally(() => {
      this.refreshing = null;
    });
  }
}

type Redirection = { kind: "MOVED" | "ASK"; slot: number; address: string } | { kind: "TRYAGAIN" };

/** A MOVED, ASK or TRYAGAIN answer, from the StorageError RedisConnection made of it. */
export function redirection(error: unknown): Redirection | null {
  if (!(error instanceof StorageError)) return null;
  const m = /refused the request: (MOVED|ASK) (\d+) (\S+)/.exec(error.message);
  if (m) return { kind: m[1] as "MOVED" | "ASK", slot: Number(m[2]), address: m[3]! };
  return /refused the request: TRYAGAIN/.test(error.message) ? { kind: "TRYAGAIN" } : null;
}

/**
 * slot → "host:port" of its master, from CLUSTER SLOTS: [[start, end, [host, port, id, …],
 * replicas…], …]. An empty host means the node we asked.
 */
async function slotMap(c: RedisConnection, askedHost: string): Promise<string[]> {
  const ranges = (await c.send("CLUSTER", ["SLOTS"])) as unknown[][];
  const owners: string[] = new Array(SLOTS).fill("");
  for (const r of ranges) {
    const [start, end, master] = r as [number, number, unknown[]];
    const host = String(master[0] ?? "");
    const a = joinAddress(host === "" || host === "?" ? askedHost : host, Number(master[1]));
    for (let s = Number(start); s <= Number(end); s++) owners[s] = a;
  }
  return owners;
}

function hostOf(t: RedisTarget): string {
  return new URL(t.url).hostname.replace(/^\[|\]$/g, "");
}

function address(t: RedisTarget): string {
  return joinAddress(hostOf(t), Number(new URL(t.url).port || 6379));
}

function joinAddress(host: string, port: number): string {
  return `${host}:${port}`;
}

/** The seed's target (scheme, user, password) pointed at another node. */
export function nodeTarget(seed: RedisTarget, addr: string): RedisTarget {
  const colon = addr.lastIndexOf(":");
  const host = addr.slice(0, colon);
  const port = addr.slice(colon + 1);
  const u = new URL(seed.url);
  u.hostname = host.includes(":") ? `[${host}]` : host;
  u.port = port;
  const scheme = seed.tls ? "rediss:" : "redis:";
  const user = u.username ? `${decodeURIComponent(u.username)}@` : "";
  return { url: u.toString(), display: `${scheme}//${user}${u.hostname}:${port}/0`, tls: seed.tls };
}
