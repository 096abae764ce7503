// In-memory Store: for tests and for `--data :memory:`. Nothing survives the process.

import { prefixEnd } from "../rules/glob";
import { compareKeys } from "./keys";
import { ReceiptBox } from "./receipt-box";
import { SentRings } from "./sent-ring";
import type {
  Account,
  AccountPage,
  AccountQuery,
  AckResult,
  Ban,
  EnqueueResult,
  NameReservation,
  NewMessage,
  Receipt,
  ReceiptRequest,
  SessionToken,
  Store,
  StoredMessage,
  StoreLimits,
} from "./store";

/** One recipient's waiting messages, in id order; confirmed ones are dropped lazily. */
class Queue {
  msgs: StoredMessage[] = [];
  /** Waiting message id → its sender's id. */
  live = new Map<number, number>();
  /** Waiting messages per sender id. */
  bySender = new Map<number, number>();
  /** Waiting message id → the client_msg_id it was sent with, for its receipt (none: absent). */
  clientIds = new Map<number, number>();

  push(m: StoredMessage, senderId: number, clientMsgId = 0): void {
    this.msgs.push(m);
    if (clientMsgId) this.clientIds.set(m.id, clientMsgId);
    this.live.set(m.id, senderId);
    this.bySender.set(senderId, (this.bySender.get(senderId) ?? 0) + 1);
  }

  remove(id: number): void {
    const sender = this.live.get(id);
    if (sender === undefined) return;
    this.live.delete(id);
    this.clientIds.delete(id);
    const n = this.bySender.get(sender)! - 1;
    if (n > 0) this.bySender.set(sender, n);
    else this.bySender.delete(sender);
    if (this.msgs.length > 64 && this.live.size < this.msgs.length / 2) {
      this.msgs = this.msgs.filter((m) => this.live.has(m.id));
    }
  }

  after(afterId: number, limit: number): StoredMessage[] {
    let lo = 0;
    let hi = this.msgs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.msgs[mid]!.id <= afterId) lo = mid + 1;
      else hi = mid;
    }
    const out: StoredMessage[] = [];
    for (let i = lo; i < this.msgs.length && out.length < limit; i++) {
      const m = this.msgs[i]!;
      if (this.live.has(m.id)) out.push(m);
    }
    return out;
  }
}

export class MemoryStore implements Store {
  readonly description = "memory (nothing is kept after the server stops)";
  private nextAccountId = 1;
  private nextMessageId = 1;
  private byId = new Map<number, Account>();
  private byKey = new Map<string, Account>();
  private hashes = new Map<number, string>();
  private queues = new Map<number, Queue>();
  private receiptBox = new ReceiptBox();
  private tokens = new Map<string, SessionToken>();
  /** Token hashes per account, so revoking an account's tokens does not scan them all. */
  private tokensOf = new Map<number, Set<string>>();
  private sent: SentRings<StoredMessage>;
  private skeletons = new Map<number, string>();
  private bySkeleton = new Map<string, Account>();
  private reserved = new Map<string, NameReservation & { skeleton: string }>();
  /** Keys of the reserved names per skeleton. */
  private reservedBySkeleton = new Map<string, Set<string>>();
  /** Every key in order, for LIST. */
  private sortedKeys: string[] = [];
  private lastLogins = new Map<number, number>();
  private bans = new Map<string, Ban>();

  constructor(private readonly limits: StoreLimits) {
    this.sent = new SentRings(limits.dedupPerSender);
  }

  async createAccount(a: {
    name: string;
    key: string;
    skeleton?: string;
    passwordHash: string;
    createdAt: number;
  }) {
    const skeleton = a.skeleton ?? a.key;
    if (this.byKey.has(a.key) || this.bySkeleton.has(skeleton)) return null;
    if (this.reservationOf(a.key, skeleton, a.createdAt)) return null;
    const account: Account = { id: this.nextAccountId++, name: a.name, key: a.key, createdAt: a.createdAt };
    this.byId.set(account.id, account);
    this.byKey.set(account.key, account);
    this.hashes.set(account.id, a.passwordHash);
    this.skeletons.set(account.id, skeleton);
    this.bySkeleton.set(skeleton, account);
    this.sortedKeys.splice(this.keyIndex(a.key), 0, a.key);
    return account;
  }

  async findAccountBySkeleton(skeleton: string) {
    return this.bySkeleton.get(skeleton) ?? null;
  }

  async nameReservation(key: string, skeleton: string, now: number) {
    const r = this.reservationOf(key, skeleton, now);
    return r ? { name: r.name, until: r.until } : null;
  }

  async backfillIdentity() {
    // Every account here was made with its skeleton.
    return 0;
  }

