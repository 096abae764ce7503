// Password hashing (argon2id, off the event loop) and session tokens.

import { createHash, randomBytes } from "node:crypto";

export interface PasswordHasher {
  /** A hash at the configured cost, or at `cost` when given. */
  hash(password: string, cost?: Argon2Cost): Promise<string>;
  verify(password: string, hash: string): Promise<boolean>;
  /** The cost new hashes get; absent for hashers without one (tests). */
  readonly cost?: Argon2Cost;
}

export interface Argon2Cost {
  /** KiB of memory per hash (OWASP's minimum for argon2id is 19456 with 2 passes). */
  memoryKiB: number;
  timeCost: number;
}

export const DEFAULT_ARGON2: Argon2Cost = { memoryKiB: 19_456, timeCost: 2 };

/** Bun.password runs argon2id on a worker thread, so the event loop keeps serving. */
export function argon2Hasher(cost: Argon2Cost): PasswordHasher {
  return {
    cost,
    hash: (password, at = cost) =>
      Bun.password.hash(password, {
        algorithm: "argon2id",
        memoryCost: at.memoryKiB,
        timeCost: at.timeCost,
      }),
    verify: (password, hash) => Bun.password.verify(password, hash),
  };
}

/** The cost an argon2 hash (PHC string `$argon2id$v=19$m=19456,t=2,p=1$…`) was made with, or null. */
export function hashCost(hash: string): Argon2Cost | null {
  const m = /^\$argon2(?:id|i|d)\$(?:v=\d+\$)?m=(\d+),t=(\d+),p=\d+\$/.exec(hash);
  return m ? { memoryKiB: Number(m[1]), timeCost: Number(m[2]) } : null;
}

export function sameCost(a: Argon2Cost, b: Argon2Cost): boolean {
  return a.memoryKiB === b.memoryKiB && a.timeCost === b.timeCost;
}

/** Refuses work past a bound instead of queueing hashes without limit. */
export class HashGate {
  private running = 0;

  constructor(
    private readonly hasher: PasswordHasher,
    private readonly max: number,
  ) {}

  /** The cost new hashes get (undefined: the hasher has no notion of cost). */
  get cost(): Argon2Cost | undefined {
    return this.hasher.cost;
  }

  /** Undefined when too many hashes are already queued. */
  hash(password: string, cost?: Argon2Cost): Promise<string> | undefined {
    return this.run(() => this.hasher.hash(password, cost));
  }

  verify(password: string, hash: string): Promise<boolean> | undefined {
    return this.run(() => this.hasher.verify(password, hash));
  }

  private run<T>(fn: () => Promise<T>): Promise<T> | undefined {
    if (this.running >= this.max) return undefined;
    this.running++;
    return fn().finally(() => {
      this.running--;
    });
  }
}

/** A new session token (sent to the client once) and the hash stored in its place. */
export function newToken(): { token: string; hash: string } {
  const token = randomBytes(24).toString("base64url");
  return { token, hash: tokenHash(token) };
}

/** SHA-256 cut to 128 bits (plenty to look a 192-bit random token up), base64url: short to keep per session. */
export function tokenHash(token: string): string {
  return createHash("sha256").update(token).digest().subarray(0, 16).toString("base64url");
}
