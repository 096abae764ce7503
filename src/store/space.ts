// The data budget (--max-data-mb): how many bytes the data file and its WAL may take, and
// how that is split so that a full store still lets people log in and read. Pure numbers.

const KiB = 1024;
const MiB = 1024 * KiB;

export interface SpacePlan {
  /** The whole budget: data file plus WAL. */
  readonly totalBytes: number;
  /** What the WAL may grow to before it is checkpointed and truncated. */
  readonly walBytes: number;
  /** The data file's hard cap (the rest of the budget): writes past it fail as a full disk. */
  readonly fileBytes: number;
  /**
   * Kept free for what lets people in and frees space (session tokens, confirmations,
   * deletions): new messages and new accounts stop this far below fileBytes.
   */
  readonly reserveBytes: number;
  /** Live data (pages in use) at which new messages and new accounts are refused. */
  readonly newDataBytes: number;
}

/** Splits a budget of totalBytes (at least MIN_BUDGET_BYTES). */
export function planSpace(totalBytes: number): SpacePlan {
  const total = Math.max(MIN_BUDGET_BYTES, Math.floor(totalBytes));
  const walBytes = clamp(Math.floor(total / 16), 64 * KiB, 64 * MiB);
  const reserveBytes = clamp(Math.floor(total / 20), 64 * KiB, 64 * MiB);
  const fileBytes = total - walBytes;
  return { totalBytes: total, walBytes, fileBytes, reserveBytes, newDataBytes: fileBytes - reserveBytes };
}

/** The smallest budget that leaves room for a WAL, a reserve and some data. */
export const MIN_BUDGET_BYTES = 512 * KiB;

/**
 * The budget when none is given: what the data takes now plus 90% of the disk's free
 * space, so the store fills its budget before the disk fills (other files may need the rest).
 */
export function defaultBudget(usedBytes: number, freeBytes: number): number {
  return Math.max(MIN_BUDGET_BYTES, usedBytes + Math.floor(freeBytes * 0.9));
}

/** "1.5 GB", "300 MB", "512 KB": budgets for people. */
export function formatBytes(n: number): string {
  if (n >= 1024 * MiB) return `${Math.round((n / (1024 * MiB)) * 10) / 10} GB`;
  if (n >= MiB) return `${Math.round((n / MiB) * 10) / 10} MB`;
  return `${Math.round(n / KiB)} KB`;
}

const clamp = (n: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, n));
