// One connection to Redis (Bun's built-in client), as the store needs it: commands go out in
// call order on one pipelined connection, fail at once while Redis is unreachable (no
// offline queue: a sender must hear "failed" rather than wait), come back by themselves when
// Redis does, and every failure is a StorageError with a message fit for a user.

import { RedisClient } from "bun";
import type { Script } from "./redis-scripts";
import type { RedisTarget } from "./redis-url";
import { StorageError, StorageFullError } from "./store";

/** Redis could not be reached or refused us at start-up. */
export class RedisOpenError extends Error {
  override name = "RedisOpenError";
}

const CONNECT_TIMEOUT_MS = 3000;

export class RedisConnection {
  private reconnecting: Promise<void> | null = null;
  /** Set once the client stopped retrying on its own (or never connected). */
  private down = false;
  private closed = false;
  /** Called when the connection comes back after being lost (the store drops cached state). */
  onReconnect: (() => void) | null = null;

  private constructor(
    private readonly client: RedisClient,
    readonly target: RedisTarget,
  ) {
    client.onclose = () => {
      this.down = true;
    };
    let first = true;
    client.onconnect = () => {
      if (!first) this.onReconnect?.();
      first = false;
    };
  }

  /**
   * Connects and checks that Redis answers, or throws RedisOpenError saying why not.
   * maxRetries: reconnection attempts of the client before it gives up (then the next
   * command connects anew); the client's default when not given.
   */
  static async open(target: RedisTarget, opts: { maxRetries?: number } = {}): Promise<RedisConnection> {
    const client = new RedisClient(target.url, {
      connectionTimeout: CONNECT_TIMEOUT_MS,
      enableOfflineQueue: false,
      autoReconnect: true,
      ...(opts.maxRetries === undefined ? {} : { maxRetries: opts.maxRetries }),
      enableAutoPipelining: true,
      ...(target.tls ? { tls: true } : {}),
    });
    const conn = new RedisConnection(client, target);
    try {
      // With autoReconnect the client would keep trying an unreachable server: bound the wait.
      const connecting = client.connect();
      connecting.catch(() => {});
      let timer: Timer | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no answer within ${CONNECT_TIMEOUT_MS} ms`)),
          CONNECT_TIMEOUT_MS,
        );
      });
      try {
        await Promise.race([connecting, late]);
      } finally {
        clearTimeout(timer);
      }
      await client.send("PING", []);
    } catch (error) {
      client.close();
      throw new RedisOpenError(`cannot use Redis at ${target.display}: ${await reason(error, target)}`);
    }
    return conn;
  }

  get connected(): boolean {
    return this.client.connected;
  }

  /** Sends one command; rejects with StorageError (StorageFullError when Redis is out of memory). */
  send(command: string, args: readonly (string | number)[]): Promise<unknown> {
    const strs = args.map(String);
    if (this.down && !this.client.connected) return this.reconnect().then(() => this.raw(command, strs));
    return this.raw(command, strs);
  }

  /** Runs a script by its SHA1, loading it first should Redis not have it (after a restart). */
  async eval(s: Script, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    const params = [String(keys.length), ...keys, ...args.map(String)];
    try {
      return await this.send("EVALSHA", [s.sha, ...params]);
    } catch (error) {
      if (!(error instanceof StorageError) || !/NOSCRIPT/.test(error.message)) throw error;
      return this.send("EVAL", [s.lua, ...params]);
    }
  }

  close(): void {
    this.closed = true;
    this.client.close();
  }

  private raw(command: string, args: string[]): Promise<unknown> {
    return this.client.send(command, args).catch((error) => {
      throw storageError(error);
    });
  }

  /** One connection attempt shared by every command waiting for it. */
  private reconnect(): Promise<void> {
    if (this.closed) return Promise.reject(new StorageError("the store is closed"));
    this.reconnecting ??= this.client
      .connect()
      .then(
        () => {
          this.down = false;
          this.onReconnect?.();
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
 * Why the first connection failed. Bun's client reports a refused login only as a closed
 * connection, so a plain TCP connection tells a server that is there from one that is not.
 */
async function reason(error: unknown, target: RedisTarget): Promise<string> {
  const message = error instanceof Error ? error.message : String(error);
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
    return new StorageError(`the message store (Redis) refused the request: ${message}`);
  }
  return new StorageError(`the message store (Redis) is unavailable (${message})`);
}
