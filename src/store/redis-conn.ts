// One connection to Redis (Bun's built-in client), as the store needs it: commands go out in
// call order on one pipelined connection, fail at once while Redis is unreachable (no
// offline queue: a sender must hear "failed" rather than wait), come back by themselves when
// Redis does, and every failure is a StorageError with a message fit for a user.

import { RedisClient } from "bun";
import { SCRIPTS, type Script } from "./redis-scripts";
import type { RedisTarget } from "./redis-url";
import { StorageError, StorageFullError } from "./store";

/** Redis could not be reached or refused us at start-up. */
export class RedisOpenError extends Error {
  override name = "RedisOpenError";
}

/** Why a database number is refused on a Redis Cluster. */
export const CLUSTER_DB =
  "it is a Redis Cluster, which has database 0 only: leave the database out of the URL";

const CONNECT_TIMEOUT_MS = 3000;
/** A command unanswered this long means Redis hangs (or the network does): the connection is dropped. */
const COMMAND_TIMEOUT_MS = 5000;

export interface ConnectionOptions {
  /** Reconnection attempts of the client before it gives up (the next command then connects anew). */
  maxRetries?: number;
  /** How long a command may go unanswered before every command in flight fails (default 5 s). */
  commandTimeoutMs?: number;
}

/**
 * What the store needs of Redis: one Redis (RedisConnection) or a Redis Cluster
 * (RedisClusterConnection, which routes each call to the master of its keys' slot).
 */
export interface RedisLink {
  readonly target: RedisTarget;
  /** Called when a connection comes back after being lost (the store drops cached state). */
  onReconnect: (() => void) | null;
  /** Sends one command; on a cluster, routed by its first argument (the key). */
  send(command: string, args: readonly (string | number)[]): Promise<unknown>;
  /** Runs a script; on a cluster, every key must hash to one slot. */
  eval(s: Script, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown>;
  /**
   * WAIT replicas timeoutMs on the connection that writes under key: answers how many
   * replicas have every write sent on it so far.
   */
  waitReplicas(key: string, replicas: number, timeoutMs: number): Promise<number>;
  close(): void;
}

export class RedisConnection implements RedisLink {
  private reconnecting: Promise<void> | null = null;
  /** Set once the client stopped retrying on its own (or never connected). */
  private down = false;
  private closed = false;
  /** Called when the connection comes back after being lost (the store drops cached state). */
  onReconnect: (() => void) | null = null;
  /**
   * Set while the scripts are being loaded after a (re)connection: commands wait for it, in
   * call order. Were a script missing, its EVALSHA would fail and the EVAL sent instead
   * would run after commands sent later: calls would no longer apply in call order.
   */
  private ready: Promise<void> | null = null;
  /** Commands in flight: number → when sent. Answers come in order, so the first is the oldest. */
  private inflight = new Map<number, number>();
  private nextCommand = 0;
  /** Commands failed by the watchdog, so that their errors say why. */
  private timedOut = new Set<number>();
  private readonly watchdog: Timer;
  private readonly commandTimeoutMs: number;
  /** The WAIT to be sent on the event loop's next turn, shared by every caller until then. */
  private nextWait: Promise<number> | null = null;

  private constructor(
    private readonly client: RedisClient,
    readonly target: RedisTarget,
    opts: ConnectionOptions,
  ) {
    client.onclose = () => {
      this.down = true;
    };
    let first = true;
    client.onconnect = () => {
      if (!first) {
        this.onReconnect?.();
        // The client reconnected by itself, maybe to a restarted Redis without our scripts.
        this.ready ??= this.loadScripts();
      }
      first = false;
    };
    // Bun's client has no command timeout, and a Redis that stops answering (frozen, or
    // behind a dead network path) would hold every request forever.
    this.commandTimeoutMs = opts.commandTimeoutMs ?? COMMAND_TIMEOUT_MS;
    this.watchdog = setInterval(
      () => this.checkStalled(),
      Math.max(50, Math.min(500, this.commandTimeoutMs / 4)),
    );
    this.watchdog.unref();
  }

  /**
   * Connects and checks that Redis answers, or throws RedisOpenError saying why not.
   */
  static async open(target: RedisTarget, opts: ConnectionOptions = {}): Promise<RedisConnection> {
    const client = new RedisClient(target.url, {
      connectionTimeout: CONNECT_TIMEOUT_MS,
      enableOfflineQueue: false,
      autoReconnect: true,
      ...(opts.maxRetries === undefined ? {} : { maxRetries: opts.maxRetries }),
      enableAutoPipelining: true,
      ...(target.tls ? { tls: true } : {}),
    });
    const conn = new RedisConnection(client, target, opts);
    try {
      await connectWithin(client, CONNECT_TIMEOUT_MS);
      await client.send("PING", []);
      await conn.loadScripts();
    } catch (error) {
      conn.close();
      throw new RedisOpenError(`cannot use Redis at ${target.display}: ${await reason(error, target)}`);
    }
    return conn;
  }

  get connected(): boolean {
    return this.client.connected;
  }

  /** Sends one command; rejects with StorageError (StorageFullError when Redis is out of memory). */
  send(command: string, args: readonly (string | number)[]): Promise<unknown> {
    if (this.ready) return this.ready.then(() => this.send(command, args));
    if (this.down && !this.client.connected) return this.reconnect().then(() => this.raw(command, args));
    return this.raw(command, args);
  }

