// Text from the network (names, message texts, the server's sentences) is untrusted: a
// hostile server or anyone on a plain-TCP path can put terminal escape sequences, bidi
// overrides or invisible characters in it. Everything the client shows goes through here,
// so such characters appear visibly escaped (`\u202e`) and are never interpreted.

/**
 * Characters never shown as they are: C0 and C1 controls and DEL (ESC starts every
 * terminal sequence), format characters (bidi overrides and isolates U+202A-202E,
 * U+2066-2069, marks U+200E/200F/061C, zero-width U+200B-200D/2060/FEFF, soft hyphen,
 * tags), line and paragraph separators, and lone surrogates.
 */
const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu;

/** `\x1b` for the controls people know in that form, `\u202e` for the rest. */
function escapeChar(ch: string): string {
  const cp = ch.codePointAt(0)!;
  if (ch === "\n") return "\\n";
  if (ch === "\r") return "\\r";
  if (ch === "\t") return "\\t";
  if (cp < 0x100) return `\\x${cp.toString(16).padStart(2, "0")}`;
  if (cp <= 0xffff) return `\\u${cp.toString(16).padStart(4, "0")}`;
  return `\\u{${cp.toString(16)}}`;
}

/** One line of text, every unsafe character (newlines too) escaped. */
export function safeInline(text: string): string {
  return text.replace(UNSAFE, escapeChar);
}

/**
 * A text that may span lines (a message): one safe string per line. The caller marks the
 * continuation lines so that none can pass for a line of its own (a forged `[14:05] bob: …`).
 */
export function safeLines(text: string): string[] {
  return text.split("\n").map(safeInline);
}

/** How continuation lines of a message start: indented and marked. */
export const CONTINUATION = "   ┆ ";

/**
 * A message text for one output line or more: the first line as it is, each further one
 * joined by a newline and the continuation mark, so it cannot look like a line of its own.
 */
export function safeMessageText(text: string): string {
  return safeLines(text).join(`\n${CONTINUATION}`);
}

/**
 * JSON for one output line: valid JSON with the same values, where the characters a
 * terminal would interpret (C1 controls, DEL, bidi, zero-width, separators) are written as
 * \u escapes too, which JSON.stringify leaves raw. Outside strings JSON has none of them.
 */
export function safeJson(value: unknown): string {
  return JSON.stringify(value).replace(UNSAFE, (ch) => {
    const cp = ch.codePointAt(0)!;
    if (cp <= 0xffff) return `\\u${cp.toString(16).padStart(4, "0")}`;
    // Astral format characters (tags): as a surrogate pair, the JSON way.
    const hi = Math.floor((cp - 0x10000) / 0x400) + 0xd800;
    const lo = ((cp - 0x10000) % 0x400) + 0xdc00;
    return `\\u${hi.toString(16)}\\u${lo.toString(16)}`;
  });
}
