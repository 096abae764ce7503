// What LOG_IN and RESUME share once the account is known: token, registration, answer.

import type { Account } from "../../store/store";
import { type Request, Status } from "../../wire";
import { newToken } from "../auth";
import type { ChatCore } from "../chat";
import type { Session } from "../session";

/** Rate-limit answer for login-like requests; true when the request was refused. */
export function loginRateLimited(core: ChatCore, s: Session, req: Request, at: number, key: string): boolean {
  const now = core.now();
  const wait = Math.max(
    key ? core.loginFailuresByAccount.waitMs(key, now) : 0,
    core.loginFailuresByAddress.waitMs(s.address, now),
  );
  if (wait <= 0) return false;
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
  return true;
}

export function loginFailed(core: ChatCore, s: Session, key: string, name: string, reason: string): void {
  const now = core.now();
  if (key) core.loginFailuresByAccount.fail(key, now);
  core.loginFailuresByAddress.fail(s.address, now);
  core.metrics.loginsFailed++;
  core.events({ type: "login_failed", conn: s.id, address: s.address, name, reason });
}

export async function startSession(
  core: ChatCore,
  s: Session,
  req: Request,
  at: number,
  account: Account,
  resumedTokenHash: string | null,
): Promise<void> {
  let token = "";
  let hash = resumedTokenHash;
  if (!hash) {
    const t = newToken();
    token = t.token;
    hash = t.hash;
    await core.store.saveToken({
      hash,
      accountId: account.id,
      expiresAt: core.now() + core.options.sessionTtlMs,
    });
  }
  if (s.closing) return;
  core.beginSession(s, account, hash, resumedTokenHash !== null);
  const unread = await core.store.countPending(account.id);
  if (s.account !== account) return;
  core.delivery.loggedIn(s, unread);
  const how = resumedTokenHash ? "resumed session as" : "logged in as";
  core.reply(s, req, at, {
    name: account.name,
    unread,
    token,
    msg: `${how} ${account.name} — ${unread === 0 ? "no" : unread} unread`,
  });
}
