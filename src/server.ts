// `chat serve`: opens the store, starts the core behind a TCP (or TLS) listener, serves
// metrics, and shuts down gracefully. Everything here is wiring; the logic is in core/.

import { mkdirSync, readFileSync, statfsSync, statSync } from "node:fs";
import { homedir, totalmem } from "node:os";
import { dirname, join, resolve } from "node:path";
import type { ConsolaInstance } from "consola";
import { type Argon2Cost, argon2Hasher, type PasswordHasher } from "./core/auth";
import { ChatCore, describeError } from "./core/chat";
import type { EventSink } from "./core/events";
import { Metrics } from "./core/metrics";
import type { CoreOptions } from "./core/options";
import { reachableAt } from "./net/addresses";
import { capWarning, defaultMaxConnections, refusalSlots } from "./net/capacity";
import { type Listener, listen } from "./net/listener";
import { createLogger, eventLogger, type LogFormat, type LogLevel } from "./net/log";
import { defaultMaxBufferedBytes } from "./net/memory";
import { raiseFileLimit } from "./net/rlimit";
import { nameIdentity, prepareNameTables } from "./rules/names";
import { MemoryStore } from "./store/memory";
import { defaultBudget, formatBytes } from "./store/space";
import { SqliteStore, StoreOpenError, type SyncMode, sharedAccess } from "./store/sqlite";
import type { Store } from "./store/store";
import { VERSION } from "./version";

export interface ServeOptions extends CoreOptions {
  host: string;
  port: number;
  /** Path of the SQLite data file, or ":memory:" for no persistence. */
  data: string;
  sync: SyncMode;
  resetCorruptData: boolean;
  /** Use a data file or directory other users can read or write (warn instead of refusing). */
  allowSharedData: boolean;
  /**
   * The data budget: bytes the data file and its WAL may take (new messages and accounts
   * stop a reserve below it). Unset: sized from the disk's free space at start; 0: none.
   */
  maxDataBytes?: number;
  tlsCert?: string;
  tlsKey?: string;
  metricsPort?: number;
  logLevel: LogLevel;
  logFormat: LogFormat;
  /** Default: derived from the open-file limit (see net/capacity.ts). */
  maxConnections?: number;
  maxConnectionsPerAddress: number;
  maxOutboundBytes: number;
  argon2: Argon2Cost;
  /** Time allowed for a graceful shutdown before connections are cut. */
  shutdownGraceMs: number;
  /** Time from accept to a finished TLS handshake. */
  handshakeTimeoutMs: number;
  /** Output and partial input of all connections together; default from total memory. */
  maxBufferedBytes?: number;
  /** Request-budget tokens per second, and at most banked, of one client address. */
  addressRequestRate: number;
  addressRequestBurst: number;
}

/** A problem the operator must fix (port taken, bad data file, missing certificate). */
export class StartupError extends Error {
  override name = "StartupError";
}

export interface RunningServer {
  readonly port: number;
  readonly metricsPort: number | undefined;
  readonly core: ChatCore;
  readonly store: Store;
  /** Graceful stop: tell clients, commit, close. Resolves when done. */
  stop(): Promise<void>;
}

export function defaultDataPath(): string {
  const base = process.env.XDG_DATA_HOME || join(homedir(), ".local", "share");
  return join(base, "chat", "chat.db");
}

