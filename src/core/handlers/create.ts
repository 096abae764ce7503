// CREATE_ACCOUNT (1): a new account with a password; does not log in.

import { checkName } from "../../rules/names";
import { checkPassword } from "../../rules/password";
import type { Account } from "../../store/store";
import { Status } from "../../wire";
import type { Core } from "../context";
import { describeError } from "../text";
import type { Handler } from "./handler";

type Name = { name: string; key: string; skeleton: string; mixedScripts: string | null };

/**
 * Why the name cannot be taken (NAME_TAKEN's text), or null: it is an account's, looks
 * like one, or is a deleted account's name still reserved.
 */
async function nameTaken(core: Core, n: Name, now: number): Promise<string | null> {
  if (await core.store.findAccount(n.key)) return `the name ${n.name} is taken`;
  const lookalike = await core.store.findAccountBySkeleton(n.skeleton);
  if (lookalike) return `the name ${n.name} is taken: it looks like the existing account ${lookalike.name}`;
  const reserved = await core.store.nameReservation(n.key, n.skeleton, now);
  if (reserved) {
    const until = new Date(reserved.until).toISOString().slice(0, 10);
    const like = reserved.name === n.name ? "" : ` looks like ${reserved.name}, which`;
    return `the name ${n.name}${like} belonged to a deleted account and is reserved until ${until}`;
  }
  return null;
}

/** Hashes and stores; answers a taken name before spending a hash on it. */
async function createAccount(
  core: Core,
  password: string,
  n: Name,
  now: number,
): Promise<Account | "busy" | { taken: string } | { invalid: string }> {
  const taken = await nameTaken(core, n, now);
  if (taken) return { taken };
  // Only a name that is free is judged on its scripts, so a look-alike hears that it is taken.
  if (n.mixedScripts) return { invalid: n.mixedScripts };
  const hashing = core.hashes.hash(password);
  if (!hashing) return "busy";
  const { name, key, skeleton } = n;
  const account = await core.store.createAccount({
    name,
    key,
    skeleton,
    passwordHash: await hashing,
    createdAt: now,
  });
  // Taken while hashing: say by what.
  return account ?? { taken: (await nameTaken(core, n, core.now())) ?? `the name ${n.name} is taken` };
}

export const create: Handler = {
  needsLogin: false,
  async run(core, s, req, at) {
    const name = checkName(req.sender);
    if (!name.ok) {
      core.fail(s, req, at, Status.INVALID_NAME, `invalid name: ${name.reason}`);
      return;
    }
    // A name that cannot be had is answered before the password is judged: a client asks about
    // a name (CREATE_ACCOUNT without a password) before it asks its user for one.
    if (!req.password) {
      const taken = await nameTaken(core, name, core.now());
      if (taken) {
        core.fail(s, req, at, Status.NAME_TAKEN, taken);
        return;
      }
      if (name.mixedScripts) {
        core.fail(s, req, at, Status.INVALID_NAME, `invalid name: ${name.mixedScripts}`);
        return;
      }
      core.reply(s, req, at, {
        status: Status.NAME_AVAILABLE,
        msg: `the name ${name.name} is free; send a password to create the account`,
      });
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
    let account: Account;
    try {
      const wait = await core.accountCreations.waitMs(s.address, core.now());
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
      const made = await createAccount(core, req.password, name, core.now());
      if (made === "busy") {
        core.fail(s, req, at, Status.BUSY, "the server is busy; try again in a moment", {
          retryAfterMs: 1000,
        });
        return;
      }
      if ("taken" in made) {
        core.fail(s, req, at, Status.NAME_TAKEN, made.taken);
        return;
      }
      if ("invalid" in made) {
        core.fail(s, req, at, Status.INVALID_NAME, `invalid name: ${made.invalid}`);
        return;
      }
      account = made;
      // The account exists: a budget that cannot be charged (shared store down) is logged, not answered.
      await Promise.resolve()
        .then(() => core.accountCreations.spend(s.address, core.now()))
        .catch((error) =>
          core.events({
            type: "storage_error",
            detail: `counting a new account against its address's budget: ${describeError(error)}`,
          }),
        );
    } finally {
      release();
    }
    core.events({ type: "account_created", conn: s.id, address: s.address, account: account.name });
    core.reply(s, req, at, { name: account.name, msg: `created account ${account.name}` });
  },
};
