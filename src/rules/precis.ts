// What an account name may contain: the PRECIS IdentifierClass (RFC 8264 §9) as used by
// the UsernameCaseMapped profile (RFC 8265 §3.3), narrowed to letters, marks, digits and
// `_ - .` (the profile also admits the rest of printable ASCII), with the contextual rules
// of RFC 5892 and the Bidi Rule of RFC 5893. Pure: one string in, a verdict out.

import { type BidiClass, bidiClass, charName } from "./unicode-tables";

/** Why a code point may not stand in a name (the text after "the name has X at position N; "). */
export type CharProblem = { why: string };

const ASCII_ALLOWED = /^[A-Za-z0-9_.-]$/;
/** PRECIS "LetterDigits": Ll Lu Lo Nd Lm Mn Mc. */
const LETTER_DIGITS = /^[\p{Ll}\p{Lu}\p{Lo}\p{Nd}\p{Lm}\p{Mn}\p{Mc}]$/u;
const MARK = /^\p{M}$/u;
const IGNORABLE = /^[\p{Default_Ignorable_Code_Point}\p{Noncharacter_Code_Point}]$/u;
const UNASSIGNED = /^\p{Cn}$/u;
const CONTROL = /^\p{Cc}$/u;
const SPACE = /^[\p{Zs}\p{Zl}\p{Zp}]$/u;

/** RFC 8264 §9.1 exceptions: PVALID despite their category. */
const EXCEPTION_VALID = new Set([0x00df, 0x03c2, 0x06fd, 0x06fe, 0x0f0b, 0x3007]);
/** CONTEXTO punctuation (RFC 5892 Appendix A): allowed here, then checked in context by contextProblem. */
const CONTEXTUAL = new Set([0x00b7, 0x0375, 0x05f3, 0x05f4, 0x30fb]);
/** RFC 8264 §9.1 exceptions: DISALLOWED (tatweel, N'Ko lajanyalan, ideographic iteration marks). */
const EXCEPTION_DISALLOWED = new Set([
  0x0640, 0x07fa, 0x302e, 0x302f, 0x3031, 0x3032, 0x3033, 0x3034, 0x3035, 0x303b,
]);

/** OldHangulJamo (RFC 8264 §9.9): conjoining jamo, which render differently alone. */
function isOldHangulJamo(c: number): boolean {
  return (c >= 0x1100 && c <= 0x11ff) || (c >= 0xa960 && c <= 0xa97f) || (c >= 0xd7b0 && c <= 0xd7ff);
}

export const NAME_RULE = "names may use letters, digits, _ - and .";

/** "U+3164 HANGUL FILLER", "'@' (U+0040)": how error texts name a code point. */
export function describeCodePoint(ch: string): string {
  const code = ch.codePointAt(0)!;
  const hex = `U+${code.toString(16).toUpperCase().padStart(4, "0")}`;
  if (ch === " ") return "a space";
  const name = charName(code);
  if (name) return `${hex} ${name}`;
  if (/\p{M}/u.test(ch)) return `the combining mark ${hex}`;
  if (/[\p{Cc}\p{Cf}\p{Z}\p{Cn}\p{Co}\p{Cs}]/u.test(ch)) return `the invisible character ${hex}`;
  return `'${ch}' (${hex})`;
}

/**
 * Width mapping (RFC 8265 §3.3.1 rule 1): fullwidth and halfwidth forms become their
 * ordinary counterparts, so `ａlice` is `alice`.
 */
export function widthMap(ch: string): string {
  const code = ch.codePointAt(0)!;
  return code >= 0xff00 && code <= 0xffef ? ch.normalize("NFKC") : ch;
}

