// The hash an unknown account name is checked against, so that a login with a name that
// does not exist costs what one with a wrong password costs. After --argon2-* changes,
// stored hashes keep their old cost until their owners log in again (and are rehashed), so
// the dummy takes the cost most stored hashes have, not the configured one.

import type { Store } from "../store/store";
import { type Argon2Cost, type HashGate, hashCost, sameCost } from "./auth";

/** How many stored hashes are looked at to learn the common cost, and how often. */
const SAMPLE = 64;
const RELEARN_MS = 10 * 60 * 1000;

/** The most common cost among hashes (ties: the first seen); null when none has one. */
export function commonCost(hashes: readonly string[]): Argon2Cost | null {
  const counts = new Map<string, { cost: Argon2Cost; n: number }>();
  let best: { cost: Argon2Cost; n: number } | null = null;
  for (const h of hashes) {
    const cost = hashCost(h);
    if (!cost) continue;
    const k = `${cost.memoryKiB}/${cost.timeCost}`;
    const c = counts.get(k) ?? { cost, n: 0 };
    c.n++;
    counts.set(k, c);
    if (!best || c.n > best.n) best = c;
  }
  return best?.cost ?? null;
}

export class DummyHash {
  private made: { cost: Argon2Cost | undefined; hash: Promise<string> } | null = null;
  private learnt: { cost: Argon2Cost | undefined; at: number } | null = null;
  private learning: Promise<void> | null = null;

  constructor(
    private readonly store: Store,
    private readonly hashes: HashGate,
    private readonly now: () => number,
  ) {}

  /** A hash of a random password at the common stored cost; "busy" when the hash queue is full. */
  async get(): Promise<string | "busy"> {
    const cost = await this.cost();
    if (!this.made || !costsEqual(this.made.cost, cost)) {
      const making = this.hashes.hash(crypto.randomUUID(), cost);
      if (!making) return "busy";
      const made = {
        cost,
        // A failed attempt is not kept: the next unknown name tries again.
        hash: making.catch((error) => {
          if (this.made === made) this.made = null;
          throw error;
        }),
      };
      this.made = made;
    }
    return this.made.hash;
  }

  /** The cost to use: learnt from the store, relearnt in the background every RELEARN_MS. */
  private async cost(): Promise<Argon2Cost | undefined> {
    const stale = !this.learnt || this.now() - this.learnt.at >= RELEARN_MS;
    if (stale && !this.learning) {
      this.learning = this.store
        .samplePasswordHashes(SAMPLE)
        .then((sample) => {
          this.learnt = { cost: commonCost(sample) ?? this.hashes.cost, at: this.now() };
        })
        .catch(() => {
          // The store failed: use the configured cost, and try again later.
          this.learnt = { cost: this.hashes.cost, at: this.now() };
        })
        .finally(() => {
          this.learning = null;
        });
    }
    if (!this.learnt) await this.learning;
    return this.learnt?.cost;
  }
}

function costsEqual(a: Argon2Cost | undefined, b: Argon2Cost | undefined): boolean {
  return a === b || (a !== undefined && b !== undefined && sameCost(a, b));
}
