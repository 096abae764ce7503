// Password and token checks are budgeted (per account and per client address): each
// attempt takes a token before the check and a successful one gives it back.

import { type Request, Status } from "../../wire";
import type { ChatCore } from "../chat";
import type { Session } from "../session";

export interface Attempt {
  /** The check passed (or never ran): the attempt costs nothing. */
  refund(): void;
  /** The check failed: the tokens stay spent; logged and counted. */
  failed(name: string, reason: string): void;
}

/**
 * Starts a login-like attempt for account key ("" when unknown, e.g. a token), or answers
 * RATE_LIMITED and returns null when a budget is spent.
 */
export function beginAttempt(
  core: ChatCore,
  s: Session,
  req: Request,
  at: number,
  key: string,
): Attempt | null {
  const now = core.now();
  const byAddress = core.loginAttemptsByAddress;
  const byAccount = core.loginAttemptsByAccount;
  let wait = byAddress.begin(s.address, now);
  if (wait === 0 && key) {
    wait = byAccount.begin(key, now);
    if (wait > 0) byAddress.refund(s.address, now);
  }
  if (wait > 0) {
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
    refund() {
      const t = core.now();
      byAddress.refund(s.address, t);
      if (key) byAccount.refund(key, t);
    },
    failed(name, reason) {
      core.metrics.loginsFailed++;
      core.events({ type: "login_failed", conn: s.id, address: s.address, name, reason });
    },
  };
}