export async function startServer(
  o: ServeOptions,
  log: ConsolaInstance = createLogger(o.logLevel, o.logFormat),
  extra: { events?: EventSink; passwords?: PasswordHasher } = {},
): Promise<RunningServer> {
  const tls = readTls(o);
  const store = openStore(o, log);
  prepareNameTables();
  // Accounts made before names had skeletons get theirs (and today's key) once.
  await store
    .backfillIdentity(nameIdentity)
    .catch((error) => log.warn(`could not give older accounts their name skeletons: ${error}`));
  const metrics = new Metrics();
  const logEvents = eventLogger(log.withTag("chat"), o.logFormat);
  const core = new ChatCore({
    store,
    options: o,
    metrics,
    passwords: extra.passwords ?? argon2Hasher(o.argon2),
    serverVersion: VERSION,
    events: extra.events
      ? (e) => {
          logEvents(e);
          extra.events!(e);
        }
      : logEvents,
  });

  const fileLimit = raiseFileLimit();
  const maxConnections = o.maxConnections ?? defaultMaxConnections(fileLimit);
  const tooMany = capWarning(maxConnections, fileLimit);
  if (tooMany) log.warn(tooMany);
  const maxBufferedBytes = o.maxBufferedBytes ?? defaultMaxBufferedBytes(totalmem());
  let listener: Listener;
  try {
    listener = listen(core, {
      ...o,
      maxConnections,
      maxBufferedBytes,
      refusalSlots: refusalSlots(fileLimit),
      ...(tls ? { tls } : {}),
    });
  } catch (error) {
    await store.close();
    throw new StartupError(describeListenError(o.host, o.port, error));
  }

  let metricsServer: ReturnType<typeof serveMetrics> | undefined;
  try {
    metricsServer = o.metricsPort === undefined ? undefined : serveMetrics(o, core, store);
  } catch (error) {
    listener.stop();
    await store.close();
    throw error;
  }
  const tickEvery = Math.max(50, Math.min(1000, o.heartbeatMs / 4, o.loginTimeoutMs / 4, o.ackTimeoutMs / 4));
  const ticker = setInterval(() => core.tick(), tickEvery);
  const sweeper = setInterval(
    () => core.background(store.sweep(Date.now()), "sweeping expired records"),
    60_000,
  );
  const tidy = idleCollector(core);

  announce(log, o, listener.port, store, !!tls, metricsServer?.port);
  log.info(
    `limits: ${maxConnections} connections${fileLimit ? ` (open-file limit ${fileLimit.soft})` : ""}, ${o.maxConnectionsPerAddress} per address, ${Math.round(maxBufferedBytes / 1024 / 1024)} MiB buffered output and input`,
  );

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      listener.stop();
      core.shutdown();
      try {
        await store.flush();
      } catch (error) {
        log.error(`could not commit the last writes: ${describeError(error)}`);
      }
      const deadline = Date.now() + o.shutdownGraceMs;
      while (core.sessions.size > 0 && Date.now() < deadline) await Bun.sleep(20);
      for (const s of core.sessions) s.conn.abort();
      clearInterval(ticker);
      clearInterval(sweeper);
      clearInterval(tidy);
      metricsServer?.stop(true);
      await store.close();
    })();
    return stopping;
  };

  return { port: listener.port, metricsPort: metricsServer?.port, core, store, stop };
}

// --- internal ---

/**
 * Collects garbage once the server falls quiet after a burst of work: JavaScriptCore runs
 * its collector as memory is allocated, so an idle server would otherwise keep the
 * garbage of its last burst (and the pages holding it) indefinitely.
 */
function idleCollector(core: ChatCore): Timer {
  let seen = core.metrics.frames;
  let dirty = false;
  return setInterval(() => {
    const now = core.metrics.frames;
    if (now !== seen) {
      seen = now;
      dirty = true;
    } else if (dirty) {
      dirty = false;
      Bun.gc(true);
    }
  }, 250);
}

function openStore(o: ServeOptions, log: ConsolaInstance): Store {
  const limits = {
    maxQueuedPerAccount: o.maxQueuedPerAccount,
    maxQueuedPerSender: o.maxQueuedPerSender,
    dedupPerSender: o.maxUnansweredSends,
  };
  if (o.data === ":memory:") return new MemoryStore(limits);
  // The data file holds password hashes and messages: what this server creates (the file,
  // its WAL, a missing directory) is readable by its own user only.
  process.umask(0o077);
  try {
    mkdirSync(dirname(o.data), { recursive: true });
  } catch {
    // SqliteStore.open explains a missing or unwritable directory.
  }
  try {
    const budget = dataBudget(o, log);
    const store = SqliteStore.open({
      path: o.data,
      sync: o.sync,
      resetCorrupt: o.resetCorruptData,
      ...(budget ? { maxBytes: budget } : {}),
      ...limits,
    });
    if (store.movedAside)
      log.warn(`data file was corrupt: moved it to ${store.movedAside} and started with an empty one`);
    const shared = sharedAccess(store.path);
    if (shared && !o.allowSharedData) {
      void store.close();
      throw new StartupError(`refusing to start: ${shared}.`);
    }
    if (store.full)
      log.warn(
        `the data already fills its budget of ${formatBytes(store.space!.totalBytes)}: new messages and accounts are refused until recipients read theirs (logging in, reading and confirming work); --max-data-mb sets the budget`,
      );
    if (shared)
      log.warn(
        `${shared.replace(/, or run with --allow-shared-data.*$/, "")}; using it (--allow-shared-data)`,
      );
    return store;
  } catch (error) {
    if (error instanceof StoreOpenError) throw new StartupError(error.message);
    throw error;
  }
}

