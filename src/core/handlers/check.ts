// CHECK_MESSAGES (4): one page of waiting messages, oldest first. They leave the queue
// when the client confirms them (ACK); until then they are handed over again next session.

import { messageFieldSize, Status, type WireMessage } from "../../wire";
import { fitting, toWire } from "../delivery";
import type { Handler } from "./handler";
import { pageSize } from "./handler";

export const check: Handler = {
  needsLogin: true,
  async run(core, s, req, at) {
    const n = pageSize(core, s, req, at);
    if (n === undefined) return;
    const account = s.account!;
    // Answers to earlier SENDs still pending would hold this answer back, while pushes go
    // out at once: hand nothing over until they are answered, so ids reach the client in order.
    await s.sendsAnswered();
    await core.delivery.serial(s, async () => {
      const read = core.delivery.pageRead(s, n);
      const fetched = await core.delivery.fetch(s, account.id, read + 1);
      const waiting = await core.store.countPending(account.id);
      if (s.account !== account) {
        core.fail(
          s,
          req,
          at,
          Status.NOT_LOGGED_IN,
          "the session ended before the check completed; nothing was handed over",
        );
        return;
      }
      // From here on nothing waits: no push can come between handing these over and the answer.
      const after = core.delivery.handedUpTo(s);
      const page = fetched.length && fetched[0]!.id <= after ? fetched.filter((m) => m.id > after) : fetched;
      const wire: WireMessage[] = page.slice(0, read).map(toWire);
      const fit = fitting(wire, messageFieldSize, core.options.maxFrameBytes);
      core.delivery.pageFitted(s, wire.length, fit);
      const messages = page.slice(0, fit);
      const more = page.length > fit;
      core.delivery.handed(s, messages);
      if (!more) core.delivery.caughtUp(s);
      const unread = Math.max(0, waiting - (s.handoff?.unconfirmed ?? 0));
      const shown = `${messages.length} message${messages.length === 1 ? "" : "s"}${more ? `; ${unread} more waiting` : ""}`;
      core.reply(s, req, at, {
        status: Status.OK,
        messages: wire.slice(0, fit),
        more,
        unread,
        msg: messages.length ? shown : "no unread messages",
      });
    });
  },
};
