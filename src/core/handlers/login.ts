// LOG_IN (2): name and password. Wrong name and wrong password get the same answer, and
// cost the same time, so names cannot be probed here.

import { MAX_NAME_CHARS, nameKey } from "../../rules/names";
import { MAX_PASSWORD_BYTES } from "../../rules/password";
import { Status } from "../../wire";
import { beginAttempt } from "./attempt";
import type { Handler } from "./handler";
import { startSession } from "./session-start";

export const login: Handler = {
  needsLogin: false,
  async run(core, s, req, at) {
    const name = req.sender;
    if (!name) {
      core.fail(s, req, at, Status.INVALID_NAME, "give the account name to log in to");
      return;
    }
    const key = [...name].length <= MAX_NAME_CHARS * 2 ? nameKey(name) : "";
    if (key && s.account?.key === key) {
      core.fail(s, req, at, Status.ALREADY_LOGGED_IN, `already logged in as ${s.account.name}`);
      return;
    }
    const attempt = beginAttempt(core, s, req, at, key);
    if (!attempt) return;
    const account = key ? await core.store.findAccount(key) : null;
    const hash = account?.passwordHash ?? (await dummyHash(core));
    const verifying =
      Buffer.byteLength(req.password) <= MAX_PASSWORD_BYTES
        ? core.hashes.verify(req.password, hash)
        : Promise.resolve(false);
    if (!verifying) {
      attempt.refund();
      core.fail(s, req, at, Status.BUSY, "the server is busy; try again in a moment", { retryAfterMs: 1000 });
      return;
    }
    const ok = (await verifying) && account !== null;
    if (!ok || !account) {
      attempt.failed(name, account ? "wrong password" : "no such account");
      core.fail(s, req, at, Status.BAD_CREDENTIALS, "wrong account name or password");
      return;
    }
    attempt.refund();
    await startSession(core, s, req, at, account, null);
  },
};

function dummyHash(core: Parameters<Handler["run"]>[0]): Promise<string> {
  core.dummyHash ??= Promise.resolve(core.hashes.hash(crypto.randomUUID()) ?? "");
  return core.dummyHash;
}