/** Why code point ch (already width-mapped) may not be in a name, or null. `first`: the name's first. */
export function charProblem(ch: string, first: boolean, checkCompat = true): CharProblem | null {
  const code = ch.codePointAt(0)!;
  if (code < 0x80) {
    if (ASCII_ALLOWED.test(ch)) return null;
    return CONTROL.test(ch) ? { why: "control characters are not allowed" } : { why: NAME_RULE };
  }
  if (EXCEPTION_VALID.has(code) || CONTEXTUAL.has(code)) return null;
  if (EXCEPTION_DISALLOWED.has(code)) return { why: `it is not allowed in names (RFC 8264); ${NAME_RULE}` };
  if (UNASSIGNED.test(ch)) return { why: "it is not an assigned Unicode character" };
  if (IGNORABLE.test(ch)) return { why: "invisible characters are not allowed" };
  if (isOldHangulJamo(code)) return { why: "conjoining Hangul jamo are not allowed; use Hangul syllables" };
  if (CONTROL.test(ch)) return { why: "control characters are not allowed" };
  if (SPACE.test(ch)) return { why: "spaces are not allowed" };
  const compat = checkCompat ? ch.normalize("NFKC") : ch;
  if (compat !== ch) {
    return { why: `it is a compatibility variant of '${compat}' (write '${compat}' instead)` };
  }
  if (!LETTER_DIGITS.test(ch)) return { why: NAME_RULE };
  if (first && MARK.test(ch)) return { why: "a name cannot start with a combining mark" };
  return null;
}

/**
 * The contextual rules of RFC 5892 Appendix A for the CONTEXTO code points, over the whole
 * name (code points after NFC): null when they hold, else the reason.
 */
export function contextProblem(chars: readonly string[]): string | null {
  const codes = chars.map((c) => c.codePointAt(0)!);
  const has = (test: (c: number) => boolean) => codes.some(test);
  for (let i = 0; i < codes.length; i++) {
    const c = codes[i]!;
    if (c === 0x00b7 && !(codes[i - 1] === 0x6c && codes[i + 1] === 0x6c)) {
      return "U+00B7 MIDDLE DOT is allowed only between two l (as in Catalan l·l)";
    }
    if (c === 0x0375 && !(i + 1 < chars.length && /\p{Script=Greek}/u.test(chars[i + 1]!))) {
      return "U+0375 GREEK LOWER NUMERAL SIGN must be followed by a Greek letter";
    }
    if ((c === 0x05f3 || c === 0x05f4) && !(i > 0 && /\p{Script=Hebrew}/u.test(chars[i - 1]!))) {
      return "Hebrew punctuation geresh and gershayim must follow a Hebrew letter";
    }
    if (
      c === 0x30fb &&
      !chars.some((x) => /[\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Han}]/u.test(x))
    ) {
      return "U+30FB KATAKANA MIDDLE DOT needs a Hiragana, Katakana or Han character beside it";
    }
  }
  const arabicIndic = has((c) => c >= 0x0660 && c <= 0x0669);
  const extended = has((c) => c >= 0x06f0 && c <= 0x06f9);
  if (arabicIndic && extended) return "the name mixes Arabic-Indic and Extended Arabic-Indic digits";
  return null;
}

/**
 * The Bidi Rule (RFC 5893 §2), which RFC 8265 applies to names holding right-to-left
 * characters: null when it holds, else the reason.
 */
export function bidiProblem(chars: readonly string[]): string | null {
  // Nothing below U+0590 (Hebrew) is right-to-left or an Arabic number.
  if (chars.every((c) => c.codePointAt(0)! < 0x590)) return null;
  const classes: BidiClass[] = chars.map((c) => bidiClass(c.codePointAt(0)!));
  const rtl = (k: BidiClass) => k === "R" || k === "AL";
  if (!classes.some((k) => rtl(k) || k === "AN")) return null;
  if (!rtl(classes[0]!)) {
    return "a name with right-to-left characters must start with a right-to-left letter";
  }
  const isLtrLetter = (c: string, k: BidiClass) => k === "other" && /\p{L}/u.test(c);
  if (chars.some((c, i) => isLtrLetter(c, classes[i]!))) {
    return "the name mixes right-to-left and left-to-right letters";
  }
  let last = chars.length - 1;
  while (last > 0 && MARK.test(chars[last]!)) last--;
  if (!(rtl(classes[last]!) || classes[last] === "EN" || classes[last] === "AN")) {
    return "a right-to-left name must end with a letter or a digit";
  }
  if (classes.includes("EN") && classes.includes("AN")) {
    return "a right-to-left name cannot mix European and Arabic-Indic digits";
  }
  return null;
}