  async revokeTokens(accountId: number, keepHash?: string) {
    const hashes = this.tokensOf.get(accountId);
    if (!hashes) return;
    for (const h of hashes) if (h !== keepHash) this.tokens.delete(h);
    if (keepHash !== undefined && hashes.has(keepHash)) this.tokensOf.set(accountId, new Set([keepHash]));
    else this.tokensOf.delete(accountId);
  }

  async setPasswordHash(id: number, hash: string) {
    if (this.hashes.has(id)) this.hashes.set(id, hash);
  }

  async samplePasswordHashes(limit: number) {
    const all = [...this.hashes.values()];
    if (all.length <= limit) return all;
    return Array.from({ length: limit }, () => all[Math.floor(Math.random() * all.length)]!);
  }

  async passwordHash(id: number) {
    return this.hashes.get(id) ?? null;
  }

  async findAccount(key: string) {
    return this.byKey.get(key) ?? null;
  }

  async findAccountById(id: number) {
    return this.byId.get(id) ?? null;
  }

  async deleteAccount(id: number, reserveNameUntil?: number) {
    const account = this.byId.get(id);
    if (!account) return;
    const skeleton = this.skeletons.get(id) ?? account.key;
    this.byId.delete(id);
    this.byKey.delete(account.key);
    this.sortedKeys.splice(this.keyIndex(account.key), 1);
    this.hashes.delete(id);
    this.lastLogins.delete(id);
    this.queues.delete(id);
    this.receiptBox.dropAccount(id);
    this.skeletons.delete(id);
    if (this.bySkeleton.get(skeleton) === account) this.bySkeleton.delete(skeleton);
    this.sent.forget(id);
    await this.revokeTokens(id);
    if (reserveNameUntil !== undefined) {
      this.unreserve(account.key);
      this.reserved.set(account.key, { name: account.name, until: reserveNameUntil, skeleton });
      let keys = this.reservedBySkeleton.get(skeleton);
      if (!keys) {
        keys = new Set();
        this.reservedBySkeleton.set(skeleton, keys);
      }
      keys.add(account.key);
    }
  }

  async listAccounts(q: AccountQuery): Promise<AccountPage> {
    const keys = this.sortedKeys;
    const { prefix } = q.pattern;
    const end = prefixEnd(prefix);
    // The first key after the cursor and not below the prefix.
    const afterCursor = compareKeys(q.afterKey, prefix) >= 0;
    let lo = this.keyIndex(afterCursor ? q.afterKey : prefix);
    if (afterCursor && keys[lo] === q.afterKey) lo++;
    const accounts: Account[] = [];
    let examined = 0;
    let last = "";
    for (let i = lo; i < keys.length && accounts.length < q.limit && examined < q.maxExamined; i++) {
      const key = keys[i]!;
      if (end !== null && compareKeys(key, end) >= 0) break;
      examined++;
      last = key;
      if (q.pattern.matches(key)) accounts.push(this.byKey.get(key)!);
    }
    const spent = accounts.length < q.limit && examined >= q.maxExamined;
    return { accounts, examinedTo: spent ? last : null };
  }

  async enqueue(m: NewMessage): Promise<EnqueueResult> {
    const recipient = this.byKey.get(m.recipientKey);
    if (!recipient) return { ok: false, error: "no_such_account" };
    if (m.clientMsgId) {
      const earlier = this.sent.find(m.senderId, m.clientMsgId);
      if (earlier) {
        const first = this.byId.get(earlier.recipientId) ?? recipient;
        return { ok: true, message: earlier.message, recipient: first, duplicate: true };
      }
    }
    let q = this.queues.get(recipient.id);
    if (!q) {
      q = new Queue();
      this.queues.set(recipient.id, q);
    }
    if (q.live.size >= this.limits.maxQueuedPerAccount) return { ok: false, error: "mailbox_full" };
    if ((q.bySender.get(m.senderId) ?? 0) >= this.limits.maxQueuedPerSender)
      return { ok: false, error: "sender_quota" };
    const message: StoredMessage = {
      id: this.nextMessageId++,
      recipientId: recipient.id,
      senderName: m.senderName,
      text: m.text,
      sentAt: m.sentAt,
    };
    q.push(message, m.senderId, m.clientMsgId);
    if (m.clientMsgId)
      this.sent.remember(m.senderId, { clientMsgId: m.clientMsgId, message, recipientId: recipient.id });
    return { ok: true, message, recipient, duplicate: false };
  }

  async pending(recipientId: number, afterId: number, limit: number) {
    return this.queues.get(recipientId)?.after(afterId, limit) ?? [];
  }

  async countPending(recipientId: number) {
    return this.queues.get(recipientId)?.live.size ?? 0;
  }

