// The Store on Redis (`--data redis://...`): what several chat nodes can share. The key
// layout and why each operation is safe are in redis-keys.ts, redis-scripts.ts and
// docs/CLUSTER.md. Every method's promise resolves only after Redis acknowledged its writes
// (how durable that is depends on Redis's appendfsync and replicas: docs/CLUSTER.md).
//
// Calls are applied in the order they were made as far as one connection orders them:
// each method sends its first command at once, and commands leave in call order. On a Redis
// Cluster (redis-cluster.ts) there is one connection per master, so calls on one slot (one
// recipient, the directory) keep their order.

import { randomBytes } from "node:crypto";
import { prefixEnd } from "../rules/glob";
import { Batches } from "./redis-batch";
import { openRedisLink, RedisClusterConnection } from "./redis-cluster";
import { keySlot } from "./redis-cluster-slot";
import type { ConnectionOptions, RedisLink } from "./redis-conn";
import { IdBlocks } from "./redis-ids";
import { DIR_KEYS, dir, messages, ops, token, tokenExpiry, user, userKeys } from "./redis-keys";
import { AppendLanes } from "./redis-order";
import {
  ackWithReceipts,
  ackWithReceiptsLocal,
  deleteReceipts,
  dropReceipts,
  listReceipts,
} from "./redis-receipts";
import { RecipientCache } from "./redis-recipients";
import {
  ACK,
  APPEND,
  CREATE_ACCOUNT,
  DELETE_ACCOUNT,
  DROP_EXPIRED_TOKEN,
  DROP_USER,
  FIND_BY_SKELETON,
  NAME_RESERVATION,
  PENDING,
  SET_PASSWORD,
  SWEEP_RESERVATIONS,
} from "./redis-scripts";
import type { RedisTarget } from "./redis-url";
import {
  type Account,
  type AccountPage,
  type AccountQuery,
  type Ban,
  type EnqueueResult,
  type NameReservation,
  type NewMessage,
  type ReceiptRequest,
  type SessionToken,
  StorageError,
  StorageFullError,
  type Store,
  type StoredMessage,
  type StoreLimits,
} from "./store";

/**
 * Ids a node reserves at a time: the first block, and the most the blocks grow to. At
 * 30,000 messages a second a fixed block of 1,000 was a boundary, and so a round trip for
 * every recipient with appends in flight, 30 times a second; blocks of 100,000 let one node
 * relay about 20 % more (docs/CLUSTER.md).
 */
const ID_BLOCK = 1000;
const ID_BLOCK_MAX = 100_000;

export interface RedisStoreOptions extends ConnectionOptions {
  /** Ids reserved at a time, fixed (default: 1,000 growing to 100,000; tests take small blocks to cross their boundaries often). */
  idBlock?: number;
  /** Replicas that must confirm each accepted message (Redis's WAIT); 0, the default, waits for none. */
  waitReplicas?: number;
  /** How long WAIT waits for them (ms, default 1,000). */
  waitTimeoutMs?: number;
}

/** The APPEND script's answer to one append: "ok", "dup:<id>:<sentAt>", "stale:<highest id>", … */
type AppendAnswer = string;
/** One append of a batch: the APPEND script's per-append arguments, and to whom. */
interface AppendCall {
  recipientId: number;
  id: number;
  /** "<sender id>|<body json>", as the bodies hash keeps it (the script reads the sender, sentAt and client_msg_id from it). */
  body: string;
}
/** Appends sent in one script call at most (each call holds Redis for its length). */
const APPEND_BATCH = 500;
/** How long a deleted account's tombstone refuses late appends (ms): far above any request's lifetime. */
const TOMBSTONE_MS = 86_400_000;
/** Stale-id retries before an enqueue gives up (each takes a fresh block, above every id so far). */
const MAX_STALE_RETRIES = 8;
/** Recipients remembered by name, and for how long (far below TOMBSTONE_MS). */
const RECIPIENT_CACHE = 10_000;
const RECIPIENT_TTL_MS = 60_000;
/** Messages remembered as pushable as they are (takeInOrder) until their signal asks. */
const IN_ORDER_MAX = 16_384;
/** How often this node adds its change of the queued total to the shared counter. */
const QUEUED_FLUSH_MS = 1000;
/** Records one sweep step handles; sweep takes at most SWEEP_STEPS steps per kind. */
const SWEEP_BATCH = 500;
const SWEEP_STEPS = 100;

