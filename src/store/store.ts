// The storage contract. The server's logic sees only this interface, so a networked
// backend (Redis, NATS JetStream) can replace the embedded one without touching it.
//
import type { Glob } from "../rules/glob";

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
  | { ok: false; error: "no_such_account" | "mailbox_full" | "sender_quota" | "storage_full" };

/** A delivery receipt kept for the account that sent the message, until it confirms it. */
export interface Receipt {
  /** The confirmed message's id: one receipt per message, so also the receipt's id. */
  readonly messageId: number;
  /** Who sent the message and gets the receipt. */
  readonly senderId: number;
  /** The recipient's name as spelled at creation. */
  readonly recipientName: string;
  /** When the recipient confirmed the message (ms since the epoch). */
  readonly confirmedAt: number;
  /** The client_msg_id the message was sent with; 0 for none. */
  readonly clientMsgId: number;
}

/** What ackWithReceipts needs besides the ids. */
export interface ReceiptRequest {
  recipientName: string;
  confirmedAt: number;
  /** Receipts kept per sender at most: past it, those of its oldest messages (lowest ids) go. */
  maxPerAccount: number;
}

export interface AckResult {
  /** The receipts stored, one per removed message whose sender account still exists. */
  receipts: Receipt[];
  /** Older receipts dropped to keep their senders within maxPerAccount. */
  dropped: number;
}

export interface SessionToken {
  readonly hash: string;
  readonly accountId: number;
  readonly expiresAt: number;
}

export interface NameReservation {
  /** The deleted account's name, as spelled. */
  readonly name: string;
  /** Until when (ms since the epoch) the name cannot be taken. */
  readonly until: number;
}

/** One LIST_ACCOUNTS page to find. */
export interface AccountQuery {
  /** Only keys sorting after this one (a cursor; it need not be a key). */
  afterKey: string;
  /** Which keys match; its prefix bounds the keys a backend needs to look at. */
  pattern: Glob;
  /** Matching accounts wanted at most. */
  limit: number;
  /** Keys to examine at most, matching or not (at least 1): bounds the work of one call. */
  maxExamined: number;
}

export interface AccountPage {
  /** Matching accounts after afterKey, in key order; at most limit. */
  accounts: Account[];
  /**
   * Set when maxExamined keys were examined and fewer than limit matched: the last key
   * examined. Matches may follow it; ask again with it as afterKey.
   */
  examinedTo: string | null;
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
  /** Messages one sender can have waiting for one recipient; past it enqueue answers sender_quota. */
  maxQueuedPerSender: number;
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

  /**
   * Resolves null when the key is taken, when an account has the same skeleton (what the
   * name looks like; defaults to the key), or when a deleted account's name reserved past
   * createdAt has the same key or skeleton.
   */
  createAccount(a: {
    name: string;
    key: string;
    skeleton?: string;
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
  /**
   * Deletes the account with its waiting messages, receipts and session tokens. With reserveNameUntil,
   * its key and skeleton stay reserved until then: createAccount refuses them.
   */
  deleteAccount(id: number, reserveNameUntil?: number): Promise<void>;
  /**
   * Accounts with key > afterKey whose key matches the pattern, in key order, examining
   * keys in order and at most maxExamined of them (those outside the pattern's prefix
   * need not count).
   */
  listAccounts(q: AccountQuery): Promise<AccountPage>;

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
  /**
   * As ack(), and stores a receipt for the sender of each message removed, if that sender's
   * account still exists (an account of the same name made later is another account). The
   * receipt and the removal are one atomic step where the backend can make them one
   * (memory, SQLite); Redis removes the messages and puts their receipts in an outbox in the
   * recipient's slot in one script, then moves them to the senders' slots: a node that dies
   * in between leaves them in the outbox for the recipient's next confirmation (late, never
   * lost). Like every call, it applies in call order: a later read no longer sees the messages.
   */
  ackWithReceipts(recipientId: number, ids: readonly number[], r: ReceiptRequest): Promise<AckResult>;
  /** Receipts waiting for the account (as sender), lowest message id first; at most limit. */
  receipts(accountId: number, limit: number): Promise<Receipt[]>;
  /** Removes the account's confirmed receipts; unknown ids are ignored. */
  deleteReceipts(accountId: number, messageIds: readonly number[]): Promise<void>;

  saveToken(t: SessionToken): Promise<void>;
  /** Resolves null for an unknown or expired token. */
  findToken(hash: string, now: number): Promise<SessionToken | null>;
  deleteToken(hash: string): Promise<void>;

  /** An account whose skeleton is this one (the oldest, should there be several). */
  findAccountBySkeleton(skeleton: string): Promise<Account | null>;
  /** A deleted account's name reserved after now with this key or skeleton. */
  nameReservation(key: string, skeleton: string, now: number): Promise<NameReservation | null>;
  /**
   * Gives every account made before skeletons were stored its key and skeleton as
   * identity() computes them now. A new key that another account already has is not
   * taken (the account keeps its old key). Resolves with the number of accounts updated.
   */
  backfillIdentity(
    identity: (name: string, key: string) => { key: string; skeleton: string },
  ): Promise<number>;
  /** Revokes every session token of the account except keepHash. */
  revokeTokens(accountId: number, keepHash?: string): Promise<void>;
  /** Replaces the account's password hash (rehashing at a new cost). */
  setPasswordHash(id: number, hash: string): Promise<void>;
  /** Up to limit password hashes of accounts picked at random, to learn the costs in use. */
  samplePasswordHashes(limit: number): Promise<string[]>;

  /** Drops expired session tokens and name reservations. */
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

/** The data budget is spent: new messages and accounts wait until recipients free space. */
export class StorageFullError extends StorageError {
  override name = "StorageFullError";

  constructor() {
    super("the server's storage is full");
  }
}
