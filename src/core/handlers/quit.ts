// QUIT (7): log out, answer, close. Without a session it says so (and still closes).

import { Status } from "../../wire";
import type { Handler } from "./handler";

export const quit: Handler = {
  needsLogin: false,
  async run(core, s, req, at) {
    const account = s.account;
    if (!account) {
      core.reply(
        s,
        req,
        at,
        { status: Status.NOT_LOGGED_IN, msg: "there was no session to log out of; bye" },
        true,
      );
      return;
    }
    core.endSession(s, "quit", true);
    // Logging out ends the account's sessions everywhere: no token of it resumes any more.
    await core.store.revokeTokens(account.id);
    core.reply(s, req, at, { msg: `logged out of ${account.name}; bye` }, true);
  },
};