interface AccountRecord {
  name: string;
  key: string;
  createdAt: number;
  skeleton: string;
}

export class RedisStore implements Store {
  readonly description: string;
  private readonly ids: IdBlocks;
  /** Appends per recipient, kept in call order across stale-id retries (redis-order.ts). */
  private readonly lanes: AppendLanes<AppendAnswer>;
  /** The appends of one turn, sent as one APPEND call (on a cluster, one per slot). */
  private readonly appends: Batches<AppendCall, AppendAnswer>;
  /** Calls not settled yet, and flush()es waiting for there to be none. */
  private inflight = 0;
  private idle: (() => void)[] = [];
  private readonly untrack = (): void => {
    if (--this.inflight > 0) return;
    const waiting = this.idle;
    this.idle = [];
    for (const w of waiting) w();
  };
  private readonly recipients = new RecipientCache(RECIPIENT_CACHE, RECIPIENT_TTL_MS);
  /** Lookups of recipients by name under way. */
  private readonly lookups = new Map<string, Promise<Account | null>>();
  /** Messages this node queued minus those it removed, not yet added to messages.queued. */
  private queuedDelta = 0;
  private readonly queuedTimer: Timer;
  /**
   * This store's token as a writer of recipients' queues (the APPEND script's "ok" / "ok+").
   * A new one after any failed append call: such a call may have stored messages that no
   * signal announced, and the next message after them must not be pushed as if in order.
   */
  private writer = newWriter();
  /** Ids of messages stored right after this store's own previous one to their recipient. */
  private readonly inOrderIds = new Set<number>();

  private constructor(
    private readonly redis: RedisLink,
    private readonly limits: StoreLimits,
    private readonly opts: RedisStoreOptions,
  ) {
    const wait = opts.waitReplicas
      ? ` (WAIT for ${opts.waitReplicas} replica${opts.waitReplicas === 1 ? "" : "s"}, ${opts.waitTimeoutMs ?? 1000} ms)`
      : "";
    this.description = `redis ${redis instanceof RedisClusterConnection ? "cluster " : ""}${redis.target.display}${wait}`;
    this.ids = new IdBlocks(
      (n) => this.redis.send("INCRBY", [messages.nextId, n]).then(Number),
      opts.idBlock ?? ID_BLOCK,
      opts.idBlock ?? ID_BLOCK_MAX,
    );
    this.appends = new Batches<AppendCall, AppendAnswer>(
      (_slot, calls) => this.sendAppends(calls),
      APPEND_BATCH,
    );
    this.lanes = new AppendLanes<AppendAnswer>(
      () => this.ids.takeNow() ?? this.ids.takeInBlock(),
      (r) => r.startsWith("stale"),
      // Another node stored a larger id here first: take ids above it.
      () => this.ids.discard(),
      MAX_STALE_RETRIES,
    );
    // Redis may have come back from a restart that lost its last writes: ids from a block
    // reserved before are no longer known to be unused.
    redis.onReconnect = () => this.ids.discard();
    // The total is for metrics: one INCRBY a second instead of one command per message.
    this.queuedTimer = setInterval(() => this.pushQueued(), QUEUED_FLUSH_MS);
    this.queuedTimer.unref();
  }

  /**
   * Connects; throws RedisOpenError when Redis cannot be used. A Redis in cluster mode
   * (INFO's cluster_enabled) is used as a Redis Cluster: each call goes to its slot's master.
   */
  static async open(
    target: RedisTarget,
    limits: StoreLimits,
    opts: RedisStoreOptions = {},
  ): Promise<RedisStore> {
    return new RedisStore(await openRedisLink(target, opts), limits, opts);
  }

  /** Whether this store runs on a Redis Cluster. */
  get onCluster(): boolean {
    return this.redis instanceof RedisClusterConnection;
  }

  /** Appends refused as stale (another node stored a larger id first) and sent again. */
  get staleRetries(): number {
    return this.lanes.stale;
  }

  /** The connection, for what the nodes share beside the store (presence, signals, budgets). */
  get connection(): RedisLink {
    return this.redis;
  }

