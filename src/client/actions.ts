// Carrying out one command: check what can be checked here, ask for what is missing, call
// the session, print the answer. Shared by the terminal and script mode (they differ in Io).

import { checkName, nameKey, nameSkeleton } from "../rules/names";
import { MIN_PASSWORD_CHARS } from "../rules/password";
import { type Reply, Status, type WireAccount } from "../wire";
import { type Command, HELP, MENU, NEEDS_LOGIN } from "./commands";
import { ConnectionClosedError } from "./connection";
import type { AskOptions, Io } from "./io";
import type { Output } from "./output";
import type { ChatSession } from "./session";

export interface ActionState {
  /** Where plain text goes: the last person written to, or set with /to. */
  target: string | null;
  /** Who wrote last: /r answers them. */
  lastFrom: string | null;
  /**
   * Accounts the server has shown to exist (senders, /list results, logins, accepted
   * targets), by look-alike skeleton: /create refuses those names before asking a password.
   */
  known: Map<string, string>;
  /** /receipts off: delivery receipts are confirmed but not shown. */
  receiptsHidden?: boolean;
}

/** An account the server showed to exist: offered by Tab, and a name /create refuses early. */
export function knownAccount(state: ActionState, io: Io, name: string): void {
  io.rememberName(name);
  state.known.set(nameSkeleton(name), name);
  // Bounded like the terminal's names: the oldest are forgotten.
  if (state.known.size > 10_000) state.known.delete(state.known.keys().next().value!);
}

export interface ActionContext {
  session: ChatSession;
  io: Io;
  out: Output;
  state: ActionState;
}

/** How a command ended: the script's exit status counts the failed ones. */
export type Outcome = "ok" | "failed" | "quit";

/** Most pages LIST_ACCOUNTS fetches for one /list or /who before asking to narrow the pattern. */
const MAX_LIST_PAGES = 10;

/** Runs one command; never throws for anything a person or the server can cause. */
export async function execute(cmd: Command, ctx: ActionContext): Promise<Outcome> {
  try {
    if (NEEDS_LOGIN.has(cmd.kind) && !ctx.session.name && needsPrompt(cmd)) {
      await ctx.out.error(
        `log in first (/login NAME, or /create NAME for a new account); nothing was ${verb(cmd)}`,
        {
          command: cmd.kind,
          status: "NOT_LOGGED_IN",
        },
      );
      await skipAnswers(ctx, answersFor(cmd, ctx.io));
      return "failed";
    }
    return await run(cmd, ctx);
  } catch (error) {
    if (error instanceof ConnectionClosedError) {
      await ctx.out.error(`not done: ${error.message}`, { command: cmd.kind });
      return "failed";
    }
    throw error;
  }
}

/** Would this command ask something before reaching the server? Then a login is checked first. */
function needsPrompt(cmd: Command): boolean {
  switch (cmd.kind) {
    case "send":
      return !cmd.to || !cmd.text;
    case "reply":
      return !cmd.text;
    case "delete":
      return true;
    default:
      return false;
  }
}

/** How many answers a command would ask for (a script has written them as the next lines). */
function answersFor(cmd: Command, io: Io): number {
  switch (cmd.kind) {
    case "send":
      return (cmd.to ? 0 : 1) + (cmd.text ? 0 : 1);
    case "reply":
      return cmd.text ? 0 : 1;
    case "delete":
      return io.confirmSecrets ? 2 : 1;
    case "create":
      return (cmd.name ? 0 : 1) + (io.confirmSecrets ? 2 : 1);
    case "login":
      return cmd.name ? 1 : 2;
    case "invalid":
      return cmd.answers ?? 0;
    default:
      return 0;
  }
}

/**
 * A command refused before its prompts: on a terminal nothing was asked, so nothing more is
 * read. In a script its answers may be the next lines: they are read and dropped, so that a
 * password is never sent as text to the current target. A line that is a command (it starts
 * with /) is no answer: the script did not write one, and that line runs next.
 */
async function skipAnswers(ctx: ActionContext, n: number): Promise<void> {
  if (!ctx.io.scripted) return;
  for (let i = 0; i < n; i++) {
    const line = await ctx.io.ask("", { secret: true });
    if (line === null) return;
    if (line.trimStart().startsWith("/") && !line.trimStart().startsWith("//")) {
      ctx.io.putBack?.(line);
      return;
    }
  }
}

function verb(cmd: Command): string {
  return cmd.kind === "delete" ? "deleted" : cmd.kind === "check" || cmd.kind === "who" ? "fetched" : "sent";
}

