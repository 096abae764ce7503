// Presence on Redis, shared by every node of one service. A claim is one key per account
// ("<node>|<session>", set atomically with SET … GET, which answers the holder it replaced);
// it counts only while its node's lease key lives. The node renews that one key every
// leaseMs / 3 (Timers), so renewal costs the same however many sessions the node has, and
// when a node dies all its accounts count as offline within leaseMs. A claim left by a dead
// node stays until the account is claimed again or a reader finds it dead and drops it.
//
// The deletion mark: while an account's deletion runs, its tombstone key (the store's
// `gone`, which the store's append script checks) holds "deleting|<node>" with the same
// lease, so every node's SEND is refused atomically, and a node dying mid-deletion leaves
// the account sendable again within leaseMs.

import type { Holder, Presence } from "../core/presence";
import { user } from "../store/redis-keys";
import type { RedisCommands } from "./commands";
import { claimKey, leaseKey } from "./keys";
import { DELETE_IF, EXPIRE_IF } from "./scripts";

/** The default lease: a dead node's accounts count as offline within this long. */
export const DEFAULT_LEASE_MS = 3000;

export const holderValue = (h: Holder): string => `${h.node}|${h.session}`;

/** The holder a claim's value names, or null for anything else. */
export function parseHolder(v: unknown): Holder | null {
  if (typeof v !== "string") return null;
  const bar = v.lastIndexOf("|");
  if (bar <= 0) return null;
  const session = Number(v.slice(bar + 1));
  if (!Number.isSafeInteger(session)) return null;
  return { node: v.slice(0, bar), session };
}

export class RedisPresence implements Presence {
  /** Node → until when (local ms) its lease is known to live, from the key's remaining time. */
  private readonly aliveUntil = new Map<string, number>();
  /** Accounts this node is deleting: their marks are renewed with the lease. */
  private readonly marks = new Set<number>();
  /**
   * Claims whose release failed (Redis away): retried with each renewal, or the account
   * would count as online here, with its messages signalled to a session that is gone.
   */
  private readonly unreleased = new Map<number, string>();
  private renewed = false;
  /** The lease was found gone by a renewal not yet fully through. */
  private lapsed = false;

  constructor(
    private readonly redis: RedisCommands,
    readonly node: string,
    readonly leaseMs = DEFAULT_LEASE_MS,
  ) {}

  async claim(accountId: number, holder: Holder): Promise<Holder | null> {
    const before = parseHolder(
      await this.redis.send("SET", [claimKey(accountId), holderValue(holder), "GET"]),
    );
    // The one it replaced is forced out even if its lease lapsed: its node may be alive.
    return before;
  }

  async release(accountId: number, holder: Holder): Promise<void> {
    const value = holderValue(holder);
    try {
      await this.redis.eval(DELETE_IF, [claimKey(accountId)], [value]);
    } catch (error) {
      if (this.unreleased.size < 1_000_000) this.unreleased.set(accountId, value);
      throw error;
    }
  }

  async holder(accountId: number): Promise<Holder | null> {
    const raw = await this.redis.send("GET", [claimKey(accountId)]);
    const h = parseHolder(raw);
    if (!h) return null;
    if (await this.alive(h.node)) return h;
    // A dead node's claim: nobody holds the account. Dropped if it is still that claim.
    this.redis.eval(DELETE_IF, [claimKey(accountId)], [raw as string]).catch(() => {});
    return null;
  }

  async online(accountIds: readonly number[]): Promise<boolean[]> {
    const holders = (await Promise.all(accountIds.map((id) => this.redis.send("GET", [claimKey(id)])))).map(
      parseHolder,
    );
    const nodes = [...new Set(holders.flatMap((h) => (h ? [h.node] : [])))];
    const alive = new Map(await Promise.all(nodes.map(async (n) => [n, await this.alive(n)] as const)));
    return holders.map((h) => h !== null && alive.get(h.node) === true);
  }

  async renew(node: string): Promise<boolean> {
    if (node !== this.node) throw new Error(`this presence renews node ${this.node}, not ${node}`);
    const asked = Date.now();
    const before = await this.redis.send("SET", [leaseKey(node), "1", "PX", this.leaseMs, "GET"]);
    this.aliveUntil.set(node, asked + this.leaseMs);
    // Told once the whole renewal went through: a failure below leaves it for the next one.
    if (before === null && this.renewed) this.lapsed = true;
    this.renewed = true;
    await Promise.all(
      [...this.marks].map((id) =>
        this.redis.eval(EXPIRE_IF, [user(id).gone], [this.markValue(), this.leaseMs]),
      ),
    );
    for (const [id, value] of [...this.unreleased]) {
      await this.redis.eval(DELETE_IF, [claimKey(id)], [value]);
      this.unreleased.delete(id);
    }
    const lapsed = this.lapsed;
    this.lapsed = false;
    return lapsed;
  }

  /**
   * The node stops (gracefully): drops its lease, after the releases of its sessions (sent
   * before, on the same connection), so a claim left over counts as offline for any node
   * that has not seen the lease alive yet.
   */
  async leave(): Promise<void> {
    await this.redis.send("DEL", [leaseKey(this.node)]);
  }

  async markDeleting(accountId: number): Promise<void> {
    this.marks.add(accountId);
    try {
      await this.redis.send("SET", [user(accountId).gone, this.markValue(), "PX", this.leaseMs]);
    } catch (error) {
      this.marks.delete(accountId);
      throw error;
    }
  }

  async unmarkDeleting(accountId: number): Promise<void> {
    this.marks.delete(accountId);
    // Only the mark: the tombstone of a completed deletion stays.
    await this.redis.eval(DELETE_IF, [user(accountId).gone], [this.markValue()]);
  }

  /** Whether node's lease lives: from what this node last learnt of it, else from Redis. */
  private async alive(node: string): Promise<boolean> {
    const until = this.aliveUntil.get(node);
    if (until !== undefined && until > Date.now()) return true;
    const asked = Date.now();
    const ttl = Number(await this.redis.send("PTTL", [leaseKey(node)]));
    if (ttl <= 0) {
      this.aliveUntil.delete(node);
      return false;
    }
    // The key lives at least ttl ms from when it was asked, whatever its node does meanwhile.
    if (this.aliveUntil.size > 10_000) this.aliveUntil.clear();
    this.aliveUntil.set(node, asked + ttl);
    return true;
  }

  private markValue(): string {
    return `deleting|${this.node}`;
  }
}
