// Account names: what they may contain (PRECIS, precis.ts), when two are the same account
// (nameKey: NFKC and case folding) and when one looks like another (nameSkeleton: UTS #39
// confusables, confusables.ts) or mixes scripts (scripts.ts).

import { skeleton } from "./confusables";
import { bidiProblem, charProblem, contextProblem, describeCodePoint, widthMap } from "./precis";
import { mixedScripts } from "./scripts";

export { NAME_RULE } from "./precis";

export const MAX_NAME_CHARS = 25;

export type NameCheck =
  | {
      ok: true;
      /** As it is stored and shown: width-mapped, NFC, case kept. */
      name: string;
      /** The account's identity (nameKey). */
      key: string;
      /** What the name looks like (nameSkeleton): no two accounts share one. */
      skeleton: string;
      /** Why the name mixes scripts, or null; checked after the name is known to be free. */
      mixedScripts: string | null;
    }
  | { ok: false; reason: string };

/** Most names: nothing to normalise, map or mix. */
const PLAIN = new RegExp(`^[A-Za-z0-9_.-]{1,${MAX_NAME_CHARS}}$`);

export function checkName(raw: string): NameCheck {
  if (raw.length === 0) return { ok: false, reason: "the name is empty" };
  if (PLAIN.test(raw)) {
    return { ok: true, name: raw, key: raw.toLowerCase(), skeleton: nameSkeleton(raw), mixedScripts: null };
  }
  // Checked one code point at a time on the name as given, so the error names what was typed.
  let position = 0;
  let mapped = "";
  const nfc = raw.normalize("NFC");
  // A name NFKC leaves alone has no compatibility variant: no need to look for one per character.
  const compat = nfc.length > MAX_NAME_CHARS * 8 || nfc.normalize("NFKC") !== nfc;
  for (const ch of nfc) {
    position++;
    if (position > MAX_NAME_CHARS * 4) break;
    const problem = charProblem(widthMap(ch), position === 1, compat);
    if (problem) {
      const what = describeCodePoint(ch);
      return { ok: false, reason: `the name has ${what} at position ${position}; ${problem.why}` };
    }
    mapped += widthMap(ch);
  }
  const name = mapped.normalize("NFC");
  const chars = [...name];
  if (chars.length > MAX_NAME_CHARS) {
    return { ok: false, reason: `the name is longer than ${MAX_NAME_CHARS} characters` };
  }
  const context = contextProblem(chars) ?? bidiProblem(chars);
  if (context) return { ok: false, reason: context };
  return {
    ok: true,
    name,
    key: nameKey(name),
    skeleton: nameSkeleton(name),
    mixedScripts: mixedScripts(chars),
  };
}

/**
 * The identity of a name: NFKC, then case folding, then NFKC again (RFC 8265's
 * UsernameCaseMapped comparison, with compatibility forms folded too): `Alice`, `ALICE`,
 * fullwidth `ａlice` and mathematical `𝐚lice` are one account. Upper- then lower-casing
 * folds more pairs (ß/SS, final sigma) than lower-casing alone.
 */
export function nameKey(name: string): string {
  return name.normalize("NFKC").toUpperCase().toLowerCase().normalize("NFKC");
}

/**
 * What a name looks like: the UTS #39 skeleton of its NFKC form (before case folding, so
 * capital I and small l match), then folded. Names with equal skeletons are confusable.
 */
export function nameSkeleton(name: string): string {
  return nameKey(skeleton(name.normalize("NFKC")));
}

/** The key and skeleton a stored name has under today's rules (for accounts made before them). */
export function nameIdentity(name: string): { key: string; skeleton: string } {
  return { key: nameKey(name), skeleton: nameSkeleton(name) };
}

/** Builds the Unicode tables now (at server start) rather than during the first request that needs them. */
export function prepareNameTables(): void {
  checkName("\u05d0\u0430\u00e9");
}

/** A printable description of a character, for error messages. */
export function describeChar(ch: string): string {
  return describeCodePoint(ch);
}