  async ack(recipientId: number, ids: readonly number[]) {
    const q = this.queues.get(recipientId);
    if (!q) return;
    for (const id of ids) q.remove(id);
  }

  async ackWithReceipts(recipientId: number, ids: readonly number[], r: ReceiptRequest): Promise<AckResult> {
    const out: AckResult = { receipts: [], dropped: 0 };
    const q = this.queues.get(recipientId);
    if (!q) return out;
    // Lowest id first, as SQLite makes them.
    const ordered = ids.every((id, i) => i === 0 || id >= ids[i - 1]!) ? ids : [...ids].sort((a, b) => a - b);
    for (const id of ordered) {
      const senderId = q.live.get(id);
      if (senderId === undefined) continue;
      const clientMsgId = q.clientIds.get(id) ?? 0;
      q.remove(id);
      if (!this.byId.has(senderId)) continue;
      const receipt: Receipt = {
        messageId: id,
        senderId,
        recipientName: r.recipientName,
        confirmedAt: r.confirmedAt,
        clientMsgId,
      };
      out.dropped += this.receiptBox.add(receipt, r.maxPerAccount);
      out.receipts.push(receipt);
    }
    // A receipt stored and dropped again within this call is not reported as stored.
    if (out.dropped) out.receipts = out.receipts.filter((x) => this.receiptBox.has(x.senderId, x.messageId));
    return out;
  }

  async receipts(accountId: number, limit: number) {
    return this.receiptBox.list(accountId, limit);
  }

  async deleteReceipts(accountId: number, messageIds: readonly number[]) {
    this.receiptBox.delete(accountId, messageIds);
  }

  async saveToken(t: SessionToken) {
    this.tokens.set(t.hash, t);
    let hashes = this.tokensOf.get(t.accountId);
    if (!hashes) {
      hashes = new Set();
      this.tokensOf.set(t.accountId, hashes);
    }
    hashes.add(t.hash);
  }

  async findToken(hash: string, now: number) {
    const t = this.tokens.get(hash);
    return t && t.expiresAt > now ? t : null;
  }

  async deleteToken(hash: string) {
    const t = this.tokens.get(hash);
    if (!t) return;
    this.tokens.delete(hash);
    const hashes = this.tokensOf.get(t.accountId);
    hashes?.delete(hash);
    if (hashes?.size === 0) this.tokensOf.delete(t.accountId);
  }

  async sweep(now: number) {
    for (const [hash, t] of this.tokens) if (t.expiresAt <= now) await this.deleteToken(hash);
    for (const [key, r] of this.reserved) if (r.until <= now) this.unreserve(key);
  }

  async stats() {
    let queued = 0;
    for (const q of this.queues.values()) queued += q.live.size;
    return { accounts: this.byId.size, queued };
  }

  async recordLogin(id: number, at: number) {
    if (this.byId.has(id)) this.lastLogins.set(id, at);
  }

  async lastLogin(id: number) {
    return this.lastLogins.get(id) ?? null;
  }

  async resetPassword(id: number, passwordHash: string) {
    if (!this.byId.has(id)) return;
    this.hashes.set(id, passwordHash);
    for (const [hash, t] of this.tokens) if (t.accountId === id) this.tokens.delete(hash);
  }

  async saveBan(b: Ban) {
    this.bans.set(b.prefix, { ...b });
  }

  async deleteBan(prefix: string) {
    return this.bans.delete(prefix);
  }

  async listBans(now: number) {
    for (const [k, b] of this.bans) if (b.until !== null && b.until <= now) this.bans.delete(k);
    return [...this.bans.values()].sort((a, b) => (a.prefix < b.prefix ? -1 : a.prefix > b.prefix ? 1 : 0));
  }

  async flush() {}

  async close() {}

  /** The reservation with this key or skeleton that lasts longest, if any is still on. */
  private reservationOf(key: string, skeleton: string, now: number) {
    let best: (NameReservation & { skeleton: string }) | undefined;
    for (const k of [key, ...(this.reservedBySkeleton.get(skeleton) ?? [])]) {
      const r = this.reserved.get(k);
      if (r && r.until > now && (!best || r.until > best.until)) best = r;
    }
    return best;
  }

  private unreserve(key: string): void {
    const r = this.reserved.get(key);
    if (!r) return;
    this.reserved.delete(key);
    const keys = this.reservedBySkeleton.get(r.skeleton);
    keys?.delete(key);
    if (keys?.size === 0) this.reservedBySkeleton.delete(r.skeleton);
  }

  /** Where key is in sortedKeys, or would go: the first index whose key is not below it. */
  private keyIndex(key: string): number {
    const keys = this.sortedKeys;
    let lo = 0;
    let hi = keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareKeys(keys[mid]!, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
