// The request budget of one client address, shared by all its connections: 200 connections
// from one address get one address's share of the server, not 200 shares. Work is charged
// in units (a frame is one, its bytes one per BYTES_PER_UNIT, and the core charges what a
// request costs beyond that: a LIST page, the ids of an ACK). An address in debt is not read
// from until the debt is paid off: the client meets back-pressure (its writes stall in the
// kernel), not refusals it would only answer by sending again.
//
// Within an address, each connection also has a share: the address's rate divided by its
// connections. While the address is in debt, a connection within its share still goes on,
// so one person behind the same NAT as a flood waits for their share, not behind the flood.
// (The address then spends at most twice its rate: its own bucket and the shares.)
//
// One level up, all addresses together have a total budget: many addresses (a botnet, an
// IPv6 prefix) get the total's worth between them, not one address's worth each. While the
// total is in debt, an address within its fair part of it (the total's rate divided by the
// addresses that spent recently) still goes on, so a person on a quiet address waits for
// that part, not behind the flood; the others wait, by the same back-pressure.

/** Frame bytes that cost one unit on top of the frame's own: a 64 KiB ACK frame costs 65. */
export const BYTES_PER_UNIT = 1024;

/**
 * Defaults: far above what people chatting from one address (a NAT, an office) send —
 * about 250 stored messages a second (a SEND costs its frame's unit and SEND_ADDRESS_TOKENS),
 * or ten pages of a thousand names — and, for 200 connections of one attacker, a few percent
 * of one core (docs/SECURITY.md, "Hostile load").
 */
export const DEFAULT_ADDRESS_RATE = 1000;
export const DEFAULT_ADDRESS_BURST = 2000;

/**
 * The total budget, unless given, is this many addresses' worth of the per-address one:
 * 100,000 tokens a second by default (about 20,000 stored messages a second, a fraction of
 * one core), and raised with it where one address is meant to send a lot (a benchmark).
 */
export const DEFAULT_TOTAL_ADDRESSES = 100;

/**
 * What a TLS handshake costs, taken from the total budget before it starts: about 0.3 ms of
 * the server's CPU with a P-256 certificate and 1.2 ms with RSA-2048 (this project's VM),
 * where a relayed message costs about 12 µs for its 5 units.
 */
export const TLS_HANDSHAKE_UNITS = 250;

/** Rate and burst of the total budget of all addresses together. */
export interface TotalRate {
  rate: number;
  burst: number;
}

/** The budget a server's options describe (per address, and all addresses together). */
export function newAddressBudget(
  o: {
    addressRequestRate: number;
    addressRequestBurst: number;
    totalRequestRate?: number;
    totalRequestBurst?: number;
  },
  connections: (address: string) => number,
): AddressBudget {
  return new AddressBudget(o.addressRequestRate, o.addressRequestBurst, connections, undefined, {
    rate: o.totalRequestRate ?? o.addressRequestRate * DEFAULT_TOTAL_ADDRESSES,
    burst: o.totalRequestBurst ?? o.addressRequestBurst * DEFAULT_TOTAL_ADDRESSES,
  });
}

/** Buckets refilled to full and waited on by nobody are forgotten this often. */
const SWEEP_MS = 10_000;

/** One connection's share of its address's budget; kept by the connection. */
export interface Share {
  tokens: number;
  at: number;
  /** The address's bucket as last looked up for this connection (a frame asks several times). */
  bucket: Bucket | null;
  bucketAddress: string;
}

export function newShare(at: number): Share {
  return { tokens: 0, at, bucket: null, bucketAddress: "" };
}

/**
 * performance.now() read once per synchronous run of the server (one connection's chunk of
 * frames, or one timer): a frame is charged and checked several times, and a clock read
 * costs about 50 ns on a VM. A reading a few ms old refills a bucket a little late, never
 * early.
 */
let turnClock = 0;
let turnClockRead = false;
const turnEnds = () => {
  turnClockRead = false;
};
function turnNow(): number {
  if (!turnClockRead) {
    turnClock = performance.now();
    turnClockRead = true;
    queueMicrotask(turnEnds);
  }
  return turnClock;
}

interface Bucket {
  tokens: number;
  at: number;
  /** The address's fair part of the total: counts what it spends while the total is in debt. */
  fair: number;
  fairAt: number;
  /** Called once the bucket is out of debt; then cleared. */
  waiters: (() => void)[] | null;
  timer: ReturnType<typeof setTimeout> | null;
  /** Forgotten by the budget (swept): a share that kept it looks its address up again. */
  gone: boolean;
}

export class AddressBudget {
  private readonly buckets = new Map<string, Bucket>();
  private readonly sweeper: ReturnType<typeof setInterval>;
  /** All addresses together. */
  private readonly total: { tokens: number; at: number; rate: number; burst: number };
  /** Called each time all addresses together have spent the total (for the operator's log). */
  onTotalSpent: (() => void) | null = null;

