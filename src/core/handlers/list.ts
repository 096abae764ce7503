// LIST_ACCOUNTS (6): names matching a `*`/`?` pattern, sorted, paged, marked online.

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
    const found = await core.store.listAccounts(req.cursor, n + 1, pattern.glob.matches);
    const accounts = found.slice(0, n).map((a) => ({ name: a.name, online: core.isOnline(a.id) }));
    const fit = fitting(accounts, accountFieldSize, core.options.maxFrameBytes);
    const more = found.length > fit;
    const page = found.slice(0, fit);
    const what = req.msg ? ` matching ${JSON.stringify(req.msg)}` : "";
    core.reply(s, req, at, {
      accounts: accounts.slice(0, fit),
      more,
      nextCursor: more ? page[page.length - 1]!.key : "",
      msg: page.length
        ? `${page.length} account${page.length === 1 ? "" : "s"}${what}${more ? " (more follow)" : ""}`
        : `no accounts${what}`,
    });
  },
};
