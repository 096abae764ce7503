// `chat serve`: opens the store, starts the core behind a TCP (or TLS) listener, serves
// metrics, and shuts down gracefully. Everything here is wiring; the logic is in core/.

import { existsSync, mkdirSync, readFileSync, statfsSync, statSync } from "node:fs";
import { homedir, totalmem } from "node:os";
import { dirname, join, resolve } from "node:path";
import type { ConsolaInstance } from "consola";
import { BanList } from "./admin/banlist";
import { type ControlSocket, ControlSocketError } from "./admin/control-server";
import { openControlSocket } from "./admin/serve-control";
import { defaultNodeName, joinRedisService, type RedisNode } from "./cluster/redis-node";
import { argon2Hasher, type PasswordHasher } from "./core/auth";
import { ChatCore, describeError, formatDuration } from "./core/chat";
import type { EventSink, ServerEvent } from "./core/events";
import { Metrics } from "./core/metrics";
import { sampleProcess } from "./core/process-sample";
import { newAddressBudget } from "./net/address-budget";
import { reachableAt } from "./net/addresses";
import { Admission, OncePerInterval } from "./net/admission";
import { capWarning, defaultMaxConnections, refusalSlots } from "./net/capacity";
import { LIMIT_LOG_INTERVAL_MS, type Listener, listen } from "./net/listener";
import { createLogger, eventLogger } from "./net/log";
import { defaultMaxBufferedBytes, MemoryBudget } from "./net/memory";
import { raiseFileLimit } from "./net/rlimit";
import { serveWeb, type WebServer } from "./net/websocket-server";
import { type Reloaded, reloader } from "./reload";
import { nameIdentity, prepareNameTables } from "./rules/names";
import type { ServeOptions } from "./serve-options";
import { MemoryStore } from "./store/memory";
import { RedisStore } from "./store/redis";
import { RedisOpenError } from "./store/redis-conn";
import { isRedisData, parseRedisTarget } from "./store/redis-url";
import { defaultBudget, formatBytes } from "./store/space";
import { SqliteStore, StoreOpenError, sharedAccess } from "./store/sqlite";
import type { Store, StoreLimits } from "./store/store";
import { VERSION } from "./version";
import { webPage } from "./web/assets";

export type { ServeOptions } from "./serve-options";

/** A problem the operator must fix (port taken, bad data file, missing certificate). */
export class StartupError extends Error {
  override name = "StartupError";
}

