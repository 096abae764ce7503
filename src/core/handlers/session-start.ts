// What LOG_IN and RESUME share once the account is known: token, registration, answer.

import type { Account } from "../../store/store";
import { type Request, Status } from "../../wire";
import { newToken } from "../auth";
import type { Core } from "../context";
import type { Session } from "../session";

export async function startSession(
  core: Core,
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
    // A password login ends every earlier session: their tokens, held by dropped or stolen
    // connections, must neither resume nor log this one out.
    await core.store.revokeTokens(account.id, hash);
  }
  if (s.closing) {
    // Nobody will ever hold the token just made.
    if (!resumedTokenHash) core.background(core.store.deleteToken(hash), "dropping an unused session token");
    // A session would end at once, and could still force out the account's other one: none
    // begins, but the request ran, so it is answered (if the socket is still there).
    core.fail(s, req, at, Status.NOT_LOGGED_IN, "the connection is closing; not logged in");
    return;
  }
  if (!(await core.beginSession(s, account, hash, resumedTokenHash !== null))) {
    if (!resumedTokenHash) core.background(core.store.deleteToken(hash), "dropping an unused session token");
    core.fail(s, req, at, Status.NOT_LOGGED_IN, "the connection is closing; not logged in");
    return;
  }
  const unread = await core.store.countPending(account.id);
  if (s.account !== account) {
    core.fail(
      s,
      req,
      at,
      Status.LOGGED_IN_ELSEWHERE,
      `logged in, but ${account.name} logged in elsewhere at once`,
    );
    return;
  }
  core.delivery.loggedIn(s, unread);
  const how = resumedTokenHash ? "resumed session as" : "logged in as";
  core.reply(s, req, at, {
    name: account.name,
    unread,
    token,
    msg: `${how} ${account.name} — ${unread === 0 ? "no" : unread} unread`,
  });
  // After the answer: receipts that arrived while the account was away.
  core.receipts.loggedIn(s);
}
