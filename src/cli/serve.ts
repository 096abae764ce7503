// `chat serve`: its options, and their translation into ServeOptions.

import { NODE_NAME } from "../cluster/redis-node";
import { DEFAULT_LEASE_MS } from "../cluster/redis-presence";
import { DEFAULT_ARGON2 } from "../core/auth";
import { DEFAULT_OPTIONS as D } from "../core/options";
import { DEFAULT_ADDRESS_BURST, DEFAULT_ADDRESS_RATE, DEFAULT_TOTAL_ADDRESSES } from "../net/address-budget";
import { LOG_LEVELS, type LogLevel } from "../net/log";
import { parseAllowedOrigins } from "../net/websocket-origin";
import type { ServeOptions } from "../serve-options";
import { duration, integer, oneOf, port, UsageError } from "./parse";

export const serveArgs = {
  host: {
    type: "string",
    description: "Address to listen on; :: for IPv6 and IPv4 (default 0.0.0.0, every IPv4 interface)",
  },
  port: { type: "string", alias: "p", description: "TCP port (default 8080; 0 picks a free one)" },
  data: {
    type: "string",
    description:
      "SQLite data file, :memory: for no persistence, or redis://[user:password@]host:port[/db] (rediss:// for TLS; the password also from CHAT_REDIS_PASSWORD) (default ~/.local/share/chat/chat.db)",
  },
  sync: {
    type: "string",
    description:
      "When an accepted message is safe: normal = written to the OS, survives a crash or kill -9 of the server; full = also fsynced, survives power loss, slower (default normal)",
  },
  "reset-corrupt-data": {
    type: "boolean",
    description: "If the data file is corrupt, rename it to <file>.corrupt-<time> and start empty",
  },
  "allow-shared-data": {
    type: "boolean",
    description:
      "Use a data file, WAL or data directory that other users can read or write (warns; without it the server refuses to start)",
  },
  "max-data-mb": {
    type: "string",
    description:
      "Disk budget for the data file and its WAL: new messages and accounts are refused (STORAGE_FULL) a reserve below it, which logins and confirmations may still use; 0 = none (default: the data's size now plus 90% of the free disk space)",
  },
  "tls-cert": {
    type: "string",
    description: "PEM certificate file: serve TLS instead of plain TCP (needs --tls-key)",
  },
  "tls-key": { type: "string", description: "PEM private key file for --tls-cert" },
  "metrics-port": {
    type: "string",
    description: "Serve Prometheus metrics on http://<metrics-host>:<port>/metrics and /healthz",
  },
  "metrics-host": {
    type: "string",
    description:
      "Address the metrics listener binds; 0.0.0.0 or :: to scrape from elsewhere (default 127.0.0.1)",
  },
  "log-level": { type: "string", description: "silent, error, warn, info, debug or trace (default info)" },
  "log-format": { type: "string", description: "text or json (one JSON object per line) (default text)" },
  heartbeat: {
    type: "string",
    description: `Send a heartbeat after this long without sending (default ${D.heartbeatMs / 1000}s)`,
  },
  "heartbeat-misses": {
    type: "string",
    description: `Drop a client silent for this many heartbeat intervals (default ${D.heartbeatMisses})`,
  },
  "login-timeout": {
    type: "string",
    description: `Close connections not logged in within this time (default ${D.loginTimeoutMs / 1000}s)`,
  },
  "ack-timeout": {
    type: "string",
    description: `Drop a client that does not confirm a delivered message in time; the message stays queued (default ${D.ackTimeoutMs / 1000}s)`,
  },
  "session-ttl": {
    type: "string",
    description: "How long a session token can resume a session (default 24h)",
  },
  "max-frame-bytes": {
    type: "string",
    description: `Largest frame accepted, checked from its length prefix (default ${D.maxFrameBytes})`,
  },
  "max-connections": {
    type: "string",
    description:
      "Connections open at once, TLS handshakes included (default: the open-file limit, raised to its hard maximum at start, less a tenth kept free)",
  },
  "max-connections-per-address": {
    type: "string",
    description: "Connections open at once from one client address (default 256)",
  },
  "max-output-bytes": {
    type: "string",
    description: "Unsent bytes a slow client may have waiting before it is dropped (default 1048576)",
  },
  "max-queued": {
    type: "string",
    description: `Messages one account may have waiting; beyond it senders get MAILBOX_FULL (default ${D.maxQueuedPerAccount})`,
  },
  "max-queued-per-sender": {
    type: "string",
    description: `Messages one sender may have waiting for one recipient; beyond it the sender gets SENDER_QUOTA (default ${D.maxQueuedPerSender})`,
  },
  "delivery-window": {
    type: "string",
    description: `Messages handed to a client and not yet confirmed (default ${D.deliveryWindow})`,
  },
  "max-unanswered-sends": {
    type: "string",
    description: `SENDs a client may have unanswered, and client_msg_ids remembered per sender to recognise their resends (default ${D.maxUnansweredSends})`,
  },
  "max-receipts": {
    type: "string",
    description: `Delivery receipts kept per account until its client confirms them; older ones are dropped (default ${D.maxReceiptsPerAccount})`,
  },
  "request-rate": {
    type: "string",
    description: `Requests per second per connection before SLOW_DOWN (default ${D.requestRate})`,
  },
  "request-burst": {
    type: "string",
    description: `Requests allowed in a burst above the rate (default ${D.requestBurst})`,
  },
  "request-rate-per-address": {
    type: "string",
    description: `Request-budget tokens per second of one client address, all its connections together; past it its connections are not read from until it has paid (default ${DEFAULT_ADDRESS_RATE})`,
  },
  "request-burst-per-address": {
    type: "string",
    description: `Tokens one client address may spend in a burst above that rate (default ${DEFAULT_ADDRESS_BURST})`,
  },
  "request-rate-total": {
    type: "string",
    description: `Request-budget tokens per second of all client addresses together; past it an address goes on only within its fair part (the rate divided by the addresses sending) (default ${DEFAULT_TOTAL_ADDRESSES} times --request-rate-per-address)`,
  },
  "request-burst-total": {
    type: "string",
    description: `Tokens all addresses together may spend in a burst above that rate (default ${DEFAULT_TOTAL_ADDRESSES} times --request-burst-per-address)`,
  },
  "login-failures-per-account": {
    type: "string",
    description: `Failed logins per account per minute, from all addresses; past it only addresses without a recent failure may try (default ${D.loginFailuresPerAccount})`,
  },
  "login-failures-per-account-address": {
    type: "string",
    description: `Failed logins per account per client address per minute before RATE_LIMITED (default ${D.loginFailuresPerAccountAddress})`,
  },
  "login-failures-per-address": {
    type: "string",
    description: `Failed logins per client address per minute (default ${D.loginFailuresPerAddress})`,
  },
  "name-reuse-after": {
    type: "string",
    description: `How long a deleted account's name (and names that look like it) cannot be taken; 0 = at once (default ${D.nameReuseAfterMs / 86_400_000}d)`,
  },
  "accounts-per-address": {
    type: "string",
    description: `New accounts per client address per minute (default ${D.accountCreationsPerAddress})`,
  },
  "argon2-memory-kib": {
    type: "string",
    description: `argon2id memory per password hash in KiB (default ${DEFAULT_ARGON2.memoryKiB})`,
  },
  "argon2-time": {
    type: "string",
    description: `argon2id passes per password hash (default ${DEFAULT_ARGON2.timeCost})`,
  },
  "handshake-timeout": {
    type: "string",
    description: "Time a TLS client has from connecting to a finished handshake (default 5s)",
  },
  "max-buffered-mb": {
    type: "string",
    description:
      "Unsent output and half-received frames of all connections together; past it the largest are cut (default: an eighth of the memory, 64 to 2048)",
  },
  "shutdown-grace": {
    type: "string",
    description: "Time clients get to be told and closed on SIGINT/SIGTERM (default 3s)",
  },
  "control-socket": {
    type: "string",
    description:
      "Unix socket (mode 0600) for chat admin and chat backup (default <data>.sock; none for :memory: or Redis unless set)",
  },
  "web-port": {
    type: "string",
    description:
      "Serve the web client on http://<web-host>:<port>/ and the chat protocol over WebSocket at /ws; HTTPS/WSS with --tls-cert (default: off; 0 picks a free one)",
  },
  "web-host": { type: "string", description: "Address of the web port (default: --host)" },
  "web-allowed-origin": {
    type: "string",
    description:
      "Comma-separated origins (https://chat.example.org) whose pages may connect to /ws besides the server's own (default: none)",
  },
  "node-name": {
    type: "string",
    description:
      "This node's name among the nodes sharing one Redis (letters, digits, . _ - :) (default <hostname>-<pid>-<random>)",
  },
  "presence-lease": {
    type: "string",
    description:
      "With Redis: how long a node's sessions count as online after it stops renewing them (it died); renewed every third of it (default 3s)",
  },
  "redis-wait-replicas": {
    type: "string",
    description:
      "With Redis: answer a SEND accepted only once N replicas have it (WAIT), else STORAGE_FAILED (default 0: no WAIT)",
  },
  "redis-wait-timeout": {
    type: "string",
    description: "With --redis-wait-replicas: how long to wait for the replicas, at most 4s (default 1s)",
  },
} as const;

