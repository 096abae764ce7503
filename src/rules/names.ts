// Account names: 1-25 code points after NFC normalisation; letters and digits of any
// script (with their combining marks) and _ - . ; unique ignoring case.

export const MAX_NAME_CHARS = 25;

export type NameCheck = { ok: true; name: string; key: string } | { ok: false; reason: string };

// One code point at a time: a mark may follow but not start a name.
const FIRST = /^[\p{L}\p{N}_.-]$/u;
const REST = /^[\p{L}\p{M}\p{N}_.-]$/u;

export function checkName(raw: string): NameCheck {
  const name = raw.normalize("NFC");
  if (name.length === 0) return { ok: false, reason: "the name is empty" };
  let count = 0;
  for (const ch of name) {
    count++;
    if (count > MAX_NAME_CHARS) {
      return { ok: false, reason: `the name is longer than ${MAX_NAME_CHARS} characters` };
    }
    if (!(count === 1 ? FIRST : REST).test(ch)) {
      return { ok: false, reason: `the name has ${describeChar(ch)} at position ${count}; ${NAME_RULE}` };
    }
  }
  return { ok: true, name, key: nameKey(name) };
}

export const NAME_RULE = `names may use letters, digits, _ - and . (1 to ${MAX_NAME_CHARS} characters)`;

/**
 * The case-insensitive identity of a name: `Alice`, `ALICE` and `alice` share a key.
 * Upper- then lower-casing folds more pairs (ß/SS, final sigma) than lower-casing alone.
 */
export function nameKey(name: string): string {
  return name.normalize("NFC").toUpperCase().toLowerCase().normalize("NFC");
}

/** A printable description of a character, for error messages. */
export function describeChar(ch: string): string {
  const cp = ch.codePointAt(0)!;
  const hex = `U+${cp.toString(16).toUpperCase().padStart(4, "0")}`;
  if (ch === " ") return "a space";
  if (/[\p{Cc}\p{Cf}\p{Z}\p{M}]/u.test(ch)) return `the invisible character ${hex}`;
  return `'${ch}' (${hex})`;
}