async function run(cmd: Command, ctx: ActionContext): Promise<Outcome> {
  const { out, session, state, io } = ctx;
  switch (cmd.kind) {
    case "empty":
      return "ok";
    case "invalid":
      await out.error(cmd.error, { command: "parse" });
      await skipAnswers(ctx, answersFor(cmd, io));
      return "failed";
    case "help":
      for (const l of HELP) out.plain(l);
      return "ok";
    case "menu":
      for (const l of MENU) out.plain(l);
      return "ok";
    case "create": {
      const name = cmd.name ?? (await ask(ctx, "create", "Account name: "));
      if (name === null) return "failed";
      const valid = checkName(name);
      const refused = valid.ok ? await takenLooking(ctx, valid.name) : valid.reason;
      if (refused) {
        await out.error(`cannot create that account: ${refused}`, { command: "create" });
        await skipAnswers(ctx, answersFor({ kind: "create", name }, io));
        return "failed";
      }
      const password = await newPassword(ctx);
      if (password === null) return "failed";
      const r = await session.create(name, password);
      await answer(ctx, "create", r);
      if (r.status !== Status.OK) return "failed";
      return loggedIn(ctx, await session.login(r.name, password));
    }
    case "login": {
      const name = cmd.name ?? (await ask(ctx, "login", "Account name: "));
      if (name === null) return "failed";
      const password = await ask(ctx, "login", "Password: ", { secret: true });
      if (password === null) return "failed";
      return loggedIn(ctx, await session.login(name, password));
    }
    case "send": {
      const to = cmd.to ?? (await ask(ctx, "send", "To: "));
      if (to === null) return "failed";
      const text = cmd.text ?? (await ask(ctx, "send", `Message to ${to}: `));
      if (text === null) return "failed";
      const outcome = await sent(ctx, to, text);
      // Plain text goes to the last person written to; a name the server refused is no target.
      if (outcome === "ok") {
        state.target = to;
        knownAccount(state, io, to);
      }
      return outcome;
    }
    case "text":
      if (!state.target) {
        await out.error(
          "not a command, and no one to send it to: /to NAME first, or /send NAME TEXT (or /help)",
          {
            command: "send",
          },
        );
        return "failed";
      }
      return sent(ctx, state.target, cmd.text);
    case "reply": {
      const to = state.lastFrom;
      if (!to) {
        await out.error("nobody has written to you yet; /send NAME TEXT starts a conversation", {
          command: "reply",
        });
        await skipAnswers(ctx, answersFor(cmd, io));
        return "failed";
      }
      const text = cmd.text ?? (await ask(ctx, "reply", `Message to ${to}: `));
      if (text === null) return "failed";
      return sent(ctx, to, text);
    }
    case "to":
      if (!cmd.name) {
        if (state.target) await out.info(`plain text goes to ${state.target}`);
        else await out.info("plain text goes to nobody yet: /to NAME");
        return "ok";
      }
      state.target = cmd.name;
      io.rememberName(cmd.name);
      await out.info(`plain text now goes to ${cmd.name}`, { command: "to", target: cmd.name });
      return "ok";
    case "check":
      return answer(ctx, "check", await session.check());
    case "delete": {
      if (io.confirmSecrets) {
        const sure = await ask(
          ctx,
          "delete",
          `Delete the account ${session.name} for good? Type yes to confirm: `,
        );
        if (sure === null) return "failed";
        if (sure.trim().toLowerCase() !== "yes") {
          await out.info("not deleted", { command: "delete" });
          return "failed";
        }
      }
      const password = await ask(ctx, "delete", "Password (to delete your account): ", { secret: true });
      if (password === null) return "failed";
      const name = session.name;
      const r = await session.deleteAccount(password);
      // The server decides whether the name can be taken again (--name-reuse-after).
      if (r.status === Status.OK && name) state.known.delete(nameSkeleton(name));
      return answer(ctx, "delete", r);
    }
    case "list": {
      const pattern = cmd.pattern ?? (await ask(ctx, "list", "Pattern (* and ? wildcards, * for all): "));
      if (pattern === null) return "failed";
      return list(ctx, pattern);
    }
    case "who":
      return who(ctx);
    case "receipts":
      if (cmd.on !== undefined) state.receiptsHidden = !cmd.on;
      await out.info(
        state.receiptsHidden
          ? "delivery receipts are hidden (/receipts on shows them)"
          : "delivery receipts are shown (/receipts off hides them)",
        { command: "receipts", receipts: !state.receiptsHidden },
      );
      return "ok";
    case "quit": {
      if (!session.connected) {
        // Reconnecting (or idle): QUIT would wait for the server; leave now instead.
        session.close();
        await out.info("bye (not connected to the server: left without logging out there)", {
          command: "quit",
        });
        return "quit";
      }
      await session.settled();
      const r = await session.quit();
      // Leaving without a session is still leaving: only the reply says there was none.
      await answer(ctx, "quit", r);
      return "quit";
    }
  }
}

/**
 * A sub-prompt's answer. An empty answer (or Ctrl+C, or the end of input) cancels the
 * command, which says so: nothing is sent.
 */