  createAccount(a: {
    name: string;
    key: string;
    skeleton?: string;
    passwordHash: string;
    createdAt: number;
  }) {
    return this.track(async () => {
      const skeleton = a.skeleton ?? a.key;
      const record: AccountRecord = { name: a.name, key: a.key, createdAt: a.createdAt, skeleton };
      const id = Number(
        await this.redis.eval(CREATE_ACCOUNT, DIR_KEYS, [
          a.key,
          skeleton,
          JSON.stringify(record),
          a.createdAt,
          a.passwordHash,
        ]),
      );
      if (!id) return null;
      const account: Account = { id, name: a.name, key: a.key, createdAt: a.createdAt };
      return account;
    });
  }

  async findAccount(key: string) {
    return parseAccount(await this.redis.send("HGET", [dir.byKey, key]));
  }

  async findAccountById(id: number) {
    return parseAccount(await this.redis.send("HGET", [dir.byId, id]));
  }

  async passwordHash(id: number) {
    return ((await this.redis.send("HGET", [dir.passwords, id])) as string | null) ?? null;
  }

  deleteAccount(id: number, reserveNameUntil?: number) {
    // At once, so that a SEND made after this call looks the name up (after the directory
    // script below) rather than append to the account being deleted.
    this.recipients.forgetId(id);
    return this.track(async () => {
      // The directory first: from then on nobody finds the account, and the tombstone
      // refuses the appends that found it just before.
      const key = await this.redis.eval(DELETE_ACCOUNT, DIR_KEYS, [id, reserveNameUntil ?? ""]);
      if (typeof key === "string") this.recipients.forget(key);
      const [dropped, tokens] = (await this.redis.eval(DROP_USER, userKeys(id), [TOMBSTONE_MS])) as [
        number,
        string[],
      ];
      this.queuedDelta -= dropped;
      await Promise.all([
        dropReceipts(this.redis, id),
        ...tokens.map((h) => this.dropToken(h)),
        this.redis.send("HDEL", [ops.lastLogin, id]),
      ]);
    });
  }

  async listAccounts(q: AccountQuery): Promise<AccountPage> {
    if (q.limit <= 0) return { accounts: [], examinedTo: null };
    const { prefix } = q.pattern;
    const end = prefixEnd(prefix);
    // ZRANGE BYLEX compares bytes: UTF-8 bytes sort as code points, the order of keys.
    const afterCursor = Buffer.compare(Buffer.from(q.afterKey), Buffer.from(prefix)) >= 0;
    const from = afterCursor ? `(${q.afterKey}` : prefix === "" ? "-" : `[${prefix}`;
    const to = end === null ? "+" : `(${end}`;
    const keys = (await this.redis.send("ZRANGE", [
      dir.keys,
      from,
      to,
      "BYLEX",
      "LIMIT",
      0,
      Math.max(1, q.maxExamined),
    ])) as string[];
    const matched: string[] = [];
    let examined = 0;
    let last = "";
    for (const key of keys) {
      if (matched.length >= q.limit || examined >= q.maxExamined) break;
      examined++;
      last = key;
      if (q.pattern.matches(key)) matched.push(key);
    }
    const records =
      matched.length === 0
        ? []
        : ((await this.redis.send("HMGET", [dir.byKey, ...matched])) as (string | null)[]);
    const accounts = records.map(parseAccount).filter((a): a is Account => a !== null);
    const spent = matched.length < q.limit && examined >= q.maxExamined;
    return { accounts, examinedTo: spent ? last : null };
  }

  enqueue(m: NewMessage): Promise<EnqueueResult> {
    // Counted as track() does, but inside the append: no second promise per message.
    this.inflight++;
    return this.append(m);
  }

