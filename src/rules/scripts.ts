// Mixed-script detection (UTS #39 §5): a name must be "Highly Restrictive": all of its
// characters share a script (by Script_Extensions; Common and Inherited characters such as
// digits, _ - . and most combining marks go with any), or it is Latin with the scripts of
// one East Asian writing system (Han + Hiragana + Katakana, Han + Bopomofo, Han + Hangul).

import { SCRIPT_NAMES } from "./unicode-data";

/** Scripts as the engine's regular expressions know them (a name it does not know is skipped). */
const SCRIPTS: { name: string; sc: RegExp; scx: RegExp }[] = [];
for (const name of SCRIPT_NAMES.split(" ")) {
  try {
    SCRIPTS.push({
      name,
      sc: new RegExp(`^\\p{Script=${name}}$`, "u"),
      scx: new RegExp(`^\\p{Script_Extensions=${name}}$`, "u"),
    });
  } catch {
    // A script newer than the engine's Unicode data: no character of it can be recognised anyway.
  }
}

const ANY = /^[\p{Script=Common}\p{Script=Inherited}]$/u;
const ASCII_LATIN = /^[A-Za-z]$/;

/** Writing systems that combine scripts (UTS #39 §5.1 augmented script sets). */
const AUGMENT: Record<string, string[]> = {
  Han: ["Han_with_Bopomofo", "Japanese", "Korean"],
  Hiragana: ["Japanese"],
  Katakana: ["Japanese"],
  Hangul: ["Korean"],
  Bopomofo: ["Han_with_Bopomofo"],
};
const HIGHLY_RESTRICTIVE = [
  ["Latin", "Japanese"],
  ["Latin", "Han_with_Bopomofo"],
  ["Latin", "Korean"],
];

/** A character's augmented Script_Extensions, or null for "any script" (Common, Inherited). */
const cache = new Map<number, Set<string> | null>();
function scriptSet(ch: string): Set<string> | null {
  const code = ch.codePointAt(0)!;
  if (ASCII_LATIN.test(ch)) return LATIN;
  const known = cache.get(code);
  if (known !== undefined) return known;
  let set: Set<string> | null = null;
  if (!ANY.test(ch)) {
    set = new Set();
    for (const s of SCRIPTS) {
      if (!s.scx.test(ch)) continue;
      set.add(s.name);
      for (const a of AUGMENT[s.name] ?? []) set.add(a);
    }
    // Common or Inherited by Script but listed with a few scripts by Script_Extensions.
    if (set.size === 0) set = null;
  }
  if (cache.size > 10_000) cache.clear();
  cache.set(code, set);
  return set;
}
const LATIN = new Set(["Latin"]);

/** A character's own script (the Script property), for error texts. */
function scriptName(ch: string): string {
  if (ASCII_LATIN.test(ch)) return "Latin";
  return (SCRIPTS.find((s) => s.sc.test(ch))?.name ?? "Common").replace(/_/g, " ");
}

/** Null when the name is Highly Restrictive, else e.g. "the name mixes Latin and Cyrillic". */
export function mixedScripts(chars: readonly string[]): string | null {
  let common: Set<string> | null = null;
  let firstScripted: string | null = null;
  let clash: string | null = null;
  for (const ch of chars) {
    const set = scriptSet(ch);
    if (!set) continue;
    firstScripted ??= ch;
    if (!common) common = new Set(set);
    else {
      for (const s of common) if (!set.has(s)) common.delete(s);
      if (common.size === 0 && !clash) clash = ch;
    }
  }
  if (!clash) return null;
  const covered = HIGHLY_RESTRICTIVE.some((allowed) =>
    chars.every((ch) => {
      const set = scriptSet(ch);
      return !set || allowed.some((s) => set.has(s));
    }),
  );
  if (covered) return null;
  return `the name mixes ${scriptName(firstScripted!)} and ${scriptName(clash)} letters`;
}
