// RESUME (10): log back in with the token from an earlier LOG_IN, without the password.

import { Status } from "../../wire";
import { tokenHash } from "../auth";
import { beginAttempt } from "./attempt";
import type { Handler } from "./handler";
import { startSession } from "./session-start";

const ENDED = "the session has expired or was ended; log in with your password";

export const resume: Handler = {
  needsLogin: false,
  async run(core, s, req, at) {
    if (!req.token || req.token.length > 256) {
      core.fail(s, req, at, Status.INVALID_TOKEN, "no valid session token given; log in with your password");
      return;
    }
    const attempt = await beginAttempt(core, s, req, at, "");
    if (!attempt) return;
    const hash = tokenHash(req.token);
    let found: Awaited<ReturnType<typeof core.store.findAccountById>>;
    try {
      const token = await core.store.findToken(hash, core.now());
      found = token ? await core.store.findAccountById(token.accountId) : null;
      if (!found) {
        await attempt.failed("(token)", "unknown or expired token");
        core.fail(s, req, at, Status.INVALID_TOKEN, ENDED);
        return;
      }
    } finally {
      attempt.done();
    }
    if (s.account?.id === found.id) {
      core.fail(s, req, at, Status.ALREADY_LOGGED_IN, `already logged in as ${found.name}`);
      return;
    }
    // Take the account's turn and look again: a password login (or QUIT) may have revoked
    // the token meanwhile, and a revoked token must not log the live session out.
    const turn = core.checksByAccount.enter(found.key);
    if (!turn) {
      core.fail(s, req, at, Status.BUSY, "too many logins at once; try again in a moment", {
        retryAfterMs: 1000,
      });
      return;
    }
    const release = await turn;
    try {
      const still = await core.store.findToken(hash, core.now());
      if (still?.accountId !== found.id) {
        core.fail(s, req, at, Status.INVALID_TOKEN, ENDED);
        return;
      }
      await startSession(core, s, req, at, found, hash);
    } finally {
      release();
    }
  },
};
