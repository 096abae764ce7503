// In-memory Store: for tests and for `--data :memory:`. Nothing survives the process.

import type {
  Account,
  Ban,
  EnqueueResult,
  NewMessage,
  SessionToken,
  Store,
  StoredMessage,
  StoreLimits,
} from "./store";

/** One recipient's waiting messages, in id order; confirmed ones are dropped lazily. */
class Queue {
  msgs: StoredMessage[] = [];
  live = new Set<number>();

  push(m: StoredMessage): void {
    this.msgs.push(m);
    this.live.add(m.id);
  }

  remove(id: number): void {
    if (!this.live.delete(id)) return;
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

/**
 * Code point order, as SQLite sorts keys (their UTF-8 bytes). Plain `<` compares UTF-16
 * units, which puts characters above U+FFFF (surrogates) before U+E000-U+FFFF.
 */
function compareKeys(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return unitRank(x) - unitRank(y);
  }
  return a.length - b.length;
}

const unitRank = (u: number): number => (u >= 0xe000 ? u - 0x800 : u >= 0xd800 ? u + 0x2000 : u);

interface SentRecord {
  message: StoredMessage;
  recipientId: number;
  at: number;
}

export class MemoryStore implements Store {
  readonly description = "memory (nothing is kept after the server stops)";
  private nextAccountId = 1;
  private nextMessageId = 1;
  private byId = new Map<number, Account>();
  private byKey = new Map<string, Account>();
  private hashes = new Map<number, string>();
  private queues = new Map<number, Queue>();
  private tokens = new Map<string, SessionToken>();
  private sent = new Map<string, SentRecord>();
  private lastLogins = new Map<number, number>();
  private bans = new Map<string, Ban>();

  constructor(private readonly limits: StoreLimits) {}

  async createAccount(a: { name: string; key: string; passwordHash: string; createdAt: number }) {
    if (this.byKey.has(a.key)) return null;
    const account: Account = { id: this.nextAccountId++, name: a.name, key: a.key, createdAt: a.createdAt };
    this.byId.set(account.id, account);
    this.byKey.set(account.key, account);
    this.hashes.set(account.id, a.passwordHash);
    return account;
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

  async deleteAccount(id: number) {
    const account = this.byId.get(id);
    if (!account) return;
    this.byId.delete(id);
    this.byKey.delete(account.key);
    this.hashes.delete(id);
    this.lastLogins.delete(id);
    this.queues.delete(id);
    for (const [hash, t] of this.tokens) if (t.accountId === id) this.tokens.delete(hash);
  }

  async listAccounts(afterKey: string, limit: number, match: (key: string) => boolean) {
    const keys = [...this.byKey.keys()].filter((k) => compareKeys(k, afterKey) > 0 && match(k));
    return keys
      .sort(compareKeys)
      .slice(0, limit)
      .map((k) => this.byKey.get(k)!);
  }

  async enqueue(m: NewMessage): Promise<EnqueueResult> {
    const recipient = this.byKey.get(m.recipientKey);
    if (!recipient) return { ok: false, error: "no_such_account" };
    const dedupKey = m.clientMsgId ? `${m.senderId}:${m.clientMsgId}` : "";
    if (dedupKey) {
      const earlier = this.sent.get(dedupKey);
      if (earlier && earlier.at > m.sentAt - this.limits.dedupWindowMs) {
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
    const message: StoredMessage = {
      id: this.nextMessageId++,
      recipientId: recipient.id,
      senderName: m.senderName,
      text: m.text,
      sentAt: m.sentAt,
    };
    q.push(message);
    if (dedupKey) {
      // Re-inserted at the end, so the Map stays in time order for pruneSent.
      this.sent.delete(dedupKey);
      this.sent.set(dedupKey, { message, recipientId: recipient.id, at: m.sentAt });
      this.pruneSent(m.sentAt);
    }
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

  async saveToken(t: SessionToken) {
    this.tokens.set(t.hash, t);
  }

  async findToken(hash: string, now: number) {
    const t = this.tokens.get(hash);
    return t && t.expiresAt > now ? t : null;
  }

  async deleteToken(hash: string) {
    this.tokens.delete(hash);
  }

  async sweep(now: number) {
    for (const [hash, t] of this.tokens) if (t.expiresAt <= now) this.tokens.delete(hash);
    this.pruneSent(now);
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

  /** Map iteration is insertion order, so the oldest records come first. */
  private pruneSent(now: number): void {
    for (const [k, r] of this.sent) {
      if (r.at > now - this.limits.dedupWindowMs) break;
      this.sent.delete(k);
    }
  }
}