  /** enqueue's work; ends the count that enqueue began. */
  private async append(m: NewMessage): Promise<EnqueueResult> {
    try {
      const known = this.recipients.get(m.recipientKey, Date.now());
      let cached = known !== undefined;
      let recipient = known ?? (await this.lookUp(m.recipientKey));
      if (!recipient) return { ok: false, error: "no_such_account" };
      // The client_msg_id rides along for the message's receipt; the body goes as stored.
      const body = `${m.senderId}|${JSON.stringify(
        m.clientMsgId ? [m.senderName, m.text, m.sentAt, m.clientMsgId] : [m.senderName, m.text, m.sentAt],
      )}`;
      for (;;) {
        let id: number;
        let r: AppendAnswer;
        try {
          const to = recipient.id;
          const slot = this.slotOf(to);
          ({ id, answer: r } = await this.lanes.append(to, (id, answered) =>
            this.appends.add(slot, { recipientId: to, id, body }, answered),
          ));
        } catch (error) {
          if (error instanceof StorageFullError) return { ok: false, error: "storage_full" };
          throw error;
        }
        const colon = r.indexOf(":");
        const kind = colon < 0 ? r : r.slice(0, colon);
        switch (kind) {
          case "ok":
          case "ok+": {
            // Counted before the WAIT: the message is stored, confirmed by replicas or not.
            this.queuedDelta++;
            if (this.opts.waitReplicas) await this.confirmByReplicas(recipient.id);
            // With WAIT, a message stored but not confirmed gets no signal: none is in order.
            if (kind === "ok" && !this.opts.waitReplicas) this.noteInOrder(id);
            const message: StoredMessage = {
              id,
              recipientId: recipient.id,
              senderName: m.senderName,
              text: m.text,
              sentAt: m.sentAt,
            };
            return { ok: true, message, recipient, duplicate: false };
          }
          case "dup": {
            // The first copy may have been answered "not confirmed": it waits for the replicas again.
            if (this.opts.waitReplicas) await this.confirmByReplicas(recipient.id);
            const [first, sentAt] = r.slice(colon + 1).split(":");
            const message: StoredMessage = {
              id: Number(first),
              recipientId: recipient.id,
              senderName: m.senderName,
              text: m.text,
              sentAt: Number(sentAt),
            };
            return { ok: true, message, recipient, duplicate: true };
          }
          case "gone": {
            // Deleted since it was looked up; a cached entry may be an older account of the name.
            this.recipients.forget(m.recipientKey);
            if (!cached) return { ok: false, error: "no_such_account" };
            cached = false;
            recipient = await this.lookUp(m.recipientKey);
            if (!recipient) return { ok: false, error: "no_such_account" };
            continue;
          }
          case "mailbox_full":
          case "sender_quota":
            return { ok: false, error: kind };
          case "stale":
            // Still stale after MAX_STALE_RETRIES fresh blocks (AppendLanes retried them).
            throw new StorageError("could not give the message an id above the recipient's last one");
          default:
            throw new StorageError(`the message store (Redis) answered an append with ${JSON.stringify(r)}`);
        }
      }
    } finally {
      this.untrack();
    }
  }

  async pending(recipientId: number, afterId: number, limit: number) {
    const n = Math.max(0, Math.floor(limit));
    if (n === 0) return [];
    const [ids, bodies] = (await this.redis.eval(PENDING, userKeys(recipientId), [afterId, n])) as [
      string[],
      (string | null)[],
    ];
    const out: StoredMessage[] = [];
    for (let i = 0; i < ids.length; i++) {
      const raw = bodies[i];
      const bar = raw ? raw.indexOf("|") : -1;
      if (bar < 0) continue;
      const [senderName, text, sentAt] = JSON.parse(raw!.slice(bar + 1)) as [string, string, number];
      out.push({ id: Number(ids[i]), recipientId, senderName, text, sentAt });
    }
    return out;
  }

  async countPending(recipientId: number) {
    // Without the queue's pad (QUEUE_PAD, scored -inf).
    return Number(await this.redis.send("ZCOUNT", [user(recipientId).queue, "(-inf", "+inf"]));
  }

  ack(recipientId: number, ids: readonly number[]) {
    return this.track(async () => {
      if (ids.length === 0) return;
      const removed = Number(await this.redis.eval(ACK, userKeys(recipientId), ids));
      this.queuedDelta -= removed;
    });
  }

  ackWithReceipts(recipientId: number, ids: readonly number[], r: ReceiptRequest) {
    return this.track(async () => {
      const { removed, result } = await (this.onCluster ? ackWithReceipts : ackWithReceiptsLocal)(
        this.redis,
        recipientId,
        ids,
        r,
      );
      this.queuedDelta -= removed;
      return result;
    });
  }

