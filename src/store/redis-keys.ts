// The Redis key layout. Every key carries a hash tag ({...}) so that on Redis Cluster all
// keys one script touches hash to one slot, and the same scripts run on one Redis or many
// shards. Four kinds of slot:
// - {d}: the account directory (names, ids, skeletons, password hashes, reservations, the
//   sorted key index for LIST): createAccount and deleteAccount check and change it in one
//   script, so no two accounts can ever take one name or one skeleton.
// - {u:<id>}: one account as a recipient: its queue, the per-sender counts behind the
//   quota, its highest message id, the dedup rings of the senders writing to it, its
//   session tokens' index, and the tombstone left when it is deleted. SEND is one script here.
// - {m}: the message id counter and the queued-messages total for metrics.
// - {t:<hash>} per session token, and {x} for the index of token expiry times.

export const PREFIX = "chat:";

export const dir = {
  /** Hash: key → account record ("<id>|<json>"). */
  byKey: `${PREFIX}{d}:key`,
  /** Hash: id → account record. */
  byId: `${PREFIX}{d}:id`,
  /** Hash: id → password hash. */
  passwords: `${PREFIX}{d}:pw`,
  /** Hash: skeleton → key of the account that has it. */
  skeletons: `${PREFIX}{d}:skel`,
  /** Sorted set of every key, all with score 0: ZRANGE BYLEX orders them by their bytes. */
  keys: `${PREFIX}{d}:keys`,
  /** Hash: reserved key → "<until>|<json of the deleted account>". */
  reserved: `${PREFIX}{d}:res`,
  /** Hash: skeleton → JSON array of the reserved keys with that skeleton. */
  reservedBySkeleton: `${PREFIX}{d}:rsk`,
  /** Sorted set: reserved key, scored by its end time (for sweep). */
  reservedUntil: `${PREFIX}{d}:rx`,
  /** Account id counter. */
  nextId: `${PREFIX}{d}:next`,
} as const;

/** Every directory key, in the order the directory scripts take them as KEYS. */
export const DIR_KEYS = [
  dir.byKey,
  dir.byId,
  dir.passwords,
  dir.skeletons,
  dir.keys,
  dir.reserved,
  dir.reservedBySkeleton,
  dir.reservedUntil,
  dir.nextId,
];

export const messages = {
  /** Message id counter: nodes take blocks of ids from it. */
  nextId: `${PREFIX}{m}:next`,
  /** Messages waiting over all recipients (for metrics; kept by the nodes beside each change). */
  queued: `${PREFIX}{m}:queued`,
} as const;

/** One account's keys as a recipient, all in its own slot. */
export function user(id: number) {
  const t = `${PREFIX}{u:${id}}`;
  return {
    /** Sorted set of waiting message ids (member and score the id). */
    queue: `${t}:q`,
    /** Hash: message id → "<senderId>|<json [senderName, text, sentAt]>". */
    bodies: `${t}:m`,
    /** Hash: sender id → messages of that sender waiting here. */
    senders: `${t}:s`,
    /** Hash: "last" → the highest message id stored here; "w" → "<writer token>:<that id>" (redis-scripts.ts APPEND). */
    meta: `${t}:meta`,
    /** Set while the account is being or was deleted: appends are refused. */
    gone: `${t}:gone`,
    /**
     * Set of the senders with a dedup ring here. Sender s's ring is the hash
     * `<rings>:<s>` (client_msg_id → "<id>:<sentAt>") and the list `<rings>:<s>:o` (its
     * client_msg_ids, oldest first): one small hash per sender, and the oldest found without
     * a read of the hash.
     */
    rings: `${t}:dr`,
    /** Set of the account's session token hashes. */
    tokens: `${t}:t`,
  };
}

/**
 * Sender's resend ring for recipient, in recipient's slot: the hash client_msg_id →
 * "<id>:<sentAt>" and the list of its client_msg_ids, oldest first (APPEND keeps at most
 * the ring size). The sender is also in user(recipient).rings while it has one.
 */
export function ring(recipient: number, sender: number) {
  const hash = `${user(recipient).rings}:${sender}`;
  return { hash, order: `${hash}:o` };
}

/** The keys of user(id), in the order the recipient scripts take them as KEYS. */
export function userKeys(id: number): string[] {
  const u = user(id);
  return [u.queue, u.bodies, u.senders, u.meta, u.gone, u.rings, u.tokens];
}

/**
 * One account's receipt outbox as a recipient, in its slot: hash message id →
 * "<sender>|<client_msg_id>|<confirmed at>|<recipient name>", written by the script that
 * removes the confirmed messages and emptied once the receipts are in their senders' slots.
 */
export const receiptOutbox = (id: number) => `${PREFIX}{u:${id}}:ro`;

/** One account's delivery receipts as a sender, in its own slot (beside its queue). */
export function receiptKeys(id: number): string[] {
  const t = `${PREFIX}{u:${id}}`;
  // Sorted set of message ids with a receipt (member and score the id); hash: id →
  // JSON [recipient name, confirmed at, client_msg_id]; and the account's tombstone.
  return [`${t}:r`, `${t}:rb`, user(id).gone];
}

/** Operations: last logins (hash id → ms) beside the directory, and banned ranges. */
export const ops = {
  /** Hash: account id → time of its last login (ms). */
  lastLogin: `${PREFIX}{d}:login`,
  /** Hash: CIDR prefix → JSON {until, createdAt}. */
  bans: `${PREFIX}{b}:bans`,
} as const;

export const token = (hash: string) => `${PREFIX}{t:${hash}}`;
export const tokenExpiry = `${PREFIX}{x}:tokens`;
