// LOG_IN (2): name and password. Wrong name and wrong password get the same answer, and
// cost the same time, so names cannot be probed here.

import { MAX_NAME_CHARS, nameKey } from "../../rules/names";
import { MAX_PASSWORD_BYTES } from "../../rules/password";
import type { Account } from "../../store/store";
import { Status } from "../../wire";
import type { ChatCore } from "../chat";
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
    const attempt = await beginAttempt(core, s, req, at, key);
    if (!attempt) return;
    let account: Account | null;
    try {
      account = key ? await core.store.findAccount(key) : null;
      const hash = account ? ((await core.store.passwordHash(account.id)) ?? undefined) : undefined;
      const verdict = await checkPassword(core, req.password, hash);
      if (verdict === "busy") {
        core.fail(s, req, at, Status.BUSY, "the server is busy; try again in a moment", {
          retryAfterMs: 1000,
        });
        return;
      }
      if (!verdict || !account || !hash) {
        attempt.failed(name, account ? "wrong password" : "no such account");
        core.fail(s, req, at, Status.BAD_CREDENTIALS, "wrong account name or password");
        return;
      }
    } finally {
      attempt.done();
    }
    await startSession(core, s, req, at, account, null);
  },
};

/**
 * Verifies password against hash; an unknown account is checked against a hash of a random
 * password, so both cost one argon2 verification. "busy" when the hash queue is full.
 */
export async function checkPassword(
  core: ChatCore,
  password: string,
  hash: string | undefined,
): Promise<boolean | "busy"> {
  if (Buffer.byteLength(password) > MAX_PASSWORD_BYTES) return false;
  let against = hash;
  if (against === undefined) {
    if (!core.dummyHash) {
      const making = core.hashes.hash(crypto.randomUUID());
      if (!making) return "busy";
      // A failed attempt is not kept: the next unknown name tries again.
      core.dummyHash = making.catch((error) => {
        core.dummyHash = null;
        throw error;
      });
    }
    against = await core.dummyHash;
  }
  const verifying = core.hashes.verify(password, against);
  if (!verifying) return "busy";
  return (await verifying) && hash !== undefined;
}
