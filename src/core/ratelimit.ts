// Token buckets: `rate` tokens per second up to `burst`. Pure: the caller passes the time.

/** A bucket's state; sessions keep these two numbers inline (memory per connection). */
export interface Bucket {
  tokens: number;
  tokensAt: number;
}

function refill(b: Bucket, now: number, rate: number, burst: number): void {
  if (now > b.tokensAt) {
    b.tokens = Math.min(burst, b.tokens + ((now - b.tokensAt) / 1000) * rate);
    b.tokensAt = now;
  }
}

/** Takes one token if there is one. */
export function takeToken(b: Bucket, now: number, rate: number, burst: number): boolean {
  refill(b, now, rate, burst);
  if (b.tokens < 1) return false;
  b.tokens -= 1;
  return true;
}

/** Milliseconds until a token is available. */
export function tokenWaitMs(b: Bucket, now: number, rate: number, burst: number): number {
  refill(b, now, rate, burst);
  return b.tokens >= 1 ? 0 : Math.ceil(((1 - b.tokens) / rate) * 1000);
}

export class TokenBucket implements Bucket {
  tokens: number;
  tokensAt: number;

  constructor(
    private readonly rate: number,
    private readonly burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.tokensAt = now;
  }

  take(now: number): boolean {
    return takeToken(this, now, this.rate, this.burst);
  }

  waitMs(now: number): number {
    return tokenWaitMs(this, now, this.rate, this.burst);
  }

  /** True when the bucket is full again (and can be forgotten). */
  full(now: number): boolean {
    refill(this, now, this.rate, this.burst);
    return this.tokens >= this.burst;
  }
}

/**
 * How long an address's failed login for an account counts as recent: while the account's
 * own budget is spent, only addresses without a recent failure for it may try.
 */
export const RECENT_FAILURE_MS = 15 * 60 * 1000;

/**
 * Budgets per key (account, address): each counted event (a failed login, a new account)
 * takes a token; an empty bucket means "wait". Successes cost nothing, so legitimate
 * users are never slowed.
 */
export class Budget {
  private buckets = new Map<string, TokenBucket>();
  /** When each key last spent, for recentlySpent(); kept only with a memoryMs. */
  private spentAt = new Map<string, number>();

  /** memoryMs: how long a key's last spending is remembered for recentlySpent(). */
  constructor(
    private readonly perMinute: number,
    private readonly maxKeys = 100_000,
    private readonly memoryMs = 0,
  ) {}

  /** True when key spent within the last memoryMs. */
  recentlySpent(key: string, now: number): boolean {
    const at = this.spentAt.get(key);
    return at !== undefined && now - at < this.memoryMs;
  }

  /** Forgets key's spending (its budget is whole again). */
  forget(key: string): void {
    this.buckets.delete(key);
    this.spentAt.delete(key);
  }

  /** Milliseconds to wait before another attempt for key (0 = go ahead). */
  waitMs(key: string, now: number): number {
    return this.buckets.get(key)?.waitMs(now) ?? 0;
  }

  /** Counts one event against key. */
  spend(key: string, now: number): void {
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= this.maxKeys) this.sweep(now);
      b = new TokenBucket(this.perMinute / 60, this.perMinute, now);
      this.buckets.set(key, b);
    }
    b.take(now);
    if (this.memoryMs > 0) this.spentAt.set(key, now);
  }

  /** Forgets keys whose budget is whole again; keeps memory bounded. */
  sweep(now: number): void {
    for (const [k, b] of this.buckets) if (b.full(now) && !this.recentlySpent(k, now)) this.forget(k);
    for (const k of this.spentAt.keys())
      if (!this.buckets.has(k) && !this.recentlySpent(k, now)) this.spentAt.delete(k);
    // Still full of live keys: an attack from many keys. Drop the oldest half rather than grow.
    if (this.buckets.size >= this.maxKeys) {
      let n = this.buckets.size / 2;
      for (const k of this.buckets.keys()) {
        if (n-- <= 0) break;
        this.forget(k);
      }
    }
  }

  get size(): number {
    return this.buckets.size;
  }
}

/**
 * At most `max` operations at once per key; later ones wait their turn. With max 1 per
 * account, a login's failure is counted before the next guess is checked, so guesses
 * sent at once cannot all slip past the budget.
 */
export class KeyedGate {
  private readonly entries = new Map<string, { active: number; waiting: (() => void)[] }>();

  constructor(
    private readonly max: number,
    private readonly maxWaiting: number,
  ) {}

  /** Resolves with a release function once it is key's turn; null when too many are waiting. */
  enter(key: string): Promise<() => void> | null {
    let e = this.entries.get(key);
    if (!e) {
      e = { active: 0, waiting: [] };
      this.entries.set(key, e);
    }
    const entry = e;
    const release = () => {
      const next = entry.waiting.shift();
      if (next) next();
      else if (--entry.active === 0) this.entries.delete(key);
    };
    if (entry.active < this.max) {
      entry.active++;
      return Promise.resolve(release);
    }
    if (entry.waiting.length >= this.maxWaiting) return null;
    return new Promise((resolve) => entry.waiting.push(() => resolve(release)));
  }

  get size(): number {
    return this.entries.size;
  }
}

/**
 * Tokens of the client address's budget a message to be stored costs beyond its frame's one:
 * it is a write to disk, and one address's writes are what can stall everyone's commits.
 */
export const SEND_ADDRESS_TOKENS = 3;
