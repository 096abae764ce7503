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
  /** Messages one sender can have waiting for one recipient, so no one sender fills a mailbox: SENDER_QUOTA. */
  maxQueuedPerSender: number;
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
  /**
   * Failed logins per minute. Per (account, address) and per address, a spent budget answers
   * RATE_LIMITED. Per account (from all addresses), a spent budget refuses only addresses that
   * failed for that account within the last RECENT_FAILURE_MS: guessing from many addresses
   * slows down, the owner on an address without failures still gets in.
   */
  loginFailuresPerAccount: number;
  loginFailuresPerAddress: number;
  loginFailuresPerAccountAddress: number;
  /** New accounts per address per minute (each costs a password hash and a name). */
  accountCreationsPerAddress: number;
  /** Session tokens (for RESUME) expire after this long. */
  sessionTtlMs: number;
  /** A deleted account's name (and names that look like it) cannot be taken for this long; 0 = at once. */
  nameReuseAfterMs: number;
  /** Password hashes running or waiting at once; past it, create/login answer BUSY. */
  maxHashQueue: number;
  /** Accounts one LIST_ACCOUNTS examines at most; past it the page is partial, with a cursor. */
  listRowsPerRequest: number;
  /**
   * Request-budget tokens one LIST_ACCOUNTS costs (the frame's own token included): it may
   * examine listRowsPerRequest accounts, where most requests touch one row.
   */
  listRequestTokens: number;
  /**
   * SENDs one session may have unanswered (announced; a SEND with a client_msg_id past it
   * is refused); also how many of each sender's latest client_msg_ids the store
   * remembers, so any resend of an unanswered SEND is recognised.
   */
  maxUnansweredSends: number;
  /** Delivery receipts kept per account until its client confirms them (announced in HELLO). */
  maxReceiptsPerAccount: number;
}

export const DEFAULT_OPTIONS: CoreOptions = {
  maxFrameBytes: 64 * 1024,
  ackTimeoutMs: 10_000,
  deliveryWindow: 256,
  defaultPageSize: 50,
  maxPageSize: 1000,
  maxQueuedPerAccount: 10_000,
  maxQueuedPerSender: 1000,
  loginTimeoutMs: 10_000,
  heartbeatMs: 15_000,
  heartbeatMisses: 3,
  requestRate: 20_000,
  requestBurst: 20_000,
  maxSlowDowns: 100,
  maxBacklog: 256,
  loginFailuresPerAccount: 20,
  loginFailuresPerAddress: 20,
  loginFailuresPerAccountAddress: 5,
  accountCreationsPerAddress: 30,
  sessionTtlMs: 24 * 60 * 60 * 1000,
  nameReuseAfterMs: 30 * 24 * 60 * 60 * 1000,
  maxHashQueue: 256,
  listRowsPerRequest: 1000,
  listRequestTokens: 100,
  maxUnansweredSends: 128,
  maxReceiptsPerAccount: 1000,
};