export interface RunningServer {
  readonly port: number;
  readonly metricsPort: number | undefined;
  /** The web port, when --web-port is given. */
  readonly webPort: number | undefined;
  readonly core: ChatCore;
  readonly store: Store;
  /** Path of the control socket, if there is one. */
  readonly controlSocket: string | undefined;
  /** Graceful stop: tell clients, commit, close. Resolves when done. */
  stop(): Promise<void>;
  /**
   * Applies the reloadable settings of next (SIGHUP), re-reading the TLS certificate;
   * answers what changed and which of the changed options (flag names) only a restart applies. Throws, changing nothing, when
   * the new certificate cannot be read or used.
   */
  reload(next: ServeOptions, changed: readonly string[]): Reloaded;
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
  const store = await openStore(o, log);
  prepareNameTables();
  // Accounts made before names had skeletons get theirs (and today's key) once.
  await store
    .backfillIdentity(nameIdentity)
    .catch((error) => log.warn(`could not give older accounts their name skeletons: ${error}`));
  const passwords = extra.passwords ?? argon2Hasher(o.argon2);
  const metrics = new Metrics();
  metrics.version = VERSION;
  metrics.process = sampleProcess;
  const chatLog = log.withTag("chat");
  const adminLog = log.withTag("admin");
  // On Redis the node shares presence, signals and budgets with every node of the service.
  const cluster = store instanceof RedisStore ? await joinCluster(store, o, chatLog) : null;
  let web: WebServer | undefined;
  const logEvents = webTagged(eventLogger(chatLog, o.logFormat), () => web);
  const core = new ChatCore({
    store,
    options: o,
    metrics,
    passwords,
    serverVersion: VERSION,
    ...(cluster
      ? {
          node: cluster.node,
          presence: cluster.presence,
          signals: cluster.signals,
          throttles: cluster.throttles,
        }
      : {}),
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
  const bans = new BanList();
  bans.set(await store.listBans(Date.now()));
  const refuse = (address: string) =>
    bans.size && bans.covering(address, Date.now()) ? "your address is banned from this server" : undefined;
  // One admission, one memory budget and one request budget for TCP and WebSocket
  // connections together.
  const admission = new Admission(maxConnections, o.maxConnectionsPerAddress);
  const memory = new MemoryBudget(maxBufferedBytes);
  const budget = newAddressBudget(o, (a) => admission.from(a));
  const totalSpent = new OncePerInterval(LIMIT_LOG_INTERVAL_MS);
  budget.onTotalSpent = () => {
    if (totalSpent.note(Date.now()))
      core.events({
        type: "limit",
        conn: 0,
        address: "-",
        limit: "request_budget_total",
        detail:
          "all addresses together have spent the total request budget: each is read from within its fair part until it is paid (--request-rate-total raises it, if this is the load you expect)",
      });
  };
  let listener: Listener;
  try {
    listener = listen(core, {
      ...o,
      maxConnections,
      maxBufferedBytes,
      refusalSlots: refusalSlots(fileLimit),
      ...(tls ? { tls } : {}),
      refuse,
      admission,
      memory,
      budget,
    });
  } catch (error) {
    await store.close();
    throw new StartupError(describeListenError(o.host, o.port, error));
  }
  if (o.webPort !== undefined) {
    const webRefusals = new OncePerInterval(LIMIT_LOG_INTERVAL_MS);
    try {
      web = serveWeb(
        core,
        {
          host: o.webHost ?? o.host,
          port: o.webPort,
          allowedOrigins: o.webAllowedOrigins ?? [],
          maxFrameBytes: o.maxFrameBytes,
          maxOutboundBytes: o.maxOutboundBytes,
          ...(tls ? { tls } : {}),
        },
        {
          admission,
          memory,
          budget,
          refuse,
          refused: (address, r) => {
            if (webRefusals.note(Date.now()))
              core.events({ type: "limit", conn: 0, address, limit: "connections", detail: r.detail });
          },
        },
        webPage,
      );
    } catch (error) {
      listener.stop();
      await store.close();
      throw new StartupError(
        describeListenError(o.webHost ?? o.host, o.webPort, error).replace("--port", "--web-port"),
      );
    }
  }

  let control: ControlSocket | undefined;
  try {
    control = openControlSocket({ o, store, core, passwords, bans, version: VERSION, log: adminLog });
  } catch (error) {
    listener.stop();
    await store.close();
    if (error instanceof ControlSocketError) throw new StartupError(error.message);
    throw error;
  }

  let metricsServer: ReturnType<typeof serveMetrics> | undefined;
  try {
    metricsServer = o.metricsPort === undefined ? undefined : serveMetrics(o, core, store, () => web);
  } catch (error) {
    listener.stop();
    control?.stop();
    web?.close();
    await store.close();
    throw error;
  }
  // Presence leases are renewed from the tick every lease/3: ticking at lease/6 keeps half a lease to spare.
  const tickEvery = Math.max(
    50,
    Math.min(1000, o.heartbeatMs / 4, o.loginTimeoutMs / 4, o.ackTimeoutMs / 4, core.presence.leaseMs / 6),
  );
  const ticker = setInterval(() => core.tick(), tickEvery);
  const sweeper = setInterval(
    () => core.background(store.sweep(Date.now()), "sweeping expired records"),
    60_000,
  );
  const tidy = idleCollector(core);

  announce(log, o, listener.port, store, !!tls, metricsServer?.port);
  if (web) announceWeb(log, o.webHost ?? o.host, web);
  log.info(
    `limits: ${maxConnections} connections${fileLimit ? ` (open-file limit ${fileLimit.soft})` : ""}, ${o.maxConnectionsPerAddress} per address, ${Math.round(maxBufferedBytes / 1024 / 1024)} MiB buffered output and input`,
  );
  if (control) log.info(`control socket: ${control.path} (chat admin)`);

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      listener.stop();
      web?.stop();
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
      control?.stop();
      web?.close();
      await cluster?.close();
      await store.close();
    })();
    return stopping;
  };

  const reload = reloader({ o, listener, tls, readTls, loggers: [log, chatLog, adminLog] });

  return {
    port: listener.port,
    metricsPort: metricsServer?.port,
    webPort: web?.port,
    core,
    store,
    controlSocket: control?.path,
    stop,
    reload,
  };
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