async function ask(
  ctx: ActionContext,
  command: string,
  prompt: string,
  o?: AskOptions,
): Promise<string | null> {
  const a = await ctx.io.ask(prompt, o);
  if (a === null || a.trim() === "") {
    await ctx.out.info(a === null ? "cancelled" : "cancelled (empty answer)", { command, cancelled: true });
    return null;
  }
  return o?.secret ? a : a.trim();
}

/** Prints an answer after the messages it carried; ok when the server said OK. */
async function answer(ctx: ActionContext, command: string, r: Reply): Promise<Outcome> {
  await ctx.session.drained();
  await ctx.out.reply(command, r);
  return r.status === Status.OK ? "ok" : "failed";
}

async function loggedIn(ctx: ActionContext, r: Reply): Promise<Outcome> {
  if (r.status === Status.OK) knownAccount(ctx.state, ctx.io, r.name);
  return answer(ctx, "login", r);
}

async function sent(ctx: ActionContext, to: string, text: string): Promise<Outcome> {
  return answer(ctx, "send", await ctx.session.send(to, text));
}

/** Every page (up to MAX_LIST_PAGES) of accounts matching pattern; null after an error reply. */
async function fetchAccounts(
  ctx: ActionContext,
  command: string,
  pattern: string,
): Promise<{
  accounts: WireAccount[];
  truncated: boolean;
  last: Awaited<ReturnType<ChatSession["list"]>>;
} | null> {
  const all: WireAccount[] = [];
  let cursor = "";
  for (let page = 0; ; page++) {
    const r = await ctx.session.list(pattern, cursor);
    if (r.status !== Status.OK) {
      await answer(ctx, command, r);
      return null;
    }
    all.push(...r.accounts);
    for (const a of r.accounts) knownAccount(ctx.state, ctx.io, a.name);
    const truncated = r.more && page + 1 >= MAX_LIST_PAGES;
    if (!r.more || truncated) return { accounts: all, truncated, last: r };
    cursor = r.nextCursor;
  }
}

async function list(ctx: ActionContext, pattern: string): Promise<Outcome> {
  const found = await fetchAccounts(ctx, "list", pattern);
  if (!found) return "failed";
  const { accounts, truncated, last } = found;
  const what = pattern ? ` matching ${JSON.stringify(pattern)}` : "";
  last.accounts = accounts;
  if (accounts.length)
    last.msg = `${accounts.length}${truncated ? "+" : ""} account${accounts.length === 1 ? "" : "s"}${what}:`;
  await ctx.out.reply("list", last);
  await ctx.out.accounts(accounts, pattern, truncated);
  return "ok";
}

async function who(ctx: ActionContext): Promise<Outcome> {
  const found = await fetchAccounts(ctx, "who", "");
  if (!found) return "failed";
  const online = found.accounts.filter((a) => a.online).map((a) => a.name);
  await ctx.out.online(online, found.truncated);
  return "ok";
}

async function newPassword(ctx: ActionContext): Promise<string | null> {
  const password = await ask(ctx, "create", `Password (at least ${MIN_PASSWORD_CHARS} characters): `, {
    secret: true,
  });
  if (password === null || !ctx.io.confirmSecrets) return password;
  const again = await ask(ctx, "create", "Repeat the password: ", { secret: true });
  if (again === null) return null;
  if (again !== password) {
    await ctx.out.error("the passwords differ; account not created", { command: "create" });
    return null;
  }
  return password;
}

/**
 * Why a valid name is taken, as far as the client can tell before asking a password: an
 * account it has seen with the same name or a look-alike, or (when logged in, as LIST needs
 * a session) an account a LIST of the exact name finds. Null when nothing says so; the
 * server still decides (NAME_TAKEN for look-alikes and reserved names it alone knows).
 */
async function takenLooking(ctx: ActionContext, name: string): Promise<string | null> {
  const seen = ctx.state.known.get(nameSkeleton(name));
  if (seen !== undefined) return takenBy(name, seen);
  // The server judges a name before a password: asked without one, it answers NAME_TAKEN or
  // INVALID_NAME for a name that cannot be had (taken, a look-alike, reserved, mixed scripts)
  // and NAME_AVAILABLE (an older server: WEAK_PASSWORD) for one that can. Anything else (BUSY,
  // a lost connection) says nothing: the server judges the name again when it is created.
  const r = await ctx.session.create(name, "").catch(() => null);
  if (r?.status !== Status.NAME_TAKEN && r?.status !== Status.INVALID_NAME) return null;
  return r.msg.replace(/^invalid name: /, "");
}

function takenBy(name: string, existing: string): string {
  return nameKey(name) === nameKey(existing)
    ? `the name ${name} is taken`
    : `the name ${name} is taken: it looks like the existing account ${existing}`;
}
