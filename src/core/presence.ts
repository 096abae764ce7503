// Who holds each account's session, as every node of one service sees it. A node claims
// an account when a session logs in to it and releases it when that session ends; the
// claim answers who held the account before, so that session can be forced out (by a
// signal to its node, signals.ts). One server uses LocalPresence; several nodes share one
// backend (Redis) behind the same interface, where a claim carries a lease that its node
// renews, so the accounts of a node that died count as offline once the lease runs out.

/** One session of one node. */
export interface Holder {
  readonly node: string;
  /** The session's id on its node. */
  readonly session: number;
}

export interface Presence {
  /** How long a claim lasts without renewal (ms); Infinity where claims never expire. */
  readonly leaseMs: number;
  /**
   * Makes holder the account's, atomically; resolves with the holder it replaced (who must
   * be forced out), or null when nobody held the account.
   */
  claim(accountId: number, holder: Holder): Promise<Holder | null>;
  /** Drops the account's claim if holder still has it (a newer claim stays). */
  release(accountId: number, holder: Holder): Promise<void>;
  /** Who holds the account, or null. */
  holder(accountId: number): Promise<Holder | null>;
  /**
   * holder() answered at once, where the answer is at hand (this process's memory): a SEND
   * to someone offline then costs no promise and no extra turn of the microtask queue.
   */
  holderNow?(accountId: number): Holder | null;
  /** Whether each of these accounts is held by anyone (LIST's online marks). */
  online(accountIds: readonly number[]): Promise<boolean[]>;
  /**
   * Extends the leases of every claim of node (and of its deletion marks); its timer calls
   * this every leaseMs / 3. Resolves true when the node's lease had run out before: others
   * counted its accounts offline meanwhile (and may have claimed them), so it resyncs.
   */
  renew(node: string): Promise<boolean>;
  /**
   * From now on, until unmarkDeleting or the lease runs out, the shared store refuses
   * messages to the account atomically on every node (a deletion is under way). Where
   * every node sees the "deleting" signal at once (one process), there is nothing to do.
   */
  markDeleting(accountId: number): Promise<void>;
  /** The deletion stopped before it completed: the account takes messages again. */
  unmarkDeleting(accountId: number): Promise<void>;
}

export const sameHolder = (a: Holder | null, b: Holder | null): boolean =>
  a !== null && b !== null && a.node === b.node && a.session === b.session;

/**
 * Presence in this process's memory: exact and immediate, leases never expire (a node that
 * dies takes the whole service with it). Several cores in one process may share one, as
 * the tests do to stand in for a shared backend.
 */
export class LocalPresence implements Presence {
  readonly leaseMs = Number.POSITIVE_INFINITY;
  private readonly holders = new Map<number, Holder>();

  async claim(accountId: number, holder: Holder): Promise<Holder | null> {
    const before = this.holders.get(accountId) ?? null;
    this.holders.set(accountId, holder);
    return before;
  }

  async release(accountId: number, holder: Holder): Promise<void> {
    if (sameHolder(this.holders.get(accountId) ?? null, holder)) this.holders.delete(accountId);
  }

  async holder(accountId: number): Promise<Holder | null> {
    return this.holders.get(accountId) ?? null;
  }

  holderNow(accountId: number): Holder | null {
    return this.holders.get(accountId) ?? null;
  }

  async online(accountIds: readonly number[]): Promise<boolean[]> {
    return accountIds.map((id) => this.holders.has(id));
  }

  async renew(_node: string): Promise<boolean> {
    return false;
  }

  async markDeleting(_accountId: number): Promise<void> {}

  async unmarkDeleting(_accountId: number): Promise<void> {}
}