  receipts(accountId: number, limit: number) {
    return this.track(() => listReceipts(this.redis, accountId, limit));
  }

  deleteReceipts(accountId: number, messageIds: readonly number[]) {
    return this.track(() => deleteReceipts(this.redis, accountId, messageIds));
  }

  saveToken(t: SessionToken) {
    return this.track(async () => {
      await Promise.all([
        this.redis.send("SADD", [user(t.accountId).tokens, t.hash]),
        this.redis.send("SET", [token(t.hash), `${t.accountId}|${t.expiresAt}`]),
        this.redis.send("ZADD", [tokenExpiry, t.expiresAt, t.hash]),
      ]);
    });
  }

  async findToken(hash: string, now: number) {
    const t = parseToken(hash, await this.redis.send("GET", [token(hash)]));
    return t && t.expiresAt > now ? t : null;
  }

  deleteToken(hash: string) {
    return this.track(() => this.dropToken(hash));
  }

  async findAccountBySkeleton(skeleton: string) {
    return parseAccount(await this.redis.eval(FIND_BY_SKELETON, DIR_KEYS, [skeleton]));
  }

  async nameReservation(key: string, skeleton: string, now: number): Promise<NameReservation | null> {
    const r = (await this.redis.eval(NAME_RESERVATION, DIR_KEYS, [key, skeleton, now])) as
      | [string, string]
      | null;
    if (!r) return null;
    return { name: (JSON.parse(r[1]) as AccountRecord).name, until: Number(r[0]) };
  }

  async backfillIdentity() {
    // Every account on Redis was made with its skeleton.
    return 0;
  }

  revokeTokens(accountId: number, keepHash?: string) {
    return this.track(async () => {
      const hashes = (await this.redis.send("SMEMBERS", [user(accountId).tokens])) as string[];
      await Promise.all(hashes.filter((h) => h !== keepHash).map((h) => this.dropToken(h)));
    });
  }

  setPasswordHash(id: number, hash: string) {
    return this.track(async () => {
      await this.redis.eval(SET_PASSWORD, DIR_KEYS, [id, hash]);
    });
  }

  recordLogin(id: number, at: number) {
    return this.track(async () => {
      // Only for an account that exists: ids are never reused, but nothing should outlive one.
      if (Number(await this.redis.send("HEXISTS", [dir.byId, id])))
        await this.redis.send("HSET", [ops.lastLogin, id, at]);
    });
  }

  async lastLogin(id: number) {
    const at = await this.redis.send("HGET", [ops.lastLogin, id]);
    return at === null || at === undefined ? null : Number(at);
  }

  async resetPassword(id: number, passwordHash: string) {
    if (!Number(await this.redis.send("HEXISTS", [dir.byId, id]))) return;
    await this.setPasswordHash(id, passwordHash);
    await this.revokeTokens(id);
  }

  saveBan(b: Ban) {
    return this.track(async () => {
      await this.redis.send("HSET", [
        ops.bans,
        b.prefix,
        JSON.stringify({ until: b.until, createdAt: b.createdAt }),
      ]);
    });
  }

  deleteBan(prefix: string) {
    return this.track(async () => Number(await this.redis.send("HDEL", [ops.bans, prefix])) > 0);
  }

  async listBans(now: number) {
    const all = (await this.redis.send("HGETALL", [ops.bans])) as Record<string, string> | string[] | null;
    // RESP3 answers a map, RESP2 a flat list.
    const entries: [string, string][] = Array.isArray(all)
      ? Array.from({ length: all.length / 2 }, (_, i) => [all[2 * i]!, all[2 * i + 1]!])
      : Object.entries(all ?? {});
    const bans: Ban[] = [];
    const lapsed: string[] = [];
    for (const [prefix, v] of entries) {
      const r = JSON.parse(v) as { until: number | null; createdAt: number };
      if (r.until !== null && r.until <= now) lapsed.push(prefix);
      else bans.push({ prefix, until: r.until, createdAt: r.createdAt });
    }
    if (lapsed.length) await this.track(() => this.redis.send("HDEL", [ops.bans, ...lapsed]));
    return bans.sort((a, b) => (a.prefix < b.prefix ? -1 : a.prefix > b.prefix ? 1 : 0));
  }

