// What `chat serve` runs with: the core's options and the server's own (listeners, storage,
// logs, limits). Its own module, so that what reads the options (SIGHUP's reload, the CLI)
// does not import the server that starts from them.

import type { Argon2Cost } from "./core/auth";
import type { CoreOptions } from "./core/options";
import type { LogFormat, LogLevel } from "./net/log";
import type { SyncMode } from "./store/sqlite";

export interface ServeOptions extends CoreOptions {
  host: string;
  port: number;
  /** Path of the SQLite data file, ":memory:" for no persistence, or a redis:// or rediss:// URL. */
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
  /** Address of the metrics listener (default 127.0.0.1: metrics are not for the world). */
  metricsHost?: string;
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
  /** Unix socket for `chat admin`; default <data>.sock, none for :memory: or Redis unless given. */
  controlSocket?: string;
  /** Port of the web client and the WebSocket endpoint (/ws); unset: no web port. */
  webPort?: number;
  /** Address of the web port; default: host. */
  webHost?: string;
  /** Origins besides the server's own whose pages may open a WebSocket. */
  webAllowedOrigins?: string[];
  /** Request-budget tokens per second, and at most banked, of one client address. */
  addressRequestRate: number;
  addressRequestBurst: number;
  /** The same for all addresses together; default DEFAULT_TOTAL_ADDRESSES addresses' worth. */
  totalRequestRate?: number;
  totalRequestBurst?: number;
  /** With Redis: this node's name among the nodes of the service (default hostname-pid-random). */
  nodeName?: string;
  /** With Redis: how long a node's claims last without renewal (ms). */
  presenceLeaseMs: number;
  /** With Redis: replicas that must confirm each accepted message (WAIT), 0 for none. */
  redisWaitReplicas?: number;
  /** With Redis: how long WAIT waits for them (ms). */
  redisWaitTimeoutMs?: number;
}
