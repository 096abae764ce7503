// CREATE_ACCOUNT (1): a new account with a password; does not log in.

import { checkName } from "../../rules/names";
import { checkPassword } from "../../rules/password";
import { Status } from "../../wire";
import type { ChatCore } from "../chat";
import type { Handler } from "./handler";

/** Hashes and stores; answers a taken name before spending a hash on it. */
async function createAccount(core: ChatCore, password: string, name: string, key: string, now: number) {
  if (await core.store.findAccount(key)) return "taken";
  const hashing = core.hashes.hash(password);
  if (!hashing) return "busy";
  const account = await core.store.createAccount({ name, key, passwordHash: await hashing, createdAt: now });
  return account ?? "taken";
}

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
    const turn = core.creationsByAddress.enter(s.address);
    if (!turn) {
      core.fail(s, req, at, Status.BUSY, "too many requests at once; try again in a moment", {
        retryAfterMs: 1000,
      });
      return;
    }
    const release = await turn;
    let account: Awaited<ReturnType<typeof createAccount>>;
    try {
      const wait = core.accountCreations.waitMs(s.address, core.now());
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
      account = await createAccount(core, req.password, name.name, name.key, core.now());
      if (account === "busy") {
        core.fail(s, req, at, Status.BUSY, "the server is busy; try again in a moment", {
          retryAfterMs: 1000,
        });
        return;
      }
      if (account === "taken") {
        core.fail(s, req, at, Status.NAME_TAKEN, `the name ${name.name} is taken`);
        return;
      }
      core.accountCreations.spend(s.address, core.now());
    } finally {
      release();
    }
    core.events({ type: "account_created", conn: s.id, address: s.address, account: account.name });
    core.reply(s, req, at, { name: account.name, msg: `created account ${account.name}` });
  },
};