type Args = Record<string, string | boolean | undefined>;

export function serveOptions(a: Args, defaultData: string): ServeOptions {
  const s = (k: string) => (typeof a[k] === "string" ? (a[k] as string) : undefined);
  const maxDataMb = s("max-data-mb");
  return {
    ...D,
    host: s("host") ?? "0.0.0.0",
    port: port("--port", s("port"), 8080, 0),
    data: s("data") ?? defaultData,
    sync: oneOf("sync", s("sync"), ["full", "normal"] as const, "normal"),
    resetCorruptData: a["reset-corrupt-data"] === true,
    allowSharedData: a["allow-shared-data"] === true,
    ...(maxDataMb ? { maxDataBytes: integer("max-data-mb", maxDataMb, 0, 0) * 1024 * 1024 } : {}),
    ...(s("tls-cert") ? { tlsCert: s("tls-cert") } : {}),
    ...(s("tls-key") ? { tlsKey: s("tls-key") } : {}),
    ...(s("metrics-port") !== undefined
      ? { metricsPort: port("--metrics-port", s("metrics-port"), 0, 0) }
      : {}),
    ...(s("metrics-host") ? { metricsHost: s("metrics-host") } : {}),
    logLevel: oneOf("log-level", s("log-level"), Object.keys(LOG_LEVELS) as LogLevel[], "info"),
    logFormat: oneOf("log-format", s("log-format"), ["text", "json"] as const, "text"),
    heartbeatMs: duration("heartbeat", s("heartbeat"), D.heartbeatMs),
    heartbeatMisses: integer("heartbeat-misses", s("heartbeat-misses"), D.heartbeatMisses, 1, 100),
    loginTimeoutMs: duration("login-timeout", s("login-timeout"), D.loginTimeoutMs),
    ackTimeoutMs: duration("ack-timeout", s("ack-timeout"), D.ackTimeoutMs),
    sessionTtlMs: duration("session-ttl", s("session-ttl"), D.sessionTtlMs),
    maxFrameBytes: integer("max-frame-bytes", s("max-frame-bytes"), D.maxFrameBytes, 1024, 16 * 1024 * 1024),
    ...(s("max-connections")
      ? { maxConnections: integer("max-connections", s("max-connections"), 0, 1) }
      : {}),
    maxConnectionsPerAddress: integer(
      "max-connections-per-address",
      s("max-connections-per-address"),
      256,
      1,
    ),
    maxOutboundBytes: integer("max-output-bytes", s("max-output-bytes"), 1024 * 1024, 64 * 1024),
    maxQueuedPerAccount: integer("max-queued", s("max-queued"), D.maxQueuedPerAccount, 1),
    maxQueuedPerSender: integer("max-queued-per-sender", s("max-queued-per-sender"), D.maxQueuedPerSender, 1),
    deliveryWindow: integer("delivery-window", s("delivery-window"), D.deliveryWindow, 1, 100_000),
    maxUnansweredSends: integer(
      "max-unanswered-sends",
      s("max-unanswered-sends"),
      D.maxUnansweredSends,
      1,
      10_000,
    ),
    maxReceiptsPerAccount: integer("max-receipts", s("max-receipts"), D.maxReceiptsPerAccount, 1, 100_000),
    requestRate: integer("request-rate", s("request-rate"), D.requestRate, 1),
    requestBurst: integer("request-burst", s("request-burst"), D.requestBurst, 1),
    addressRequestRate: integer(
      "request-rate-per-address",
      s("request-rate-per-address"),
      DEFAULT_ADDRESS_RATE,
      1,
    ),
    addressRequestBurst: integer(
      "request-burst-per-address",
      s("request-burst-per-address"),
      DEFAULT_ADDRESS_BURST,
      1,
    ),
    ...(s("request-rate-total")
      ? { totalRequestRate: integer("request-rate-total", s("request-rate-total"), 0, 1) }
      : {}),
    ...(s("request-burst-total")
      ? { totalRequestBurst: integer("request-burst-total", s("request-burst-total"), 0, 1) }
      : {}),
    loginFailuresPerAccount: integer(
      "login-failures-per-account",
      s("login-failures-per-account"),
      D.loginFailuresPerAccount,
      1,
    ),
    loginFailuresPerAddress: integer(
      "login-failures-per-address",
      s("login-failures-per-address"),
      D.loginFailuresPerAddress,
      1,
    ),
    loginFailuresPerAccountAddress: integer(
      "login-failures-per-account-address",
      s("login-failures-per-account-address"),
      D.loginFailuresPerAccountAddress,
      1,
    ),
    nameReuseAfterMs: days("name-reuse-after", s("name-reuse-after"), D.nameReuseAfterMs),
    accountCreationsPerAddress: integer(
      "accounts-per-address",
      s("accounts-per-address"),
      D.accountCreationsPerAddress,
      1,
    ),
    argon2: {
      memoryKiB: integer(
        "argon2-memory-kib",
        s("argon2-memory-kib"),
        DEFAULT_ARGON2.memoryKiB,
        64,
        4 * 1024 * 1024,
      ),
      timeCost: integer("argon2-time", s("argon2-time"), DEFAULT_ARGON2.timeCost, 1, 100),
    },
    shutdownGraceMs: duration("shutdown-grace", s("shutdown-grace"), 3000),
    handshakeTimeoutMs: duration("handshake-timeout", s("handshake-timeout"), 5000),
    ...(s("max-buffered-mb")
      ? { maxBufferedBytes: integer("max-buffered-mb", s("max-buffered-mb"), 0, 1) * 1024 * 1024 }
      : {}),
    ...(s("control-socket") ? { controlSocket: s("control-socket") } : {}),
    ...(s("web-port") !== undefined ? { webPort: port("--web-port", s("web-port"), 0, 0) } : {}),
    ...(s("web-host") ? { webHost: s("web-host") } : {}),
    webAllowedOrigins: webOrigins(s("web-allowed-origin")),
    ...(s("node-name") !== undefined ? { nodeName: nodeName(s("node-name")!) } : {}),
    presenceLeaseMs: lease(s("presence-lease")),
    redisWaitReplicas: integer("redis-wait-replicas", s("redis-wait-replicas"), 0, 0, 100),
    redisWaitTimeoutMs: waitTimeout(s("redis-wait-timeout")),
  };
}