  constructor(
    readonly rate: number,
    readonly burst: number,
    /** Connections open from an address now: a share is the rate divided by them. */
    private readonly connections: (address: string) => number = () => 1,
    readonly now: () => number = turnNow,
    total: TotalRate = { rate: rate * DEFAULT_TOTAL_ADDRESSES, burst: burst * DEFAULT_TOTAL_ADDRESSES },
  ) {
    this.total = { tokens: total.burst, at: now(), rate: total.rate, burst: total.burst };
    this.sweeper = setInterval(() => this.sweep(), SWEEP_MS);
    this.sweeper.unref();
  }

  /** Spends units of address's budget (and the connection's share), into debt if need be. */
  charge(address: string, units: number, share?: Share): void {
    const b = this.bucket(address, share);
    const inDebt = b.tokens < 0;
    b.tokens -= units;
    // A share counts only what its connection spends while the address is in debt. What it
    // spent while the address had tokens to spare was the address's to give; were it
    // counted, a connection that used an idle address's burst would wait that whole burst
    // out at its share's rate (seconds) while the others keep the address in debt.
    if (share && inDebt) share.tokens = Math.max(-this.burst, share.tokens - units);
    this.spendTotal(b, units);
  }

  /**
   * Spends units of the total budget only (a TLS handshake: its CPU is the server's
   * whoever asks, but charged per address it would hold back a NAT's clients reconnecting
   * together long before the server is busy).
   */
  chargeTotal(address: string, units: number): void {
    this.spendTotal(this.bucket(address), units);
  }

  /** True if the total lets address go on: it is not in debt, or address is within its fair part. */
  totalLets(address: string): boolean {
    return !this.totalInDebt() || this.fairTokens(address) >= 0;
  }

  /** Calls go once the total lets address go on (at once if it does), unless gone() first. */
  whenTotalLets(address: string, go: () => void, gone: () => boolean = () => false): void {
    if (gone()) return;
    if (this.totalLets(address)) {
      go();
      return;
    }
    const wait = Math.max(1, this.totalWaitMs(address));
    setTimeout(() => this.whenTotalLets(address, go, gone), wait);
  }

  /** True if a connection with this share may be handed more work now. */
  mayGo(address: string, share: Share): boolean {
    // Asked before every frame: one clock read for the address and the total.
    const now = this.now();
    const b = this.known(address, share);
    if (b) {
      this.refill(b, now);
      if (b.tokens < 0 && this.refillShare(address, share) < 0) return false;
    }
    this.refillTotal(now);
    return this.total.tokens >= 0 || this.fairTokens(address) >= 0;
  }

  /** True while all addresses together owe more than the total has. */
  totalInDebt(): boolean {
    this.refillTotal(this.now());
    return this.total.tokens < 0;
  }

  /** Milliseconds until a connection with this share may go on (0: it may now). */
  goWaitMs(address: string, share: Share): number {
    let wait = 0;
    if (this.inDebt(address)) wait = Math.min(this.waitMs(address), this.shareWaitMs(address, share));
    return Math.max(wait, this.totalWaitMs(address));
  }

  /** Milliseconds until the total lets address go on (0 if it does now). */
  private totalWaitMs(address: string): number {
    if (!this.totalInDebt()) return 0;
    const fair = this.fairTokens(address);
    if (fair >= 0) return 0;
    const untilTotal = Math.ceil((-this.total.tokens / this.total.rate) * 1000);
    const untilFair = Math.ceil((-fair / this.fairRate()) * 1000);
    return Math.min(untilTotal, untilFair);
  }

  /** The total's part of a charge: an address's fair part counts while the total is in debt. */
  private spendTotal(b: Bucket, units: number): void {
    const t = this.total;
    this.refillTotal(b.at);
    if (t.tokens < 0) {
      this.refillFair(b);
      b.fair = Math.max(-this.burst, b.fair - units);
    }
    t.tokens -= units;
    if (t.tokens < 0 && t.tokens + units >= 0) this.onTotalSpent?.();
  }

  /** Milliseconds until the share alone lets its connection go on (0 if it does now). */
  shareWaitMs(address: string, share: Share): number {
    const tokens = this.refillShare(address, share);
    return tokens >= 0 ? 0 : Math.ceil((-tokens / this.shareRate(address)) * 1000);
  }

  /** True while address owes more than it has: hand it no more work. */
  inDebt(address: string): boolean {
    const b = this.buckets.get(address);
    if (!b) return false;
    this.refill(b);
    return b.tokens < 0;
  }

  /** Milliseconds until address is out of debt (0 if it is not in debt). */
  waitMs(address: string): number {
    const b = this.buckets.get(address);
    if (!b) return 0;
    this.refill(b);
    return b.tokens >= 0 ? 0 : Math.ceil((-b.tokens / this.rate) * 1000);
  }

