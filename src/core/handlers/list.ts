// LIST_ACCOUNTS (6): names matching a `*`/`?` pattern, sorted, paged, marked online.
// One request examines at most listRowsPerRequest accounts: when that budget is spent
// first, the answer is a partial page (maybe empty) with `more` and a cursor to go on from.

import { compileGlob } from "../../rules/glob";
import { accountFieldSize, Status } from "../../wire";
import { fitting } from "../delivery";
import type { Handler } from "./handler";
import { pageSize } from "./handler";

/** A cursor is a name key; anything longer cannot be one. */
const MAX_CURSOR_CHARS = 200;

export const list: Handler = {
  needsLogin: true,
  async run(core, s, req, at) {
    const pattern = compileGlob(req.msg);
    if (!pattern.ok) {
      core.fail(s, req, at, Status.INVALID_PATTERN, `invalid pattern: ${pattern.reason}`);
      return;
    }
    const n = pageSize(core, s, req, at);
    if (n === undefined) return;
    if (req.cursor.length > MAX_CURSOR_CHARS) {
      core.fail(s, req, at, Status.INVALID_ARGUMENT, "the cursor is not one this server gave out");
      return;
    }
    // The frame paid one token on arrival; a LIST pays the rest of its cost here.
    // (never more than a full bucket holds, or a small --request-burst would refuse every LIST).
    const { requestRate, requestBurst, listRequestTokens } = core.options;
    const extra = Math.min(listRequestTokens, requestBurst) - 1;
    if (s.tokens < extra) {
      const wait = Math.ceil(((extra - s.tokens) / requestRate) * 1000);
      core.fail(s, req, at, Status.SLOW_DOWN, `too many listings; slow down (try again in ${wait} ms)`, {
        retryAfterMs: wait,
      });
      return;
    }
    s.tokens -= extra;
    // The scan waits until the client's address has paid for it (all its connections share
    // one budget); pipelined LISTs take turns with other connections: one per turn each.
    await (s.conn.charge?.(extra) ?? new Promise<void>((resolve) => setImmediate(resolve)));
    const found = await core.store.listAccounts({
      afterKey: req.cursor,
      pattern: pattern.glob,
      limit: n + 1,
      maxExamined: core.options.listRowsPerRequest,
    });
    const shown = found.accounts.slice(0, n);
    // Online anywhere in the service, not only on this node.
    const online = await core.presence.online(shown.map((a) => a.id));
    const accounts = shown.map((a, i) => ({ name: a.name, online: online[i]! }));
    const fit = fitting(accounts, accountFieldSize, core.options.maxFrameBytes);
    const page = found.accounts.slice(0, fit);
    const cut = found.accounts.length > fit;
    const more = cut || found.examinedTo !== null;
    const what = req.msg ? ` matching ${JSON.stringify(req.msg)}` : "";
    core.reply(s, req, at, {
      accounts: accounts.slice(0, fit),
      more,
      nextCursor: cut ? page[page.length - 1]!.key : (found.examinedTo ?? ""),
      msg: page.length
        ? `${page.length} account${page.length === 1 ? "" : "s"}${what}${more ? " (more follow)" : ""}`
        : more
          ? `no accounts${what} so far (more follow)`
          : `no accounts${what}`,
    });
  },
};
