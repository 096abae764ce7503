// RESUME (10): log back in with the token from an earlier LOG_IN, without the password.

import { Status } from "../../wire";
import { tokenHash } from "../auth";
import { beginAttempt } from "./attempt";
import type { Handler } from "./handler";
import { startSession } from "./session-start";

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
        attempt.failed("(token)", "unknown or expired token");
        core.fail(
          s,
          req,
          at,
          Status.INVALID_TOKEN,
          "the session has expired or was ended; log in with your password",
        );
        return;
      }
    } finally {
      attempt.done();
    }
    if (s.account?.id === found.id) {
      core.fail(s, req, at, Status.ALREADY_LOGGED_IN, `already logged in as ${found.name}`);
      return;
    }
    await startSession(core, s, req, at, found, hash);
  },
};
