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

export interface StoreLimits {
  /** Messages a recipient can have waiting; enqueue past it answers mailbox_full. */
  maxQueuedPerAccount: number;
  /**
   * How many of each sender's latest client_msg_ids are remembered for deduplication
   * (the server's max_unanswered_sends): a resend is recognised while fewer than this
   * many newer messages with ids were stored from the same sender.
   */
  dedupPerSender: number;
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
   * Stores a message in the recipient's queue, or, when clientMsgId matches one of the
   * sender's last dedupPerSender messages stored with an id, stores nothing and answers duplicate: true with
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

  /** Drops expired session tokens. */
  sweep(now: number): Promise<void>;
  /** Totals for metrics. */
  stats(): Promise<{ accounts: number; queued: number }>;

  /** Resolves once every earlier call is durable. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

/** A write that could not be made durable: the caller must not report success. */
export class StorageError extends Error {
  override name = "StorageError";
}
