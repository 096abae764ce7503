// What a typed line means: a slash command, a menu number, or text for the current target.
// Pure and total: every string, however odd, gives a Command (never an exception);
// prompting for whatever is missing happens in actions.ts.

import { checkName } from "../rules/names";
import { safeInline } from "./sanitize";

export type Command =
  | { kind: "create"; name?: string }
  | { kind: "login"; name?: string }
  | { kind: "send"; to?: string; text?: string }
  | { kind: "to"; name?: string }
  | { kind: "reply"; text?: string }
  | { kind: "check" }
  | { kind: "delete" }
  | { kind: "list"; pattern?: string }
  | { kind: "who" }
  /** on: show delivery receipts (the default), off: hide them; none: say which. */
  | { kind: "receipts"; on?: boolean }
  | { kind: "quit" }
  | { kind: "help" }
  | { kind: "menu" }
  | { kind: "text"; text: string }
  | { kind: "empty" }
  /** answers: how many following lines a script wrote as the refused command's answers. */
  | { kind: "invalid"; error: string; answers?: number };

export const MENU = [
  "(1) Create an account",
  "(2) Log in",
  "(3) Send a message",
  "(4) Check unread messages",
  "(5) Delete an account",
  "(6) List accounts",
  "(7) Quit",
];

export const HELP = [
  "Commands (or a menu number 1-7, which asks for what it needs):",
  "  /create <name>          create an account (asks for a password) and log in",
  "  /login <name>           log in (asks for the password)",
  "  /send <name> <text…>    send (also /msg); plain text then goes to <name>",
  "  /to <name>              send plain text to <name> from now on (also /query)",
  "  /r <text…>              answer whoever wrote to you last (also /reply)",
  "  //text                  send a text that starts with /",
  "  /check                  fetch unread messages",
  "  /who                    list the accounts online now",
  "  /list [pattern]         list accounts; * and ? are wildcards",
  '  /receipts on|off        show or hide "✓ bob got …" lines (delivery receipts)',
  "  /delete                 delete your account (unread messages are shown first)",
  "  /quit                   log out and exit (also Ctrl+D)",
  "  /help, /menu            this help, the numbered menu",
];

const MENU_KINDS = ["create", "login", "send", "check", "delete", "list", "quit"] as const;

const ALIASES: Record<string, Command["kind"]> = {
  create: "create",
  register: "create",
  login: "login",
  send: "send",
  msg: "send",
  m: "send",
  to: "to",
  query: "to",
  r: "reply",
  reply: "reply",
  check: "check",
  delete: "delete",
  list: "list",
  ls: "list",
  who: "who",
  receipts: "receipts",
  quit: "quit",
  exit: "quit",
  help: "help",
  "?": "help",
  menu: "menu",
};

/** The command words Tab completes, in the order people look for them. */
export const COMMAND_WORDS: readonly string[] = [
  "/create",
  "/login",
  "/send",
  "/msg",
  "/to",
  "/query",
  "/r",
  "/reply",
  "/check",
  "/who",
  "/list",
  "/receipts",
  "/delete",
  "/quit",
  "/help",
  "/menu",
];

/** Commands that need a login: refused before any prompt when logged out. */
export const NEEDS_LOGIN: ReadonlySet<Command["kind"]> = new Set(["send", "reply", "check", "delete", "who"]);

// Whitespace as people type it: the command word ends at the first of these.
const SPACE = /\s/u;

export function parseCommand(line: string): Command {
  const trimmed = line.trim();
  if (trimmed === "") return { kind: "empty" };
  if (/^[1-7]$/.test(trimmed)) return { kind: MENU_KINDS[Number(trimmed) - 1]! } as Command;
  if (!trimmed.startsWith("/")) return { kind: "text", text: trimmed };
  if (trimmed.startsWith("//")) return { kind: "text", text: trimmed.slice(1) };
  const end = firstSpace(trimmed);
  const word = trimmed.slice(1, end).toLowerCase();
  const rest = trimmed.slice(end).trim();
  if (word === "") {
    return {
      kind: "invalid",
      error: "a / alone is not a command; type /help for the list, or //text to send a text starting with /",
    };
  }
  const kind = ALIASES[word];
  if (!kind) {
    return { kind: "invalid", error: `unknown command /${clip(word)}; type /help for the list` };
  }
  const words = rest.split(/\s+/u).filter(Boolean);
  switch (kind) {
    case "create": {
      if (words.length > 1)
        return { kind: "invalid", error: `/${word} takes one name (names have no spaces)`, answers: 1 };
      if (!words[0]) return { kind };
      const c = checkName(words[0]);
      return c.ok
        ? { kind, name: words[0] }
        : { kind: "invalid", error: `cannot create that account: ${c.reason}`, answers: 1 };
    }
    case "login":
      if (words.length > 1)
        return { kind: "invalid", error: `/${word} takes one name (names have no spaces)`, answers: 1 };
      return words[0] ? { kind, name: words[0] } : { kind };
    case "to": {
      if (words.length > 1)
        return { kind: "invalid", error: `/${word} takes one name (names have no spaces)` };
      if (!words[0]) return { kind };
      const c = checkName(words[0]);
      return c.ok ? { kind, name: words[0] } : { kind: "invalid", error: `no such name: ${c.reason}` };
    }
    case "send": {
      const to = words[0];
      if (!to) return { kind };
      const text = rest.slice(firstSpace(rest)).trim();
      return text ? { kind, to, text } : { kind, to };
    }
    case "reply":
      return rest ? { kind, text: rest } : { kind };
    case "list":
      return { kind, pattern: rest };
    case "receipts": {
      const arg = rest.toLowerCase();
      if (arg === "") return { kind };
      if (arg === "on" || arg === "off") return { kind, on: arg === "on" };
      return { kind: "invalid", error: `/${word} takes on or off` };
    }
    default:
      if (rest) return { kind: "invalid", error: `/${word} takes nothing after it` };
      return { kind } as Command;
  }
}

function firstSpace(s: string): number {
  let i = 0;
  for (const ch of s) {
    if (SPACE.test(ch)) return i;
    i += ch.length;
  }
  return s.length;
}

/** A word from the input, made safe and short for an error message. */
function clip(word: string): string {
  const chars = [...word];
  return safeInline(chars.length > 30 ? `${chars.slice(0, 30).join("")}…` : word);
}
