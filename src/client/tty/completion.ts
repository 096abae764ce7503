// Tab completion: the command word at the start of a line, and account names where a name
// goes (after /send, /to, /msg, /query, /login, /list) and in plain text. Pure.

import type { Completion } from "./editor";

/** Commands whose first argument is an account name (or a pattern of names). */
const NAME_COMMANDS = new Set(["/send", "/msg", "/m", "/to", "/query", "/login", "/list", "/ls", "/who"]);
/** Commands followed by message text, where names may be mentioned too. */
const TEXT_COMMANDS = new Set(["/send", "/msg", "/m", "/r", "/reply"]);

export function complete(
  text: string,
  cursor: number,
  commands: readonly string[],
  names: Iterable<string>,
  /** A space after a unique completion (not for a sub-prompt's one-word answer). */
  space = true,
): Completion {
  let start = cursor;
  while (start > 0 && !/\s/.test(text[start - 1]!)) start--;
  const word = text.slice(start, cursor);
  const before = text.slice(0, start);
  const leading = before.trim() === "";
  let pool: readonly string[];
  if (leading && (word === "" || word.startsWith("/"))) {
    pool = commands;
  } else {
    const first = before.trim().split(/\s+/)[0]!.toLowerCase();
    const argIndex = before.trim().split(/\s+/).length; // 1 = the first argument
    if (leading || !first.startsWith("/")) pool = [...names];
    else if (first === "/receipts" && argIndex === 1) pool = ["on", "off"];
    else if (NAME_COMMANDS.has(first) && argIndex === 1) pool = [...names];
    else if (TEXT_COMMANDS.has(first)) pool = [...names];
    else pool = [];
  }
  const lower = word.toLowerCase();
  const candidates = [...new Set(pool.filter((c) => c.toLowerCase().startsWith(lower)))].sort();
  if (candidates.length === 0) return { text, cursor, candidates };
  if (candidates.length === 1) {
    const after = text.slice(cursor);
    const pad = !space || after.startsWith(" ") ? "" : " ";
    const done = candidates[0]! + pad;
    const skip = space && !pad ? 1 : 0; // past the space already there
    return { text: before + done + after, cursor: start + done.length + skip, candidates };
  }
  const common = commonPrefix(candidates);
  if (common.length <= word.length) return { text, cursor, candidates };
  return { text: before + common + text.slice(cursor), cursor: start + common.length, candidates };
}

function commonPrefix(words: readonly string[]): string {
  let prefix = words[0]!;
  for (const w of words) {
    let i = 0;
    while (i < prefix.length && i < w.length && prefix[i]!.toLowerCase() === w[i]!.toLowerCase()) i++;
    prefix = prefix.slice(0, i);
  }
  return prefix;
}
