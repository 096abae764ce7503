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
  /** The check failed: counted against the budgets, logged. */
  failed(name: string, reason: string): void;
  /** The check succeeded: this address's failures for the account are forgotten. */
  succeeded(): void;
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
  let wait = Math.max(
    key ? core.loginFailuresByAccountAddress.waitMs(pair, now) : 0,
    core.loginFailuresByAddress.waitMs(s.address, now),
  );
  // The account is under attack: only addresses without a recent failure for it may try.
  if (key && wait === 0 && core.loginFailuresByAccountAddress.recentlySpent(pair, now)) {
    wait = core.loginFailuresByAccount.waitMs(key, now);
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
    failed(name, reason) {
      const t = core.now();
      if (key) {
        core.loginFailuresByAccount.spend(key, t);
        core.loginFailuresByAccountAddress.spend(pair, t);
      }
      core.loginFailuresByAddress.spend(s.address, t);
      core.metrics.loginsFailed++;
      core.events({ type: "login_failed", conn: s.id, address: s.address, name, reason });
    },
    succeeded() {
      if (key) core.loginFailuresByAccountAddress.forget(pair);
    },
    done,
  };
}
