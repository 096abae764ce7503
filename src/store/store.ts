// The storage contract. The server's logic sees only this interface, so a networked
// backend (Redis, NATS JetStream) can replace the embedded one without touching it.
//
// Every method is atomic on its own. A returned promise resolves only once the change
// is durable as far as the backend promises (SQLite: committed), so the server may
// answer a client as soon as it resolves. Backends are free to group many calls into
// one commit, and must apply calls in the order they were made.

export interface Account {
  /** Internal id; a name deleted and taken again gets a new id. */
  readonly id: number;
  /** As spelled at creation (NFC). */
  readonly name: string;
  /** Case-folded name: the unique key. */
  readonly key: string;
  readonly createdAt: number;
}

export interface StoredMessage {
  /** Server-assigned, increasing in acceptance order, never reused. */
  readonly id: number;
  readonly recipientId: number;
  readonly senderName: string;
  readonly text: string;
  /** Milliseconds since the epoch, when accepted. */
  readonly sentAt: number;
}

export interface NewMessage {
  senderId: number;
  senderName: string;
  recipientKey: string;
  text: string;
  sentAt: number;
  /** Client-chosen id for deduplication of resends; 0 = none. */
  clientMsgId: number;
}

export type EnqueueResult =
  | { ok: true; message: StoredMessage; recipient: Account; duplicate: boolean }
  | { ok: false; error: "no_such_account" | "mailbox_full" };

export interface SessionToken {
  readonly hash: string;
  readonly accountId: number;
  readonly expiresAt: number;
}

/** A refused client address range (`chat admin ban`). */
export interface Ban {
  /** Canonical CIDR, e.g. "203.0.113.0/24" or "2001:db8::/32". */
  readonly prefix: string;
  /** Milliseconds since the epoch when it lapses; null = until unbanned. */
  readonly until: number | null;
  readonly createdAt: number;
}

export interface StoreLimits {
  /** Messages a recipient can have waiting; enqueue past it answers mailbox_full. */
  maxQueuedPerAccount: number;
  /** How long (ms) a client_msg_id is remembered for deduplication. */
  dedupWindowMs: number;
}

export interface Store {
  /** Human description, e.g. "sqlite /var/lib/chat/chat.db" or "memory (not persistent)". */
  readonly description: string;

  /** Resolves null when the key is taken. */
  createAccount(a: {
    name: string;
    key: string;
    passwordHash: string;
    createdAt: number;
  }): Promise<Account | null>;
  findAccount(key: string): Promise<Account | null>;
  findAccountById(id: number): Promise<Account | null>;
  /**
   * The account's password hash. Kept out of Account so that the many accounts held in
   * memory (online sessions, caches) do not carry their hashes around.
   */
  passwordHash(id: number): Promise<string | null>;
  /** Deletes the account with its waiting messages and session tokens. */
  deleteAccount(id: number): Promise<void>;
  /** Accounts with key > afterKey, in key order, that pass match; at most limit. */
  listAccounts(afterKey: string, limit: number, match: (key: string) => boolean): Promise<Account[]>;

  /**
   * Stores a message in the recipient's queue, or, when clientMsgId matches a message of
   * the sender within the dedup window, stores nothing and answers duplicate: true with
   * that message's id and sentAt (its other fields may be the resend's).
   */
  enqueue(m: NewMessage): Promise<EnqueueResult>;
  /** Waiting messages of a recipient with id > afterId, oldest first; at most limit. */
  pending(recipientId: number, afterId: number, limit: number): Promise<StoredMessage[]>;
  countPending(recipientId: number): Promise<number>;
  /** Removes confirmed messages from a recipient's queue; unknown ids are ignored. */
  ack(recipientId: number, ids: readonly number[]): Promise<void>;

  saveToken(t: SessionToken): Promise<void>;
  /** Resolves null for an unknown or expired token. */
  findToken(hash: string, now: number): Promise<SessionToken | null>;
  deleteToken(hash: string): Promise<void>;

  /** Drops expired session tokens and deduplication records. */
  sweep(now: number): Promise<void>;
  /** Totals for metrics. */
  stats(): Promise<{ accounts: number; queued: number }>;

  /** Remembers when the account last logged in (or resumed). */
  recordLogin(id: number, at: number): Promise<void>;
  /** When the account last logged in; null if never (or before this was recorded). */
  lastLogin(id: number): Promise<number | null>;
  /** Replaces the account's password hash and revokes its session tokens. */
  resetPassword(id: number, passwordHash: string): Promise<void>;
  /** Adds a ban, or replaces the one with the same prefix. */
  saveBan(b: Ban): Promise<void>;
  /** Resolves false when there was no ban with that prefix. */
  deleteBan(prefix: string): Promise<boolean>;
  /** Bans not lapsed at now, in prefix order; lapsed ones are dropped. */
  listBans(now: number): Promise<Ban[]>;

  /** Resolves once every earlier call is durable. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

/** A write that could not be made durable: the caller must not report success. */
export class StorageError extends Error {
  override name = "StorageError";
}
