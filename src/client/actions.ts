// Carrying out one command: ask for what is missing, call the session, print the answer.
// Shared by the terminal UI and the scripted (stdin) mode, which differ only in Io.

import { MIN_PASSWORD_CHARS } from "../rules/password";
import { Status, type WireAccount } from "../wire";
import { type Command, HELP, MENU } from "./commands";
import { ConnectionClosedError } from "./connection";
import type { Output } from "./output";
import type { ChatSession } from "./session";

export interface Io {
  /** Reads one answer; secret answers are not echoed. Null at end of input. */
  ask(prompt: string, secret?: boolean): Promise<string | null>;
  /** Asks twice for a new secret (terminal only); scripted input gives it once. */
  readonly confirmSecrets: boolean;
  readonly out: Output;
}

export interface ActionState {
  /** Plain text goes to the last person written to. */
  lastTo: string | null;
}

/** Most pages LIST_ACCOUNTS fetches for one /list before asking to narrow the pattern. */
const MAX_LIST_PAGES = 10;

/** Runs one command; "quit" when the client should exit. */
export async function execute(
  cmd: Command,
  session: ChatSession,
  io: Io,
  state: ActionState,
): Promise<"quit" | "continue"> {
  try {
    return await run(cmd, session, io, state);
  } catch (error) {
    if (error instanceof ConnectionClosedError) {
      io.out.error(`not done: ${error.message}`);
      return "continue";
    }
    throw error;
  }
}

async function run(
  cmd: Command,
  session: ChatSession,
  io: Io,
  state: ActionState,
): Promise<"quit" | "continue"> {
  const { out } = io;
  switch (cmd.kind) {
    case "empty":
      return "continue";
    case "invalid":
      out.error(cmd.error);
      return "continue";
    case "help":
      for (const l of HELP) out.plain(l);
      return "continue";
    case "menu":
      for (const l of MENU) out.plain(l);
      return "continue";
    case "create": {
      const name = cmd.name ?? (await io.ask("Account name: "));
      if (!name) return "continue";
      const password = await newPassword(io);
      if (password === null) return "continue";
      const r = await session.create(name, password);
      out.reply("create", r);
      if (r.status === Status.OK) out.reply("login", await session.login(r.name, password));
      return "continue";
    }
    case "login": {
      const name = cmd.name ?? (await io.ask("Account name: "));
      if (!name) return "continue";
      const password = await io.ask("Password: ", true);
      if (password === null) return "continue";
      out.reply("login", await session.login(name, password));
      return "continue";
    }
    case "send": {
      const to = cmd.to ?? (await io.ask("To: "));
      if (!to) return "continue";
      const text = cmd.text ?? (await io.ask("Message: "));
      if (!text) return "continue";
      state.lastTo = to;
      out.reply("send", await session.send(to, text));
      return "continue";
    }
    case "text":
      if (!state.lastTo) {
        out.error("not a command; to send a message type /send <name> <text> (or /help)");
        return "continue";
      }
      out.reply("send", await session.send(state.lastTo, cmd.text));
      return "continue";
    case "check": {
      out.reply("check", await session.check());
      return "continue";
    }
    case "delete": {
      const password = await io.ask("Password (to delete your account): ", true);
      if (password === null) return "continue";
      out.reply("delete", await session.deleteAccount(password));
      return "continue";
    }
    case "list": {
      const pattern = cmd.pattern ?? (await io.ask("Pattern (* and ? wildcards, empty for all): "));
      if (pattern === null) return "continue";
      await list(session, out, pattern);
      return "continue";
    }
    case "quit": {
      await session.settled();
      out.reply("quit", await session.quit());
      return "quit";
    }
  }
}

/** Fetches every page (up to MAX_LIST_PAGES) and prints one summary. */
async function list(session: ChatSession, out: Output, pattern: string): Promise<void> {
  const all: WireAccount[] = [];
  let cursor = "";
  for (let page = 0; ; page++) {
    const r = await session.list(pattern, cursor);
    if (r.status !== Status.OK) {
      out.reply("list", r);
      return;
    }
    all.push(...r.accounts);
    const truncated = r.more && page + 1 >= MAX_LIST_PAGES;
    if (!r.more || truncated) {
      const what = pattern ? ` matching ${JSON.stringify(pattern)}` : "";
      r.accounts = all;
      if (all.length)
        r.msg = `${all.length}${truncated ? "+" : ""} account${all.length === 1 ? "" : "s"}${what}:`;
      out.reply("list", r);
      out.accounts(all, pattern, truncated);
      return;
    }
    cursor = r.nextCursor;
  }
}

async function newPassword(io: Io): Promise<string | null> {
  const password = await io.ask(`Password (at least ${MIN_PASSWORD_CHARS} characters): `, true);
  if (password === null || !io.confirmSecrets) return password;
  const again = await io.ask("Repeat the password: ", true);
  if (again === null) return null;
  if (again !== password) {
    io.out.error("the passwords differ; account not created");
    return null;
  }
  return password;
}