  async samplePasswordHashes(limit: number) {
    if (limit <= 0) return [];
    const r = (await this.redis.send("HRANDFIELD", [dir.passwords, limit, "WITHVALUES"])) as unknown[] | null;
    // RESP3 answers [field, value] pairs, RESP2 a flat list.
    const flat = (r ?? []).flat() as string[];
    return flat.filter((_, i) => i % 2 === 1);
  }

  sweep(now: number) {
    return this.track(async () => {
      for (let step = 0; step < SWEEP_STEPS; step++) {
        const n = Number(await this.redis.eval(SWEEP_RESERVATIONS, DIR_KEYS, [now, SWEEP_BATCH]));
        if (n < SWEEP_BATCH) break;
      }
      for (let step = 0; step < SWEEP_STEPS; step++) {
        const hashes = (await this.redis.send("ZRANGEBYSCORE", [
          tokenExpiry,
          "-inf",
          now,
          "LIMIT",
          0,
          SWEEP_BATCH,
        ])) as string[];
        await Promise.all(hashes.map((h) => this.sweepToken(h, now)));
        if (hashes.length < SWEEP_BATCH) break;
      }
    });
  }

  async stats() {
    this.pushQueued();
    const [accounts, queued] = await Promise.all([
      this.redis.send("ZCARD", [dir.keys]),
      this.redis.send("GET", [messages.queued]),
    ]);
    return { accounts: Number(accounts), queued: Math.max(0, Number(queued ?? 0)) };
  }

  async flush() {
    this.pushQueued();
    while (this.inflight > 0) await new Promise<void>((resolve) => this.idle.push(resolve));
  }

  async close() {
    clearInterval(this.queuedTimer);
    await this.flush();
    this.redis.close();
  }

  /**
   * Whether the message with this id was stored right after this store's own previous
   * message to its recipient (asked once, by the node's signal bus). Every message before
   * it there was then this node's, and this node's signals go in commit order, so the
   * recipient's holder here may push it as it is; otherwise (another node wrote just
   * before it, or it is not known) the holder reads the queue. Forgotten after the
   * question, and the oldest past IN_ORDER_MAX: forgetting only costs a read.
   */
  takeInOrder(id: number): boolean {
    return this.inOrderIds.delete(id);
  }

  // --- internal ---

  private noteInOrder(id: number): void {
    const ids = this.inOrderIds;
    ids.add(id);
    if (ids.size > IN_ORDER_MAX) ids.delete(ids.values().next().value!);
  }

  /** Which batch an append to recipientId goes in: on a cluster its slot's, else the one. */
  private slotOf(recipientId: number): number {
    // The slot is the tag's: the same for every key of the recipient.
    return this.onCluster ? keySlot(`{u:${recipientId}}`) : 0;
  }

  /**
   * Sends a batch of appends as one APPEND call: grouped by recipient (each group in call
   * order, which is all the order appends need), answered in the calls' order.
   */
  private sendAppends(calls: readonly AppendCall[]): Promise<AppendAnswer[]> {
    // Most batches have one append per recipient or all for one: groups as arrays of indexes.
    const groups = new Map<number, number[]>();
    for (let i = 0; i < calls.length; i++) {
      const to = calls[i]!.recipientId;
      const g = groups.get(to);
      if (g) g.push(i);
      else groups.set(to, [i]);
    }
    const keys: string[] = [];
    const args: (string | number)[] = [
      this.limits.maxQueuedPerAccount,
      this.limits.maxQueuedPerSender,
      this.limits.dedupPerSender,
    ];
    const writer = this.writer;
    args.push(writer);
    for (const [to, g] of groups) {
      keys.push(user(to).queue);
      args.push(g.length);
      for (const i of g) args.push(calls[i]!.id, calls[i]!.body);
    }
    return (this.redis.eval(APPEND, keys, args) as Promise<AppendAnswer[]>).then(
      (answers) => {
        // A call failed since this one left (its writer is gone): none of these is in order.
        if (writer !== this.writer) answers = answers.map((a) => (a === "ok" ? "ok+" : a));
        // (Answered short: Batches fails the calls left without an answer.)
        if (groups.size === 1 || answers.length !== calls.length) return answers;
        const inOrder: AppendAnswer[] = new Array(calls.length);
        let k = 0;
        for (const g of groups.values()) for (const i of g) inOrder[i] = answers[k++]!;
        return inOrder;
      },
      (error) => {
        // At once, before the answers of the calls sent after this one are looked at.
        this.writer = newWriter();
        throw error;
      },
    );
  }