/** Redis holds a connection's later commands behind a WAIT: it must end well before the 5 s command timeout. */
function waitTimeout(value: string | undefined): number {
  const ms = duration("redis-wait-timeout", value, 1000);
  if (ms > 4000)
    throw new UsageError(
      `--redis-wait-timeout must be at most 4s; got ${JSON.stringify(value)}`,
      "redis-wait-timeout",
    );
  return ms;
}

/** Renewed every third of it, on the server's tick: below 300 ms a busy node could miss one. */
function lease(value: string | undefined): number {
  const ms = duration("presence-lease", value, DEFAULT_LEASE_MS);
  if (ms < 300)
    throw new UsageError(
      `--presence-lease must be at least 300ms; got ${JSON.stringify(value)}`,
      "presence-lease",
    );
  return ms;
}

function nodeName(name: string): string {
  if (!NODE_NAME.test(name))
    throw new UsageError(
      `--node-name wants 1 to 100 letters, digits, dots, dashes, underscores or colons; got ${JSON.stringify(name.slice(0, 120))}`,
      "node-name",
    );
  return name;
}

function webOrigins(list: string | undefined): string[] {
  try {
    return parseAllowedOrigins(list);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** A duration that may also be given in days ("30d") or be 0 (off). */
function days(flag: string, value: string | undefined, fallbackMs: number): number {
  const v = value?.trim();
  if (v === "0") return 0;
  const d = v ? /^(\d+(?:\.\d+)?)\s*d$/.exec(v) : null;
  if (d) return Math.round(Number(d[1]) * 86_400_000);
  if (v && !/^\d+(?:\.\d+)?\s*(?:ms|s|m|h)?$/.test(v)) {
    throw new UsageError(
      `--${flag} wants a duration such as 30d, 12h or 90m, or 0; got ${JSON.stringify(value)}`,
    );
  }
  return duration(flag, value, fallbackMs);
}
