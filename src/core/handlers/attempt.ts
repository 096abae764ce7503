// Password and token checks: they take turns (one at a time per account, a few per client
// address), and failures are budgeted per (account, address), per address and per account.
// A failure is counted before the next check of that account starts, so guesses sent at
// once cannot all slip past the budget; successes cost nothing.
//
// The per-account budget never refuses an address that has not failed for the account
// recently (RECENT_FAILURE_MS): someone guessing from other addresses cannot lock the owner
// out, and once they have spent it, each of their addresses gets one guess per period.

import { type Request, Status } from "../../wire";
import type { Core } from "../context";
import type { Session } from "../session";

export interface Attempt {
  /** The check failed: counted against the budgets (done once it resolves), logged. */
  failed(name: string, reason: string): Promise<void>;
  /** The check succeeded: this address's failures for the account are forgotten. */
  succeeded(): Promise<void>;
  /** Always call once the check is over: lets the next attempt in. */
  done(): void;
}

/**
 * Waits for the turn of account key ("" when not known, e.g. a token) and of the client's
 * address, then checks the budgets. Answers RATE_LIMITED or BUSY and returns null when
 * the attempt may not go ahead.
 */
export async function beginAttempt(
  core: Core,
  s: Session,
  req: Request,
  at: number,
  key: string,
): Promise<Attempt | null> {
  const busy = () => {
    core.fail(s, req, at, Status.BUSY, "too many logins at once; try again in a moment", {
      retryAfterMs: 1000,
    });
    return null;
  };
  const addressTurn = core.checksByAddress.enter(s.address);
  if (!addressTurn) return busy();
  const releaseAddress = await addressTurn;
  const accountTurn = key ? core.checksByAccount.enter(key) : Promise.resolve(() => {});
  if (!accountTurn) {
    releaseAddress();
    return busy();
  }
  const releaseAccount = await accountTurn;
  const done = () => {
    releaseAccount();
    releaseAddress();
  };
  const now = core.now();
  const pair = `${key}\u0000${s.address}`;
  let wait: number;
  try {
    // Asked at once: a shared budget answers over the network.
    const [pairWait, addressWait, recent, accountWait] = await Promise.all([
      key ? core.loginFailuresByAccountAddress.waitMs(pair, now) : 0,
      core.loginFailuresByAddress.waitMs(s.address, now),
      key ? core.loginFailuresByAccountAddress.recentlySpent(pair, now) : false,
      key ? core.loginFailuresByAccount.waitMs(key, now) : 0,
    ]);
    wait = Math.max(pairWait, addressWait);
    // The account is under attack: only addresses without a recent failure for it may try.
    if (key && wait === 0 && recent) wait = accountWait;
  } catch (error) {
    done();
    throw error;
  }
  if (wait > 0) {
    done();
    core.limit(s, "login_rate", `failed logins; next try allowed in ${wait} ms`);
    core.fail(
      s,
      req,
      at,
      Status.RATE_LIMITED,
      `too many failed attempts; try again in ${Math.ceil(wait / 1000)} s`,
      {
        retryAfterMs: wait,
      },
    );
    return null;
  }
  return {
    async failed(name, reason) {
      const t = core.now();
      core.metrics.loginsFailed++;
      core.events({ type: "login_failed", conn: s.id, address: s.address, name, reason });
      // Counted before the account's next check may start (done() comes after this).
      await Promise.all([
        key ? core.loginFailuresByAccount.spend(key, t) : undefined,
        key ? core.loginFailuresByAccountAddress.spend(pair, t) : undefined,
        core.loginFailuresByAddress.spend(s.address, t),
      ]);
    },
    async succeeded() {
      if (key) await core.loginFailuresByAccountAddress.forget(pair);
    },
    done,
  };
}
