// CREATE_ACCOUNT (1): a new account with a password; does not log in.

import { checkName } from "../../rules/names";
import { checkPassword } from "../../rules/password";
import { Status } from "../../wire";
import type { Handler } from "./handler";

export const create: Handler = {
  needsLogin: false,
  async run(core, s, req, at) {
    const name = checkName(req.sender);
    if (!name.ok) {
      core.fail(s, req, at, Status.INVALID_NAME, `invalid name: ${name.reason}`);
      return;
    }
    const password = checkPassword(req.password);
    if (!password.ok) {
      core.fail(s, req, at, Status.WEAK_PASSWORD, password.reason);
      return;
    }
    const now = core.now();
    const wait = core.accountCreations.waitMs(s.address, now);
    if (wait > 0) {
      core.limit(s, "account_creation", `too many new accounts from ${s.address}`);
      core.fail(
        s,
        req,
        at,
        Status.RATE_LIMITED,
        `too many new accounts; try again in ${Math.ceil(wait / 1000)} s`,
        {
          retryAfterMs: wait,
        },
      );
      return;
    }
    // Answer a taken name before spending a password hash on it.
    if (await core.store.findAccount(name.key)) {
      core.fail(s, req, at, Status.NAME_TAKEN, `the name ${name.name} is taken`);
      return;
    }
    const hashing = core.hashes.hash(req.password);
    if (!hashing) {
      core.fail(s, req, at, Status.BUSY, "the server is busy; try again in a moment", { retryAfterMs: 1000 });
      return;
    }
    const account = await core.store.createAccount({
      name: name.name,
      key: name.key,
      passwordHash: await hashing,
      createdAt: now,
    });
    if (!account) {
      core.fail(s, req, at, Status.NAME_TAKEN, `the name ${name.name} is taken`);
      return;
    }
    core.accountCreations.fail(s.address, now);
    core.events({ type: "account_created", conn: s.id, address: s.address, account: account.name });
    core.reply(s, req, at, { name: account.name, msg: `created account ${account.name}` });
  },
};