  /**
   * With waitReplicas: waits until that many replicas have the writes made so far on the
   * connection that stored the recipient's queue (one WAIT for the appends answered together).
   */
  private async confirmByReplicas(recipientId: number): Promise<void> {
    const want = this.opts.waitReplicas ?? 0;
    if (want <= 0) return;
    const key = user(recipientId).queue;
    const timeoutMs = this.opts.waitTimeoutMs ?? 1000;
    const got = await this.redis.waitReplicas(key, want, timeoutMs);
    if (got < want)
      throw new StorageError(
        `the message was stored but not confirmed by ${want} Redis replica${want === 1 ? "" : "s"} within ${timeoutMs} ms (${got} confirmed)`,
      );
  }

  /** Runs a write, remembered until it settles so that flush() can wait for it. */
  private track<T>(run: () => Promise<T>): Promise<T> {
    const p = run();
    this.inflight++;
    p.then(this.untrack, this.untrack);
    return p;
  }

  /**
   * Looks a recipient up by name and remembers it. Calls for a name whose lookup is under
   * way wait for that one, and resume in call order: a later SEND to the same person, finding
   * the name remembered, can never overtake an earlier one still waiting for the lookup.
   */
  private lookUp(key: string): Promise<Account | null> {
    let p = this.lookups.get(key);
    if (!p) {
      p = this.redis
        .send("HGET", [dir.byKey, key])
        .then((rec) => {
          const account = parseAccount(rec);
          if (account) this.recipients.set(key, account, Date.now());
          return account;
        })
        .finally(() => this.lookups.delete(key));
      this.lookups.set(key, p);
    }
    return p;
  }

  /** Adds this node's change of the queued total to the shared counter (flush() waits for it). */
  private pushQueued(): void {
    const d = this.queuedDelta;
    if (d === 0) return;
    this.queuedDelta = 0;
    void this.track(() => this.redis.send("INCRBY", [messages.queued, d])).catch(() => {
      this.queuedDelta += d; // Redis is away: add it next time
    });
  }

  private async dropToken(hash: string): Promise<void> {
    const t = parseToken(hash, await this.redis.send("GET", [token(hash)]));
    await Promise.all([
      this.redis.send("DEL", [token(hash)]),
      this.redis.send("ZREM", [tokenExpiry, hash]),
      t ? this.redis.send("SREM", [user(t.accountId).tokens, hash]) : null,
    ]);
  }

  /** Drops one token found expired, unless it was saved again meanwhile with a later expiry. */
  private async sweepToken(hash: string, now: number): Promise<void> {
    const v = (await this.redis.eval(DROP_EXPIRED_TOKEN, [token(hash)], [now])) as string | null;
    const t = parseToken(hash, v);
    if (v === null) {
      // Gone already, or saved again with a later expiry (then its ZADD moved it on).
      const still = await this.redis.send("EXISTS", [token(hash)]);
      if (!Number(still)) await this.redis.send("ZREM", [tokenExpiry, hash]);
      return;
    }
    await Promise.all([
      this.redis.send("ZREM", [tokenExpiry, hash]),
      t ? this.redis.send("SREM", [user(t.accountId).tokens, hash]) : null,
    ]);
  }
}

function newWriter(): string {
  return randomBytes(9).toString("base64url");
}

function parseAccount(rec: unknown): Account | null {
  if (typeof rec !== "string" || rec === "") return null;
  const bar = rec.indexOf("|");
  const r = JSON.parse(rec.slice(bar + 1)) as AccountRecord;
  return { id: Number(rec.slice(0, bar)), name: r.name, key: r.key, createdAt: r.createdAt };
}

function parseToken(hash: string, v: unknown): SessionToken | null {
  if (typeof v !== "string" || v === "") return null;
  const [accountId, expiresAt] = v.split("|");
  return { hash, accountId: Number(accountId), expiresAt: Number(expiresAt) };
}
