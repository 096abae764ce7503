// Who may hold a connection: counts every accepted socket, from the moment it is accepted
// (a TLS socket still in its handshake counts), in total and per client address.

export type RefusalKind = "global" | "per_address";

export interface Refusal {
  kind: RefusalKind;
  /** Why, in words for the client and the log. */
  detail: string;
}

export class Admission {
  private readonly perAddress = new Map<string, number>();
  /** Sockets admitted and not yet released. */
  total = 0;

  constructor(
    readonly maxConnections: number,
    readonly maxPerAddress: number,
  ) {}

  /** Admits (and counts) a socket from address, or says why not. */
  admit(address: string): Refusal | null {
    if (this.total >= this.maxConnections)
      return { kind: "global", detail: `the server is at its limit of ${this.maxConnections} connections` };
    const from = this.perAddress.get(address) ?? 0;
    if (from >= this.maxPerAddress)
      return {
        kind: "per_address",
        detail: `too many connections from ${address} (limit ${this.maxPerAddress})`,
      };
    this.perAddress.set(address, from + 1);
    this.total++;
    return null;
  }

  /** A socket admitted from address has closed. */
  release(address: string): void {
    const n = this.perAddress.get(address);
    if (n === undefined) return;
    this.total--;
    if (n > 1) this.perAddress.set(address, n - 1);
    else this.perAddress.delete(address);
  }

  from(address: string): number {
    return this.perAddress.get(address) ?? 0;
  }
}

/**
 * Items that must be done within one fixed time of being added (TLS handshakes). With one
 * timeout for all, insertion order is deadline order: expiry looks only at the front.
 */
export class Deadlines<T> {
  private readonly items = new Map<T, number>();

  constructor(readonly timeoutMs: number) {}

  get size(): number {
    return this.items.size;
  }

  add(item: T, now: number): void {
    this.items.set(item, now + this.timeoutMs);
  }

  /** Done in time (or gone); false if it was not waiting. */
  delete(item: T): boolean {
    return this.items.delete(item);
  }

  /** Removes and returns every item whose deadline has passed. */
  expired(now: number): T[] {
    const out: T[] = [];
    for (const [item, deadline] of this.items) {
      if (deadline > now) break;
      out.push(item);
    }
    for (const item of out) this.items.delete(item);
    return out;
  }
}

/**
 * Logs a repeated event at most once per interval: the first at once, the rest counted and
 * reported together when the interval has passed (a flood of refusals is one line, not one
 * per socket).
 */
export class OncePerInterval {
  private since = Number.NEGATIVE_INFINITY;
  private suppressed = 0;

  constructor(readonly intervalMs: number) {}

  /** True if this occurrence should be logged now; otherwise it is counted. */
  note(now: number): boolean {
    if (now - this.since >= this.intervalMs) {
      this.since = now;
      return true;
    }
    this.suppressed++;
    return false;
  }

  /** Occurrences not logged, once the interval since the last line has passed (else 0). */
  due(now: number): number {
    if (this.suppressed === 0 || now - this.since < this.intervalMs) return 0;
    const n = this.suppressed;
    this.suppressed = 0;
    this.since = now;
    return n;
  }
}