  /**
   * Runs a script by its SHA1, loading it first should Redis not have it (after a restart).
   * Its arguments go into one array as they are (the hot path of every SEND).
   */
  eval(s: Script, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    const params: (string | number)[] = [s.sha, keys.length];
    for (const k of keys) params.push(k);
    for (const a of args) params.push(a);
    return this.send("EVALSHA", params).catch((error: unknown) => {
      if (!(error instanceof StorageError) || !/NOSCRIPT/.test(error.message)) throw error;
      params[0] = s.lua;
      return this.send("EVAL", params);
    });
  }

  /**
   * One WAIT for every caller until the event loop's next turn: it follows, on this
   * connection, every write sent before it, so a burst of appends answered together costs
   * one WAIT, not one each. (Redis holds the commands sent after a WAIT until it answers.)
   */
  waitReplicas(_key: string, replicas: number, timeoutMs: number): Promise<number> {
    this.nextWait ??= new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => {
        this.nextWait = null;
        return this.send("WAIT", [replicas, timeoutMs]);
      })
      .then(Number);
    return this.nextWait;
  }

  close(): void {
    this.closed = true;
    clearInterval(this.watchdog);
    this.client.close();
  }

  private raw(command: string, args: readonly (string | number)[]): Promise<unknown> {
    const n = this.nextCommand++;
    this.inflight.set(n, Date.now());
    // Numbers as they are: Bun's client writes them as JavaScript's String() does, without
    // a copy of the array made of strings first (6 % of the node's CPU in the relay).
    return this.client.send(command, args as string[]).then(
      (reply) => {
        this.inflight.delete(n);
        return reply;
      },
      (error) => {
        this.inflight.delete(n);
        if (this.timedOut.delete(n))
          throw new StorageError(
            `the message store (Redis) did not answer within ${this.commandTimeoutMs / 1000} s`,
          );
        throw storageError(error);
      },
    );
  }

  /** Loads every script into Redis's script cache; clears `ready` when done (or failed). */
  private loadScripts(): Promise<void> {
    const loading = Promise.all(SCRIPTS.map((s) => this.raw("SCRIPT", ["LOAD", s.lua])))
      .then(() => {})
      .catch(() => {}) // commands then fail (or fall back to EVAL) on their own
      .finally(() => {
        if (this.ready === loading) this.ready = null;
      });
    return loading;
  }

  /** Drops the connection when the oldest command has waited too long: everything in flight fails. */
  private checkStalled(): void {
    const oldest = this.inflight.values().next();
    if (oldest.done || Date.now() - oldest.value < this.commandTimeoutMs) return;
    for (const n of this.inflight.keys()) this.timedOut.add(n);
    this.inflight.clear();
    this.down = true;
    this.client.close();
  }

  /** One connection attempt shared by every command waiting for it. */
  private reconnect(): Promise<void> {
    if (this.closed) return Promise.reject(new StorageError("the store is closed"));
    this.reconnecting ??= connectWithin(this.client, CONNECT_TIMEOUT_MS)
      .then(
        () => {
          this.down = false;
          this.onReconnect?.();
          return this.loadScripts();
        },
        (error) => {
          throw storageError(error);
        },
      )
      .finally(() => {
        this.reconnecting = null;
      });
    return this.reconnecting;
  }
}

/**
 * Connects, or rejects after ms. With autoReconnect the client would keep trying an
 * unreachable server; on the deadline the attempt is abandoned (closed).
 */
async function connectWithin(client: RedisClient, ms: number): Promise<void> {
  const connecting = client.connect();
  connecting.catch(() => {});
  let timer: Timer | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      client.close();
      reject(new Error(`no answer within ${ms} ms`));
    }, ms);
  });
  try {
    await Promise.race([connecting, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Why the first connection failed. Bun's client reports a refused login only as a closed
 * connection, so a plain TCP connection tells a server that is there from one that is not.
 */
async function reason(error: unknown, target: RedisTarget): Promise<string> {
  const message = error instanceof Error ? error.message : String(error);
  if (/SELECT is not allowed in cluster mode/.test(message)) return CLUSTER_DB;
  if (!/closed|refused|no answer/i.test(message)) return message;
  if (!(await listening(target))) return `unreachable (${message})`;
  const check = "check the password (in the URL or CHAT_REDIS_PASSWORD), the user and the database number";
  return target.tls
    ? `the server accepted the connection and then closed it: ${check}, and that it speaks TLS with a certificate for this host that this machine trusts (NODE_EXTRA_CA_CERTS adds a CA)`
    : `Redis accepted the connection and then closed it: ${check} (and use rediss:// if it expects TLS)`;
}

/** Whether something accepts TCP connections at the target's host and port (within a second). */
async function listening(target: RedisTarget): Promise<boolean> {
  const u = new URL(target.url);
  const hostname = u.hostname.replace(/^\[|\]$/g, "");
  const port = Number(u.port || 6379);
  let timer: Timer | undefined;
  try {
    const socket = await Promise.race([
      Bun.connect({ hostname, port, socket: { data() {} } }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("timeout")), 1000);
      }),
    ]);
    socket.end();
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

function storageError(error: unknown): StorageError {
  if (error instanceof StorageError) return error;
  const code = (error as { code?: string } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (code === "ERR_REDIS_SERVER_ERROR") {
    if (/^OOM/.test(message)) return new StorageFullError();
    if (/^LOADING/.test(message))
      return new StorageError(
        "the message store (Redis) is unavailable (it is loading its data after a restart)",
      );
    return new StorageError(`the message store (Redis) refused the request: ${message}`);
  }
  return new StorageError(`the message store (Redis) is unavailable (${message})`);
}
