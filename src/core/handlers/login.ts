// LOG_IN (2): name and password. Wrong name and wrong password get the same answer, and
// cost the same time, so names cannot be probed here.

import { MAX_NAME_CHARS, nameKey } from "../../rules/names";
import { MAX_PASSWORD_BYTES } from "../../rules/password";
import type { Account } from "../../store/store";
import { Status } from "../../wire";
import { hashCost, sameCost } from "../auth";
import type { Core } from "../context";
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
    let hash: string | undefined;
    try {
      account = key ? await core.store.findAccount(key) : null;
      hash = account ? ((await core.store.passwordHash(account.id)) ?? undefined) : undefined;
      const verdict = await checkPassword(core, req.password, hash);
      if (verdict === "busy") {
        core.fail(s, req, at, Status.BUSY, "the server is busy; try again in a moment", {
          retryAfterMs: 1000,
        });
        return;
      }
      if (!verdict || !account || !hash) {
        await attempt.failed(name, account ? "wrong password" : "no such account");
        core.fail(s, req, at, Status.BAD_CREDENTIALS, "wrong account name or password");
        return;
      }
      await attempt.succeeded();
      // Still the account's turn: a RESUME of it re-checks its token after this login's
      // revocations, so a stale token cannot log this session out.
      await startSession(core, s, req, at, account, null);
    } finally {
      attempt.done();
    }
    rehashIfCostChanged(core, account, hash, req.password);
  },
};

/**
 * Verifies password against hash; an unknown account is checked against a hash of a random
 * password made at the cost most stored hashes have, so both cost one argon2 verification
 * of the same price. "busy" when the hash queue is full.
 */
export async function checkPassword(
  core: Core,
  password: string,
  hash: string | undefined,
): Promise<boolean | "busy"> {
  if (Buffer.byteLength(password) > MAX_PASSWORD_BYTES) return false;
  const against = hash ?? (await core.dummy.get());
  if (against === "busy") return "busy";
  const verifying = core.hashes.verify(password, against);
  if (!verifying) return "busy";
  return (await verifying) && hash !== undefined;
}

/**
 * After a successful login, a hash made at another cost than the configured one (before
 * --argon2-* changed) is replaced, in the background: the answer does not wait for it,
 * and a full hash queue just leaves it for the next login.
 */
function rehashIfCostChanged(core: Core, account: Account, hash: string, password: string): void {
  const target = core.hashes.cost;
  const current = hashCost(hash);
  if (!target || !current || sameCost(target, current)) return;
  const hashing = core.hashes.hash(password);
  if (!hashing) return;
  core.background(
    hashing.then((fresh) => core.store.setPasswordHash(account.id, fresh)),
    "rehashing a password at the configured cost",
  );
}