/** The data budget in bytes, or undefined for none (see ServeOptions.maxDataBytes). */
function dataBudget(o: ServeOptions, log: ConsolaInstance): number | undefined {
  if (o.maxDataBytes === 0) return undefined;
  const path = resolve(o.data);
  const sizeOf = (f: string) => {
    try {
      return statSync(f).size;
    } catch {
      return 0; // missing, or a path SqliteStore.open explains
    }
  };
  const used = sizeOf(path) + sizeOf(`${path}-wal`);
  let free: number | undefined;
  try {
    const fs = statfsSync(dirname(path));
    free = fs.bavail * fs.bsize;
  } catch {
    free = undefined;
  }
  if (o.maxDataBytes !== undefined) {
    if (free !== undefined && o.maxDataBytes > used + free)
      log.warn(
        `--max-data-mb is more than the disk has free (${formatBytes(free)}): the disk may fill first, and then writes fail`,
      );
    return o.maxDataBytes;
  }
  if (free === undefined) {
    log.warn("cannot tell how much disk space is free: no data budget; set one with --max-data-mb");
    return undefined;
  }
  return defaultBudget(used, free);
}

function readTls(o: ServeOptions): { cert: string; key: string } | undefined {
  if (!o.tlsCert && !o.tlsKey) return undefined;
  if (!o.tlsCert || !o.tlsKey) throw new StartupError("TLS needs both --tls-cert and --tls-key");
  const read = (file: string, what: string) => {
    try {
      return readFileSync(file, "utf8");
    } catch (error) {
      throw new StartupError(
        `cannot read TLS ${what} ${file}: ${(error as NodeJS.ErrnoException).code ?? describeError(error)}`,
      );
    }
  };
  return { cert: read(o.tlsCert, "certificate"), key: read(o.tlsKey, "key") };
}

function describeListenError(host: string, port: number, error: unknown): string {
  const code = (error as { code?: string }).code ?? "";
  const where = `${host.includes(":") ? `[${host}]` : host}:${port}`;
  if (code === "EADDRINUSE" || /in use/i.test(String(error))) {
    return `port ${port} is already in use on ${where} (another chat server?); choose another with --port`;
  }
  if (code === "EACCES") return `no permission to listen on ${where}; ports below 1024 need privileges`;
  if (code === "EADDRNOTAVAIL") return `cannot listen on ${where}: no such local address`;
  return `cannot listen on ${where}: ${describeError(error)}`;
}

function announce(
  log: ConsolaInstance,
  o: ServeOptions,
  port: number,
  store: Store,
  tls: boolean,
  metricsPort?: number,
) {
  const { external, local } = reachableAt(o.host, port);
  log.success(`chat server ${VERSION} listening on port ${port}${tls ? " (TLS)" : ""}`);
  if (external.length) log.info(`clients can connect to: ${external.join(", ")}`);
  else
    log.info(
      `no network interfaces besides loopback; clients on this machine can connect to: ${local.join(", ") || `localhost:${port}`}`,
    );
  log.info(`data: ${store.description}${o.data === ":memory:" ? " — running WITHOUT persistence" : ""}`);
  if (metricsPort !== undefined)
    log.info(`metrics: http://${o.host.includes(":") ? `[${o.host}]` : o.host}:${metricsPort}/metrics`);
}

function serveMetrics(o: ServeOptions, core: ChatCore, store: Store) {
  core.metrics.queueDepth = () => queued;
  let queued = 0;
  try {
    return Bun.serve({
      hostname: o.host,
      port: o.metricsPort,
      async fetch(req) {
        const path = new URL(req.url).pathname;
        if (path === "/healthz") return new Response(`ok ${core.sessions.size} connections\n`);
        if (path === "/metrics") {
          queued = (await store.stats()).queued;
          return new Response(core.metrics.render(), {
            headers: { "content-type": "text/plain; version=0.0.4" },
          });
        }
        return new Response("not found: try /metrics or /healthz\n", { status: 404 });
      },
    });
  } catch (error) {
    throw new StartupError(
      describeListenError(o.host, o.metricsPort!, error).replace("--port", "--metrics-port"),
    );
  }
}
