// What a typed line means: a slash command, a menu number, or text for the last recipient.
// Pure: prompting for whatever is missing happens in actions.ts.

export type Command =
  | { kind: "create"; name?: string }
  | { kind: "login"; name?: string }
  | { kind: "send"; to?: string; text?: string }
  | { kind: "check" }
  | { kind: "delete" }
  | { kind: "list"; pattern?: string }
  | { kind: "quit" }
  | { kind: "help" }
  | { kind: "menu" }
  | { kind: "text"; text: string }
  | { kind: "empty" }
  | { kind: "invalid"; error: string };

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
  "  /send <name> <text…>    send a message; plain text then goes to the same person",
  "  /check                  fetch unread messages",
  "  /delete                 delete your account (asks for the password; unread messages are shown first)",
  "  /list [pattern]         list accounts; * and ? are wildcards",
  "  /quit                   log out and exit",
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
  check: "check",
  delete: "delete",
  list: "list",
  ls: "list",
  who: "list",
  quit: "quit",
  exit: "quit",
  help: "help",
  "?": "help",
  menu: "menu",
};

export function parseCommand(line: string): Command {
  const trimmed = line.trim();
  if (trimmed === "") return { kind: "empty" };
  if (/^[1-7]$/.test(trimmed)) return { kind: MENU_KINDS[Number(trimmed) - 1]! } as Command;
  if (!trimmed.startsWith("/")) return { kind: "text", text: line.replace(/^\s+|\s+$/g, "") };
  const m = /^\/(\S+)\s*(.*)$/s.exec(trimmed)!;
  const word = m[1]!.toLowerCase();
  const rest = m[2]!;
  const kind = ALIASES[word];
  if (!kind) return { kind: "invalid", error: `unknown command /${word}; type /help for the list` };
  const [first, ...others] = rest.split(/\s+/).filter(Boolean);
  switch (kind) {
    case "create":
    case "login":
      if (others.length) return { kind: "invalid", error: `/${word} takes one name (names have no spaces)` };
      return first ? { kind, name: first } : { kind };
    case "send": {
      if (!first) return { kind: "send" };
      const text = rest.slice(rest.indexOf(first) + first.length).replace(/^\s/, "");
      return text.trim() ? { kind: "send", to: first, text } : { kind: "send", to: first };
    }
    case "list":
      return { kind: "list", pattern: rest.trim() };
    default:
      return { kind } as Command;
  }
}
