// Every limit and timing of the server, with its default and the reason for it.
// `chat serve` exposes the ones an operator tunes as flags (src/cli/serve.ts).

export interface CoreOptions {
  /** Largest frame accepted; checked from the length prefix before buffering. Pages are sized to stay below it. */
  maxFrameBytes: number;
  /** A pushed message not confirmed within this time drops the connection; it stays queued. */
  ackTimeoutMs: number;
  /** Messages handed to one session and not yet confirmed; bounds memory per slow reader. */
  deliveryWindow: number;
  /** CHECK_MESSAGES and LIST_ACCOUNTS page sizes; a page is also cut to fit maxFrameBytes. */
  defaultPageSize: number;
  maxPageSize: number;
  /** Messages one account can have waiting; more are refused with MAILBOX_FULL. */
  maxQueuedPerAccount: number;
  /** Connections that have not logged in within this time are closed (slowloris). */
  loginTimeoutMs: number;
  /** Quiet interval after which a heartbeat is sent; the peer is dead after heartbeatMs × heartbeatMisses. */
  heartbeatMs: number;
  heartbeatMisses: number;
  /** Sustained requests per second per connection, and the burst allowed above it. */
  requestRate: number;
  requestBurst: number;
  /** SLOW_DOWN answers in a row before a connection is dropped as abusive. */
  maxSlowDowns: number;
  /** Frames kept decoded while one of a connection's requests runs; later ones wait as bytes. */
  maxBacklog: number;
  /** Failed logins allowed per account and per address before RATE_LIMITED, refilled per minute. */
  loginFailuresPerAccount: number;
  loginFailuresPerAddress: number;
  /** New accounts per address per minute (each costs a password hash and a name). */
  accountCreationsPerAddress: number;
  /** Session tokens (for RESUME) expire after this long. */
  sessionTtlMs: number;
  /** Password hashes running or waiting at once; past it, create/login answer BUSY. */
  maxHashQueue: number;
}

export const DEFAULT_OPTIONS: CoreOptions = {
  maxFrameBytes: 64 * 1024,
  ackTimeoutMs: 10_000,
  deliveryWindow: 256,
  defaultPageSize: 50,
  maxPageSize: 1000,
  maxQueuedPerAccount: 10_000,
  loginTimeoutMs: 10_000,
  heartbeatMs: 15_000,
  heartbeatMisses: 3,
  requestRate: 20_000,
  requestBurst: 20_000,
  maxSlowDowns: 100,
  maxBacklog: 256,
  loginFailuresPerAccount: 5,
  loginFailuresPerAddress: 20,
  accountCreationsPerAddress: 30,
  sessionTtlMs: 24 * 60 * 60 * 1000,
  maxHashQueue: 256,
};
