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

  /** Returns a token (never above burst). */
  give(now: number): void {
    this.refill(now);
    this.tokens = Math.min(this.burst, this.tokens + 1);
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
 * Attempt budgets per key (account, address). Every attempt takes a token up front and a
 * successful one gives it back, so many attempts at once cannot all slip in before the
 * first failure is counted, and legitimate users are never slowed.
 */
export class AttemptBudget {
  private buckets = new Map<string, TokenBucket>();

  constructor(
    private readonly perMinute: number,
    private readonly maxKeys = 100_000,
  ) {}

  /** Takes a token for key; returns 0, or the milliseconds to wait (nothing taken). */
  begin(key: string, now: number): number {
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= this.maxKeys) this.sweep(now);
      b = new TokenBucket(this.perMinute / 60, this.perMinute, now);
      this.buckets.set(key, b);
    }
    return b.take(now) ? 0 : b.waitMs(now);
  }

  /** Gives back the token of an attempt that succeeded. */
  refund(key: string, now: number): void {
    this.buckets.get(key)?.give(now);
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
