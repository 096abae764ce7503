// Message text: 1-100 code points; no control characters except newline and tab.

import { describeChar } from "./names";

export const MAX_TEXT_CHARS = 100;

export type TextCheck = { ok: true } | { ok: false; reason: string };

export function checkText(text: string): TextCheck {
  if (text.length === 0) return { ok: false, reason: "the message is empty" };
  // Fast path: 100 code points take at most 200 UTF-16 units.
  let count = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // A surrogate pair is one code point; a lone high surrogate must not hide what follows.
    if (c >= 0xd800 && c <= 0xdbff && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) i++;
    count++;
    if (count > MAX_TEXT_CHARS) {
      return { ok: false, reason: `the message is longer than ${MAX_TEXT_CHARS} characters` };
    }
    if ((c < 0x20 && c !== 0x0a && c !== 0x09) || (c >= 0x7f && c <= 0x9f)) {
      return {
        ok: false,
        reason: `the message has ${describeChar(String.fromCharCode(c))} at position ${count}; only newline and tab are allowed among control characters`,
      };
    }
  }
  return { ok: true };
}