function openStore(o: ServeOptions, log: ConsolaInstance): Store | Promise<Store> {
  const limits = {
    maxQueuedPerAccount: o.maxQueuedPerAccount,
    maxQueuedPerSender: o.maxQueuedPerSender,
    dedupPerSender: o.maxUnansweredSends,
  };
  if (o.data === ":memory:") return new MemoryStore(limits);
  if (isRedisData(o.data)) return openRedisStore(o.data, limits, o);
  // The data file holds password hashes and messages: what this server creates (the file,
  // its WAL, a missing directory) is readable by its own user only.
  process.umask(0o077);
  try {
    mkdirSync(dirname(o.data), { recursive: true });
  } catch {
    // SqliteStore.open explains a missing or unwritable directory.
  }
  // A new data file in a directory that would be refused below: refused before the open
  // makes the file, so that nothing is left behind.
  if (!o.allowSharedData && !existsSync(o.data)) {
    let shared: string | undefined;
    try {
      shared = sharedAccess(o.data);
    } catch {
      // A path that cannot be looked at (a file where a directory should be): the open says why.
    }
    if (shared) throw new StartupError(`refusing to start: ${shared}.`);
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
    const redo = store.recovered;
    if (redo.kind === "replayed" && redo.frames > 0)
      log.info(`the last run did not stop cleanly: applied ${redo.frames} batches from its redo log`);
    if (redo.kind === "stale")
      log.warn(`a redo log of another data file was beside this one: moved it to ${redo.aside}, not applied`);
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

/** Takes this node's presence lease and subscribes to its signals; failing that, a StartupError. */
async function joinCluster(store: RedisStore, o: ServeOptions, log: ConsolaInstance): Promise<RedisNode> {
  const node = o.nodeName ?? defaultNodeName();
  try {
    const joined = await joinRedisService(store, o, node, o.presenceLeaseMs, (detail) =>
      log.warn(`signals between nodes: ${detail}`),
    );
    log.info(`node: ${node} (presence lease ${formatDuration(o.presenceLeaseMs)})`);
    return joined;
  } catch (error) {
    await store.close();
    throw new StartupError(`cannot join the nodes on ${store.description}: ${describeError(error)}`);
  }
}

/** The Redis store at a redis:// or rediss:// URL; an unusable URL or server is a StartupError. */
async function openRedisStore(data: string, limits: StoreLimits, o: ServeOptions): Promise<Store> {
  const check = parseRedisTarget(data, process.env.CHAT_REDIS_PASSWORD);
  if (!check.ok) throw new StartupError(`--data: ${check.reason}`);
  try {
    return await RedisStore.open(check.target, limits, {
      waitReplicas: o.redisWaitReplicas ?? 0,
      waitTimeoutMs: o.redisWaitTimeoutMs ?? 1000,
    });
  } catch (error) {
    if (error instanceof RedisOpenError) throw new StartupError(error.message);
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
  if (metricsPort !== undefined) log.info(`metrics: http://${hostPort(metricsHost(o), metricsPort)}/metrics`);
}

function serveMetrics(o: ServeOptions, core: ChatCore, store: Store, web: () => WebServer | undefined) {
  core.metrics.queueDepth = () => queued;
  let queued = 0;
  try {
    return Bun.serve({
      hostname: metricsHost(o),
      port: o.metricsPort,
      async fetch(req) {
        const path = new URL(req.url).pathname;
        if (path === "/healthz") return new Response(`ok ${core.sessions.size} connections\n`);
        if (path === "/metrics") {
          queued = (await store.stats()).queued;
          return new Response(core.metrics.render() + transportMetrics(core, web()), {
            headers: { "content-type": "text/plain; version=0.0.4" },
          });
        }
        return new Response("not found: try /metrics or /healthz\n", { status: 404 });
      },
    });
  } catch (error) {
    throw new StartupError(
      describeListenError(metricsHost(o), o.metricsPort!, error).replace("--port", "--metrics-port"),
    );
  }
}

function metricsHost(o: ServeOptions): string {
  return o.metricsHost ?? "127.0.0.1";
}

function hostPort(host: string, port: number): string {
  return `${host.includes(":") ? `[${host}]` : host}:${port}`;
}

/** Connections by transport (chat_connections counts both). */
function transportMetrics(core: ChatCore, web: WebServer | undefined): string {
  const ws = web?.connections ?? 0;
  const wsOpened = web?.opened ?? 0;
  return [
    "# HELP chat_transport_connections Open client connections by transport.",
    "# TYPE chat_transport_connections gauge",
    `chat_transport_connections{transport="tcp"} ${core.metrics.connections - ws}`,
    `chat_transport_connections{transport="websocket"} ${ws}`,
    "# HELP chat_transport_connections_opened_total Client connections accepted, by transport.",
    "# TYPE chat_transport_connections_opened_total counter",
    `chat_transport_connections_opened_total{transport="tcp"} ${core.metrics.connectionsOpened - wsOpened}`,
    `chat_transport_connections_opened_total{transport="websocket"} ${wsOpened}`,
    "",
  ].join("\n");
}

/** Events of WebSocket connections carry transport: "websocket" (the log shows it). */
function webTagged(sink: EventSink, web: () => WebServer | undefined): EventSink {
  return (e) => {
    const w = web();
    if (w && "conn" in e && e.conn !== 0 && w.isWeb(e.conn))
      sink({ ...e, ...{ transport: "websocket" } } as ServerEvent);
    else sink(e);
  };
}

function announceWeb(log: ConsolaInstance, host: string, web: WebServer) {
  const { external, local } = reachableAt(host, web.port);
  const scheme = web.secure ? "https" : "http";
  const where = external.length ? external : local.length ? local : [`localhost:${web.port}`];
  log.success(
    `web client on port ${web.port}${web.secure ? " (HTTPS)" : ""}: ${where.map((a) => `${scheme}://${a}/`).join(", ")}`,
  );
}