  /** Calls wake once address is out of debt (at once if it is not). */
  whenPaid(address: string, wake: () => void): void {
    const wait = this.waitMs(address);
    if (wait === 0) {
      wake();
      return;
    }
    const b = this.buckets.get(address)!;
    b.waiters ??= [];
    b.waiters.push(wake);
    if (!b.timer) b.timer = setTimeout(() => this.release(address, b), wait);
  }

  /**
   * Calls go once, when either comes first: the address is out of debt, or this connection's
   * share alone lets it go on.
   */
  whenMayGo(address: string, share: Share, go: () => void): void {
    let done = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const check = () => {
      if (done) return;
      clearTimeout(timer);
      if (this.mayGo(address, share)) {
        done = true;
        go();
        return;
      }
      // Held by the total (or still by the address): look again when the wait is over.
      timer = setTimeout(check, Math.max(1, this.goWaitMs(address, share)));
    };
    timer = setTimeout(check, Math.max(1, this.goWaitMs(address, share)));
    if (this.inDebt(address)) this.whenPaid(address, check);
  }

  /** Spends units; resolves once the connection may go on again (undefined: it may now). */
  chargeAndWait(address: string, units: number, share: Share): Promise<void> | undefined {
    this.charge(address, units, share);
    if (this.mayGo(address, share)) return undefined;
    return new Promise((resolve) => this.whenMayGo(address, share, resolve));
  }

  /** Buckets kept (addresses that spent recently or are waited on). */
  get size(): number {
    return this.buckets.size;
  }

  stop(): void {
    clearInterval(this.sweeper);
    for (const b of this.buckets.values()) {
      if (b.timer) clearTimeout(b.timer);
      b.gone = true;
    }
    this.buckets.clear();
  }

  private release(address: string, b: Bucket): void {
    b.timer = null;
    const wait = this.waitMs(address);
    if (wait > 0) {
      b.timer = setTimeout(() => this.release(address, b), wait);
      return;
    }
    // Each connection woken takes its turn; one that goes into debt again waits anew.
    const waiters = b.waiters ?? [];
    b.waiters = null;
    for (const wake of waiters) wake();
  }

  /** address's bucket if it has one: the one its connection's share kept, else the Map's (then kept). */
  private known(address: string, share?: Share): Bucket | undefined {
    const kept = share?.bucket;
    if (kept && share.bucketAddress === address && !kept.gone) return kept;
    const b = this.buckets.get(address);
    if (b && share) {
      share.bucket = b;
      share.bucketAddress = address;
    }
    return b;
  }

  private bucket(address: string, share?: Share): Bucket {
    const known = this.known(address, share);
    if (known) {
      this.refill(known);
      return known;
    }
    const at = this.now();
    const b: Bucket = {
      tokens: this.burst,
      at,
      fair: 0,
      fairAt: at,
      waiters: null,
      timer: null,
      gone: false,
    };
    this.buckets.set(address, b);
    if (share) {
      share.bucket = b;
      share.bucketAddress = address;
    }
    return b;
  }

  /** The total's rate divided by the addresses that spent recently (those with a bucket). */
  private fairRate(): number {
    return this.total.rate / Math.max(1, this.buckets.size);
  }

  /** An address's fair part of the total (an address that has not spent has all of it). */
  private fairTokens(address: string): number {
    const b = this.buckets.get(address);
    return b ? this.refillFair(b) : 0;
  }

  /** Refills an address's fair part at its rate, up to one second of it. */
  private refillFair(b: Bucket): number {
    const now = this.now();
    if (now > b.fairAt) {
      const rate = this.fairRate();
      b.fair = Math.min(rate, b.fair + ((now - b.fairAt) / 1000) * rate);
      b.fairAt = now;
    }
    return b.fair;
  }

  private refillTotal(now: number): void {
    const t = this.total;
    if (now > t.at) {
      t.tokens = Math.min(t.burst, t.tokens + ((now - t.at) / 1000) * t.rate);
      t.at = now;
    }
  }

  private shareRate(address: string): number {
    return this.rate / Math.max(1, this.connections(address));
  }

  /** Refills a share at its rate, up to one second of it; returns its tokens. */
  private refillShare(address: string, share: Share): number {
    const now = this.now();
    if (now > share.at) {
      const rate = this.shareRate(address);
      share.tokens = Math.min(rate, share.tokens + ((now - share.at) / 1000) * rate);
      share.at = now;
    }
    return share.tokens;
  }

  private refill(b: Bucket, now = this.now()): void {
    if (now > b.at) {
      b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.rate);
      b.at = now;
    }
  }

  private sweep(): void {
    for (const [address, b] of this.buckets) {
      this.refill(b);
      if (b.tokens >= this.burst && !b.waiters && !b.timer) {
        b.gone = true;
        this.buckets.delete(address);
      }
    }
  }
}
