// DELETE_ACCOUNT (5): needs the password again; hands over every waiting message (and
// waits for their confirmation) before deleting, so nothing is lost with the account.

import { Status } from "../../wire";
import { beginAttempt } from "./attempt";
import type { Handler } from "./handler";
import { checkPassword } from "./login";

export const deleteAccount: Handler = {
  needsLogin: true,
  async run(core, s, req, at) {
    const account = s.account!;
    const attempt = await beginAttempt(core, s, req, at, account.key);
    if (!attempt) return;
    try {
      const hash = await core.store.passwordHash(account.id);
      const verdict = hash ? await checkPassword(core, req.password, hash) : false;
      if (verdict === "busy") {
        core.fail(s, req, at, Status.BUSY, "the server is busy; try again in a moment", {
          retryAfterMs: 1000,
        });
        return;
      }
      if (!verdict) {
        await attempt.failed(account.name, "wrong password for delete");
        core.fail(s, req, at, Status.BAD_CREDENTIALS, "wrong password; the account was not deleted");
        return;
      }
    } finally {
      attempt.done();
    }
    const ended = () => {
      core.fail(
        s,
        req,
        at,
        Status.NOT_LOGGED_IN,
        "the session ended before the account was deleted; nothing was deleted",
      );
    };
    if (s.account !== account) return ended();
    // From here on, sends to this account are refused; those already accepted are committed by the flush.
    // The shared store's mark (with a lease, in case this node dies) refuses them atomically
    // on every node; the signal spares the other nodes the trip to the store.
    const stopDeleting = () => {
      if (!s.deleting) return;
      s.deleting = false;
      core.signals.broadcast({ type: "deleting", key: account.key, on: false });
      core.background(core.presence.unmarkDeleting(account.id), "clearing a deletion mark");
    };
    s.deleting = true;
    try {
      await core.presence.markDeleting(account.id);
    } catch (error) {
      s.deleting = false;
      throw error;
    }
    let handedOver = 0;
    try {
      core.signals.broadcast({ type: "deleting", key: account.key, on: true });
      await core.store.flush();
      const pageMax = Math.min(core.options.deliveryWindow, core.options.maxPageSize);
      for (;;) {
        const page = await core.delivery.serial(s, () => core.delivery.fetch(s, account.id, pageMax));
        if (s.account !== account || s.closing) return ended();
        if (page.length) {
          core.delivery.push(s, page);
          handedOver += page.length;
        } else if ((s.handoff?.unconfirmed ?? 0) === 0) {
          break;
        }
        await core.delivery.whenConfirmed(s);
        if (s.account !== account || s.closing) return ended();
      }
      // The account's turn, which logins and RESUMEs hold until their session has begun: a
      // session that begins before the deletion cuts it short, one after finds no account.
      const turn = core.checksByAccount.enter(account.key);
      if (!turn) {
        stopDeleting();
        core.fail(s, req, at, Status.BUSY, "too many logins at once; nothing was deleted; try again", {
          retryAfterMs: 1000,
        });
        return;
      }
      const release = await turn;
      try {
        if (s.account !== account || s.closing) return ended();
        // The name stays reserved, so nobody else takes it and receives what was meant for its owner.
        const reuseAfter = core.options.nameReuseAfterMs;
        await core.store.deleteAccount(account.id, reuseAfter > 0 ? core.now() + reuseAfter : undefined);
        s.deleting = false;
        // The store's tombstone took the mark's place; this only stops its renewal.
        core.background(core.presence.unmarkDeleting(account.id), "clearing a deletion mark");
        core.signals.broadcast({ type: "account_deleted", accountId: account.id, key: account.key });
        core.endSession(s, "account deleted", false);
      } finally {
        release();
      }
    } catch (error) {
      // The store failed midway: the account takes messages again rather than stay marked.
      stopDeleting();
      throw error;
    }
    core.events({
      type: "account_deleted",
      conn: s.id,
      address: s.address,
      account: account.name,
      handedOver,
    });
    const handed = handedOver
      ? `; ${handedOver} unread message${handedOver === 1 ? " was" : "s were"} handed over first`
      : "";
    core.reply(s, req, at, { msg: `deleted account ${account.name}${handed}` });
  },
};
