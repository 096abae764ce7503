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
    // A store failure is logged; the client is still logged out and told so.
    const revoked = core.store.revokeTokens(account.id);
    core.background(revoked, "revoking the session tokens of a quitting account");
    await revoked.catch(() => {});
    core.reply(s, req, at, { msg: `logged out of ${account.name}; bye` }, true);
  },
};
