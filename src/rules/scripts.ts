// Mixed-script detection (UTS #39 §5): a name must be "Highly Restrictive": all of its
// characters share a script (by Script_Extensions; Common and Inherited characters such as
// digits, _ - . and most combining marks go with any), or it is Latin with the scripts of
// one East Asian writing system (Han + Hiragana + Katakana, Han + Bopomofo, Han + Hangul).
// Table look-ups only (unicode-tables.ts), so the cost per name is small and bounded.

import { scriptExtensions, scriptOf } from "./unicode-tables";

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
function scriptSet(ch: string): Set<string> | null {
  const scx = scriptExtensions(ch.codePointAt(0)!);
  if (scx.length === 1 && (scx[0] === "Common" || scx[0] === "Inherited")) return null;
  const set = new Set<string>();
  for (const s of scx) {
    set.add(s);
    for (const a of AUGMENT[s] ?? []) set.add(a);
  }
  return set;
}

/** A character's own script (the Script property), for error texts. */
function scriptName(ch: string): string {
  return scriptOf(ch.codePointAt(0)!).replace(/_/g, " ");
}

/** Null when the name is Highly Restrictive, else e.g. "the name mixes Latin and Cyrillic letters". */
export function mixedScripts(chars: readonly string[]): string | null {
  const sets = chars.map(scriptSet);
  let common: Set<string> | null = null;
  let first: string | null = null;
  let clash: string | null = null;
  sets.forEach((set, i) => {
    if (!set) return;
    first ??= chars[i]!;
    if (!common) common = new Set(set);
    else {
      for (const s of common) if (!set.has(s)) common.delete(s);
      if (common.size === 0) clash ??= chars[i]!;
    }
  });
  if (!clash || !first) return null;
  const covered = HIGHLY_RESTRICTIVE.some((allowed) =>
    sets.every((set) => !set || allowed.some((s) => set.has(s))),
  );
  if (covered) return null;
  return `the name mixes ${scriptName(first)} and ${scriptName(clash)} letters`;
}
