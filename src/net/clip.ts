// Untrusted strings made safe for a log line or an error message: every character that a
// terminal or log viewer would interpret or hide is written as a visible escape, and the
// result is bounded, so a hostile 60 KB name costs one short field.

/** Default bound, in UTF-16 units of the escaped text. */
export const CLIP_CHARS = 80;

// Controls, format characters (bidi overrides and isolates, zero-width), line and
// paragraph separators, lone surrogates, private use, unassigned, and the invisible
// default-ignorable ones (fillers, variation selectors, U+034F).
const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\p{Co}\p{Cn}\p{Default_Ignorable_Code_Point}\\"]|[^\P{Zs} ]/u;

/** Escapes `text` (as a JSON-style string body: \n, \u202e, \u{e0100}, \\, \") and bounds it. */
export function clip(text: string, max = CLIP_CHARS): string {
  let out = "";
  let i = 0;
  for (const ch of text) {
    const piece = UNSAFE.test(ch) ? escapeChar(ch) : ch;
    if (out.length + piece.length > max) {
      const rest = [...text.slice(i)].length;
      return `${out}…(+${rest} more)`;
    }
    out += piece;
    i += ch.length;
  }
  return out;
}

/** clip(text) in double quotes: for a client string inside a sentence. */
export function quote(text: string, max = CLIP_CHARS): string {
  return `"${clip(text, max)}"`;
}

function escapeChar(ch: string): string {
  switch (ch) {
    case "\\":
      return "\\\\";
    case '"':
      return '\\"';
    case "\n":
      return "\\n";
    case "\r":
      return "\\r";
    case "\t":
      return "\\t";
  }
  const cp = ch.codePointAt(0)!;
  return cp > 0xffff ? `\\u{${cp.toString(16)}}` : `\\u${cp.toString(16).padStart(4, "0")}`;
}
