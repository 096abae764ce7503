import { describe, expect, it } from "bun:test";
import { checkName, describeChar, MAX_NAME_CHARS, NAME_RULE, nameKey } from "../../src/rules/names";

// --- helpers ---

function ok(raw: string): { name: string; key: string } {
  const r = checkName(raw);
  if (!r.ok) throw new Error(`expected ${JSON.stringify(raw)} to be valid: ${r.reason}`);
  return r;
}

function reason(raw: string): string {
  const r = checkName(raw);
  if (r.ok) throw new Error(`expected ${JSON.stringify(raw)} to be refused`);
  return r.reason;
}

const NFD = (s: string): string => s.normalize("NFD");

describe("checkName: accepted", () => {
  it.each([
    ["ascii", "alice"],
    ["mixed case and digits", "Bob99"],
    ["_ - and .", "x_y-z.w"],
    ["only punctuation", "._-"],
    ["Latin with diacritics", "Zoë"],
    ["Cyrillic", "Москва"],
    ["Greek", "Οδυσσέας"],
    ["Han", "東京"],
    ["Arabic", "محمد"],
    ["Devanagari with combining vowel signs", "नमस्ते"],
    ["Arabic-Indic digits", "١٢٣"],
    ["a letter outside the BMP", "𠀀"],
    ["a letter with a mark that has no precomposed form", "q\u0307"],
    ["exactly 25 characters", "a".repeat(MAX_NAME_CHARS)],
    ["25 astral letters (50 UTF-16 units)", "𝐀".repeat(25)],
  ])("%s: %s", (_, raw) => {
    expect(ok(raw).name).toBe(raw.normalize("NFC"));
  });

  it("normalises to NFC before counting: 25 decomposed é are 25 characters", () => {
    const raw = NFD("é").repeat(25);
    expect(raw.length).toBe(50);
    expect(ok(raw).name).toBe("é".repeat(25));
  });

  it("gives back the NFC spelling of an NFD name", () => {
    expect(ok(NFD("Zoë")).name).toBe("Zo\u00eb");
  });
});

describe("checkName: refused, with the reason", () => {
  it("empty", () => expect(reason("")).toBe("the name is empty"));

  it("26 characters", () => expect(reason("a".repeat(26))).toBe("the name is longer than 25 characters"));

  it("26 astral characters", () => expect(reason("𝐀".repeat(26))).toMatch(/longer than 25/));

  it.each([
    ["a space", "a b", "a space at position 2"],
    ["a leading space", " a", "a space at position 1"],
    ["a tab", "a\tb", "the invisible character U+0009 at position 2"],
    ["NUL", "ab\u0000", "the invisible character U+0000 at position 3"],
    ["a C1 control", "a\u0085", "the invisible character U+0085 at position 2"],
    ["a zero-width space (format)", "a\u200bb", "the invisible character U+200B at position 2"],
    ["a soft hyphen (format)", "a\u00adb", "the invisible character U+00AD at position 2"],
    ["a right-to-left override (format)", "\u202eab", "the invisible character U+202E at position 1"],
    ["a no-break space", "a\u00a0b", "the invisible character U+00A0 at position 2"],
    ["an ideographic space", "東\u3000京", "the invisible character U+3000 at position 2"],
    ["a leading combining mark", "\u0301a", "the invisible character U+0301 at position 1"],
    ["@", "a@b", "'@' (U+0040) at position 2"],
    ["an emoji", "hi😀", "'😀' (U+1F600) at position 3"],
    ["a slash", "a/b", "'/' (U+002F) at position 2"],
  ])("%s", (_, raw, what) => {
    expect(reason(raw)).toBe(`the name has ${what}; ${NAME_RULE}`);
  });

  it("counts positions in code points, after NFC", () => {
    expect(reason(`${NFD("éé")}!`)).toMatch(/at position 3;/);
    expect(reason("𝐀𝐀!")).toMatch(/at position 3;/);
  });

  it("reports a bad character before the length", () => {
    expect(reason(`a b${"c".repeat(30)}`)).toMatch(/a space at position 2/);
  });
});

describe("nameKey: case-insensitive identity", () => {
  it.each([
    ["Alice", "ALICE", "alice"],
    ["Straße", "STRASSE", "strasse"],
    ["ΣΑΣ", "σας", "σας"],
    ["ﬁx", "FIX", "fix"],
    ["\u212aelvin", "KELVIN", "kelvin"], // the Kelvin sign folds to k
    ["ǅemal", "ǄEMAL", "ǆemal"],
  ])("%s and %s share the key %s", (a, b, key) => {
    expect(ok(a).key).toBe(key);
    expect(ok(b).key).toBe(key);
  });

  it("NFC and NFD spellings share a key", () => {
    expect(ok(NFD("Zoë")).key).toBe(ok("ZOË").key);
    expect(nameKey(NFD("Ångström"))).toBe(nameKey("ångström"));
  });

  it("different names keep different keys", () => {
    const keys = ["alice", "alicia", "alice.", "a-lice", "zoe", "zoë", "東京", "京東"].map(nameKey);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it("a key is its own key, so folding twice changes nothing", () => {
    for (const n of ["Straße", "ΣΑΣ", "ﬁx", "İstanbul", NFD("Zoë")])
      expect(nameKey(nameKey(n))).toBe(nameKey(n));
  });
});

describe("describeChar", () => {
  it.each([
    [" ", "a space"],
    ["x", "'x' (U+0078)"],
    ["\u0007", "the invisible character U+0007"],
    ["\u{e0001}", "the invisible character U+E0001"],
    ["😀", "'😀' (U+1F600)"],
  ])("%j is %s", (ch, text) => expect(describeChar(ch)).toBe(text));
});
