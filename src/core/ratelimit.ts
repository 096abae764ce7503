// Token buckets: `rate` tokens per second up to `burst`. Pure: the caller passes the time.

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly rate: number,
    private readonly burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.last = now;
  }

  /** Takes one token if there is one. */
  take(now: number): boolean {
    this.refill(now);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Milliseconds until a token is available. */
  waitMs(now: number): number {
    this.refill(now);
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) / this.rate) * 1000);
  }

  /** True when the bucket is full again (and can be forgotten). */
  full(now: number): boolean {
    this.refill(now);
    return this.tokens >= this.burst;
  }

  private refill(now: number): void {
    if (now > this.last) {
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate);
      this.last = now;
    }
  }
}

/**
 * Budgets per key (account, address): each counted event (a failed login, a new account)
 * takes a token; an empty bucket means "wait". Successes cost nothing, so legitimate
 * users are never slowed.
 */
export class Budget {
  private buckets = new Map<string, TokenBucket>();

  constructor(
    private readonly perMinute: number,
    private readonly maxKeys = 100_000,
  ) {}

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
  }

  /** Forgets keys whose budget is whole again; keeps memory bounded. */
  sweep(now: number): void {
    for (const [k, b] of this.buckets) if (b.full(now)) this.buckets.delete(k);
    // Still full of live keys: an attack from many keys. Drop the oldest half rather than grow.
    if (this.buckets.size >= this.maxKeys) {
      let n = this.buckets.size / 2;
      for (const k of this.buckets.keys()) {
        if (n-- <= 0) break;
        this.buckets.delete(k);
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
